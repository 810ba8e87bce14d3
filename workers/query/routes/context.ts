/**
 * GET /v1/logs/context/{id}?before=10&after=10 — the lines around one record
 * from the same service: what people open after a search hit. The record is
 * found through the bloom-filter index on LogId (migration 0002); its
 * neighbours by the sort key, within a day either side of it.
 */
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { SEARCH_COLUMNS } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { runQuery } from '../run-query.ts';
import { invalid } from '../search-params.ts';
import { toView, type SearchRow } from './logs.ts';

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
  const [record] = await runQuery<SearchRow>(c, `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE TenantId = {tenant:String} AND LogId = {id:String} LIMIT 1`, { tenant, id });
  if (!record) throw new ApiError(404, 'not_found', `no log ${id} in this tenant`);
  const params = { tenant, id, ts: record.Timestamp, service: record.ServiceName, before, after };
  const same = `TenantId = {tenant:String} AND ServiceName = {service:String} AND ${AROUND}`;
  const [older, newer] = await Promise.all([
    runQuery<SearchRow>(c, `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE ${same} AND (Timestamp, LogId) < ({ts:DateTime64(9, 'UTC')}, {id:String}) ORDER BY Timestamp DESC, LogId DESC LIMIT {before:UInt32}`, params),
    runQuery<SearchRow>(c, `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} WHERE ${same} AND (Timestamp, LogId) > ({ts:DateTime64(9, 'UTC')}, {id:String}) ORDER BY Timestamp, LogId LIMIT {after:UInt32}`, params),
  ]);
  return c.json({ log: toView(record), before: older.reverse().map(toView), after: newer.map(toView) });
});
