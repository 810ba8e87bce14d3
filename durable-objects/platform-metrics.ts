/**
 * PlatformMetrics: the one object (named `platform`) that sums the platform's
 * metrics for operators — every worker isolate and actor sends it a report of
 * what changed at most every NEURALLOG_METRICS_REPORT_MS (shared/
 * platform-metrics/reporting.ts), and the admin worker reads the snapshot for
 * `GET /v1/admin/platform/metrics` and `/metrics`.
 *
 * The sums live in memory only: counters start again from zero when the
 * object restarts (a deploy, an eviction after a quiet spell), which Prometheus
 * reads as a counter reset (rate() and increase() handle it); the actors'
 * buffer state is back within one report interval of their next event. It is
 * one object because its load is bounded: reports per second = isolates /
 * interval, whatever the traffic. Production reads the same events from
 * Workers Analytics Engine (docs/operations.md); this object is what a local
 * stack, the verbose health check and a scraping Prometheus read.
 */
import { DurableObject } from 'cloudflare:workers';
import { MetricsAggregate, type MetricsSnapshot } from '../shared/platform-metrics/aggregate.ts';
import type { MetricsReport } from '../shared/platform-metrics/recorder.ts';
import type { MetricsSink } from '../shared/platform-metrics/reporting.ts';

export class PlatformMetrics extends DurableObject implements MetricsSink {
  readonly #aggregate = new MetricsAggregate();

  async report(report: MetricsReport): Promise<void> {
    this.#aggregate.merge(report);
  }

  async snapshot(): Promise<MetricsSnapshot> {
    return this.#aggregate.snapshot();
  }
}
