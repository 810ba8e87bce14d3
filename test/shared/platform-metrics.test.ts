/**
 * The platform metrics' pure parts, as tables: the aggregator's merge (sums,
 * checks, bounds), the actors' buffer state, the health verdict, the query
 * kinds and the request labels.
 */
import { describe, expect, it } from 'vitest';
import { ACTOR_STALE_MS, MetricsAggregate } from '../../shared/platform-metrics/aggregate.ts';
import { MAX_TENANT_LABELS, OTHER_TENANT } from '../../shared/platform-metrics/catalog.ts';
import { type DependencyProbe, healthVerdict, STUCK_FLUSH_AFTER_S } from '../../shared/platform-metrics/health-verdict.ts';
import { methodLabel, routeLabel, statusClass } from '../../shared/platform-metrics/http-middleware.ts';
import { queryKindOf } from '../../shared/platform-metrics/query-kind.ts';
import { MetricsRecorder, type SeriesDelta } from '../../shared/platform-metrics/recorder.ts';

const accepted = (tenant: string, value: number): SeriesDelta => ({ metric: 'neurallog_ingest_records_accepted_total', labels: [tenant, 'logs'], value });

describe('MetricsRecorder', () => {
  it('sums counters and buckets observations until taken, then starts afresh', () => {
    const r = new MetricsRecorder();
    r.count('neurallog_ingest_records_accepted_total', { tenant: 'a', protocol: 'logs' }, 3);
    r.count('neurallog_ingest_records_accepted_total', { tenant: 'a', protocol: 'logs' }, 2);
    r.observe('neurallog_query_duration_seconds', { kind: 'search' }, 0.004);
    r.observe('neurallog_query_duration_seconds', { kind: 'search' }, 0.3);
    r.observe('neurallog_query_duration_seconds', { kind: 'search' }, 99);
    const report = r.take();
    expect(report.series).toContainEqual({ metric: 'neurallog_ingest_records_accepted_total', labels: ['a', 'logs'], value: 5 });
    const histogram = report.series.find((s) => s.metric === 'neurallog_query_duration_seconds')!;
    expect(histogram.count).toBe(3);
    expect(histogram.sum).toBeCloseTo(99.304);
    // 0.004 ≤ 0.005 (first bucket), 0.3 ≤ 0.5, 99 past 30 s: +Inf.
    expect(histogram.buckets).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    expect(r.pending).toBe(false);
    expect(r.take().series).toEqual([]);
  });
});

describe('MetricsAggregate', () => {
  it('adds up reports from several isolates', () => {
    const agg = new MetricsAggregate(0);
    agg.merge({ series: [accepted('a', 3)], actors: [] });
    agg.merge({ series: [accepted('a', 4), accepted('b', 1)], actors: [] });
    const series = agg.snapshot(1).metrics.neurallog_ingest_records_accepted_total!.series;
    expect(series).toEqual([
      { labels: { tenant: 'a', protocol: 'logs' }, value: 7 },
      { labels: { tenant: 'b', protocol: 'logs' }, value: 1 },
    ]);
  });

  it.each([
    ['an unknown metric', { metric: 'nope_total', labels: [], value: 1 }],
    ['a name from the prototype', { metric: '__proto__', labels: [], value: 1 }],
    ['too few labels', { metric: 'neurallog_ingest_records_accepted_total', labels: ['a'], value: 1 }],
    ['a negative counter delta', { metric: 'neurallog_ingest_records_accepted_total', labels: ['a', 'logs'], value: -1 }],
    ['a label past 256 characters', { metric: 'neurallog_ingest_records_accepted_total', labels: ['a'.repeat(257), 'logs'], value: 1 }],
    ['a histogram with the wrong bucket count', { metric: 'neurallog_query_duration_seconds', labels: ['search'], buckets: [1], sum: 1, count: 1 }],
    ['a gauge (gauges come as actor state only)', { metric: 'neurallog_actor_buffer_rows', labels: ['a'], value: 1 }],
  ])('drops and counts %s', (_name, delta) => {
    const agg = new MetricsAggregate(0);
    agg.merge({ series: [delta as SeriesDelta], actors: [] });
    const snapshot = agg.snapshot(1);
    expect(snapshot.metrics.neurallog_metrics_series_dropped_total!.series).toEqual([{ labels: {}, value: 1 }]);
    expect(Object.values(snapshot.metrics).flatMap((m) => m.series.filter((s) => s.labels.tenant === 'a' || s.labels.kind === 'search'))).toEqual([]);
  });

  it(`labels at most ${MAX_TENANT_LABELS} tenants by name; later ones are summed as ${OTHER_TENANT}`, () => {
    const agg = new MetricsAggregate(0);
    agg.merge({ series: Array.from({ length: MAX_TENANT_LABELS + 5 }, (_, i) => accepted(`t${i}`, 1)), actors: [] });
    const series = agg.snapshot(1).metrics.neurallog_ingest_records_accepted_total!.series;
    expect(series).toHaveLength(MAX_TENANT_LABELS + 1);
    expect(series.find((s) => s.labels.tenant === OTHER_TENANT)?.value).toBe(5);
    // A tenant already labelled keeps its own series.
    agg.merge({ series: [accepted('t0', 1)], actors: [] });
    expect(agg.snapshot(1).metrics.neurallog_ingest_records_accepted_total!.series.find((s) => s.labels.tenant === 't0')?.value).toBe(2);
  });

  it.each([
    {
      name: 'two shards of a tenant add up; the oldest record is the older one',
      reports: [
        ['a/0', 'a', 10, 1_000, 100],
        ['a/1', 'a', 5, 4_000, 100],
      ],
      now: 11_000,
      rows: 15,
      age: 10,
    },
    {
      name: "a later report replaces an actor's state",
      reports: [
        ['a/0', 'a', 10, 1_000, 100],
        ['a/0', 'a', 2, 6_000, 200],
      ],
      now: 11_000,
      rows: 2,
      age: 5,
    },
    {
      name: 'a late report of an older state is ignored',
      reports: [
        ['a/0', 'a', 2, 6_000, 200],
        ['a/0', 'a', 10, 1_000, 100],
      ],
      now: 11_000,
      rows: 2,
      age: 5,
    },
    {
      name: 'an emptied buffer is forgotten: 0 rows, age 0',
      reports: [
        ['a/0', 'a', 10, 1_000, 100],
        ['a/0', 'a', 0, null, 200],
      ],
      now: 11_000,
      rows: 0,
      age: 0,
    },
    { name: 'an actor silent for too long is forgotten', reports: [['a/0', 'a', 10, 1_000, 100]], now: 100 + ACTOR_STALE_MS + 1, rows: 0, age: 0 },
  ] as const)('actors: $name', ({ reports, now, rows, age }) => {
    const agg = new MetricsAggregate(0);
    for (const [actor, tenant, r, oldest, at] of reports)
      agg.merge({ series: [], actors: [{ actor, tenant, rows: r, bytes: r * 10, oldestReceivedAt: oldest, at }] });
    const snapshot = agg.snapshot(now);
    expect(snapshot.actors.bufferedRows).toBe(rows);
    expect(snapshot.actors.oldestUnflushedAgeSeconds).toBe(age);
    expect(snapshot.metrics.neurallog_actor_buffer_rows!.series.reduce((n, s) => n + s.value!, 0)).toBe(rows);
  });
});

