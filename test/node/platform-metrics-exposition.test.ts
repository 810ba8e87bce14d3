/**
 * The platform metrics' Prometheus text, checked by a parser from npm and by
 * the format's line grammar: every catalogued family with HELP and TYPE,
 * label values with quotes, backslashes and newlines escaped, histograms with
 * cumulative buckets ending in +Inf equal to their count. And the version the
 * verbose health check reports is package.json's.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { MetricsAggregate } from '../../shared/platform-metrics/aggregate.ts';
import { METRICS } from '../../shared/platform-metrics/catalog.ts';
import { toPrometheusText } from '../../shared/platform-metrics/exposition.ts';
import { PLATFORM_VERSION } from '../../shared/platform-metrics/version.ts';
import { exposition, parseExposition } from './prometheus-text.ts';

function sampleText(): string {
  const agg = new MetricsAggregate(0);
  agg.merge({
    series: [
      { metric: 'neurallog_ingest_records_refused_total', labels: ['we"ird\\ten\nant', 'rate_limited'], value: 4 },
      { metric: 'neurallog_http_requests_total', labels: ['ingest', 'POST', '/v1/logs', '202'], value: 10 },
      { metric: 'neurallog_query_duration_seconds', labels: ['search'], buckets: [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], sum: 40.1, count: 4 },
    ],
    actors: [{ actor: 'acme/0', tenant: 'acme', rows: 12, bytes: 3000, oldestReceivedAt: 1_000, at: 2_000 }],
  });
  return toPrometheusText(agg.snapshot(3_000));
}

describe('the Prometheus exposition of the platform metrics', () => {
  it('follows the format line by line', () => {
    expect(exposition(sampleText())).toEqual([]);
  });

  it('the line check fails on malformed text (an unterminated quote, a sample before its TYPE)', () => {
    expect(exposition('# TYPE a counter\na{x="1} 3\n')).toHaveLength(1);
    expect(exposition('b 1\n# TYPE b counter\n')).toHaveLength(1);
  });

  it('parses back to the same families, labels and values', () => {
    const families = parseExposition(sampleText());
    expect(families.map((f) => f.name).sort()).toEqual(Object.keys(METRICS).sort());
    const refused = families.find((f) => f.name === 'neurallog_ingest_records_refused_total')!;
    expect(refused.type).toBe('COUNTER');
    expect(refused.metrics).toEqual([{ value: '4', labels: { tenant: 'we"ird\\ten\nant', reason: 'rate_limited' } }]);
    const latency = families.find((f) => f.name === 'neurallog_query_duration_seconds')!;
    expect(latency.type).toBe('HISTOGRAM');
    expect(latency.metrics[0]).toMatchObject({ buckets: { '0.005': '1', '0.01': '1', '0.025': '3', '30': '3', '+Inf': '4' } });
    // The parser drops a labelled histogram's _sum and _count (its own limitation): read from the lines.
    expect(sampleText()).toContain('neurallog_query_duration_seconds_sum{kind="search"} 40.1\nneurallog_query_duration_seconds_count{kind="search"} 4\n');
    const buffered = families.find((f) => f.name === 'neurallog_actor_buffer_rows')!;
    expect(buffered).toMatchObject({ type: 'GAUGE', metrics: [{ value: '12', labels: { tenant: 'acme' } }] });
    const age = families.find((f) => f.name === 'neurallog_actor_oldest_unflushed_age_seconds')!;
    expect(age.metrics[0]!.value).toBe('2');
  });

  it("reports package.json's version in the verbose health check", async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(PLATFORM_VERSION).toBe(pkg.version);
  });
});
