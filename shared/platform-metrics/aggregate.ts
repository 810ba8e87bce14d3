/**
 * The platform-wide sums: every isolate's reports merged (counters and
 * histograms added up since the aggregator started, the actors' buffer state
 * replaced by each actor's latest), and read back as a snapshot — JSON for
 * `GET /v1/admin/platform/metrics`, Prometheus text (exposition.ts) for
 * `/metrics`. Pure data: the PlatformMetrics Durable Object holds one.
 *
 * Reports come from our own workers, but are checked as if they did not:
 * names are looked up in the catalog (a Map), label counts and value shapes
 * must match it, label values are bounded in length, tenants beyond
 * MAX_TENANT_LABELS are folded into OTHER_TENANT and series beyond MAX_SERIES
 * are dropped and counted.
 */
import { MAX_SERIES, MAX_TENANT_LABELS, METRIC_SPECS, METRICS, type MetricSpec, type MetricType, OTHER_TENANT } from './catalog.ts';
import type { ActorBufferState, MetricsReport, SeriesDelta } from './recorder.ts';

const MAX_LABEL_LENGTH = 256;
/** An actor with rows that has not reported for this long is taken for gone (a buffered actor reports at least at each flush retry, ≤ 60 s apart). */
export const ACTOR_STALE_MS = 15 * 60_000;

export interface SnapshotSeries {
  labels: Record<string, string>;
  /** Counters and gauges. */
  value?: number;
  /** Histograms: cumulative counts per upper bound (`+Inf` last), their sum and count. */
  buckets?: { le: string; count: number }[];
  sum?: number;
  count?: number;
}

export interface SnapshotMetric {
  type: MetricType;
  help: string;
  series: SnapshotSeries[];
}

export interface MetricsSnapshot {
  generatedAt: string;
  /** Since when the counters count (the aggregator's start): Prometheus sees a restart as a counter reset. */
  since: string;
  metrics: Record<string, SnapshotMetric>;
  /** Across every actor that reported rows: what the verbose health check shows. */
  actors: {
    reporting: number;
    bufferedRows: number;
    bufferedBytes: number;
    oldestUnflushedAgeSeconds: number;
    oldestUnflushedActor: string | null;
  };
}

export class MetricsAggregate {
  readonly #series = new Map<string, SeriesDelta>();
  readonly #actors = new Map<string, ActorBufferState>();
  readonly #tenants = new Set<string>();
  readonly #since: number;
  #dropped = 0;

  constructor(now = Date.now()) {
    this.#since = now;
  }

  merge(report: MetricsReport): void {
    for (const delta of report.series ?? []) this.#mergeSeries(delta);
    for (const state of report.actors ?? []) this.#mergeActor(state);
  }

