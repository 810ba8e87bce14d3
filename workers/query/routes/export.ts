/**
 * GET /v1/logs/export?format=ndjson|csv&from&to&q&level&service — every record
 * in the scope, newest first, as a download (needs logs:read).
 *
 * The same scope and the same SQL as a search (tenant first, every value a
 * parameter), run under the same plan limits and the tenant's QueryGate. The
 * answer is streamed: ClickHouse's rows are written out as they arrive and
 * never held, so an export's size is bounded by NEURALLOG_EXPORT_MAX_ROWS
 * and the plan's query limits, not by the isolate's memory.
 *
 * - NDJSON: one record per line, in the shape search answers give
 *   (toLogView). Cut at the row cap, it ends with
 *   `{"truncated": true, "reason": "rows", "limit": N}`; a failure after the
 *   first rows were sent (a plan limit, ClickHouse gone) ends it with
 *   `{"truncated": true, "reason": "error", "error": "<code>", "message": …}`.
 * - CSV (RFC 4180, CRLF): `timestamp,level,service,body,trace_id,span_id,id,
 *   attributes,resource`, attributes and resource as JSON text. A CSV has no
 *   place for a note, so the cap is sent as `X-NeuralLog-Export-Limit`: a file
 *   of exactly that many rows may have been cut. A failure after the first
 *   rows aborts the download, so a cut file is never taken for a whole one.
 *   Cells that a spreadsheet would run as a formula (starting with = + - @,
 *   tab or CR) are prefixed with a single quote (OWASP "CSV injection").
 *
 * Errors found before the first row (bad parameters, a plan limit, too many
 * queries, ClickHouse unreachable) are answered as search answers them.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { loadConfig } from '../../../shared/config.ts';
import { type LogView, type StoredLog, toLogView } from '../../../shared/log-record.ts';
import { logEvent } from '../../../shared/logger.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { invalid } from '../../../shared/request-params.ts';
import { parseScope } from '../../../shared/search-scope.ts';
import { formatClickHouseTime } from '../../../shared/timestamp.ts';
import { compileSearch } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { patternsOf, withPatternFamilies } from '../patterns.ts';
import { checkRange, streamQuery } from '../run-query.ts';

export const CSV_HEADER = ['timestamp', 'level', 'service', 'body', 'trace_id', 'span_id', 'id', 'attributes', 'resource'] as const;
export const EXPORT_LIMIT_HEADER = 'X-NeuralLog-Export-Limit';

const FORMATS = new Map([
  ['ndjson', { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' }],
  ['csv', { contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' }],
] as const);

/** One CSV cell: formula-injection guard first, then RFC 4180 quoting. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function csvRecord(log: LogView): string {
  return csvLine([
    log.timestamp,
    log.severityText,
    log.service,
    log.body,
    log.traceId,
    log.spanId,
    log.id,
    JSON.stringify(log.attributes),
    JSON.stringify(log.resource),
  ]);
}

/** `2026-11-20 12:00:03.123456789` → `20261120T120003Z`: a file name without characters some systems refuse. */
function compactTime(clickHouseTime: string): string {
  return `${clickHouseTime.slice(0, 19).replace(/[-:]/g, '').replace(' ', 'T')}Z`;
}