describe('healthVerdict', () => {
  const up = { status: 'ok' as const, latencyMs: 3 };
  const down = { status: 'down' as const, latencyMs: 3000, error: 'no answer' };
  it.each<{
    name: string;
    components: Record<string, string>;
    dependencies: Record<string, DependencyProbe>;
    age: number;
    status: string;
    http: number;
    downs: string[];
  }>([
    { name: 'all up', components: { ingest: 'ok' }, dependencies: { clickhouse: up, r2: up }, age: 0, status: 'ok', http: 200, downs: [] },
    {
      name: 'ClickHouse down',
      components: { ingest: 'ok' },
      dependencies: { clickhouse: down, r2: up },
      age: 0,
      status: 'unavailable',
      http: 503,
      downs: ['clickhouse'],
    },
    {
      name: 'a worker and R2 down',
      components: { ingest: 'ok', query: 'unavailable' },
      dependencies: { clickhouse: up, r2: down },
      age: 0,
      status: 'unavailable',
      http: 503,
      downs: ['query', 'r2'],
    },
    { name: 'a stuck flush', components: {}, dependencies: { clickhouse: up }, age: STUCK_FLUSH_AFTER_S + 1, status: 'degraded', http: 200, downs: [] },
    { name: 'an old record at the threshold', components: {}, dependencies: { clickhouse: up }, age: STUCK_FLUSH_AFTER_S, status: 'ok', http: 200, downs: [] },
    {
      name: 'down wins over stuck',
      components: {},
      dependencies: { clickhouse: down },
      age: STUCK_FLUSH_AFTER_S + 1,
      status: 'unavailable',
      http: 503,
      downs: ['clickhouse'],
    },
  ])('$name → $status', ({ components, dependencies, age, status, http, downs }) => {
    const verdict = healthVerdict({ components, dependencies, oldestUnflushedAgeSeconds: age });
    expect(verdict).toMatchObject({ status, httpStatus: http, down: downs });
  });
});

describe('labels', () => {
  it.each([
    ['/v1/logs', 'search'],
    ['/v1/logs/histogram', 'histogram'],
    ['/v1/logs/fields/:name/values', 'fields'],
    ['/v1/logs/context/:id', 'context'],
    ['/v1/logs/export', 'export'],
    ['/v1/patterns', 'patterns'],
    ['/v1/anomalies', 'anomalies'],
    ['/loki/api/v1/query_range', 'loki'],
    ['/v1/logsx', 'other'],
    ['/mcp', 'other'],
  ])('query kind of %s is %s', (route, kind) => {
    expect(queryKindOf(route)).toBe(kind);
  });

  it.each([
    ['/v1/logs/context/:id', 200, '/v1/logs/context/:id'],
    ['/v1/dead-letters/:date/:batchId', 404, '/v1/dead-letters/:date/:batchId'],
    ['/v1/admin/*', 404, 'unmatched'],
    ['*', 404, 'unmatched'],
    ['', 500, 'unmatched'],
  ])('route %s answering %i is labelled %s', (pattern, status, label) => {
    expect(routeLabel(pattern, status)).toBe(label);
  });

  it('bounds methods and classes statuses', () => {
    expect(['GET', 'POST', 'BREW', 'get'].map(methodLabel)).toEqual(['GET', 'POST', 'OTHER', 'OTHER']);
    expect([200, 202, 404, 503].map(statusClass)).toEqual(['2xx', '2xx', '4xx', '5xx']);
  });
});
