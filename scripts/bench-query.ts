/**
 * `npm run bench:query`: search latency on a loaded store.
 *
 * 1. Starts the stack as `npm start` does (own temporary data directory) and
 *    creates three enterprise tenants with read keys.
 * 2. Loads BENCH_QUERY_ROWS (default 10 million) rows into its ClickHouse,
 *    spread over the three tenants and the last 24 hours: bodies are the
 *    Loghub lines (../shared/data/loghub or NEURALLOG_LOGHUB_DIR), service =
 *    the system they come from, levels and attributes (region, status) varied.
 *    The rows are generated inside ClickHouse (INSERT … SELECT from
 *    numbers()), so loading takes seconds, not the ingest path's minutes.
 * 3. Measures p50/p95 over BENCH_QUERY_REPEAT requests through the gateway,
 *    the way a user's browser asks: a full-text search over the last hour, a
 *    field filter over a day, a 24 h histogram, a facet, the patterns of a
 *    day (of everything, and of one service) — each uncached (a
 *    range ending now bypasses the edge cache) and cached (the same search on
 *    a closed range, asked again) — and LogQL through the Loki API: a
 *    selector with a line filter over an hour, `sum by (level)
 *    (count_over_time(…[1m]))` over 24 h, a topk over services — the
 *    counts with the range's start on a whole minute (as Grafana aligns it
 *    to the step: read from the per-minute summary) and one second off it
 *    (the same query read from the rows), in the same run.
 *
 * BENCH_QUERY_ONLY=logql runs the LogQL cases and, for comparison, the
 * native 24 h histogram only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, startStackProcess, type Stack } from './bench-stack.ts';
import { loadLoghubRows } from './bench-corpus.ts';

const ROWS = Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000);
const REPEAT = Number(process.env.BENCH_QUERY_REPEAT ?? 30);
const TENANTS = ['bench-q-a', 'bench-q-b', 'bench-q-c'];
const ONLY_LOGQL = process.env.BENCH_QUERY_ONLY === 'logql';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(url: string, key: string): Promise<{ ms: number; cache: string | null; status: number; serverTiming: string | null }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, cache: res.headers.get('cache-status'), status: res.status, serverTiming: res.headers.get('server-timing') };
}

/** Median of one Server-Timing metric (ms) over the answers that carried it. */
function medianTiming(values: (string | null)[], metric: string): string {
  const durations = values
    .map((v) => new RegExp(`${metric};dur=(\\d+(?:\\.\\d+)?)`).exec(v ?? '')?.[1])
    .filter((d): d is string => d !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  return durations.length === 0 ? '-' : String(durations[Math.floor(durations.length / 2)]);
}

async function measure(
  stack: Stack,
  keys: string[],
  path: string,
  params: Record<string, string>,
): Promise<{ p50: number; p95: number; cache: string; timings: string }> {
  const latencies: number[] = [];
  const serverTimings: (string | null)[] = [];
  let cache = '';
  for (let i = 0; i < REPEAT; i++) {
    const url = `${stack.url}${path}?${new URLSearchParams(params)}`;
    const { ms, cache: status, status: http, serverTiming } = await timed(url, keys[i % keys.length]!);
    serverTimings.push(serverTiming);
    if (http !== 200) throw new Error(`${path} ${JSON.stringify(params)}: HTTP ${http}`);
    latencies.push(ms);
    cache = status ?? '';
  }
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    cache,
    timings: cache.includes('hit')
      ? `D1 ${medianTiming(serverTimings, 'generation')} ms, cache ${medianTiming(serverTimings, 'cache')} ms`
      : `ClickHouse ${medianTiming(serverTimings, 'query')} ms`,
  };
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-query-'));
console.log(`NeuralLog query bench: ${ROWS.toLocaleString('en')} rows over ${TENANTS.length} tenants, ${REPEAT} requests per case`);
const stack = await startStackProcess(dataDir);
try {
  const keys: string[] = [];
  for (const id of TENANTS) {
    await admin(stack, 'POST', '/tenants', { id, name: id, plan: 'enterprise' });
    keys.push(((await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'bench', scopes: ['logs:read'] })) as { key: string }).key);
  }
  const loadSeconds = await loadLoghubRows(stack.clickhouseUrl, TENANTS, ROWS);
  console.log(`\nloaded in ${loadSeconds.toFixed(1)} s`);

  // Closed ranges for the cached runs: ending 2 minutes ago (past the default 60 s horizon).
  const end = Date.now() - 120_000;
  const closedHour = { from: new Date(end - 3_600_000).toISOString(), to: new Date(end).toISOString() };
  const closedDay = { from: new Date(end - 86_400_000).toISOString(), to: new Date(end).toISOString() };
  const cases: [string, string, Record<string, string>, Record<string, string>][] = [
    ['full-text, last hour', '/v1/logs', { from: 'now-1h', q: 'authentication failure' }, { ...closedHour, q: 'authentication failure' }],
    [
      'field filter, 24 h',
      '/v1/logs',
      { from: 'now-24h', q: 'service:openssh level:error status>=500' },
      { ...closedDay, q: 'service:openssh level:error status>=500' },
    ],
    ['histogram, 24 h', '/v1/logs/histogram', { from: 'now-24h' }, closedDay],
    ['facet attr.region, 24 h', '/v1/logs/fields/attr.region/values', { from: 'now-24h' }, closedDay],
    ['patterns, 24 h', '/v1/patterns', { from: 'now-24h' }, closedDay],
    ['patterns of one service, 24 h', '/v1/patterns', { from: 'now-24h', service: 'openssh' }, { ...closedDay, service: 'openssh' }],
  ];
  // The floor: a request the query worker refuses at once (a malformed key: no D1, no ClickHouse) — the cost of the path itself.
  const floor: number[] = [];
  for (let i = 0; i < REPEAT; i++) floor.push((await timed(`${stack.url}/v1/logs`, 'nlk_not_a_key')).ms);
  floor.sort((a, b) => a - b);
  console.log(
    `\n  path floor (401 from the query worker, through the gateway): p50 ${percentile(floor, 50).toFixed(1)} ms, p95 ${percentile(floor, 95).toFixed(1)} ms`,
  );
  console.log('\n  case                          uncached p50 / p95 ms        cached p50 / p95 ms');
  for (const [name, path, open, closed] of ONLY_LOGQL ? cases.filter(([name]) => name === 'histogram, 24 h') : cases) {
    const cold = await measure(stack, keys, path, open);
    await measure(stack, keys, path, closed); // fill the cache (one entry per tenant)
    const warm = await measure(stack, keys, path, closed);
    console.log(
      `  ${name.padEnd(28)}  ${cold.p50.toFixed(1).padStart(8)} / ${cold.p95.toFixed(1).padEnd(8)} (${cold.cache.includes('bypass') ? 'bypass' : cold.cache}; ${cold.timings})` +
        `   ${warm.p50.toFixed(1).padStart(7)} / ${warm.p95.toFixed(1).padEnd(7)} (${warm.cache.includes('hit') ? 'hit' : warm.cache}; in the worker: ${warm.timings})`,
    );
  }
  // LogQL through Grafana's Loki API (issue 19): no edge cache there, so one column; ranges end now.
  const ns = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
  const now = Date.now();
  // Grafana aligns a metric query's range to its step: on a whole minute the counts come from the per-minute summary.
  const minute = Math.floor(now / 60_000) * 60_000;
  const volume = 'sum by (detected_level) (count_over_time({service_name=~".+"}[1m]))';
  const topk = 'topk(5, sum by (service_name) (count_over_time({service_name=~".+"}[1h])))';
  const logql: [string, Record<string, string>][] = [
    [
      'LogQL selector + line filter, 1 h',
      { query: '{service_name="openssh"} |= "authentication failure"', limit: '100', start: ns(now - 3_600_000), end: ns(now) },
    ],
    ['LogQL sum by (level) [1m], 24 h, summary', { query: volume, step: '60s', start: ns(minute - 86_400_000), end: ns(minute) }],
    ['LogQL sum by (level) [1m], 24 h, rows', { query: volume, step: '60s', start: ns(minute - 86_400_000 + 1000), end: ns(minute + 1000) }],
    ['LogQL topk over services, 24 h, summary', { query: topk, step: '1h', start: ns(minute - 86_400_000), end: ns(minute) }],
    ['LogQL topk over services, 24 h, rows', { query: topk, step: '1h', start: ns(minute - 86_400_000 + 1000), end: ns(minute + 1000) }],
  ];
  console.log('\n  LogQL case                                  p50 / p95 ms');
  for (const [name, params] of logql) {
    const run = await measure(stack, keys, '/loki/api/v1/query_range', params);
    console.log(`  ${name.padEnd(42)}  ${run.p50.toFixed(1).padStart(8)} / ${run.p95.toFixed(1)}`);
  }
} finally {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
