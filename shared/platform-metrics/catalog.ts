/**
 * Every platform metric, in one table: its name, type, help text, labels and
 * (histograms) buckets. The recorder, the PlatformMetrics aggregator, the
 * Prometheus exposition, the Analytics Engine data points and
 * docs/operations.md all follow this table; a metric not listed here cannot be
 * recorded (the aggregator drops what it does not know).
 *
 * Label cardinality is bounded by construction:
 * - `route` is the matched route *pattern* (`/v1/logs/context/:id`), never the
 *   raw path; a request no route matched is `unmatched`;
 * - `method` is one of METHODS, anything else `OTHER`;
 * - `status` is the response's code (bounded: 100–599);
 * - `tenant` comes only from a verified credential, and the aggregator keeps
 *   at most MAX_TENANT_LABELS distinct tenants — later ones are folded into
 *   OTHER_TENANT (platform-metrics/aggregate.ts);
 * - `reason`, `kind`, `outcome`, `endpoint`, `result`, `protocol`, `worker`
 *   are our own codes.
 */

export type MetricType = 'counter' | 'histogram' | 'gauge';

export interface MetricSpec {
  type: MetricType;
  help: string;
  labels: readonly string[];
  /** Histograms: upper bounds (seconds), ascending; +Inf is implied. */
  buckets?: readonly number[];
}

/** Latency buckets (seconds) shared by every duration: 5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export const METRICS = {
  neurallog_http_requests_total: {
    type: 'counter',
    help: 'Requests answered by a worker, by matched route pattern and status (errors: status >= 500).',
    labels: ['worker', 'method', 'route', 'status'],
  },
  neurallog_http_request_duration_seconds: {
    type: 'histogram',
    help: 'Time from a request reaching a worker to its response (I/O time: a Worker clock moves on I/O).',
    labels: ['worker', 'method', 'route', 'status_class'],
    buckets: LATENCY_BUCKETS,
  },
  neurallog_ingest_records_accepted_total: {
    type: 'counter',
    help: "Records a tenant's actor acknowledged (stored durably), by protocol.",
    labels: ['tenant', 'protocol'],
  },
  neurallog_ingest_records_refused_total: {
    type: 'counter',
    help: 'Records refused, by reason (rate_limited, quota_exceeded, buffer_full, invalid_record, record_too_large, ...).',
    labels: ['tenant', 'reason'],
  },
  neurallog_actor_buffer_rows: {
    type: 'gauge',
    help: "Rows accepted and not yet flushed, summed over the tenant's actors (last report of each).",
    labels: ['tenant'],
  },
  neurallog_actor_buffer_bytes: {
    type: 'gauge',
    help: "Bytes accepted and not yet flushed, summed over the tenant's actors.",
    labels: ['tenant'],
  },
  neurallog_actor_oldest_unflushed_age_seconds: {
    type: 'gauge',
    help: "Age of the oldest record not yet flushed among the tenant's actors (0 when none); computed when read.",
    labels: ['tenant'],
  },
  neurallog_actor_flushes_total: {
    type: 'counter',
    help: 'Flush attempts of buffered rows to ClickHouse and R2, by outcome (ok, failed).',
    labels: ['tenant', 'outcome'],
  },
  neurallog_actor_flush_retries_total: {
    type: 'counter',
    help: 'Flush attempts that were retries of a range that failed before.',
    labels: ['tenant'],
  },
  neurallog_actor_flush_duration_seconds: {
    type: 'histogram',
    help: 'Time one flush attempt took (R2 archive and ClickHouse insert), whatever its outcome.',
    labels: ['outcome'],
    buckets: LATENCY_BUCKETS,
  },
  neurallog_clickhouse_inserts_total: {
    type: 'counter',
    help: "Inserts of a flush's rows into ClickHouse, by outcome (ok, error).",
    labels: ['outcome'],
  },
  neurallog_clickhouse_insert_duration_seconds: {
    type: 'histogram',
    help: 'Time of one ClickHouse insert of flushed rows, whatever its outcome.',
    labels: ['outcome'],
    buckets: LATENCY_BUCKETS,
  },
  neurallog_queries_total: {
    type: 'counter',
    help: 'ClickHouse queries run for tenants, by kind (search, histogram, fields, context, export, patterns, anomalies, loki, ...) and outcome (ok, limited, error).',
    labels: ['kind', 'outcome'],
  },
  neurallog_query_duration_seconds: {
    type: 'histogram',
    help: 'Time of one tenant query in ClickHouse, from sending it to its last row read.',
    labels: ['kind'],
    buckets: LATENCY_BUCKETS,
  },
  neurallog_edge_cache_lookups_total: {
    type: 'counter',
    help: 'Answers of the query edge cache, by endpoint and result (hit, miss, bypass); hit ratio = hit / (hit + miss).',
    labels: ['endpoint', 'result'],
  },
  neurallog_metrics_series_dropped_total: {
    type: 'counter',
    help: 'Metric updates the aggregator dropped: unknown metric, wrong labels, or past its series bound.',
    labels: [],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricName = keyof typeof METRICS;
type LabelsOf<M extends MetricName> = (typeof METRICS)[M]['labels'][number];
/** The label values of a metric, by name. */
export type Labels<M extends MetricName> = { readonly [K in LabelsOf<M>]: string };
export type CounterName = { [M in MetricName]: (typeof METRICS)[M]['type'] extends 'counter' ? M : never }[MetricName];
export type HistogramName = { [M in MetricName]: (typeof METRICS)[M]['type'] extends 'histogram' ? M : never }[MetricName];

/** The catalog as a Map, for names that arrive over RPC (never index an object with them). */
export const METRIC_SPECS: ReadonlyMap<string, MetricSpec> = new Map(Object.entries(METRICS));

export const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Distinct tenants the aggregator labels by name; the rest are OTHER_TENANT. */
export const MAX_TENANT_LABELS = 1000;
export const OTHER_TENANT = '_other';
/** Series the aggregator keeps in all (a guard: the bounds above keep far below it). */
export const MAX_SERIES = 50_000;
