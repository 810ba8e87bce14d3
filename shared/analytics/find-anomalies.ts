/**
 * The anomaly finder: reads a range's counts from ClickHouse and hands them
 * to detectAnomalies (./anomalies.ts). GET /v1/anomalies answers with it
 * (workers/query/routes/anomalies.ts), and it is written to be callable
 * outside the query worker too (the alert evaluator's anomaly rules): it runs
 * its SQL through the caller's `run` and takes the tenant's alias graph as
 * given, so it imports nothing from workers/.
 *
 * The range is cut into intervals of a size that divides a day (5 min for
 * ranges up to 4 h, about 48 intervals for longer ones; ranges up to 7 days).
 * ClickHouse gives, per interval, the count of each service and of each of
 * the tenant's most frequent patterns (with their errors), for the range and
 * the same times of day on the BASELINE_DAYS days before; and the patterns
 * first seen in the range that none of the days before had — not even under
 * an earlier template of the same pattern (aliases).
 *
 * Which intervals are complete. The intervals are anomalyInterval(to − from)
 * seconds long and aligned on multiples of that size since the epoch (so on
 * UTC midnight, as each size divides a day). The first starts at or before
 * `from`, the last ends at or after `to`, and each is counted whole, from its
 * start to its end, whatever part of it lies outside [from, to). (New patterns
 * are the exception: first seen at or after `from` itself, up to the last
 * interval's end.) So with `to` inside an interval — `to` = now, the API's
 * default — the last interval is still being written: its count is partial and
 * may read as a drop or a silence. Callers that want only finished intervals
 * (an alert evaluator) pass a `to` on an interval boundary at or before now,
 * and a `from` on one as well (so that the first interval does not reach
 * back before it): take a range of R seconds that is a multiple of
 * anomalyInterval(R) (1 h, 24 h and 7 days are), interval =
 * anomalyInterval(R), to = ⌊now / interval⌋ · interval, from = to − R. Records
 * also reach ClickHouse a little after their time (the tenant actor buffers
 * them up to its flush age, longer when a flush is retried): an interval that
 * ended a moment ago may still be short of some, so leave a margin after a
 * boundary before treating the interval before it as final.
 *
 * Every value travels as a `{name:Type}` query parameter, never in the SQL
 * text; the tenant predicate is every query's first condition.
 */
import { LOGS_TABLE } from '../clickhouse.ts';
import type { AliasGraph } from '../patterns/aliases.ts';
import { severityTextFromNumber } from '../severity.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime, type Instant } from '../timestamp.ts';
import { detectAnomalies, type Anomaly, type CountSeries, type ErrorSeries, type NewPattern } from './anomalies.ts';

/** Days before the range whose same times of day are the baseline (and in which a new pattern must not appear). */
export const BASELINE_DAYS = 7;
/** The longest range looked at in one call (s). */
export const MAX_RANGE_SECONDS = 7 * 86_400;
/** Interval sizes (s): each divides a day, so an interval has the same time of day on every day. */
const INTERVALS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
/** Patterns followed one by one (the most frequent over the baseline and the range); services are all followed. */
const MAX_PATTERN_SERIES = 200;
const MAX_NEW_PATTERNS = 100;
const MAX_ANOMALIES = 100;

/** The interval size (s) for a range of this many seconds: the smallest that cuts it into at most 48. */
export function anomalyInterval(rangeSeconds: number): number {
  return INTERVALS.find((s) => rangeSeconds / s <= 48) ?? 86400;
}

/** Runs one parameterised query and returns every row of its answer (its own LIMIT keeps it small). */
export type RunQuery = <T>(sql: string, params: Record<string, unknown>) => Promise<T[]>;

/** What to look at: one tenant, a range of at most MAX_RANGE_SECONDS, and its services (all when empty). */
export interface AnomalyScope {
  tenantId: string;
  from: Instant;
  to: Instant;
  services: string[];
}

export interface FoundAnomalies {
  /** The interval size (s): anomalyInterval of the range. */
  interval: number;
  /** Earlier days with records at these times, at the interval that has fewest (the baseline needs MIN_BASELINE_DAYS). */
  baselineDays: number;
  /** Highest score first, at most MAX_ANOMALIES. */
  anomalies: Anomaly[];
}

