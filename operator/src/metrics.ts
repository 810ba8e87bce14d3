/**
 * The operator's Prometheus metrics (prom-client), served at /metrics:
 * reconciles by result, errors, reconcile durations, work-queue depth, and
 * whether this replica leads.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'neurallog_operator_reconciles_total',
    help: 'Reconciles of Tenants, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'neurallog_operator_reconcile_errors_total',
    help: 'Reconciles that failed (retried with backoff)',
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'neurallog_operator_reconcile_duration_seconds',
    help: 'How long one reconcile took',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'neurallog_operator_queue_depth', help: 'Tenants waiting in the work queue', registers: [this.registry] });
  readonly leader = new Gauge({ name: 'neurallog_operator_leader', help: '1 while this replica holds the leader lease', registers: [this.registry] });
}
