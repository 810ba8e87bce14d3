/**
 * GET /v1/anomalies?from=&to=&service= — what is unusual in the range
 * (shared/analytics/anomalies.ts decides; this route reads the counts).
 *
 * The range is cut into intervals of a size that divides a day (5 min for
 * ranges up to 4 h, about 48 intervals for longer ones; ranges up to 7 days).
 * ClickHouse gives, per interval, the count of each service and of each of
 * the tenant's most frequent patterns (with their errors), for the range and
 * the same times of day on the BASELINE_DAYS days before; and the patterns
 * first seen in the range that none of the days before had — not even under
 * an earlier template of the same pattern (aliases).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { detectAnomalies, type CountSeries, type ErrorSeries, type NewPattern } from '../../../shared/analytics/anomalies.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { severityTextFromNumber } from '../../../shared/severity.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { cachedJson } from '../edge-cache.ts';
import { scopeQuery } from '../endpoint-docs.ts';
import type { QueryApp } from '../env.ts';
import { aliasGraph, patternsOf } from '../patterns.ts';
import { checkRange, runQuery } from '../run-query.ts';
import { invalid, parseScope } from '../search-params.ts';

/** Days before the range whose same times of day are the baseline (and in which a new pattern must not appear). */
export const BASELINE_DAYS = 7;
const MAX_RANGE_SECONDS = 7 * 86_400;
/** Interval sizes (s): each divides a day, so an interval has the same time of day on every day. */
const INTERVALS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
/** Patterns followed one by one (the most frequent over the baseline and the range); services are all followed. */
const MAX_PATTERN_SERIES = 200;
const MAX_NEW_PATTERNS = 100;
const MAX_ANOMALIES = 100;

export function anomalyInterval(rangeSeconds: number): number {
  return INTERVALS.find((s) => rangeSeconds / s <= 48) ?? 86400;
}

export const anomaliesDoc = createRoute({
  method: 'get',
  path: '/v1/anomalies',
  summary: 'What is unusual in the range: volume spikes and drops, silences, error-ratio jumps, new patterns (needs logs:read)',
  description:
    'Each anomaly: kind, service, patternId (null for a whole service), start/end, expected and actual (counts; shares for error_ratio), a score (≥ 1 is an alarm; below it a finding) and a summary. ' +
    `Baseline: the same time of day on the ${BASELINE_DAYS} days before (median and MAD); with fewer than 3 such days nothing is said about volume, silence or error ratio (\`baselineDays\`). Ranges up to 7 days; default the last 24 h.`,
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      from: scopeQuery.from,
      to: scopeQuery.to,
      service: scopeQuery.service,
    }),
  },
  responses: {
    200: {
      description: 'Anomalies, highest score first',
      content: {
        'application/json': {
          schema: z
            .object({
              from: z.string(),
              to: z.string(),
              interval: z.string(),
              baselineDays: z.number().int().openapi({ description: 'Earlier days with records at these times (the baseline needs 3)' }),
              anomalies: z.array(
                z.object({
                  kind: z.enum(['volume', 'silence', 'error_ratio', 'new_pattern']),
                  service: z.string(),
                  patternId: z.string().nullable(),
                  template: z.string().nullable(),
                  direction: z.enum(['spike', 'drop', 'up']).optional(),
                  start: z.string(),
                  end: z.string(),
                  expected: z.number(),
                  actual: z.number(),
                  score: z.number(),
                  summary: z.string(),
                }),
              ),
            })
            .openapi('Anomalies'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 429, 503),
  },
});

export const anomaliesRoutes = new Hono<QueryApp>();

anomaliesRoutes.get('/', requirePrincipal('logs:read'), async function listAnomalies(c) {
  const now = Date.now();
  const query = new URL(c.req.url).searchParams;
  for (const name of ['q', 'level'])
    if (query.has(name)) throw invalid(name, 'is not taken here: anomalies are judged on whole services and patterns (narrow with service)');
  const { tenantId } = c.get('principal');
  const scope = parseScope(query, now);
  checkRange(c.get('principal'), scope);
  const rangeSeconds = scope.to.seconds - scope.from.seconds;
  if (rangeSeconds > MAX_RANGE_SECONDS) throw invalid('from', 'anomalies are looked for over at most 7 days at a time');
  const interval = anomalyInterval(Math.max(1, rangeSeconds));
  return cachedJson(
    c,
    'anomalies',
    scope,
    { interval },
    async () => {
      const first = Math.floor(scope.from.seconds / interval) * interval;
      const count = Math.ceil((scope.to.seconds - first) / interval) || 1;
      const starts = Array.from({ length: count }, (_, i) => first + i * interval);
      const lookback = first - BASELINE_DAYS * 86_400;
      const params = {
        tenant: tenantId,
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
        await runQuery<{ service: string; b: number; n: string; e: string }>(
          c,
          `SELECT ServiceName AS service, ${bucket} AS b, count() AS n, countIf(SeverityNumber >= 17) AS e FROM ${LOGS_TABLE} WHERE ${where} GROUP BY service, b`,
          params,
        ),
        await runQuery<{ service: string; pattern: string; b: number; n: string }>(
          c,
          `SELECT ServiceName AS service, PatternId AS pattern, ${bucket} AS b, count() AS n FROM ${LOGS_TABLE} WHERE ${where} ` +
            `AND (ServiceName, PatternId) IN (SELECT ServiceName, PatternId FROM ${LOGS_TABLE} WHERE ${where} AND PatternId != '' GROUP BY ServiceName, PatternId ORDER BY count() DESC LIMIT {maxPatterns:UInt32}) ` +
            'GROUP BY service, pattern, b',
          params,
        ),
        await runQuery<{ service: string; pattern: string; first: string; n: string; severity: number }>(
          c,
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
      const graph = await aliasGraph(c, tenantId);
      const perPattern = new Map<string, { service: string; pattern: string; counts: Map<number, number> }>();
      for (const row of patterns) {
        row.pattern = graph.canonical(row.pattern);
        const key = `${row.service}\u0000${row.pattern}`;
        let p = perPattern.get(key);
        if (!p) {
          p = { service: row.service, pattern: row.pattern, counts: new Map() };
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
              await runQuery<{ pattern: string }>(
                c,
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

      const found = detectAnomalies({
        starts: starts.map((s) => new Date(s * 1000).toISOString()),
        intervalSeconds: interval,
        volume,
        errors,
        newPatterns,
      }).slice(0, MAX_ANOMALIES);
      const templates = await patternsOf(
        c,
        tenantId,
        found.flatMap((a) => (a.patternId ? [a.patternId] : [])),
      );
      return {
        from: clickHouseTimeToRfc3339(formatClickHouseTime(scope.from)),
        to: clickHouseTimeToRfc3339(formatClickHouseTime(scope.to)),
        interval: `${interval / 60}m`,
        baselineDays,
        anomalies: found.map((a) => ({ ...a, template: a.patternId ? (templates.get(a.patternId)?.template ?? null) : null })),
      };
    },
    now,
  );
});
