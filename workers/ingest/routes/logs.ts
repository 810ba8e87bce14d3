/**
 * POST /v1/logs — accept a batch of JSON log records for the caller's tenant.
 *
 * read (within limits) → parse → normalise every record → the ingest
 * pipeline (serialise once, check, hand to the tenant's actor) → 202 once the
 * actor has stored the batch durably. A request is all or nothing: if any
 * record is refused, nothing of the request is stored, and the error names the
 * record and the field.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { loadConfig } from '../../../shared/config.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import { normalizeRecord, RecordError } from '../../../shared/normalize.ts';
import { EncryptedRecords } from '../../../shared/encryption-envelope.ts';
import { isActiveEncryptionKey } from '../encryption-keys.ts';
import type { IngestApp } from '../env.ts';
import { bodyFormat, parseRecords } from '../parse-records.ts';
import { readBodyText } from '../request-body.ts';
import { jsonReceipt, newBatch, submit, backgroundOf } from '../pipeline.ts';
import { idempotencyKeyOf } from '../idempotency-key.ts';
import { refuseWhileRemembered } from '../refusal-memo.ts';

const LogRecordDoc = z
  .object({
    timestamp: z.union([z.string(), z.number()]).optional().openapi({ description: 'RFC 3339, or Unix epoch in s/ms/µs/ns (also @timestamp, time, ts)' }),
    level: z.union([z.string(), z.number()]).optional().openapi({ description: 'Severity (also severity, severity_text, severity_number)' }),
    message: z.unknown().optional().openapi({ description: 'The log body (also msg, body)' }),
    encrypted: z
      .object({
        protected: z.string().openapi({ description: 'base64url of the JWE protected header {alg: "ECDH-ES+A256KW", enc: "A256GCM", kid, epk, cty}' }),
        encrypted_key: z.string(),
        iv: z.string(),
        ciphertext: z.string(),
        tag: z.string(),
        aad: z.string().openapi({
          description:
            "base64url of the record's clear fields, canonically encoded (docs/encryption.md): authenticated with the ciphertext, so a reader detects a changed clear field",
        }),
        tokens: z.array(z.string()).max(128).optional().openapi({ description: 'Blind tokens: 32 lowercase hex characters each' }),
      })
      .optional()
      .openapi({
        description:
          "Instead of message: the body and chosen attributes encrypted for one of the tenant's encryption keys (a JWE, flattened JSON serialisation; docs/encryption.md). Stored opaque as the body.",
      }),
    service: z.string().optional(),
    trace_id: z.string().optional(),
    span_id: z.string().optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    resource: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .openapi('LogRecord', { description: 'Every key not listed becomes an attribute.' });

/** The route's OpenAPI definition (documentation: the body is read and checked by the handler). */
export const postLogsDoc = createRoute({
  method: 'post',
  path: '/v1/logs',
  summary: 'Send logs (needs logs:write)',
  security: BEARER_SECURITY,
  request: {
    body: {
      required: true,
      description: 'A JSON array of records, one record, or NDJSON; Content-Encoding: gzip accepted.',
      content: {
        'application/json': { schema: z.union([z.array(LogRecordDoc), LogRecordDoc]) },
        'application/x-ndjson': { schema: z.string() },
      },
    },
  },
  responses: {
    202: {
      description: 'Stored by the tenant actor; searchable within about a second',
      content: { 'application/json': { schema: z.object({ accepted: z.number().int(), batchId: z.string() }).openapi('IngestReceipt') } },
    },
    ...errorResponses(400, 401, 403, 413, 415, 429, 503),
  },
});

export const logsRoutes = new Hono<IngestApp>();

logsRoutes.post('/', requirePrincipal('logs:write'), refuseWhileRemembered(), async function ingestLogs(c) {
  const config = loadConfig(c.env);
  const principal = c.get('principal');
  const format = bodyFormat(c.req.header('content-type'));
  const { text, bytes: receivedBytes } = await readBodyText(c.req.raw, config.limits.maxRequestBytes);
  const records = parseRecords(text, format, config.limits.maxRecordsPerRequest);

  const batch = newBatch(principal);
  const rows: LogRow[] = new Array(records.length);
  // Records sent encrypted (docs/encryption.md): the envelope checked and stored as the Body.
  const encrypted = new EncryptedRecords(config.limits.maxRecordBytes);
  try {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      rows[i] = EncryptedRecords.carries(record) ? encrypted.normalize(record as object, i, batch.context) : normalizeRecord(record, i, batch.context);
    }
    if (encrypted.size > 0) {
      await encrypted.check((kid) => isActiveEncryptionKey(c.env.CONTROL_DB, principal.tenantId, kid, config.keyCacheTtlMs));
    }
  } catch (err) {
    if (err instanceof RecordError) throw new ApiError(400, 'invalid_record', err.message, { record: err.record, field: err.field });
    throw err;
  }
  const submission = await submit(
    c.env,
    {
      protocol: 'logs',
      principal,
      requestId: c.get('requestId'),
      batch,
      rows,
      receivedBytes,
      body: text,
      idempotencyKey: idempotencyKeyOf(c.req.header('idempotency-key')),
      shard: c.get('shard'),
      refuse: 'request',
    },
    backgroundOf(c),
  );
  return jsonReceipt(c, submission, batch);
});
