/**
 * GET /v1/logs/context/{id}?before=10&after=10 — the lines around one record
 * from the same service: what people open after a search hit. The record is
 * found through the bloom-filter index on LogId (migration 0002); its
 * neighbours by the sort key, within a day either side of it.
 *
 * The answer holds at most NEURALLOG_SEARCH_MAX_BYTES of rows, like a search
 * page (before and after may each ask for 500 lines): what the record leaves
 * of it is shared between the two sides in proportion to the lines each asks
 * for, and each side keeps its nearest lines — the farthest are the ones cut,
 * and the answer then says `truncated`.
 */
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { loadConfig } from '../../../shared/config.ts';
import { SEARCH_COLUMNS } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { runBoundedQuery } from '../run-query.ts';
import { invalid } from '../search-params.ts';
import { toLogView } from '../../../shared/log-record.ts';
import { patternsOf } from '../patterns.ts';
import type { SearchRow } from './logs.ts';

const MAX_LINES = 500;
const AROUND = "TimestampTime BETWEEN toDateTime({ts:DateTime64(9, 'UTC')}) - 86400 AND toDateTime({ts:DateTime64(9, 'UTC')}) + 86400";

function count(query: URLSearchParams, name: string): number {
  const text = query.get(name);
  if (text === null) return 10;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > MAX_LINES) throw invalid(name, `must be an integer from 0 to ${MAX_LINES}`);
  return n;
}

export const contextRoutes = new Hono<QueryApp>();

contextRoutes.get('/:id', requirePrincipal('logs:read'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  const before = count(query, 'before');
  const after = count(query, 'after');
  const tenant = c.get('principal').tenantId;
  const id = c.req.param('id');
  if (id.length > 128) throw invalid('id', 'not a log id');
  const maxBytes = loadConfig(c.env).searchMaxBytes;
  const found = await runBoundedQuery<SearchRow>(
    c,
    `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE TenantId = {tenant:String} AND LogId = {id:String} LIMIT 1`,
    { tenant, id },
    maxBytes,
  );
  const [record] = found.rows;
  if (!record) throw new ApiError(404, 'not_found', `no log ${id} in this tenant`);
  // Split up front rather than shared as the rows arrive: the same request always gets the same lines.
  const left = Math.max(0, maxBytes - found.bytes);
  const beforeBytes = before + after === 0 ? 0 : Math.floor((left * before) / (before + after));
  const params = { tenant, id, ts: record.Timestamp, service: record.ServiceName, before, after };
  const same = `TenantId = {tenant:String} AND ServiceName = {service:String} AND ${AROUND}`;
  const [older, newer] = await Promise.all([
    runBoundedQuery<SearchRow>(
      c,
      `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE ${same} AND (Timestamp, LogId) < ({ts:DateTime64(9, 'UTC')}, {id:String}) ORDER BY Timestamp DESC, LogId DESC LIMIT {before:UInt32}`,
      params,
      beforeBytes,
    ),
    runBoundedQuery<SearchRow>(
      c,
      `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE ${same} AND (Timestamp, LogId) > ({ts:DateTime64(9, 'UTC')}, {id:String}) ORDER BY Timestamp, LogId LIMIT {after:UInt32}`,
      params,
      left - beforeBytes,
    ),
  ]);
  const truncated = older.truncated || newer.truncated;
  const templates = await patternsOf(
    c,
    c.get('principal').tenantId,
    [record, ...older.rows, ...newer.rows].map((r) => r.PatternId),
  );
  return c.json({
    log: toLogView(record, templates),
    before: older.rows.reverse().map((row) => toLogView(row, templates)),
    after: newer.rows.map((row) => toLogView(row, templates)),
    ...(truncated ? { truncated, truncatedReason: 'bytes' } : { truncated }),
  });
});