  snapshot(now = Date.now()): MetricsSnapshot {
    const metrics: Record<string, SnapshotMetric> = {};
    for (const [name, spec] of Object.entries(METRICS) as [string, MetricSpec][]) metrics[name] = { type: spec.type, help: spec.help, series: [] };
    for (const series of this.#series.values()) {
      const spec = METRIC_SPECS.get(series.metric)!;
      metrics[series.metric]!.series.push(snapshotSeries(spec, series));
    }
    if (this.#dropped > 0) {
      const dropped = metrics.neurallog_metrics_series_dropped_total!;
      const reported = dropped.series[0]?.value ?? 0;
      dropped.series = [{ labels: {}, value: reported + this.#dropped }];
    }
    const actors = this.#liveActors(now);
    const perTenant = new Map<string, { rows: number; bytes: number; age: number }>();
    let oldest: ActorBufferState | null = null;
    for (const state of actors) {
      const tenant = this.#tenantLabel(state.tenant);
      const sum = perTenant.get(tenant) ?? { rows: 0, bytes: 0, age: 0 };
      sum.rows += state.rows;
      sum.bytes += state.bytes;
      sum.age = Math.max(sum.age, ageSeconds(state, now));
      perTenant.set(tenant, sum);
      if (state.oldestReceivedAt !== null && (oldest === null || state.oldestReceivedAt < oldest.oldestReceivedAt!)) oldest = state;
    }
    for (const [tenant, sum] of perTenant) {
      metrics.neurallog_actor_buffer_rows!.series.push({ labels: { tenant }, value: sum.rows });
      metrics.neurallog_actor_buffer_bytes!.series.push({ labels: { tenant }, value: sum.bytes });
      metrics.neurallog_actor_oldest_unflushed_age_seconds!.series.push({ labels: { tenant }, value: sum.age });
    }
    return {
      generatedAt: new Date(now).toISOString(),
      since: new Date(this.#since).toISOString(),
      metrics,
      actors: {
        reporting: actors.length,
        bufferedRows: actors.reduce((n, a) => n + a.rows, 0),
        bufferedBytes: actors.reduce((n, a) => n + a.bytes, 0),
        oldestUnflushedAgeSeconds: oldest ? ageSeconds(oldest, now) : 0,
        oldestUnflushedActor: oldest?.actor ?? null,
      },
    };
  }

  #liveActors(now: number): ActorBufferState[] {
    const live: ActorBufferState[] = [];
    for (const [actor, state] of this.#actors) {
      if (now - state.at > ACTOR_STALE_MS) this.#actors.delete(actor);
      else live.push(state);
    }
    return live;
  }

  #mergeSeries(delta: SeriesDelta): void {
    const spec = typeof delta?.metric === 'string' ? METRIC_SPECS.get(delta.metric) : undefined;
    if (!spec || spec.type === 'gauge' || !validLabels(delta.labels, spec) || !validValue(delta, spec)) {
      this.#dropped++;
      return;
    }
    const labels = [...delta.labels];
    const tenantAt = spec.labels.indexOf('tenant');
    if (tenantAt >= 0) labels[tenantAt] = this.#tenantLabel(labels[tenantAt]!);
    const key = `${delta.metric}\u0000${labels.join('\u0000')}`;
    let series = this.#series.get(key);
    if (!series) {
      if (this.#series.size >= MAX_SERIES) {
        this.#dropped++;
        return;
      }
      series = { metric: delta.metric, labels };
      this.#series.set(key, series);
    }
    if (spec.type === 'counter') {
      series.value = (series.value ?? 0) + delta.value!;
      return;
    }
    const width = spec.buckets!.length + 1;
    series.buckets ??= new Array<number>(width).fill(0);
    for (let i = 0; i < width; i++) series.buckets[i]! += delta.buckets![i]!;
    series.sum = (series.sum ?? 0) + delta.sum!;
    series.count = (series.count ?? 0) + delta.count!;
  }

  #mergeActor(state: ActorBufferState): void {
    if (
      typeof state?.actor !== 'string' ||
      state.actor.length > MAX_LABEL_LENGTH ||
      typeof state.tenant !== 'string' ||
      state.tenant.length > MAX_LABEL_LENGTH ||
      !finiteNonNegative(state.rows) ||
      !finiteNonNegative(state.bytes) ||
      !Number.isFinite(state.at) ||
      (state.oldestReceivedAt !== null && !Number.isFinite(state.oldestReceivedAt))
    ) {
      this.#dropped++;
      return;
    }
    const previous = this.#actors.get(state.actor);
    if (previous && previous.at > state.at) return; // a late report of an older state
    // An empty buffer is nothing to watch: forgotten until the actor reports rows again.
    if (state.rows === 0) this.#actors.delete(state.actor);
    else this.#actors.set(state.actor, { ...state });
  }

  /** The tenant as a label: its own id while fewer than MAX_TENANT_LABELS are known, else OTHER_TENANT. */
  #tenantLabel(tenant: string): string {
    if (this.#tenants.has(tenant)) return tenant;
    if (this.#tenants.size >= MAX_TENANT_LABELS) return OTHER_TENANT;
    this.#tenants.add(tenant);
    return tenant;
  }
}

function validLabels(labels: unknown, spec: MetricSpec): labels is string[] {
  return Array.isArray(labels) && labels.length === spec.labels.length && labels.every((v) => typeof v === 'string' && v.length <= MAX_LABEL_LENGTH);
}

/** A counter's increment, or a histogram's buckets (one per bound, and +Inf), sum and count. */
function validValue(delta: SeriesDelta, spec: MetricSpec): boolean {
  if (spec.type === 'counter') return finiteNonNegative(delta.value);
  const buckets = delta.buckets;
  return (
    Array.isArray(buckets) &&
    buckets.length === spec.buckets!.length + 1 &&
    buckets.every(finiteNonNegative) &&
    finiteNonNegative(delta.count) &&
    typeof delta.sum === 'number' &&
    Number.isFinite(delta.sum)
  );
}

function finiteNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function ageSeconds(state: ActorBufferState, now: number): number {
  return state.oldestReceivedAt === null ? 0 : Math.max(0, (now - state.oldestReceivedAt) / 1000);
}

function snapshotSeries(spec: MetricSpec, series: SeriesDelta): SnapshotSeries {
  const labels: Record<string, string> = {};
  spec.labels.forEach((name, i) => {
    labels[name] = series.labels[i]!;
  });
  if (spec.type !== 'histogram') return { labels, value: series.value ?? 0 };
  let cumulative = 0;
  const bounds = [...spec.buckets!.map(String), '+Inf'];
  const buckets = bounds.map((le, i) => {
    cumulative += series.buckets?.[i] ?? 0;
    return { le, count: cumulative };
  });
  return { labels, buckets, sum: series.sum ?? 0, count: series.count ?? 0 };
}
