/**
 * A metrics snapshot in Prometheus's text exposition format (version 0.0.4):
 * `# HELP` and `# TYPE` once per metric, then one line per sample; a
 * histogram as cumulative `_bucket{le=…}` lines, `_sum` and `_count`.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
import type { MetricsSnapshot } from './aggregate.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values escape backslash, double quote and newline. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline. */
function helpText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelSet(labels: Record<string, string>, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${labelValue(value)}"`);
  if (extra) pairs.push(`${extra[0]}="${labelValue(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function sample(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export function toPrometheusText(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const [name, metric] of Object.entries(snapshot.metrics)) {
    lines.push(`# HELP ${name} ${helpText(metric.help)}`, `# TYPE ${name} ${metric.type}`);
    for (const series of metric.series) {
      if (metric.type !== 'histogram') {
        lines.push(`${name}${labelSet(series.labels)} ${sample(series.value ?? 0)}`);
        continue;
      }
      for (const bucket of series.buckets ?? []) lines.push(`${name}_bucket${labelSet(series.labels, ['le', bucket.le])} ${bucket.count}`);
      lines.push(`${name}_sum${labelSet(series.labels)} ${sample(series.sum ?? 0)}`, `${name}_count${labelSet(series.labels)} ${series.count ?? 0}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
