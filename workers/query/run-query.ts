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
 *
 * The answer is read as a stream of rows, never whole: runBoundedQuery stops
 * at a number of bytes (NEURALLOG_SEARCH_MAX_BYTES for searches) and cancels
 * the rest, because a row limit alone does not bound memory — 1,000 records
 * of 256 KiB are 256 MB, twice an isolate's 128 MB.
 */
import { ClickHouseError } from '@clickhouse/client-web';
import type { Context } from 'hono';
import { ApiError } from '../../shared/api-error.ts';
import type { Principal } from '../../shared/auth.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import { logEvent } from '../../shared/logger.ts';
import { queryKindOf } from '../../shared/platform-metrics/query-kind.ts';
import { platformMetrics } from '../../shared/platform-metrics/reporting.ts';
import { routePath } from 'hono/route';
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

/** Rows read from one query, up to a number of bytes. */
export interface BoundedRows<Row> {
  rows: Row[];
  /** UTF-8 bytes of those rows' JSON, as ClickHouse sent it. */
  bytes: number;
  /** Reading stopped at the byte cap: ClickHouse had at least one more row. */
  truncated: boolean;
}

/** Every row of the answer: for queries whose own LIMIT keeps it small (counts, facets). */
export async function runQuery<Row>(c: Context<QueryApp>, sql: string, params: Record<string, unknown>): Promise<Row[]> {
  return (await runBoundedQuery<Row>(c, sql, params, Number.POSITIVE_INFINITY)).rows;
}

/**
 * The answer's rows in order until the next one would take their JSON past
 * `maxBytes`; then ClickHouse's answer is cancelled unread. The first row is
 * always returned, whatever its size, so that a cursor taken from the last
 * row always moves on.
 */
export async function runBoundedQuery<Row>(c: Context<QueryApp>, sql: string, params: Record<string, unknown>, maxBytes: number): Promise<BoundedRows<Row>> {
  const principal = c.get('principal');
  // The plan's concurrency, across every query isolate: one QueryGate per tenant.
  const gate = c.env.QUERY_GATE.get(c.env.QUERY_GATE.idFromName(principal.tenantId));
  const admission = await gate.acquire(principal.tenantId, principal.plan.queryConcurrency, principal.plan.queryMaxSeconds * 1000 + LEASE_MARGIN_MS);
  if (!admission.ok) throw tooManyQueries(principal, admission);
  try {
    return await runAdmitted<Row>(c, sql, params, maxBytes);
  } finally {
    await gate.release(admission.lease).catch(() => undefined);
  }
}

/**
 * A small lookup by the primary key of a side table (pattern templates and aliases): not a search,
 * so it does not take one of the plan's query slots, but it runs under the plan's limits.
 */
export async function runLookup<Row>(c: Context<QueryApp>, sql: string, params: Record<string, unknown>, maxBytes = 4 * 1024 * 1024): Promise<Row[]> {
  return (await runAdmitted<Row>(c, sql, params, maxBytes, 'lookup')).rows;
}

async function runAdmitted<Row>(
  c: Context<QueryApp>,
  sql: string,
  params: Record<string, unknown>,
  maxBytes: number,
  kind?: string,
): Promise<BoundedRows<Row>> {
  const started = Date.now();
  try {
    const result = await startQuery(c, sql, params);
    // Read inside the try: an error ClickHouse reports mid-answer is handled like one before it.
    const rows = await readRows<Row>(result.stream<Row>(), maxBytes);
    countQuery(c, kind, 'ok', started);
    return rows;
  } catch (err) {
    const failure = queryFailure(c, err);
    countQuery(c, kind, failure instanceof ApiError && failure.status === 400 ? 'limited' : 'error', started);
    throw failure;
  }
}

/** The route pattern that is running (empty when there is none, as for a context built by hand): metrics never fail a query. */
function routeOf(c: Context<QueryApp>): string {
  try {
    return routePath(c);
  } catch {
    return '';
  }
}

/**
 * One tenant query in the platform metrics: its kind (from the route that ran it, or given), outcome and time.
 * Reported with the request's own metrics (the request middleware asks for the report).
 */
function countQuery(c: Context<QueryApp>, kind: string | undefined, outcome: 'ok' | 'limited' | 'error', started: number): void {
  const metrics = platformMetrics(c.env);
  const queryKind = kind ?? queryKindOf(routeOf(c));
  metrics.count('neurallog_queries_total', { kind: queryKind, outcome });
  metrics.observe('neurallog_query_duration_seconds', { kind: queryKind }, (Date.now() - started) / 1000);
}

/** The query sent under the plan's limits; its answer not read yet. */
function startQuery(c: Context<QueryApp>, sql: string, params: Record<string, unknown>) {
  const principal = c.get('principal');
  const client = clickHouseClient(loadConfig(c.env).clickhouse);
  return client.query({
    query: sql,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: {
      max_execution_time: principal.plan.queryMaxSeconds,
      max_rows_to_read: String(principal.plan.queryMaxRowsRead),
      read_overflow_mode: 'throw',
    },
  });
}

