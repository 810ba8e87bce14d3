/**
 * Three kinds of tests:
 * - `ingest` and `query` run inside workerd (Cloudflare's Workers pool) with
 *   the worker's own wrangler config, against one embedded ClickHouse started
 *   by test/support/global-setup.ts (the actor writes through a fault proxy);
 * - `node` runs in Node: the embedded ClickHouse endpoint driven by the
 *   official @clickhouse/client, repository checks, and the end-to-end test
 *   that starts the stack the way `npm start` does.
 */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { build } from 'esbuild';
import { defineConfig } from 'vitest/config';
import {
  TEST_FLUSH,
  TEST_TAIL_RECORDS_PER_S,
  TEST_JWT_AUDIENCE,
  TEST_JWT_ISSUER,
  TEST_KEY_CACHE_TTL_MS,
  TEST_LIMITS,
  TEST_PLATFORM_ADMIN_TOKEN,
  TEST_SESSION_SECRET,
  TEST_EXPORT_MAX_ROWS,
  TEST_STRIPE_PRICES,
  TEST_STRIPE_WEBHOOK_SECRET,
} from './test/support/constants.ts';

const d1Migrations = await readD1Migrations('./migrations/d1');

// The query and admin workers bind the platform metrics aggregator in the ingest worker (script_name):
// their test projects get an auxiliary worker of that name hosting the real class (test/support/platform-metrics-host.ts).
const platformMetricsHost = await build({
  entryPoints: ['test/support/platform-metrics-host.ts'],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'neutral',
  external: ['cloudflare:*'],
  logLevel: 'silent',
});
const platformMetricsWorker = {
  name: 'neurallog-ingest',
  compatibilityDate: '2026-11-01',
  modules: [{ type: 'ESModule' as const, path: 'platform-metrics-host.js', contents: platformMetricsHost.outputFiles[0]!.text }],
  durableObjects: { PLATFORM_METRICS: { className: 'PlatformMetrics', useSQLite: true } },
};

const workerBindings = (clickhouseUrl: string, inject: (key: 'jwksUrl' | 'jwtPrivateJwk') => string) => ({
  CLICKHOUSE_URL: clickhouseUrl,
  CLICKHOUSE_PASSWORD: '',
  NEURALLOG_KEY_CACHE_TTL_MS: String(TEST_KEY_CACHE_TTL_MS),
  NEURALLOG_SESSION_SECRET: TEST_SESSION_SECRET,
  NEURALLOG_JWT_ISSUER: TEST_JWT_ISSUER,
  NEURALLOG_JWT_AUDIENCE: TEST_JWT_AUDIENCE,
  NEURALLOG_JWT_JWKS_URL: inject('jwksUrl'),
  TEST_JWT_PRIVATE_JWK: inject('jwtPrivateJwk'),
  TEST_D1_MIGRATIONS: d1Migrations,
  // Reports to the platform metrics aggregator within a tenth of a second, so tests can read them.
  NEURALLOG_METRICS_REPORT_MS: '100',
});

// The wrangler configs require this secret; the tests bind their own value
// (below), so this only keeps wrangler from warning that it is missing.
process.env.CLICKHOUSE_PASSWORD ??= '';
process.env.NEURALLOG_PLATFORM_ADMIN_TOKEN ??= TEST_PLATFORM_ADMIN_TOKEN;
process.env.NEURALLOG_SESSION_SECRET ??= TEST_SESSION_SECRET;
process.env.STRIPE_SECRET_KEY ??= 'disabled';
process.env.STRIPE_WEBHOOK_SECRET ??= 'disabled';

// A test checks an outcome, not a speed (speeds are benchmarks): 30 s, not vitest's 5 s, for the tests
// in workerd, whose real ClickHouse work (an erasure's mutation) can take seconds while an end-to-end
// file runs beside them. (Inline projects do not inherit the root's test options: each sets it.)
const WORKERD_TEST_TIMEOUT_MS = 30_000;

