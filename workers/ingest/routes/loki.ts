/**
 * Loki's push endpoint at /loki/api/v1/push, so Promtail, Grafana Alloy, the
 * Docker driver and Loki clients on npm ship to NeuralLog by changing the URL
 * (and putting the key in basic_auth's password or a Bearer header).
 *
 * Answers as Loki does: 204 when everything was stored; 400 with a text body
 * naming the dropped streams/entries (the valid rest is stored, as Loki's
 * distributor does); 429/503 with Retry-After, which Loki clients retry;
 * 401/413/415 as text.
 */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { logEvent } from '../../../shared/logger.ts';
import { loadConfig } from '../../../shared/config.ts';
import type { IngestApp } from '../env.ts';
import { newBatch, submissionError, submit, backgroundOf } from '../pipeline.ts';
import { idempotencyKeyOf } from '../idempotency-key.ts';
import { refuseWhileRemembered } from '../refusal-memo.ts';
import { decodeLokiJson, decodeLokiProtobuf, describeLokiRejections, LokiDecodeError, lokiToRows, type LokiStream } from '../protocols/loki.ts';
import { readBodyBytes } from '../request-body.ts';

export const lokiRoutes = new Hono<IngestApp>();

function text(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.body(`${message}\n`, status as 400, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

/**
 * The protocol's one error seam: whatever the route or a shared step throws
 * (authentication, body limits, the Idempotency-Key, decoding, the pipeline's
 * refusals) answers as Loki does, in plain text.
 */
lokiRoutes.onError((err, c) => {
  if (err instanceof LokiDecodeError) return text(c, err.status, err.message);
  if (!(err instanceof ApiError)) {
    logEvent('error', 'request.failed', { requestId: c.get('requestId'), path: '/loki/api/v1/push', error: err.message, stack: err.stack });
    return text(c, 500, 'internal error; the request id identifies it in our logs');
  }
  if (err.status === 401) {
    return text(c, 401, 'missing or invalid credentials: send the API key as the basic_auth password or as "Bearer <key>"', {
      'WWW-Authenticate': 'Basic realm="neurallog", charset="UTF-8"',
    });
  }
  return text(c, err.status, err.message, err.headers);
});

lokiRoutes.post('/api/v1/push', requirePrincipal('logs:write'), refuseWhileRemembered(), async (c) => {
  const principal = c.get('principal');
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-protobuf' && type !== 'application/json') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Type "${type}" is not supported; Loki's push API takes application/x-protobuf (snappy) or application/json`,
    );
  }
  const config = loadConfig(c.env);
  const requestId = c.get('requestId');
  const body = await readBodyBytes(c.req.raw, config.limits.maxRequestBytes);
  let streams: LokiStream[];
  let receivedBytes: number;
  if (type === 'application/x-protobuf') {
    ({ streams, bytes: receivedBytes } = decodeLokiProtobuf(body, config.limits.maxRequestBytes));
  } else {
    let json: string;
    try {
      json = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
    } catch {
      throw new LokiDecodeError('the body is not valid UTF-8');
    }
    streams = decodeLokiJson(json);
    receivedBytes = body.byteLength;
  }

  const batch = newBatch(principal);
  const { rows, origin, rejected, total } = lokiToRows(streams, batch.context);
  if (total > config.limits.maxRecordsPerRequest) {
    throw new ApiError(
      413,
      'too_many_records',
      `the push holds ${total} entries; at most ${config.limits.maxRecordsPerRequest} are accepted at once (lower the client's batch size)`,
    );
  }
  const submission = await submit(
    c.env,
    {
      protocol: 'loki',
      principal,
      requestId,
      batch,
      rows,
      receivedBytes,
      body,
      idempotencyKey: idempotencyKeyOf(c.req.header('idempotency-key')),
      shard: c.get('shard'),
      refuse: 'record',
      decoderRefused: rejected.length,
    },
    backgroundOf(c),
  );
  if (!submission.ok) throw submissionError(submission);
  for (const refusal of submission.refused) {
    rejected.push({ ...origin[refusal.record]!, reason: refusal.code === 'record_too_large' ? `entry is ${refusal.reason}` : refusal.reason });
  }
  rejected.sort((a, b) => a.stream - b.stream || (a.entry ?? -1) - (b.entry ?? -1));
  const headers = { ...submission.headers, 'X-NeuralLog-Batch-Id': batch.batchId };
  if (rejected.length > 0) return text(c, 400, describeLokiRejections(rejected, streams), headers);
  return c.body(null, 204, headers);
});
