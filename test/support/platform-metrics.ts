/**
 * Reading the platform metrics aggregator from the Workers tests: its
 * snapshot, one series' value, and a wait until a series reaches a value
 * (isolates report within NEURALLOG_METRICS_REPORT_MS, 100 ms in the tests).
 */
import { env } from 'cloudflare:workers';
import type { MetricsSnapshot, SnapshotSeries } from '../../shared/platform-metrics/aggregate.ts';
import { PLATFORM_METRICS_OBJECT } from '../../shared/platform-metrics/reporting.ts';
import { eventually } from './eventually.ts';

export async function metricsSnapshot(): Promise<MetricsSnapshot> {
  const ns = (env as unknown as { PLATFORM_METRICS: DurableObjectNamespace }).PLATFORM_METRICS;
  const stub = ns.get(ns.idFromName(PLATFORM_METRICS_OBJECT)) as unknown as { snapshot(): Promise<MetricsSnapshot> };
  return stub.snapshot();
}

/** The series of `metric` whose labels include `labels`. */
export function seriesOf(snapshot: MetricsSnapshot, metric: string, labels: Record<string, string>): SnapshotSeries[] {
  return (snapshot.metrics[metric]?.series ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** A counter's or gauge's value summed over the matching series (0 when none). */
export function metricValue(snapshot: MetricsSnapshot, metric: string, labels: Record<string, string>): number {
  return seriesOf(snapshot, metric, labels).reduce((n, s) => n + (s.value ?? 0), 0);
}

/** Waits until `done(snapshot)` holds, polling the aggregator. */
export function waitForMetrics(done: (snapshot: MetricsSnapshot) => boolean, timeoutMs = 10_000): Promise<MetricsSnapshot> {
  return eventually('the metrics to reach the expected state', metricsSnapshot, {
    until: done,
    timeoutMs,
    intervalMs: 50,
    describe: (snapshot) => `actors ${JSON.stringify(snapshot.actors)}`,
  });
}
