/**
 * Running a search's SQL in ClickHouse under the tenant's plan limits, and
 * turning what can go wrong into answers a user can act on:
 * - a range longer than the plan's retention → 400 (there is nothing older);
 * - more rows to read than the plan allows (max_rows_to_read) or longer than
 *   its time (max_execution_time) → 400 `query_limit_exceeded`, naming the
 *   limit and what to narrow;
 * - more searches at once than the plan's queryConcurrency (counted by the
 *   tenant's QueryGate) → 429 `too_many_queries` with Retry-After;
 * - ClickHouse unreachable → 503 with Retry-After;
 * - any other ClickHouse error is about SQL we wrote: a 500 (logged).
 */
import { ClickHouseError } from '@clickhouse/client-web';
import type { Context } from 'hono';
import { ApiError } from '../../shared/api-error.ts';
import type { Principal } from '../../shared/auth.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import { logEvent } from '../../shared/logger.ts';
import type { QueryApp } from './env.ts';
import { invalid, type SearchScope } from './search-params.ts';

/** ClickHouse's codes for the limits we set. */
const TOO_MANY_ROWS = '158';
const TIMEOUT_EXCEEDED = '159';

export function checkRange(principal: Principal, scope: SearchScope): void {
  const days = (scope.to.seconds - scope.from.seconds) / 86_400;
  const allowed = Math.max(principal.retentionDays, principal.plan.retentionDays);
  if (days > allowed + 1) throw invalid('from', `the range spans ${Math.ceil(days)} days; logs are kept ${allowed} days, so search at most that far back`);
}

/** A lease outlives the plan's longest query by this much (a worker that dies mid-query frees its slot then). */
const LEASE_MARGIN_MS = 5_000;

export async function runQuery<Row>(c: Context<QueryApp>, sql: string, params: Record<string, unknown>): Promise<Row[]> {
  const principal = c.get('principal');
  // The plan's concurrency, across every query isolate: one QueryGate per tenant.
  const gate = c.env.QUERY_GATE.get(c.env.QUERY_GATE.idFromName(principal.tenantId));
  const admission = await gate.acquire(principal.tenantId, principal.plan.queryConcurrency, principal.plan.queryMaxSeconds * 1000 + LEASE_MARGIN_MS);
  if (!admission.ok) {
    throw new ApiError(429, 'too_many_queries', `${admission.running} searches of this tenant are running; the plan allows ${principal.plan.queryConcurrency} at once — retry shortly`, {
      limit: principal.plan.queryConcurrency,
    }, { 'Retry-After': String(admission.retryAfterSeconds) });
  }
  try {
    return await runAdmitted<Row>(c, sql, params);
  } finally {
    await gate.release(admission.lease).catch(() => undefined);
  }
}

async function runAdmitted<Row>(c: Context<QueryApp>, sql: string, params: Record<string, unknown>): Promise<Row[]> {
  const principal = c.get('principal');
  const client = clickHouseClient(loadConfig(c.env).clickhouse);
  try {
    const result = await client.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: {
        max_execution_time: principal.plan.queryMaxSeconds,
        max_rows_to_read: String(principal.plan.queryMaxRowsRead),
        read_overflow_mode: 'throw',
      },
    });
    return await result.json<Row>();
  } catch (err) {
    if (err instanceof ClickHouseError) {
      if (err.code === TOO_MANY_ROWS) {
        throw new ApiError(400, 'query_limit_exceeded', `the search would read more than ${principal.plan.queryMaxRowsRead.toLocaleString('en')} rows, your plan's limit: narrow the time range or add a field filter (service:, level:)`, {
          limit: 'rows_read',
          max: principal.plan.queryMaxRowsRead,
        });
      }
      if (err.code === TIMEOUT_EXCEEDED) {
        throw new ApiError(400, 'query_limit_exceeded', `the search ran longer than ${principal.plan.queryMaxSeconds} s, your plan's limit: narrow the time range or add a field filter`, {
          limit: 'execution_time',
          max: principal.plan.queryMaxSeconds,
        });
      }
      throw err; // our SQL is wrong: a 500, logged by onError
    }
    logEvent('error', 'search.unavailable', { requestId: c.get('requestId'), tenant: principal.tenantId, error: (err as Error).message });
    throw new ApiError(503, 'unavailable', 'the log store cannot be reached; retry later', {}, { 'Retry-After': '5' });
  }
}
