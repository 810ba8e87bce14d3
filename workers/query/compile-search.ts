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
import { compileScope, type CompiledQuery } from '../../shared/search-scope.ts';
import type { LogSearch } from './search-params.ts';

// The scope's WHERE lives in shared/search-scope.ts (erasure compiles it too).
export { compileScope, type CompiledQuery } from '../../shared/search-scope.ts';

/** A row's level name from its SeverityNumber (the ranges of shared/severity.ts; 0 is 'unknown'). */
export const LEVEL_SQL =
  "multiIf(SeverityNumber = 0, 'unknown', SeverityNumber <= 4, 'trace', SeverityNumber <= 8, 'debug', SeverityNumber <= 12, 'info', " +
  "SeverityNumber <= 16, 'warn', SeverityNumber <= 20, 'error', 'fatal')";

/** The columns a search or context answer reads back (StoredLog): those with `search` in shared/log-columns.ts. */
export const SEARCH_COLUMNS = SEARCHED_COLUMNS.map((c) => c.name).join(', ');

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
