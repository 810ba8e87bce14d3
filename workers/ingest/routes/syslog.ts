/**
 * POST /v1/syslog — syslog text over HTTP, one message per line, as syslog-ng's
 * http() destination (and rsyslog's omhttp) send it. RFC 5424 and RFC 3164
 * lines are parsed (protocols/syslog.ts); any other line is kept as it is, so
 * nothing a daemon sent is dropped. Same credentials, limits and answers as
 * POST /v1/logs: 202 {accepted, batchId}, all or nothing.
 */
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { loadConfig } from '../../../shared/config.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import type { IngestApp } from '../env.ts';
import { jsonReceipt, newBatch, submit, backgroundOf } from '../pipeline.ts';
import { idempotencyKeyOf } from '../idempotency-key.ts';
import { refuseWhileRemembered } from '../refusal-memo.ts';
import { parseSyslogLine, syslogToRow } from '../protocols/syslog.ts';
import { readBodyText } from '../request-body.ts';

export const syslogRoutes = new Hono<IngestApp>();

syslogRoutes.post('/', requirePrincipal('logs:write'), refuseWhileRemembered(), async (c) => {
  const config = loadConfig(c.env);
  const principal = c.get('principal');
  const { text, bytes } = await readBodyText(c.req.raw, config.limits.maxRequestBytes);
  const lines = text
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new ApiError(400, 'empty_body', 'the body holds no syslog lines');
  if (lines.length > config.limits.maxRecordsPerRequest) {
    throw new ApiError(413, 'too_many_records', `the request holds ${lines.length} lines; at most ${config.limits.maxRecordsPerRequest} are accepted at once`, {
      limit: config.limits.maxRecordsPerRequest,
    });
  }
  const batch = newBatch(principal);
  const now = new Date(batch.receivedAt);
  const rows: LogRow[] = lines.map((line, i) => syslogToRow(parseSyslogLine(line, now), i, batch.context));
  const submission = await submit(
    c.env,
    {
      protocol: 'syslog',
      principal,
      requestId: c.get('requestId'),
      batch,
      rows,
      receivedBytes: bytes,
      body: text,
      idempotencyKey: idempotencyKeyOf(c.req.header('idempotency-key')),
      shard: c.get('shard'),
      refuse: 'request',
    },
    backgroundOf(c),
  );
  return jsonReceipt(c, submission, batch);
});
