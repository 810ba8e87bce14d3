/**
 * GET /v1/logs/histogram — counts per time bucket split by level: the chart
 * above every log list. Same scope parameters as the search (from, to, q,
 * level, service); the bucket size is chosen so the range has about 60 bars
 * (a round size: 1 s … 1 d), or set with `interval` (e.g. 5m).
 *
 * When the query filters on levels and services only (or nothing) and the
 * buckets are whole minutes, the counts come from
 * the table's per-minute projection (ClickHouse migration 0004) instead of
 * the rows: the range is then counted in whole minutes — from the start of
 * `from`'s minute to the end of `to`'s — and the answer says so
 * (`"resolution": "minute"`, `from`/`to` the minutes counted).
 */
import { Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { SEVERITY_RANGES } from '../../../shared/severity.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { compileScope, LEVEL_SQL, type CompiledQuery } from '../compile-search.ts';
import type { SearchScope } from '../search-params.ts';
import type { QueryNode } from '../../../shared/query-language/ast.ts';
import { resolveField } from '../../../shared/query-language/fields.ts';
import type { QueryApp } from '../env.ts';
import { withPatternFamilies } from '../patterns.ts';
import { checkRange, runQuery } from '../run-query.ts';
import { cachedJson } from '../edge-cache.ts';
import { invalid, parseScope } from '../search-params.ts';

const NICE_SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const TARGET_BUCKETS = 60;
const MAX_BUCKETS = 1000;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The round bucket size that gives about TARGET_BUCKETS buckets over `rangeSeconds`. */
export function autoInterval(rangeSeconds: number): number {
  return NICE_SECONDS.find((s) => rangeSeconds / s <= TARGET_BUCKETS) ?? 86400 * Math.ceil(rangeSeconds / 86400 / TARGET_BUCKETS);
}

export function formatInterval(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

const LEVELS = ['unknown', ...Object.keys(SEVERITY_RANGES)];

export const histogramRoutes = new Hono<QueryApp>();

histogramRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  const scope = parseScope(query);
  checkRange(c.get('principal'), scope);
  scope.query = await withPatternFamilies(c, c.get('principal').tenantId, scope.query);
  const rangeSeconds = Math.max(1, scope.to.seconds - scope.from.seconds);
  let interval = autoInterval(rangeSeconds);
  const intervalText = query.get('interval');
  if (intervalText !== null) {
    const m = /^(\d+)(s|m|h|d)$/.exec(intervalText.trim());
    if (!m || Number(m[1]) === 0) throw invalid('interval', 'must look like 30s, 5m, 1h or 1d');
    interval = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    if (rangeSeconds / interval > MAX_BUCKETS)
      throw invalid('interval', `gives more than ${MAX_BUCKETS} buckets for this range; use at least ${formatInterval(Math.ceil(rangeSeconds / MAX_BUCKETS))}`);
  }
  return cachedJson(c, 'histogram', scope, { interval }, async () => {
    const byMinute = interval % 60 === 0 && onlyServiceAndLevel(scope.query);
    const { sql, params } = byMinute ? perMinuteSql(c.get('principal').tenantId, scope, interval) : perRowSql(c.get('principal').tenantId, scope, interval);
    const rows = await runQuery<{ bucket: number; level: string; n: string }>(c, sql, params);

    // Every bucket of the range, empty ones included, so a chart needs no gap filling.
    const first = Math.floor(scope.from.seconds / interval) * interval;
    const buckets = new Map<number, { start: string; total: number; levels: Record<string, number> }>();
    for (let start = first; start <= scope.to.seconds; start += interval) {
      buckets.set(start, { start: new Date(start * 1000).toISOString(), total: 0, levels: Object.fromEntries(LEVELS.map((l) => [l, 0])) });
    }
    for (const row of rows) {
      const bucket = buckets.get(Number(row.bucket));
      if (!bucket) continue;
      bucket.levels[row.level] = Number(row.n);
      bucket.total += Number(row.n);
    }
    return {
      interval: formatInterval(interval),
      intervalSeconds: interval,
      resolution: byMinute ? 'minute' : 'exact',
      from: byMinute
        ? new Date((scope.from.seconds - (scope.from.seconds % 60)) * 1000).toISOString()
        : clickHouseTimeToRfc3339(formatClickHouseTime(scope.from)),
      to: byMinute
        ? new Date((scope.to.seconds - (scope.to.seconds % 60) + 60) * 1000 - 1).toISOString()
        : clickHouseTimeToRfc3339(formatClickHouseTime(scope.to)),
      total: [...buckets.values()].reduce((n, b) => n + b.total, 0),
      buckets: [...buckets.values()],
    };
  });
});

/** Counts from the rows: any query, any bucket size, the exact range. */
function perRowSql(tenantId: string, scope: SearchScope, interval: number): CompiledQuery {
  const { where, params } = compileScope(tenantId, scope);
  params.interval = interval;
  return {
    sql:
      `SELECT toUnixTimestamp(toStartOfInterval(TimestampTime, toIntervalSecond({interval:UInt32}))) AS bucket, ${LEVEL_SQL} AS level, count() AS n ` +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY bucket, level ORDER BY bucket`,
    params,
  };
}

/**
 * Counts from the per-minute projection: only its columns (tenant, service,
 * minute, severity) in WHERE and GROUP BY, so ClickHouse can answer from it.
 * The level and service filters of the scope are projection columns too.
 */
export function perMinuteSql(tenantId: string, scope: SearchScope, interval: number): CompiledQuery {
  const { filters, params } = compileScope(tenantId, scope);
  const minute = 'toStartOfMinute(TimestampTime)';
  const where = [
    'TenantId = {tenant:String}',
    `${minute} >= toStartOfMinute(toDateTime({from:DateTime64(9, 'UTC')}))`,
    `${minute} <= toStartOfMinute(toDateTime({to:DateTime64(9, 'UTC')}))`,
    ...filters, // levels and services: projection columns
  ];
  params.interval = interval;
  return {
    sql:
      `SELECT toUnixTimestamp(toStartOfInterval(${minute}, toIntervalSecond({interval:UInt32}))) AS bucket, ${LEVEL_SQL} AS level, count() AS n ` +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY bucket, level ORDER BY bucket`,
    params,
  };
}

/** The query names only columns the per-minute projection keeps (service, level). */
function onlyServiceAndLevel(node: QueryNode): boolean {
  switch (node.type) {
    case 'all':
      return true;
    case 'and':
    case 'or':
      return node.children.every(onlyServiceAndLevel);
    case 'not':
      return onlyServiceAndLevel(node.child);
    case 'text':
      return false;
    default: {
      const kind = resolveField(node.field).kind;
      return kind === 'service' || kind === 'severity';
    }
  }
}
