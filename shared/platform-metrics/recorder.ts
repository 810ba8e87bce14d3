/**
 * The isolate's side of the platform metrics: counters and histograms
 * aggregated in memory as the events happen (a Map update, no I/O), and the
 * tenant actors' buffer state as they change; `take()` hands over everything
 * since the last take as one report (deltas for counters and histograms, the
 * latest state for each actor that changed), which reporting.ts sends to the
 * PlatformMetrics aggregator at most every few seconds.
 */
import { type CounterName, type HistogramName, type Labels, METRICS, type MetricName } from './catalog.ts';

/** One series' change since the last report: a counter's increment, or a histogram's bucket counts, sum and count. */
export interface SeriesDelta {
  metric: string;
  labels: string[];
  /** Counters: the increment. */
  value?: number;
  /** Histograms: observations per bucket (not cumulative; the last one is +Inf), their sum and count. */
  buckets?: number[];
  sum?: number;
  count?: number;
}

/** An actor's buffer as it last was: absolute values, replacing the previous report of the same actor. */
export interface ActorBufferState {
  /** `<tenant>/<shard>`: one per Durable Object. */
  actor: string;
  tenant: string;
  rows: number;
  bytes: number;
  /** Receive time (ms) of the oldest buffered record, or null when the buffer is empty. */
  oldestReceivedAt: number | null;
  /** When the state was read (ms). */
  at: number;
}

export interface MetricsReport {
  series: SeriesDelta[];
  actors: ActorBufferState[];
}

/** Series one isolate collects between two reports before it drops new ones (counted): a memory bound. */
const MAX_PENDING_SERIES = 10_000;

export class MetricsRecorder {
  readonly #series = new Map<string, SeriesDelta>();
  readonly #actors = new Map<string, ActorBufferState>();
  #dropped = 0;

  count<M extends CounterName>(metric: M, labels: Labels<M>, by = 1): void {
    const series = this.#seriesOf(metric, labels);
    if (series) series.value = (series.value ?? 0) + by;
  }

  observe<M extends HistogramName>(metric: M, labels: Labels<M>, seconds: number): void {
    const series = this.#seriesOf(metric, labels);
    if (!series) return;
    const bounds = METRICS[metric].buckets;
    series.buckets ??= new Array<number>(bounds.length + 1).fill(0);
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.buckets[i]!++;
    series.sum = (series.sum ?? 0) + seconds;
    series.count = (series.count ?? 0) + 1;
  }

  /** The actor's buffer now; the next report carries it. */
  actorBuffer(state: ActorBufferState): void {
    this.#actors.set(state.actor, state);
  }

  get pending(): boolean {
    return this.#series.size > 0 || this.#actors.size > 0 || this.#dropped > 0;
  }

  /** Everything since the last take, and a fresh start. */
  take(): MetricsReport {
    const series = [...this.#series.values()];
    if (this.#dropped > 0) series.push({ metric: 'neurallog_metrics_series_dropped_total', labels: [], value: this.#dropped });
    const report = { series, actors: [...this.#actors.values()] };
    this.#series.clear();
    this.#actors.clear();
    this.#dropped = 0;
    return report;
  }

  #seriesOf<M extends MetricName>(metric: M, labels: Labels<M>): SeriesDelta | null {
    // A plain loop: this runs on every request (no closures, one string).
    const names = METRICS[metric].labels as readonly string[];
    let key: string = metric;
    for (const name of names) key += `\u0000${(labels as Record<string, string>)[name]}`;
    let series = this.#series.get(key);
    if (!series) {
      const values = names.map((name) => (labels as Record<string, string>)[name]!);
      if (this.#series.size >= MAX_PENDING_SERIES) {
        this.#dropped++;
        return null;
      }
      series = { metric, labels: values };
      this.#series.set(key, series);
    }
    return series;
  }
}
