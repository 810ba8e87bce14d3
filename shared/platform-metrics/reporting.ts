/**
 * How an isolate's metrics leave it, without costing the hot path anything
 * but a Map update:
 *
 * - the isolate's one MetricsRecorder sums events in memory (module state:
 *   the worker's requests and the Durable Objects it hosts share it);
 * - `reportSoon()` makes sure a report follows: if none is pending, it
 *   schedules one on the caller's `waitUntil` for when the interval
 *   (NEURALLOG_METRICS_REPORT_MS, 5 s) since the last report has passed, and
 *   that report sends everything recorded by then — so each isolate makes at
 *   most one RPC to the PlatformMetrics aggregator per interval, and a change
 *   (an actor's buffer emptied by its last flush) is always reported, at most
 *   one interval late;
 * - when the Analytics Engine binding (PLATFORM_EVENTS) exists, each event is
 *   also written as a data point there, which is what production queries
 *   (docs/operations.md has the SQL): writeDataPoint is designed to be called
 *   per event and returns without waiting.
 */
import type { Background } from '../background.ts';
import { CONFIG_VARIABLES } from '../config.ts';
import { type CounterName, type HistogramName, type Labels, METRICS } from './catalog.ts';
import { type ActorBufferState, type MetricsReport, MetricsRecorder } from './recorder.ts';

/** What the PlatformMetrics Durable Object answers over RPC (durable-objects/platform-metrics.ts). */
export interface MetricsSink {
  report(report: MetricsReport): Promise<void>;
}

/** The bindings a worker or actor reports through; each is optional (absent: that path is off). */
export interface PlatformMetricsBindings {
  PLATFORM_METRICS?: DurableObjectNamespace;
  PLATFORM_EVENTS?: AnalyticsEngineDataset;
  NEURALLOG_METRICS_REPORT_MS?: string;
}

/** The singleton aggregator: one object, by name. */
export const PLATFORM_METRICS_OBJECT = 'platform';

export function metricsSink(namespace: DurableObjectNamespace): MetricsSink {
  return namespace.get(namespace.idFromName(PLATFORM_METRICS_OBJECT)) as unknown as MetricsSink;
}

/** A pending report older than this is taken for lost (its context ended before it ran) and replaced. */
const PENDING_TIMEOUT_MS = 60_000;

/** The isolate's recorder and when it last reported. */
const recorder = new MetricsRecorder();
let lastReportAt = 0;
let pendingSince: number | null = null;

function reportIntervalMs(env: PlatformMetricsBindings): number {
  const raw = env.NEURALLOG_METRICS_REPORT_MS ?? CONFIG_VARIABLES.NEURALLOG_METRICS_REPORT_MS.default;
  const value = Number(raw);
  // Metrics never fail a request: a bad value means the default.
  return Number.isSafeInteger(value) && value >= 0 ? value : Number(CONFIG_VARIABLES.NEURALLOG_METRICS_REPORT_MS.default);
}

export class PlatformMetrics {
  /** Whether the aggregator is bound and reported to: else nothing is kept in memory for it (a worker without the binding). */
  readonly #aggregated: boolean;

  constructor(private readonly env: PlatformMetricsBindings) {
    this.#aggregated = env.PLATFORM_METRICS !== undefined && reportIntervalMs(env) > 0;
  }

  count<M extends CounterName>(metric: M, labels: Labels<M>, by = 1): void {
    if (by === 0) return;
    if (this.#aggregated) recorder.count(metric, labels, by);
    this.#event(metric, labels, by);
  }

  observe<M extends HistogramName>(metric: M, labels: Labels<M>, seconds: number): void {
    if (this.#aggregated) recorder.observe(metric, labels, seconds);
    this.#event(metric, labels, seconds);
  }

  actorBuffer(state: ActorBufferState): void {
    if (this.#aggregated) recorder.actorBuffer(state);
    const ageSeconds = state.oldestReceivedAt === null ? 0 : Math.max(0, (state.at - state.oldestReceivedAt) / 1000);
    this.env.PLATFORM_EVENTS?.writeDataPoint({
      indexes: ['neurallog_actor_buffer'],
      blobs: ['neurallog_actor_buffer', state.tenant, state.actor],
      doubles: [state.rows, state.bytes, ageSeconds],
    });
  }

  /** Makes sure what was recorded is reported within the interval (see the top of this file). */
  reportSoon(background: Background): void {
    const namespace = this.env.PLATFORM_METRICS;
    if (!namespace || !this.#aggregated || !recorder.pending) return;
    const interval = reportIntervalMs(this.env);
    const now = Date.now();
    if (pendingSince !== null && now - pendingSince < PENDING_TIMEOUT_MS) return;
    pendingSince = now;
    const wait = Math.max(0, lastReportAt + interval - now);
    background(
      (async () => {
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        // Cleared before taking: whatever is recorded from here on schedules the next report.
        pendingSince = null;
        lastReportAt = Date.now();
        const report = recorder.take();
        try {
          await metricsSink(namespace).report(report);
        } catch {
          // Metrics are best effort: a lost report loses these deltas, never a request.
        }
      })(),
    );
  }

  /** One Analytics Engine data point per event: blob1 the metric, then its labels in catalog order; double1 the value. */
  #event(metric: string, labels: Readonly<Record<string, string>>, value: number): void {
    const dataset = this.env.PLATFORM_EVENTS;
    if (!dataset) return;
    const names = METRICS[metric as CounterName | HistogramName].labels as readonly string[];
    dataset.writeDataPoint({ indexes: [metric], blobs: [metric, ...names.map((name) => labels[name] ?? '')], doubles: [value] });
  }
}

/** The metrics of this isolate, reported through `env`'s bindings. */
export function platformMetrics(env: PlatformMetricsBindings): PlatformMetrics {
  return new PlatformMetrics(env);
}