export default defineConfig({
  test: {
    // Three test files at a time, whatever the core count (the default on 2 cores is 1): most of an
    // end-to-end file's time is waiting (a stack starting, alerts evaluating, flushes), so other
    // files use what one leaves idle — npm test took 14.4 min serialised on this machine, 9.5 with
    // two at a time, and ~13 with two once issue 20's end-to-end files came (the suite used under
    // one core on average).
    maxWorkers: 3,
    // The workers' structured info logs are noise in test output; warnings and errors stay.
    onConsoleLog: (log) => !log.includes('"level":"info"') && !log.includes('injected failure') && !log.includes('billing.webhook_refused'),
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './workers/ingest/wrangler.toml' },
            miniflare: {
              bindings: {
                ...workerBindings(inject('faultProxyUrl'), inject),
                NEURALLOG_MAX_REQUEST_BYTES: String(TEST_LIMITS.maxRequestBytes),
                NEURALLOG_MAX_RECORDS_PER_REQUEST: String(TEST_LIMITS.maxRecordsPerRequest),
                NEURALLOG_MAX_RECORD_BYTES: String(TEST_LIMITS.maxRecordBytes),
                NEURALLOG_FLUSH_MAX_ROWS: String(TEST_FLUSH.maxRows),
                NEURALLOG_FLUSH_MAX_AGE_MS: String(TEST_FLUSH.maxAgeMs),
                NEURALLOG_FLUSH_RETRY_BASE_MS: String(TEST_FLUSH.retryBaseMs),
                NEURALLOG_FLUSH_BATCH_MAX_ROWS: String(TEST_FLUSH.batchMaxRows),
                NEURALLOG_FLUSH_CONCURRENCY: String(TEST_FLUSH.concurrency),
                NEURALLOG_BUFFER_MAX_ROWS: String(TEST_FLUSH.bufferMaxRows),
                NEURALLOG_FLUSH_RETRY_MAX_MS: String(TEST_FLUSH.retryBaseMs),
                NEURALLOG_TAIL_MAX_RECORDS_PER_S: String(TEST_TAIL_RECORDS_PER_S),
                // Alert targets may point at the receivers the tests start on 127.0.0.1 (shared/outbound-url.ts, local mode).
                NEURALLOG_ALERTS_ALLOW_LOOPBACK: '1',
                TEST_CLICKHOUSE_URL: inject('clickhouseUrl'),
                TEST_FAULT_PROXY_URL: inject('faultProxyUrl'),
              },
            },
          })),
        ],
        test: {
          name: 'ingest',
          testTimeout: WORKERD_TEST_TIMEOUT_MS,
          include: ['test/ingest/**/*.test.ts', 'test/durable-objects/**/*.test.ts', 'test/shared/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/control-plane-setup.ts'],
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './workers/query/wrangler.toml' },
            miniflare: {
              bindings: {
                ...workerBindings(inject('faultProxyUrl'), inject),
                NEURALLOG_SEARCH_MAX_BYTES: '262144', // 256 KiB: test/query/search-bytes.test.ts cuts pages with a megabyte of rows
                NEURALLOG_EXPORT_MAX_ROWS: String(TEST_EXPORT_MAX_ROWS), // test/query/export.test.ts reaches the cap
                TEST_CLICKHOUSE_URL: inject('clickhouseUrl'),
                TEST_FAULT_PROXY_URL: inject('faultProxyUrl'),
              },
              workers: [platformMetricsWorker],
            },
          })),
        ],
        test: {
          name: 'query',
          testTimeout: WORKERD_TEST_TIMEOUT_MS,
          include: ['test/query/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/control-plane-setup.ts'],
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './workers/admin/wrangler.toml' },
            miniflare: {
              bindings: {
                ...workerBindings(inject('faultProxyUrl'), inject),
                NEURALLOG_PLATFORM_ADMIN_TOKEN: TEST_PLATFORM_ADMIN_TOKEN,
                // The real stripe SDK against the local stand-in (test/support/stripe-stand-in.ts).
                STRIPE_SECRET_KEY: inject('stripeSecretKey'),
                STRIPE_WEBHOOK_SECRET: TEST_STRIPE_WEBHOOK_SECRET,
                NEURALLOG_STRIPE_API_URL: inject('stripeUrl'),
                NEURALLOG_STRIPE_PRICE_STARTER: TEST_STRIPE_PRICES.starter,
                NEURALLOG_STRIPE_PRICE_PROFESSIONAL: TEST_STRIPE_PRICES.professional,
                NEURALLOG_STRIPE_PRICE_ENTERPRISE: TEST_STRIPE_PRICES.enterprise,
                NEURALLOG_STRIPE_PRICE_STARTER_BYTES: TEST_STRIPE_PRICES.starterBytes,
                NEURALLOG_STRIPE_PRICE_PROFESSIONAL_BYTES: TEST_STRIPE_PRICES.professionalBytes,
                NEURALLOG_STRIPE_PRICE_ENTERPRISE_BYTES: TEST_STRIPE_PRICES.enterpriseBytes,
                TEST_STRIPE_URL: inject('stripeUrl'),
              },
              workers: [platformMetricsWorker],
            },
          })),
        ],
        test: {
          name: 'admin',
          testTimeout: WORKERD_TEST_TIMEOUT_MS,
          include: ['test/admin/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/control-plane-setup.ts'],
        },
      },
      {
        test: {
          // The client SDK (sdk/) in Node, Deno (a child process) and Chromium, against a local stand-in of the ingest.
          name: 'sdk',
          environment: 'node',
          include: ['test/sdk/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/node/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // expect.poll's own default is 1 s: a search through the whole stack and a browser's render
          // can take longer on a loaded machine (the explorer's tests failed so in CI-like load).
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