/** What a failed query means to the caller: a 400 naming the plan limit it hit, a 503 when ClickHouse is away, else the error itself (our SQL: a 500). */
function queryFailure(c: Context<QueryApp>, err: unknown): unknown {
  const principal = c.get('principal');
  if (err instanceof ApiError) return err;
  if (err instanceof ClickHouseError) {
    if (err.code === TOO_MANY_ROWS) {
      return new ApiError(
        400,
        'query_limit_exceeded',
        `the search would read more than ${principal.plan.queryMaxRowsRead.toLocaleString('en')} rows, your plan's limit: narrow the time range or add a field filter (service:, level:)`,
        {
          limit: 'rows_read',
          max: principal.plan.queryMaxRowsRead,
        },
      );
    }
    if (err.code === TIMEOUT_EXCEEDED) {
      return new ApiError(
        400,
        'query_limit_exceeded',
        `the search ran longer than ${principal.plan.queryMaxSeconds} s, your plan's limit: narrow the time range or add a field filter`,
        {
          limit: 'execution_time',
          max: principal.plan.queryMaxSeconds,
        },
      );
    }
    return err; // our SQL is wrong: a 500, logged by onError
  }
  logEvent('error', 'search.unavailable', { requestId: c.get('requestId'), tenant: principal.tenantId, error: (err as Error).message });
  return new ApiError(503, 'unavailable', 'the log store cannot be reached; retry later', {}, { 'Retry-After': '5' });
}

/** ClickHouse's answer, row batches as they arrive, for answers too large to hold (exports). */
export interface RowStream {
  /** The next batch of rows (their JSON text), or null at the end. Failures are the API's errors (queryFailure). */
  next(): Promise<{ text: string }[] | null>;
  /** Stops reading (ClickHouse's answer is cancelled) and frees the tenant's query slot; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Runs a query under the QueryGate and the plan's limits, like
 * runBoundedQuery, but hands its answer over as it arrives instead of
 * collecting it: nothing but the batch in hand is held. The slot is held until
 * the stream ends or is closed (or, if neither happens, until its lease
 * expires: the plan's longest query plus a margin).
 */
export async function streamQuery(c: Context<QueryApp>, sql: string, params: Record<string, unknown>): Promise<RowStream> {
  const principal = c.get('principal');
  const gate = c.env.QUERY_GATE.get(c.env.QUERY_GATE.idFromName(principal.tenantId));
  const admission = await gate.acquire(principal.tenantId, principal.plan.queryConcurrency, principal.plan.queryMaxSeconds * 1000 + LEASE_MARGIN_MS);
  if (!admission.ok) throw tooManyQueries(principal, admission);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await gate.release(admission.lease).catch(() => undefined);
  };
  const started = Date.now();
  let reader: ReadableStreamDefaultReader<{ text: string }[]>;
  try {
    reader = (await startQuery(c, sql, params)).stream().getReader();
  } catch (err) {
    await release();
    countQuery(c, undefined, 'error', started);
    throw queryFailure(c, err);
  }
  return {
    async next() {
      if (released) return null;
      try {
        const { done, value } = await reader.read();
        if (done) {
          await release();
          countQuery(c, undefined, 'ok', started);
          return null;
        }
        return value;
      } catch (err) {
        await release();
        countQuery(c, undefined, 'error', started);
        throw queryFailure(c, err);
      }
    },
    async close() {
      if (released) return;
      await reader.cancel('export ended').catch(() => undefined);
      await release();
      countQuery(c, undefined, 'ok', started);
    },
  };
}

function tooManyQueries(principal: Principal, admission: { running: number; retryAfterSeconds: number }): ApiError {
  return new ApiError(
    429,
    'too_many_queries',
    `${admission.running} searches of this tenant are running; the plan allows ${principal.plan.queryConcurrency} at once — retry shortly`,
    {
      limit: principal.plan.queryConcurrency,
    },
    { 'Retry-After': String(admission.retryAfterSeconds) },
  );
}

async function readRows<Row>(stream: ReadableStream<{ text: string; json<T>(): T }[]>, maxBytes: number): Promise<BoundedRows<Row>> {
  const reader = stream.getReader();
  const rows: Row[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { rows, bytes, truncated: false };
    for (const row of value) {
      const size = utf8Length(row.text);
      if (rows.length > 0 && bytes + size > maxBytes) {
        // Closes the HTTP response: ClickHouse stops sending and nothing more is buffered here.
        await reader.cancel('byte cap reached').catch(() => undefined);
        return { rows, bytes, truncated: true };
      }
      bytes += size;
      rows.push(row.json<Row>());
    }
  }
}

/** UTF-8 length of a string without encoding it (a row may be hundreds of KiB). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // 2 bytes up to U+07FF, 3 up to U+FFFF; a surrogate pair (2 units) is 4.
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}
