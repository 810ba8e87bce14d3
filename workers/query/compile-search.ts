/**
 * A LogSearch → one parameterised ClickHouse query.
 *
 * Nothing from the request is ever part of the SQL text: every value travels
 * as a `{name:Type}` query parameter, and the SQL is assembled only from
 * constant fragments chosen by what the search contains. The tenant predicate
 * is the first condition and comes from the verified credential.
 *
 * The order is (TimestampTime, Timestamp, LogId) DESC. The table's key is
 * (TenantId, ServiceName, TimestampTime, Timestamp): a search for one service
 * reads that service's newest granules in order and stops at the limit; a
 * search across services prunes by time within each service's range. The
 * cursor is the last row's (Timestamp, LogId), which is unique, so pages
 * neither skip nor repeat rows while ingestion continues.
 */
import { LOGS_TABLE } from '../../shared/clickhouse.ts';
import { SEARCHED_COLUMNS } from '../../shared/log-columns.ts';
import { formatClickHouseTime } from '../../shared/timestamp.ts';
import type { LogSearch, SearchScope } from './search-params.ts';
import { compileQuery, SqlParams } from '../../shared/query-language/compile-sql.ts';

/** A row's level name from its SeverityNumber (the ranges of shared/severity.ts; 0 is 'unknown'). */
export const LEVEL_SQL =
  "multiIf(SeverityNumber = 0, 'unknown', SeverityNumber <= 4, 'trace', SeverityNumber <= 8, 'debug', SeverityNumber <= 12, 'info', " +
  "SeverityNumber <= 16, 'warn', SeverityNumber <= 20, 'error', 'fatal')";

export interface CompiledQuery {
  sql: string;
  params: Record<string, string | number | string[]>;
}

/** The columns a search or context answer reads back (StoredLog): those with `search` in shared/log-columns.ts. */
export const SEARCH_COLUMNS = SEARCHED_COLUMNS.map((c) => c.name).join(', ');

/** Tenant, time range and filters: the WHERE every search endpoint starts from. */
export function compileScope(
  tenantId: string,
  scope: SearchScope,
  now = Date.now(),
): { where: string[]; params: CompiledQuery['params']; /** The conditions after the tenant and time bounds (query, levels, services). */ filters: string[] } {
  const where: string[] = ['TenantId = {tenant:String}'];
  const params: CompiledQuery['params'] = {
    tenant: tenantId,
    from: formatClickHouseTime(scope.from),
    to: formatClickHouseTime(scope.to),
  };
  // The whole-second column is in the primary key; the exact bounds follow.
  where.push("TimestampTime >= toDateTime({from:DateTime64(9, 'UTC')})");
  where.push("TimestampTime <= toDateTime({to:DateTime64(9, 'UTC')})");
  where.push("Timestamp >= {from:DateTime64(9, 'UTC')}");
  where.push("Timestamp < {to:DateTime64(9, 'UTC')}");

  const bounds = where.length;
  // The query language: values (and attribute keys) become parameters q0, q1, …
  const queryParams = new SqlParams();
  const filter = compileQuery(scope.query, queryParams, now);
  if (filter !== '1') where.push(filter);
  Object.assign(params, queryParams.values);
  if (scope.severityRanges.length > 0) {
    const ranges = scope.severityRanges.map(([lo, hi], i) => {
      params[`severityLo${i}`] = lo;
      params[`severityHi${i}`] = hi;
      return `SeverityNumber BETWEEN {severityLo${i}:UInt8} AND {severityHi${i}:UInt8}`;
    });
    where.push(`(${ranges.join(' OR ')})`);
  }
  if (scope.services.length > 0) {
    where.push('ServiceName IN {services:Array(String)}');
    params.services = scope.services;
  }
  return { where, params, filters: where.slice(bounds) };
}

export function compileSearch(tenantId: string, search: LogSearch, now = Date.now()): CompiledQuery {
  const { where, params } = compileScope(tenantId, search, now);
  params.limit = search.limit + 1; // one extra row tells whether there is a next page
  if (search.cursor) {
    where.push("(TimestampTime, Timestamp, LogId) < (toDateTime({cursorTs:DateTime64(9, 'UTC')}), {cursorTs:DateTime64(9, 'UTC')}, {cursorId:String})");
    params.cursorTs = search.cursor.timestamp;
    params.cursorId = search.cursor.logId;
  }
  const sql =
    `SELECT ${SEARCH_COLUMNS} FROM ${LOGS_TABLE} ` +
    `WHERE ${where.join(' AND ')} ` +
    'ORDER BY TimestampTime DESC, Timestamp DESC, LogId DESC ' +
    'LIMIT {limit:UInt32}';
  return { sql, params };
}
