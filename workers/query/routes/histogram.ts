/**
 * GET /v1/logs/histogram — counts per time bucket split by level: the chart
 * above every log list. Same scope parameters as the search (from, to, q,
 * level, service); the bucket size is chosen so the range has about 60 bars
 * (a round size: 1 s … 1 d), or set with `interval` (e.g. 5m).
 */
import { Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { SEVERITY_RANGES } from '../../../shared/severity.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { compileScope, LEVEL_SQL } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
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
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

const LEVELS = ['unknown', ...Object.keys(SEVERITY_RANGES)];

export const histogramRoutes = new Hono<QueryApp>();

histogramRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  const scope = parseScope(query);
  checkRange(c.get('principal'), scope);
  const rangeSeconds = Math.max(1, scope.to.seconds - scope.from.seconds);
  let interval = autoInterval(rangeSeconds);
  const intervalText = query.get('interval');
  if (intervalText !== null) {
    const m = /^(\d+)(s|m|h|d)$/.exec(intervalText.trim());
    if (!m || Number(m[1]) === 0) throw invalid('interval', 'must look like 30s, 5m, 1h or 1d');
    interval = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    if (rangeSeconds / interval > MAX_BUCKETS) throw invalid('interval', `gives more than ${MAX_BUCKETS} buckets for this range; use at least ${formatInterval(Math.ceil(rangeSeconds / MAX_BUCKETS))}`);
  }
  return cachedJson(c, 'histogram', scope, { interval }, async () => {
    const { where, params } = compileScope(c.get('principal').tenantId, scope);
    params.interval = interval;
    const sql =
      `SELECT toUnixTimestamp(toStartOfInterval(TimestampTime, toIntervalSecond({interval:UInt32}))) AS bucket, ${LEVEL_SQL} AS level, count() AS n ` +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY bucket, level ORDER BY bucket`;
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
      from: clickHouseTimeToRfc3339(formatClickHouseTime(scope.from)),
      to: clickHouseTimeToRfc3339(formatClickHouseTime(scope.to)),
      total: [...buckets.values()].reduce((n, b) => n + b.total, 0),
      buckets: [...buckets.values()],
    };
  });
});
