/**
 * The platform metrics' cost on a request, inside workerd: the same trivial
 * Hono route with and without the request-metrics middleware (route pattern,
 * a counter and a histogram in isolate memory, a report at most every 5 s),
 * and the ingest pipeline's per-batch accounting (accepted and refused
 * counters). `npm run bench:hot-path`; figures in docs/benchmarks.md
 * ("Issue 20: platform metrics").
 */
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { bench, describe } from 'vitest';
import { requestMetrics } from '../../shared/platform-metrics/http-middleware.ts';
import { platformMetrics } from '../../shared/platform-metrics/reporting.ts';

const REQUESTS_PER_CALL = 1000;
const metricsEnv = { PLATFORM_METRICS: env.PLATFORM_METRICS, NEURALLOG_METRICS_REPORT_MS: '5000' };
const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

// As in the workers: requestId() is there either way (so both take Hono's middleware path).
const plain = new Hono();
plain.use(requestId());
plain.get('/v1/logs/context/:id', (c) => c.text('ok'));
const measured = new Hono();
measured.use(requestMetrics('bench'));
measured.use(requestId());
measured.get('/v1/logs/context/:id', (c) => c.text('ok'));

/** One RPC per call, so workerd's clock (which moves only on I/O) measures the loop before it. */
async function tick(): Promise<void> {
  const stub = env.PLATFORM_METRICS!.get(env.PLATFORM_METRICS!.idFromName('bench-clock')) as unknown as { snapshot(): Promise<unknown> };
  await stub.snapshot();
}

async function requests(app: Hono): Promise<void> {
  for (let i = 0; i < REQUESTS_PER_CALL; i++) await app.fetch(new Request(`https://bench.test/v1/logs/context/${i}`), metricsEnv, ctx);
  await tick();
}

describe(`${REQUESTS_PER_CALL} requests per call (divide by it)`, () => {
  bench('a Hono route with requestId(), no metrics', async () => {
    await requests(plain);
  });
  bench('the same with requestMetrics() first', async () => {
    await requests(measured);
  });
  bench('ingest accounting of 1,000 batches: accepted + refused counters, reportSoon', async () => {
    const metrics = platformMetrics(metricsEnv);
    for (let i = 0; i < REQUESTS_PER_CALL; i++) {
      metrics.count('neurallog_ingest_records_accepted_total', { tenant: `t${i % 50}`, protocol: 'logs' }, 1000);
      metrics.count('neurallog_ingest_records_refused_total', { tenant: `t${i % 50}`, reason: 'invalid_record' }, 0);
      metrics.reportSoon(() => undefined);
    }
    await tick();
  });
});
