/**
 * The platform's golden signals as the ingest path and the tenant actors
 * report them to the PlatformMetrics aggregator: per-tenant accepted and
 * refused records, requests by route pattern, an actor's buffer depth and
 * oldest unflushed age (back to 0 after its flush), flushes, retries and
 * ClickHouse inserts — including failed ones, through the fault proxy.
 */
import { exports } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TEST_LIMITS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, flushActor, injectFault, makeDue, uniqueTenant } from '../support/in-workerd.ts';
import { metricsSnapshot, seriesOf, metricValue, waitForMetrics } from '../support/platform-metrics.ts';

async function tenantWithKey(): Promise<{ tenant: string; key: string }> {
  const tenant = uniqueTenant('pm');
  await provisionTenant(tenant, { plan: 'starter' });
  return { tenant, key: await provisionKey(tenant, ['logs:write', 'logs:read']) };
}

function post(key: string, records: unknown[]): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
}

const histogramCount = (snapshot: Awaited<ReturnType<typeof metricsSnapshot>>, metric: string, labels: Record<string, string>) =>
  seriesOf(snapshot, metric, labels).reduce((n, s) => n + (s.count ?? 0), 0);

describe('platform metrics of the ingest path', () => {
  it("counts a tenant's accepted records, and refused ones by the reason it was told", async () => {
    const { tenant, key } = await tenantWithKey();
    const accepted = await post(key, [{ message: 'one' }, { message: 'two' }, { message: 'three' }]);
    expect(accepted.status).toBe(202);
    const tooLarge = await post(key, [{ message: 'fine' }, { message: 'x'.repeat(TEST_LIMITS.maxRecordBytes + 1) }]);
    expect(tooLarge.status).toBe(413);
    const { error: reason } = await tooLarge.json<{ error: string }>();

    const snapshot = await waitForMetrics(
      (s) =>
        metricValue(s, 'neurallog_ingest_records_accepted_total', { tenant }) === 3 &&
        metricValue(s, 'neurallog_ingest_records_refused_total', { tenant }) === 2,
    );
    expect(metricValue(snapshot, 'neurallog_ingest_records_accepted_total', { tenant, protocol: 'logs' })).toBe(3);
    expect(metricValue(snapshot, 'neurallog_ingest_records_refused_total', { tenant, reason })).toBe(2);
  });

  it('labels requests with the route pattern that answered, never the raw path', async () => {
    const { key } = await tenantWithKey();
    const secret = `no-such-letter-${crypto.randomUUID()}`;
    const before = await metricsSnapshot();
    const res = await exports.default.fetch(
      new Request(`https://neurallog.test/v1/dead-letters/2026-01-01/${secret}`, { headers: { authorization: `Bearer ${key}` } }),
    );
    await res.arrayBuffer();
    const ok = await post(key, [{ message: 'routed' }]);
    expect(ok.status).toBe(202);
    const labels = { worker: 'ingest', method: 'POST', route: '/v1/logs', status: '202' };
    const snapshot = await waitForMetrics(
      (s) => metricValue(s, 'neurallog_http_requests_total', labels) > metricValue(before, 'neurallog_http_requests_total', labels),
    );
    expect(histogramCount(snapshot, 'neurallog_http_request_duration_seconds', { worker: 'ingest', route: '/v1/logs', status_class: '2xx' })).toBeGreaterThan(
      0,
    );
    const routes = snapshot.metrics.neurallog_http_requests_total!.series.map((s) => s.labels.route!);
    expect(routes).toContain('/v1/dead-letters/:date/:batchId');
    expect(routes.filter((r) => r.includes(secret))).toEqual([]);
  });

  it("reports an actor's buffer depth and oldest unflushed age, back to 0 after the flush", async () => {
    const { tenant, key } = await tenantWithKey();
    expect((await post(key, [{ message: 'a' }, { message: 'b' }, { message: 'c' }])).status).toBe(202);
    const buffered = await waitForMetrics((s) => metricValue(s, 'neurallog_actor_buffer_rows', { tenant }) === 3);
    expect(metricValue(buffered, 'neurallog_actor_buffer_bytes', { tenant })).toBeGreaterThan(0);
    expect(seriesOf(buffered, 'neurallog_actor_oldest_unflushed_age_seconds', { tenant })).toHaveLength(1);
    expect(buffered.actors.bufferedRows).toBeGreaterThanOrEqual(3);
    const insertsBefore = metricValue(buffered, 'neurallog_clickhouse_inserts_total', { outcome: 'ok' });

    await flushActor(actorOf(tenant));
    const flushed = await waitForMetrics((s) => metricValue(s, 'neurallog_actor_flushes_total', { tenant, outcome: 'ok' }) >= 1);
    expect(metricValue(flushed, 'neurallog_actor_buffer_rows', { tenant })).toBe(0);
    expect(metricValue(flushed, 'neurallog_actor_oldest_unflushed_age_seconds', { tenant })).toBe(0);
    expect(metricValue(flushed, 'neurallog_clickhouse_inserts_total', { outcome: 'ok' })).toBeGreaterThan(insertsBefore);
    expect(histogramCount(flushed, 'neurallog_actor_flush_duration_seconds', { outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('counts ClickHouse insert errors, the failed flush and its retry, while the rows stay buffered', async () => {
    const { tenant, key } = await tenantWithKey();
    expect((await post(key, [{ message: 'held back' }, { message: 'by a fault' }])).status).toBe(202);
    const before = await waitForMetrics((s) => metricValue(s, 'neurallog_actor_buffer_rows', { tenant }) === 2);
    const errorsBefore = metricValue(before, 'neurallog_clickhouse_inserts_total', { outcome: 'error' });

    await injectFault('fail-before', tenant, 1);
    const actor = actorOf(tenant);
    await makeDue(actor);
    await runDurableObjectAlarm(actor);
    const failed = await waitForMetrics((s) => metricValue(s, 'neurallog_actor_flushes_total', { tenant, outcome: 'failed' }) === 1);
    expect(metricValue(failed, 'neurallog_clickhouse_inserts_total', { outcome: 'error' })).toBeGreaterThan(errorsBefore);
    expect(metricValue(failed, 'neurallog_actor_buffer_rows', { tenant })).toBe(2);
    expect(metricValue(failed, 'neurallog_actor_flush_retries_total', { tenant })).toBe(0);

    await flushActor(actor);
    const retried = await waitForMetrics((s) => metricValue(s, 'neurallog_actor_flushes_total', { tenant, outcome: 'ok' }) === 1);
    expect(metricValue(retried, 'neurallog_actor_flush_retries_total', { tenant })).toBe(1);
    expect(metricValue(retried, 'neurallog_actor_buffer_rows', { tenant })).toBe(0);
  });
});