/**
 * What is unusual in the scope's range. `graph` is the tenant's alias graph: a pattern is followed under
 * its current id. The queries run one after another through `run` (each may take one of the plan's
 * concurrent query slots). Throws a RangeError for an empty or reversed range or one longer than
 * MAX_RANGE_SECONDS (the API refuses those first, naming the parameter).
 */
export async function findAnomalies(run: RunQuery, graph: AliasGraph, scope: AnomalyScope): Promise<FoundAnomalies> {
  const rangeSeconds = scope.to.seconds - scope.from.seconds;
  if (rangeSeconds < 0 || (rangeSeconds === 0 && scope.to.nanos <= scope.from.nanos)) throw new RangeError('findAnomalies: from must be earlier than to');
  if (rangeSeconds > MAX_RANGE_SECONDS) throw new RangeError(`findAnomalies: the range is longer than ${MAX_RANGE_SECONDS} s`);
  const interval = anomalyInterval(Math.max(1, rangeSeconds));
  const first = Math.floor(scope.from.seconds / interval) * interval;
  const count = Math.ceil((scope.to.seconds - first) / interval) || 1;
  const starts = Array.from({ length: count }, (_, i) => first + i * interval);
  // Never before the epoch: a range in 1970's first week would otherwise send ClickHouse a negative UInt32 (a 500).
  const lookback = Math.max(0, first - BASELINE_DAYS * 86_400);
  const params = {
    tenant: scope.tenantId,
    lookback,
    end: first + count * interval,
    from: formatClickHouseTime(scope.from),
    first,
    interval,
    span: count * interval,
    services: scope.services,
    maxPatterns: MAX_PATTERN_SERIES,
    maxNew: MAX_NEW_PATTERNS,
  };
  // Only the range's times of day, on the range's days and the baseline days before it.
  const where =
    'TenantId = {tenant:String} AND TimestampTime >= toDateTime({lookback:UInt32}) AND TimestampTime < toDateTime({end:UInt32}) ' +
    `AND (toUnixTimestamp(TimestampTime) - {first:UInt32} + ${BASELINE_DAYS + 1} * 86400) % 86400 < {span:UInt32}` +
    (scope.services.length > 0 ? ' AND ServiceName IN {services:Array(String)}' : '');
  const bucket = 'toUnixTimestamp(toStartOfInterval(TimestampTime, toIntervalSecond({interval:UInt32})))';
  // One after another: each takes one of the plan's concurrent query slots, and this is one request.
  const [services, patterns, fresh] = [
    await run<{ service: string; b: number; n: string; e: string }>(
      `SELECT ServiceName AS service, ${bucket} AS b, count() AS n, countIf(SeverityNumber >= 17) AS e FROM ${LOGS_TABLE} WHERE ${where} GROUP BY service, b`,
      params,
    ),
    await run<{ service: string; pattern: string; b: number; n: string }>(
      `SELECT ServiceName AS service, PatternId AS pattern, ${bucket} AS b, count() AS n FROM ${LOGS_TABLE} WHERE ${where} ` +
        `AND (ServiceName, PatternId) IN (SELECT ServiceName, PatternId FROM ${LOGS_TABLE} WHERE ${where} AND PatternId != '' GROUP BY ServiceName, PatternId ORDER BY count() DESC LIMIT {maxPatterns:UInt32}) ` +
        'GROUP BY service, pattern, b',
      params,
    ),
    await run<{ service: string; pattern: string; first: string; n: string; severity: number }>(
      `SELECT ServiceName AS service, PatternId AS pattern, min(Timestamp) AS first, count() AS n, max(SeverityNumber) AS severity FROM ${LOGS_TABLE} ` +
        "WHERE TenantId = {tenant:String} AND TimestampTime >= toDateTime({lookback:UInt32}) AND TimestampTime < toDateTime({end:UInt32}) AND PatternId != ''" +
        (scope.services.length > 0 ? ' AND ServiceName IN {services:Array(String)}' : '') +
        " GROUP BY service, pattern HAVING first >= {from:DateTime64(9, 'UTC')} ORDER BY n DESC LIMIT {maxNew:UInt32}",
      params,
    ),
  ] as const;

  // A slot's baseline: the same time on each of the BASELINE_DAYS days before it on which the tenant
  // logged anything (at these times of day) — a day the tenant was not sending is no evidence.
  const utcDay = (seconds: number) => Math.floor(seconds / 86_400);
  const activeDays = new Set(services.map((r) => utcDay(Number(r.b))));
  const referenceTimes = starts.map((t) => Array.from({ length: BASELINE_DAYS }, (_, k) => t - (k + 1) * 86_400).filter((s) => activeDays.has(utcDay(s))));
  const observedOf = (counts: Map<number, number>) => starts.map((t) => counts.get(t) ?? 0);
  const referenceOf = (counts: Map<number, number>) => referenceTimes.map((times) => times.map((s) => counts.get(s) ?? 0));
  const bump = (counts: Map<number, number>, b: number, n: number) => counts.set(b, (counts.get(b) ?? 0) + n);

  const perService = new Map<string, { all: Map<number, number>; errors: Map<number, number> }>();
  for (const row of services) {
    let s = perService.get(row.service);
    if (!s) {
      s = { all: new Map(), errors: new Map() };
      perService.set(row.service, s);
    }
    bump(s.all, Number(row.b), Number(row.n));
    bump(s.errors, Number(row.b), Number(row.e));
  }
  // A pattern is followed under its current id: the records of the templates it generalised are its own
  // (otherwise a generalisation would look like one series falling silent and another appearing).
  const perPattern = new Map<string, { service: string; pattern: string; counts: Map<number, number> }>();
  for (const row of patterns) {
    const pattern = graph.canonical(row.pattern);
    const key = `${row.service}\u0000${pattern}`;
    let p = perPattern.get(key);
    if (!p) {
      p = { service: row.service, pattern, counts: new Map() };
      perPattern.set(key, p);
    }
    bump(p.counts, Number(row.b), Number(row.n));
  }
  const volume: CountSeries[] = [
    ...[...perService].map(([service, s]) => ({ service, patternId: null, observed: observedOf(s.all), reference: referenceOf(s.all) })),
    ...[...perPattern.values()].map((p) => ({
      service: p.service,
      patternId: p.pattern,
      observed: observedOf(p.counts),
      reference: referenceOf(p.counts),
    })),
  ];
  const errors: ErrorSeries[] = [...perService].map(([service, s]) => ({
    service,
    total: observedOf(s.all),
    errors: observedOf(s.errors),
    referenceTotal: referenceOf(s.all),
    referenceErrors: referenceOf(s.errors),
  }));
  const baselineDays = Math.min(...referenceTimes.map((times) => times.length));

  // New under its id, but maybe not as a pattern: an earlier template of its family may have been seen.
  const candidates = fresh.map((r) => ({ ...r, family: graph.family(r.pattern).filter((id) => id !== r.pattern) }));
  const earlier = candidates.flatMap((r) => r.family);
  const seenBefore = new Set(
    earlier.length === 0
      ? []
      : (
          await run<{ pattern: string }>(
            `SELECT DISTINCT PatternId AS pattern FROM ${LOGS_TABLE} WHERE TenantId = {tenant:String} AND TimestampTime >= toDateTime({lookback:UInt32}) ` +
              "AND Timestamp < {from:DateTime64(9, 'UTC')} AND PatternId IN {ids:Array(String)}",
            { ...params, ids: earlier },
          )
        ).map((r) => r.pattern),
  );
  const newPatterns: NewPattern[] = candidates
    .filter((r) => !r.family.some((id) => seenBefore.has(id)))
    .map((r) => ({
      service: r.service,
      patternId: r.pattern,
      level: severityTextFromNumber(Number(r.severity)).toLowerCase() || 'unknown',
      firstSeen: clickHouseTimeToRfc3339(r.first),
      count: Number(r.n),
    }));

  const anomalies = detectAnomalies({
    starts: starts.map((s) => new Date(s * 1000).toISOString()),
    intervalSeconds: interval,
    volume,
    errors,
    newPatterns,
  }).slice(0, MAX_ANOMALIES);
  return { interval, baselineDays, anomalies };
}
