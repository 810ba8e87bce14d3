/**
 * GET /v1/logs — the caller's tenant's logs, newest first, one page at a time.
 * A page ends at `limit` rows or at NEURALLOG_SEARCH_MAX_BYTES of rows,
 * whichever comes first; a page cut short by bytes says so (`truncated`) and
 * its cursor goes on from its last row.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { toLogView, type StoredLog } from '../../../shared/log-record.ts';
import { loadConfig } from '../../../shared/config.ts';
import { logEvent } from '../../../shared/logger.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { compileSearch } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { patternsOf, withPatternFamilies } from '../patterns.ts';
import { encodeCursor, parseSearch } from '../search-params.ts';
import { checkRange, runBoundedQuery } from '../run-query.ts';
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
    patternId: z.string().openapi({
      description: "The id of the message's template (docs/analytics.md); search it with pattern:<id>. Empty for records stored before patterns were mined",
    }),
    pattern: z.string().openapi({ description: 'The template, variables as <*>; empty when unknown' }),
  })
  .openapi('Log');

/** The route's OpenAPI definition (documentation: parameters are checked by parseSearch, which names the one at fault). */
export const searchLogsDoc = createRoute({
  method: 'get',
  path: '/v1/logs',
  summary: "Search the caller's logs, newest first (needs logs:read)",
  description:
    'A page holds at most `limit` rows and at most NEURALLOG_SEARCH_MAX_BYTES (default 8 MiB) of row JSON, but always one row. ' +
    'A page cut short by the byte cap has `truncated: true`, `truncatedReason: "bytes"` and a nextCursor that goes on from its last row: paging on returns every row once. ' +
    'Answers for a closed range come from the edge cache; Cache-Status says hit, miss or bypass.',
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      q: z.string().optional().openapi({ description: 'Full-text terms; every one must occur as a token (case-insensitive)' }),
      from: z.string().optional().openapi({ description: 'RFC 3339, Unix epoch, now or now-15m; default 24 h before to' }),
      to: z.string().optional().openapi({ description: 'Same forms; default now' }),
      level: z.string().optional().openapi({ description: 'Comma list of trace, debug, info, warn, error, fatal' }),
      service: z.string().optional().openapi({ description: 'Comma list of service names' }),
      limit: z.string().optional().openapi({ description: '1–1000, default 100; fewer when the rows reach the byte cap' }),
      cursor: z.string().optional().openapi({ description: "The previous page's nextCursor" }),
    }),
  },
  responses: {
    200: {
      description: 'A page of logs',
      content: {
        'application/json': {
          schema: z
            .object({
              logs: z.array(LogViewDoc),
              nextCursor: z.string().nullable().openapi({ description: 'Pass as cursor for the next page; null when no row is left' }),
              truncated: z
                .boolean()
                .openapi({ description: 'The page has fewer than limit rows because its rows reached the byte cap; more follow from nextCursor' }),
              truncatedReason: z.enum(['bytes']).optional().openapi({ description: 'Why the page was cut short (only when truncated)' }),
              from: z.string(),
              to: z.string(),
            })
            .openapi('SearchPage'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 429, 503),
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
  search.query = await withPatternFamilies(c, tenantId, search.query);
  const cursor = search.cursor ? `${search.cursor.timestamp}|${search.cursor.logId}` : null;
  const { searchMaxBytes } = loadConfig(c.env);
  return cachedJson(
    c,
    'logs',
    search,
    { limit: search.limit, cursor, maxBytes: searchMaxBytes },
    async () => {
      const { sql, params } = compileSearch(tenantId, search, now);
      // limit + 1 rows are asked for: the extra one only says whether a next page exists.
      const { rows, truncated: stopped } = await runBoundedQuery<SearchRow>(c, sql, params, searchMaxBytes);
      const page = rows.slice(0, search.limit);
      const last = page[page.length - 1];
      // A stop at the byte cap means ClickHouse had another row, as does a row past the limit.
      const more = rows.length > search.limit || stopped;
      // Cut short: fewer rows than asked for. A full page whose extra row did not fit is not.
      const truncated = stopped && page.length < search.limit;
      const nextCursor = more && last ? encodeCursor({ timestamp: last.Timestamp, logId: last.LogId }) : null;
      logEvent('info', 'search.done', {
        requestId: c.get('requestId'),
        tenant: tenantId,
        rows: page.length,
        truncated,
        query: search.query.type,
        durationMs: Date.now() - started,
      });
      const templates = await patternsOf(
        c,
        tenantId,
        page.map((r) => r.PatternId),
      );
      return {
        logs: page.map((row) => toLogView(row, templates)),
        nextCursor,
        ...(truncated ? { truncated, truncatedReason: 'bytes' } : { truncated }),
        from: clickHouseTimeToRfc3339(formatClickHouseTime(search.from)),
        to: clickHouseTimeToRfc3339(formatClickHouseTime(search.to)),
      };
    },
    now,
  );
});
