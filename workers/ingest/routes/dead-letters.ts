/**
 * The tenant's dead letters: the rows ClickHouse refused to store
 * (durable-objects/tenant-actor/dead-letter.ts), kept in R2 with the reason.
 * Needs `logs:read` (they are the tenant's logs); the tenant is the
 * credential's, so a tenant lists and reads only its own.
 *
 * - `GET /v1/dead-letters?limit=&cursor=` — in R2's key order (oldest day
 *   first): `{deadLetters: [{id, batchId, date, rows, reason, storedAt,
 *   bytes}], nextCursor}`;
 * - `GET /v1/dead-letters/{date}/{batchId}` — one object as NDJSON: a line
 *   naming the columns, then `{"reason": …, "row": […]}` per refused row.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { invalid } from '../../../shared/request-params.ts';
import { deadLetterKey, deadLetterPrefix } from '../../../durable-objects/tenant-actor/dead-letter.ts';
import type { IngestApp } from '../env.ts';

const MAX_LIMIT = 1000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const BATCH_ID_RE = /^[0-9A-Z]{26}$/;

const DeadLetterDoc = z
  .object({
    id: z.string().openapi({ description: '`<date>/<batchId>`: the path of GET /v1/dead-letters/{date}/{batchId}' }),
    batchId: z.string(),
    date: z.string(),
    rows: z.number().int(),
    reason: z.string().openapi({ description: "ClickHouse's reason for the first refused row" }),
    storedAt: z.string(),
    bytes: z.number().int(),
  })
  .openapi('DeadLetter');

export const deadLettersDoc = createRoute({
  method: 'get',
  path: '/v1/dead-letters',
  summary: 'Rows ClickHouse refused to store, kept with the reason (needs logs:read)',
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      limit: z
        .string()
        .optional()
        .openapi({ description: `1–${MAX_LIMIT}, default 100` }),
      cursor: z.string().optional().openapi({ description: "The previous page's nextCursor" }),
    }),
  },
  responses: {
    200: {
      description: 'A page of dead letters',
      content: { 'application/json': { schema: z.object({ deadLetters: z.array(DeadLetterDoc), nextCursor: z.string().nullable() }) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

export const deadLetterDoc = createRoute({
  method: 'get',
  path: '/v1/dead-letters/{date}/{batchId}',
  summary: 'One dead-letter object: the refused rows with their reasons, as NDJSON (needs logs:read)',
  security: BEARER_SECURITY,
  request: { params: z.object({ date: z.string(), batchId: z.string() }) },
  responses: { 200: { description: 'NDJSON', content: { 'application/x-ndjson': { schema: z.string() } } }, ...errorResponses(400, 401, 403, 404) },
});

export const deadLettersRoutes = new Hono<IngestApp>();

deadLettersRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  const { tenantId } = c.get('principal');
  let limit = 100;
  const limitText = c.req.query('limit');
  if (limitText !== undefined) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  }
  const cursor = c.req.query('cursor');
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > 1024)) throw invalid('cursor', 'not a cursor this API returned');
  const prefix = deadLetterPrefix(tenantId);
  let listing: R2Objects;
  try {
    listing = await c.env.ARCHIVE.list({ prefix, limit, include: ['customMetadata'], ...(cursor !== undefined && { cursor }) });
  } catch {
    throw invalid('cursor', 'not a cursor this API returned');
  }
  const deadLetters = listing.objects.map((object) => {
    const id = object.key
      .slice(prefix.length)
      .replace(/^dt=/, '')
      .replace(/\.ndjson$/, '');
    const [date = '', batchId = ''] = id.split('/');
    return {
      id,
      batchId,
      date,
      rows: Number(object.customMetadata?.rows ?? 0),
      reason: object.customMetadata?.reason ?? '',
      storedAt: object.uploaded.toISOString(),
      bytes: object.size,
    };
  });
  return c.json({ deadLetters, nextCursor: listing.truncated ? listing.cursor : null });
});

deadLettersRoutes.get('/:date/:batchId', requirePrincipal('logs:read'), async (c) => {
  const { tenantId } = c.get('principal');
  const { date, batchId } = c.req.param();
  if (!DATE_RE.test(date)) throw invalid('date', 'must be YYYY-MM-DD, as in the id GET /v1/dead-letters returns');
  if (!BATCH_ID_RE.test(batchId)) throw invalid('batchId', 'not a batch id GET /v1/dead-letters returned');
  const object = await c.env.ARCHIVE.get(deadLetterKey(tenantId, batchId, Date.parse(`${date}T00:00:00Z`)));
  if (!object) throw new ApiError(404, 'not_found', `no dead letters of batch ${batchId} on ${date} in this tenant`);
  return new Response(object.body, { headers: { 'Content-Type': 'application/x-ndjson' } });
});
