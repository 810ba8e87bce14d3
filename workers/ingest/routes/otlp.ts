/**
 * OTLP/HTTP logs at /otlp/v1/logs, so `OTEL_EXPORTER_OTLP_ENDPOINT=<base>/otlp`
 * works with every OpenTelemetry SDK and the Collector's otlphttp exporter.
 *
 * Per the OTLP/HTTP spec: binary protobuf (`application/x-protobuf`) or
 * OTLP/JSON (`application/json`), optionally gzip; the answer is an
 * ExportLogsServiceResponse in the request's encoding, with `partial_success`
 * counting the records that were rejected on their own; errors carry a
 * google.rpc.Status body; 429 and 503 come with Retry-After, which OTLP
 * clients honour when they retry. 400/401/403/413/415 are permanent: clients
 * drop the data instead of retrying.
 */
import { create, toBinary, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { logEvent } from '../../../shared/logger.ts';
import { loadConfig } from '../../../shared/config.ts';
import type { IngestApp } from '../env.ts';
import { newBatch, submissionError, submit, backgroundOf } from '../pipeline.ts';
import { idempotencyKeyOf } from '../idempotency-key.ts';
import { refuseWhileRemembered } from '../refusal-memo.ts';
import { StatusSchema } from '../protocols/generated/google/rpc/status_pb.ts';
import {
  ExportLogsServiceResponseSchema,
  type ExportLogsServiceRequest,
} from '../protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { decodeOtlpJson, decodeOtlpProtobuf, OtlpDecodeError, otlpToRows, type RejectedRecord } from '../protocols/otlp.ts';
import { readBodyBytes } from '../request-body.ts';

export const otlpRoutes = new Hono<IngestApp>();

type Encoding = 'protobuf' | 'json';

/** google.rpc.Code for each HTTP status we answer with (the Status body's `code`). */
const RPC_CODE: ReadonlyMap<number, number> = new Map([
  [400, 3],
  [401, 16],
  [403, 7],
  [404, 5],
  [413, 3],
  [415, 3],
  [422, 9],
  [429, 8],
  [500, 13],
  [503, 14],
  [504, 4],
]);

function encodingOf(contentType: string | undefined): Encoding | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

function respond<Desc extends DescMessage>(encoding: Encoding, status: number, schema: Desc, message: MessageShape<Desc>, headers: Record<string, string>) {
  const body = encoding === 'protobuf' ? toBinary(schema, message) : JSON.stringify(toJson(schema, message));
  return new Response(body, {
    status,
    headers: { 'Content-Type': encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json', ...headers },
  });
}

/**
 * The protocol's one error seam: whatever the route or a shared step throws
 * (authentication, body limits, the Idempotency-Key, the pipeline's refusals)
 * answers as a google.rpc.Status, in the request's encoding.
 */
otlpRoutes.onError((err, c) => {
  const encoding = encodingOf(c.req.header('content-type')) ?? 'json';
  if (!(err instanceof ApiError)) {
    logEvent('error', 'request.failed', { requestId: c.get('requestId'), path: '/otlp/v1/logs', error: err.message, stack: err.stack });
    return respond(
      encoding,
      500,
      StatusSchema,
      create(StatusSchema, { code: RPC_CODE.get(500)!, message: 'internal error; the request id identifies it in our logs' }),
      {},
    );
  }
  const message =
    err.status === 401 ? 'missing or invalid credentials: send the API key as "Authorization: Bearer <key>" (OTEL_EXPORTER_OTLP_HEADERS)' : err.message;
  return respond(encoding, err.status, StatusSchema, create(StatusSchema, { code: RPC_CODE.get(err.status) ?? 2, message }), err.headers);
});

function describeRejections(rejected: RejectedRecord[]): string {
  const first = rejected
    .slice(0, 3)
    .map((r) => `record ${r.record}: ${r.reason}`)
    .join('; ');
  return `${rejected.length} log record(s) rejected — ${first}${rejected.length > 3 ? '; …' : ''}`;
}

otlpRoutes.post('/v1/logs', requirePrincipal('logs:write'), refuseWhileRemembered(), async (c) => {
  const encoding = encodingOf(c.req.header('content-type'));
  if (!encoding) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Type "${c.req.header('content-type') ?? ''}" is not supported; OTLP/HTTP sends application/x-protobuf or application/json`,
    );
  }
  const principal = c.get('principal');
  const config = loadConfig(c.env);
  const requestId = c.get('requestId');
  const body = await readBodyBytes(c.req.raw, config.limits.maxRequestBytes);
  let request: ExportLogsServiceRequest;
  try {
    request = encoding === 'protobuf' ? decodeOtlpProtobuf(body) : decodeOtlpJson(new TextDecoder().decode(body));
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw new ApiError(400, 'invalid_otlp', err.message);
    throw err;
  }

  const batch = newBatch(principal);
  const { rows, origin, rejected, total } = otlpToRows(request, batch.context);
  if (total > config.limits.maxRecordsPerRequest) {
    throw new ApiError(
      413,
      'too_many_records',
      `the request holds ${total} log records; at most ${config.limits.maxRecordsPerRequest} are accepted at once (lower the batch processor's maxExportBatchSize)`,
    );
  }
  const submission = await submit(
    c.env,
    {
      protocol: 'otlp',
      principal,
      requestId,
      batch,
      rows,
      receivedBytes: body.byteLength,
      body,
      idempotencyKey: idempotencyKeyOf(c.req.header('idempotency-key')),
      shard: c.get('shard'),
      refuse: 'record',
      decoderRefused: rejected.length,
    },
    backgroundOf(c),
  );
  // 413 from the actor means the batch exceeds the plan's burst: splitting helps, retrying the same request does not.
  if (!submission.ok) throw submissionError(submission);
  for (const refusal of submission.refused) rejected.push({ record: origin[refusal.record]!, reason: refusal.reason });
  rejected.sort((a, b) => a.record - b.record);
  const response = create(
    ExportLogsServiceResponseSchema,
    rejected.length === 0
      ? {}
      : {
          partialSuccess: { rejectedLogRecords: BigInt(rejected.length), errorMessage: describeRejections(rejected) },
        },
  );
  return respond(encoding, 200, ExportLogsServiceResponseSchema, response, { ...submission.headers, 'X-NeuralLog-Batch-Id': batch.batchId });
});
