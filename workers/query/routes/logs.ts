/**
 * GET /v1/logs — the caller's tenant's logs, newest first, one page at a time.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { toLogView, type StoredLog } from '../../../shared/log-record.ts';
import { logEvent } from '../../../shared/logger.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { compileSearch } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { encodeCursor, parseSearch } from '../search-params.ts';
import { checkRange, runQuery } from '../run-query.ts';
import { cachedJson } from '../edge-cache.ts';

export type SearchRow = StoredLog;

const LogViewDoc = z
  .object({
    id: z.string(),
    timestamp: z.string(),
    observedTimestamp: z.string(),
    severityText: z.string(),
    severityNumber: z.number().int(),
    service: z.string(),
    body: z.string(),
    traceId: z.string(),
    spanId: z.string(),
    attributes: z.record(z.string(), z.string()),
    resource: z.record(z.string(), z.string()),
    scope: z.object({ name: z.string(), version: z.string(), attributes: z.record(z.string(), z.string()) }),
  })
  .openapi('Log');

/** The route's OpenAPI definition (documentation: parameters are checked by parseSearch, which names the one at fault). */
export const searchLogsDoc = createRoute({
  method: 'get',
  path: '/v1/logs',
  summary: "Search the caller's logs, newest first (needs logs:read)",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      q: z.string().optional().openapi({ description: 'Full-text terms; every one must occur as a token (case-insensitive)' }),
      from: z.string().optional().openapi({ description: 'RFC 3339, Unix epoch, now or now-15m; default 24 h before to' }),
      to: z.string().optional().openapi({ description: 'Same forms; default now' }),
      level: z.string().optional().openapi({ description: 'Comma list of trace, debug, info, warn, error, fatal' }),
      service: z.string().optional().openapi({ description: 'Comma list of service names' }),
      limit: z.string().optional().openapi({ description: '1–1000, default 100' }),
      cursor: z.string().optional().openapi({ description: "The previous page's nextCursor" }),
    }),
  },
  responses: {
    200: {
      description: 'A page of logs',
      content: {
        'application/json': {
          schema: z.object({ logs: z.array(LogViewDoc), nextCursor: z.string().nullable(), from: z.string(), to: z.string() }).openapi('SearchPage'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 503),
  },
});

export const logsRoutes = new Hono<QueryApp>();

logsRoutes.get('/', requirePrincipal('logs:read'), async function searchLogs(c) {
  const started = Date.now();
  // One moment for the range, the cache key and the SQL: `timestamp>now-15m` means the same in all three.
  const now = started;
  const { tenantId } = c.get('principal');
  const search = parseSearch(new URL(c.req.url).searchParams, now);
  checkRange(c.get('principal'), search);
  const cursor = search.cursor ? `${search.cursor.timestamp}|${search.cursor.logId}` : null;
  return cachedJson(c, 'logs', search, { limit: search.limit, cursor }, async () => {
    const { sql, params } = compileSearch(tenantId, search, now);
    const rows = await runQuery<SearchRow>(c, sql, params);
    const page = rows.slice(0, search.limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > search.limit && last ? encodeCursor({ timestamp: last.Timestamp, logId: last.LogId }) : null;
    logEvent('info', 'search.done', {
      requestId: c.get('requestId'),
      tenant: tenantId,
      rows: page.length,
      query: search.query.type,
      durationMs: Date.now() - started,
    });
    return {
      logs: page.map(toView),
      nextCursor,
      from: clickHouseTimeToRfc3339(formatClickHouseTime(search.from)),
      to: clickHouseTimeToRfc3339(formatClickHouseTime(search.to)),
    };
  }, now);
});

export const toView = toLogView;
