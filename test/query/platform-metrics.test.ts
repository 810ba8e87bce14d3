/**
 * The query worker's golden signals: each tenant query counted by kind (from
 * the route that ran it) with its latency, and the edge cache's hits and
 * misses — read back from the PlatformMetrics aggregator.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../support/constants.ts';
import { metricsSnapshot, seriesOf, metricValue, waitForMetrics } from '../support/platform-metrics.ts';

function get(path: string, params: Record<string, string>): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  return exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
}

const durationCount = (snapshot: Awaited<ReturnType<typeof metricsSnapshot>>, kind: string) =>
  seriesOf(snapshot, 'neurallog_query_duration_seconds', { kind }).reduce((n, s) => n + (s.count ?? 0), 0);

describe('platform metrics of the query path', () => {
  it('counts a search and a histogram by kind, with their latency', async () => {
    const before = await metricsSnapshot();
    const search = await get('/v1/logs', { q: `nothing-${crypto.randomUUID()}` });
    expect(search.status).toBe(200);
    await search.arrayBuffer();
    const histogram = await get('/v1/logs/histogram', { q: 'anything' });
    expect(histogram.status).toBe(200);
    await histogram.arrayBuffer();

    const after = await waitForMetrics(
      (s) => durationCount(s, 'search') > durationCount(before, 'search') && durationCount(s, 'histogram') > durationCount(before, 'histogram'),
    );
    expect(metricValue(after, 'neurallog_queries_total', { kind: 'search', outcome: 'ok' })).toBeGreaterThan(
      metricValue(before, 'neurallog_queries_total', { kind: 'search', outcome: 'ok' }),
    );
    const [search_] = seriesOf(after, 'neurallog_query_duration_seconds', { kind: 'search' });
    expect(search_!.sum).toBeGreaterThanOrEqual(0);
    expect(search_!.buckets!.at(-1)).toMatchObject({ le: '+Inf', count: search_!.count });
  });

  it('counts the edge cache: a miss, then a hit for the same closed range, and a bypass near now', async () => {
    const endpoint = 'histogram';
    const closed = {
      from: new Date(Date.now() - 5 * 3_600_000).toISOString(),
      to: new Date(Date.now() - 4 * 3_600_000).toISOString(),
      q: `cache-${crypto.randomUUID()}`,
    };
    const before = await metricsSnapshot();
    for (const params of [closed, closed, { q: 'recent' }]) {
      const res = await get('/v1/logs/histogram', params);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const count = (s: typeof before, result: string) => metricValue(s, 'neurallog_edge_cache_lookups_total', { endpoint, result });
    const after = await waitForMetrics(
      (s) => count(s, 'hit') > count(before, 'hit') && count(s, 'miss') > count(before, 'miss') && count(s, 'bypass') > count(before, 'bypass'),
    );
    expect(count(after, 'hit') - count(before, 'hit')).toBe(1);
    expect(count(after, 'miss') - count(before, 'miss')).toBe(1);
  });
});
