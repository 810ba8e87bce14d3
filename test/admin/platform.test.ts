/**
 * The operator's routes of the admin worker: the platform metrics as JSON and
 * as Prometheus text (who may read them), and the verbose health check naming
 * ClickHouse when it is down (the fault proxy the workers' CLICKHOUSE_URL
 * points at fails the health check's query).
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { MetricsSnapshot } from '../../shared/platform-metrics/aggregate.ts';
import type { PlatformHealth } from '../../shared/platform-metrics/health-verdict.ts';
import { PLATFORM_VERSION } from '../../shared/platform-metrics/version.ts';
import adminWorker from '../../workers/admin/index.ts';
import { TEST_PLATFORM_ADMIN_TOKEN } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

function get(path: string, token?: string): Promise<Response> {
  return exports.default.fetch(new Request(`https://neurallog.test${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }));
}

async function tenantAdminKey(): Promise<string> {
  const tenant = `pm-${crypto.randomUUID().slice(0, 10)}`;
  await provisionTenant(tenant);
  return provisionKey(tenant, ['admin']);
}

/** Makes the fault proxy in front of ClickHouse (the admin worker's CLICKHOUSE_URL in the tests) fail the next request mentioning `match`. */
async function failNextClickHouseRequest(match: string): Promise<void> {
  const res = await fetch(`${env.CLICKHOUSE_URL}/__fault?mode=fail-before&match=${encodeURIComponent(match)}&count=1`);
  await res.arrayBuffer();
}

describe('GET /v1/admin/platform/metrics', () => {
  it('serves every catalogued metric to the platform admin, its own requests counted by route pattern', async () => {
    const first = await get('/v1/admin/platform/metrics', TEST_PLATFORM_ADMIN_TOKEN);
    expect(first.status).toBe(200);
    expect(Object.keys((await first.json<MetricsSnapshot>()).metrics)).toContain('neurallog_ingest_records_accepted_total');
    const labels = { worker: 'admin', method: 'GET', route: '/v1/admin/platform/metrics', status: '200' };
    const deadline = Date.now() + 10_000;
    let seen = 0;
    while (seen === 0 && Date.now() < deadline) {
      const snapshot = await (await get('/v1/admin/platform/metrics', TEST_PLATFORM_ADMIN_TOKEN)).json<MetricsSnapshot>();
      seen = snapshot.metrics.neurallog_http_requests_total!.series.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('refuses anyone else: no credential 401, a tenant admin 403', async () => {
    expect((await get('/v1/admin/platform/metrics')).status).toBe(401);
    const tenantAdmin = await get('/v1/admin/platform/metrics', await tenantAdminKey());
    expect(tenantAdmin.status).toBe(403);
    expect(await tenantAdmin.json()).toMatchObject({ error: 'forbidden' });
  });
});

describe('GET /metrics', () => {
  it('answers Prometheus text to the platform-admin token, and refuses others while it is not open', async () => {
    const res = await get('/metrics', TEST_PLATFORM_ADMIN_TOKEN);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# TYPE neurallog_http_requests_total counter');
    expect(text).toContain('# TYPE neurallog_query_duration_seconds histogram');
    const none = await get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await get('/metrics', await tenantAdminKey())).status).toBe(403);
  });

  it('needs no credential when NEURALLOG_METRICS_OPEN=1 (a local stack)', async () => {
    const open = { ...env, NEURALLOG_METRICS_OPEN: '1' };
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
    const res = await adminWorker.fetch(new Request('https://neurallog.test/metrics'), open, ctx);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('# HELP neurallog_actor_buffer_rows');
  });
});

describe('GET /v1/admin/platform/health', () => {
  it('reports ClickHouse, R2, D1 and the metrics aggregator up with their latency, and the version', async () => {
    const res = await get('/v1/admin/platform/health', TEST_PLATFORM_ADMIN_TOKEN);
    expect(res.status).toBe(200);
    const health = await res.json<PlatformHealth>();
    expect(health).toMatchObject({ status: 'ok', down: [], version: PLATFORM_VERSION });
    for (const name of ['clickhouse', 'r2', 'd1', 'metrics'] as const) {
      expect(health.dependencies[name].status).toBe('ok');
      expect(health.dependencies[name].latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(health.actors).toMatchObject({ oldestUnflushedAgeSeconds: expect.any(Number) });
  });

  it('answers 503 naming ClickHouse when ClickHouse does not answer', async () => {
    await failNextClickHouseRequest('neurallog_healthz');
    const res = await get('/v1/admin/platform/health', TEST_PLATFORM_ADMIN_TOKEN);
    expect(res.status).toBe(503);
    const health = await res.json<PlatformHealth>();
    expect(health.status).toBe('unavailable');
    expect(health.down).toEqual(['clickhouse']);
    expect(health.dependencies.clickhouse).toMatchObject({ status: 'down', error: expect.stringContaining('503') });
    expect(health.dependencies.d1.status).toBe('ok');
  });

  it('is for the platform admin only', async () => {
    expect((await get('/v1/admin/platform/health')).status).toBe(401);
    expect((await get('/v1/admin/platform/health', await tenantAdminKey())).status).toBe(403);
  });
});