export const exportDoc = createRoute({
  method: 'get',
  path: '/v1/logs/export',
  summary: 'Download every record in the scope, newest first, as NDJSON or CSV (needs logs:read)',
  description:
    'Streamed as ClickHouse answers, under the plan’s query limits, at most NEURALLOG_EXPORT_MAX_ROWS (default 1,000,000) records. ' +
    'NDJSON: one record per line, as search returns them; cut at the cap, the last line is {"truncated": true, "reason": "rows", "limit": N}; ' +
    'a failure after the first rows ends it with {"truncated": true, "reason": "error", "error": code, "message": …}. ' +
    "CSV (RFC 4180): timestamp,level,service,body,trace_id,span_id,id,attributes,resource (attributes and resource as JSON); cells starting with = + - @ are prefixed with ' ; " +
    'the cap is in X-NeuralLog-Export-Limit and a CSV holding exactly that many rows may have been cut; a failure after the first rows aborts the download.',
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      format: z.enum(['ndjson', 'csv']).optional().openapi({ description: 'Default ndjson' }),
      from: z.string().optional().openapi({ description: 'RFC 3339, Unix epoch, now or now-15m; default 24 h before to' }),
      to: z.string().optional().openapi({ description: 'Same forms; default now' }),
      q: z.string().optional().openapi({ description: 'The query language (docs/query-language.md)' }),
      level: z.string().optional().openapi({ description: 'Comma list of trace, debug, info, warn, error, fatal' }),
      service: z.string().optional().openapi({ description: 'Comma list of service names' }),
    }),
  },
  responses: {
    200: {
      description: 'The records, as an attachment (Content-Disposition: neurallog-<tenant>-<from>.ndjson|csv)',
      headers: { [EXPORT_LIMIT_HEADER]: { description: 'The most records this export holds', schema: { type: 'integer' } } },
      content: { 'application/x-ndjson': { schema: z.string() }, 'text/csv': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 403, 429, 503),
  },
});

export const exportRoutes = new Hono<QueryApp>();

exportRoutes.get('/', requirePrincipal('logs:read'), async function exportLogs(c) {
  const started = Date.now();
  const now = started;
  const { tenantId } = c.get('principal');
  const query = new URL(c.req.url).searchParams;
  const formatName = query.get('format') ?? 'ndjson';
  const format = FORMATS.get(formatName as 'ndjson');
  if (!format) throw invalid('format', `must be ${[...FORMATS.keys()].join(' or ')}`);
  const csv = formatName === 'csv';
  const scope = parseScope(query, now);
  checkRange(c.get('principal'), scope);
  scope.query = await withPatternFamilies(c, tenantId, scope.query);
  const limit = loadConfig(c.env).exportMaxRows;
  // The search's SQL, asking for one row past the cap: it says whether the export was cut.
  const { sql, params } = compileSearch(tenantId, { ...scope, limit, cursor: null }, now);
  const rows = await streamQuery(c, sql, params);
  // The first batch is read before answering: what fails early is answered with its status.
  let pending = await rows.next();

  const encoder = new TextEncoder();
  let written = 0;
  const done = (outcome: string) =>
    logEvent('info', 'export.done', {
      requestId: c.get('requestId'),
      tenant: tenantId,
      format: formatName,
      rows: written,
      outcome,
      durationMs: Date.now() - started,
    });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (csv) controller.enqueue(encoder.encode(csvLine(CSV_HEADER)));
    },
    async pull(controller) {
      try {
        const batch = pending ?? (await rows.next());
        pending = null;
        if (batch === null) {
          controller.close();
          done('complete');
          return;
        }
        let out = '';
        const stored = batch.map((row) => JSON.parse(row.text) as StoredLog);
        const templates = await patternsOf(
          c,
          tenantId,
          stored.map((r) => r.PatternId),
        );
        for (const record of stored) {
          if (written === limit) {
            await rows.close();
            if (!csv) out += `${JSON.stringify({ truncated: true, reason: 'rows', limit })}\n`;
            if (out) controller.enqueue(encoder.encode(out));
            controller.close();
            done('rows');
            return;
          }
          const log = toLogView(record, templates);
          out += csv ? csvRecord(log) : `${JSON.stringify(log)}\n`;
          written++;
        }
        if (out) controller.enqueue(encoder.encode(out));
      } catch (err) {
        await rows.close();
        done('error');
        if (csv || !(err instanceof ApiError)) {
          controller.error(err);
          return;
        }
        controller.enqueue(encoder.encode(`${JSON.stringify({ truncated: true, reason: 'error', error: err.code, message: err.message })}\n`));
        controller.close();
      }
    },
    async cancel() {
      await rows.close();
      done('cancelled');
    },
  });
  const from = compactTime(formatClickHouseTime(scope.from));
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': format.contentType,
      'Content-Disposition': `attachment; filename="neurallog-${tenantId}-${from}.${format.extension}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      [EXPORT_LIMIT_HEADER]: String(limit),
    },
  });
});
