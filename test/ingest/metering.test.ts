/**
 * Usage metering: what a tenant is billed for is counted in its actor in the
 * same transaction as the batch, exactly once under retries, and rolled up to
 * D1 idempotently.
 */
import { env, exports } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, hourOf, UsageMeter } from '../../durable-objects/usage-meter.ts';
import { PLANS } from '../../shared/plans.ts';
import { ingestPolicy } from '../../shared/rate-limit-headers.ts';
import { TEST_FLUSH } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { countRows, flushActor, makeBatch, records, uniqueTenant } from '../support/in-workerd.ts';
import { PATTERN_ID_CHARS } from '../../shared/row-format.ts';

function post(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }),
  );
}

const actorOf = (tenant: string) => env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(tenant));

/** The actor's open counters as { metric[:reason]: value }. */
async function counters(tenant: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of await actorOf(tenant).usage())
    out[c.reason ? `${c.metric}:${c.reason}` : c.metric] = (out[c.reason ? `${c.metric}:${c.reason}` : c.metric] ?? 0) + c.value;
  return out;
}

async function d1Usage(tenant: string): Promise<Record<string, number>> {
  const { results } = await env.CONTROL_DB.prepare('SELECT metric, reason, value FROM usage_hourly WHERE tenant_id = ?')
    .bind(tenant)
    .all<{ metric: string; reason: string; value: number }>();
  const out: Record<string, number> = {};
  for (const r of results) out[r.reason ? `${r.metric}:${r.reason}` : r.metric] = (out[r.reason ? `${r.metric}:${r.reason}` : r.metric] ?? 0) + r.value;
  return out;
}

describe('usage metering', () => {
  it('counts records and bytes accepted, and records refused by reason, in the hour they arrive', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant); // starter: a burst of 10,000 records
    const key = await provisionKey(tenant, ['logs:write']);
    expect((await post(key, records(3))).status).toBe(202);
    const stats = await actorOf(tenant).stats();
    // The rows as the worker serialised them: the pattern ids the actor writes in are ours, not billed.
    const bytes = stats.buffered.bytes - 3 * PATTERN_ID_CHARS;
    expect(await counters(tenant)).toEqual({ records_accepted: 3, bytes_accepted: bytes });
    // Refused whole by the actor (the plan's burst): counted as rejected, nothing stored or counted as accepted.
    const actor = actorOf(tenant);
    const tooMany = makeBatch(tenant, records(2), Date.now(), {
      ...ingestPolicy(PLANS.starter),
      rate: { records: { rate: 1, burst: 1 }, bytes: { rate: 1e9, burst: 1e9 } },
    });
    expect(await actor.ingest(tooMany)).toMatchObject({ ok: false, code: 'request_too_large' });
    expect(await counters(tenant)).toEqual({ records_accepted: 3, bytes_accepted: bytes, 'records_rejected:request_too_large': 2 });
    expect((await actor.stats()).buffered.rows).toBe(3);
  });

  it('stores and counts a batch once when it is sent again after a crash between "stored" and "acknowledged"', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    const body = records(TEST_FLUSH.maxRows); // enough to make a flush due when the alarm runs
    const idempotencyKey = `batch-${crypto.randomUUID()}`;
    // The first attempt reached the actor and was stored; the worker died before answering
    // (the batch is handed over exactly as the route does, and the answer is dropped).
    const lost = makeBatch(tenant, body);
    expect(await actorOf(tenant).ingest({ ...lost, idempotencyKey })).toMatchObject({ ok: true, accepted: TEST_FLUSH.maxRows });
    // The client saw no answer and retries, twice: the same key.
    for (let attempt = 0; attempt < 2; attempt++) {
      const retry = await post(key, body, { 'Idempotency-Key': idempotencyKey });
      expect(retry.status).toBe(202);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await retry.json()).toMatchObject({ accepted: TEST_FLUSH.maxRows });
    }
    expect(await counters(tenant)).toMatchObject({ records_accepted: TEST_FLUSH.maxRows });
    // The flush may already be running (the alarm fired by itself): wait for it, whoever started it.
    await flushActor(actorOf(tenant));
    expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows);
    // Without a key the same body is a new batch (a client that does not send one gets at-least-once).
    expect((await post(key, body)).headers.get('idempotent-replayed')).toBeNull();
    expect(await counters(tenant)).toMatchObject({ records_accepted: 2 * TEST_FLUSH.maxRows });
    // A malformed key is refused before anything is stored.
    const bad = await post(key, body, { 'Idempotency-Key': 'has spaces in it' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_request', field: 'Idempotency-Key' });
  });

  it('sends a retried batch of a sharded tenant to the shard that remembers its key', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'professional' }); // 2 shards
    const key = await provisionKey(tenant, ['logs:write']);
    for (let i = 0; i < 6; i++) {
      const idempotencyKey = `k-${i}-${crypto.randomUUID()}`;
      expect((await post(key, records(1), { 'Idempotency-Key': idempotencyKey })).headers.get('idempotent-replayed')).toBeNull();
      expect((await post(key, records(1), { 'Idempotency-Key': idempotencyKey })).headers.get('idempotent-replayed')).toBe('true');
    }
    const shards = await Promise.all([0, 1].map((k) => env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(k === 0 ? tenant : `${tenant}#${k}`)).usage()));
    const accepted = shards
      .flat()
      .filter((c) => c.metric === 'records_accepted')
      .reduce((n, c) => n + c.value, 0);
    expect(accepted).toBe(6);
  });

  it('rolls closed hours up to D1 as final values: rolling the same hour up again changes nothing', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    expect((await post(key, records(4))).status).toBe(202);
    const counted = await counters(tenant);
    const later = hourOf(Date.now()) + HOUR_MS + 1000; // the next hour: the one counted has closed
    const [first, snapshot] = await runInDurableObject(actorOf(tenant), async (_instance, state) => {
      const rows = state.storage.sql.exec('SELECT hour, metric, reason, value FROM usage_hours').toArray();
      return [await new UsageMeter(state.storage.sql).rollUp(env.CONTROL_DB, tenant, 'ingest:0', later), rows];
    });
    expect(first).toBe(2);
    expect(await d1Usage(tenant)).toEqual(counted);
    expect(await counters(tenant)).toEqual({});
    // A crash after D1 was written and before the actor forgot the hour: the same counters are rolled up again.
    await runInDurableObject(actorOf(tenant), async (_instance, state) => {
      for (const r of snapshot)
        state.storage.sql.exec('INSERT INTO usage_hours (hour, metric, reason, value) VALUES (?, ?, ?, ?)', r.hour, r.metric, r.reason, r.value);
      state.storage.sql.exec("DELETE FROM usage_meta WHERE key = 'rolled_through'");
      await new UsageMeter(state.storage.sql).rollUp(env.CONTROL_DB, tenant, 'ingest:0', later);
    });
    expect(await d1Usage(tenant)).toEqual(counted);
    // Counting never goes back into a rolled-up hour: a late count lands in the next one.
    await runInDurableObject(actorOf(tenant), async (_instance, state) => {
      const meter = new UsageMeter(state.storage.sql);
      meter.add(Date.now(), 'records_accepted', 1);
      expect(meter.counts()).toEqual([{ hour: hourOf(Date.now()) + HOUR_MS, metric: 'records_accepted', reason: '', value: 1 }]);
    });
  });

  it("rolls a closed hour up from the actor's alarm", async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    expect((await post(key, records(2))).status).toBe(202); // sets the alarm (the flush)
    const past = hourOf(Date.now()) - 2 * HOUR_MS; // counted two hours ago: closed, waiting for its roll-up
    await runInDurableObject(actorOf(tenant), (_instance, state) => {
      state.storage.sql.exec("INSERT INTO usage_hours (hour, metric, reason, value) VALUES (?, 'records_accepted', '', 40)", past);
    });
    await runDurableObjectAlarm(actorOf(tenant));
    const { results } = await env.CONTROL_DB.prepare('SELECT source, hour, metric, value FROM usage_hourly WHERE tenant_id = ?').bind(tenant).all();
    expect(results).toEqual([{ source: 'ingest:0', hour: past, metric: 'records_accepted', value: 40 }]);
    // The open hour stays in the actor until it closes.
    expect(await counters(tenant)).toMatchObject({ records_accepted: 2 });
  });

  it('answers GET /v1/usage with hours, days and the estimated charge, to billing:read or admin only', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const writer = await provisionKey(tenant, ['logs:write']);
    const billing = await provisionKey(tenant, ['billing:read']);
    expect((await post(writer, records(7))).status).toBe(202);
    const get = (key: string, query = '') =>
      exports.default.fetch(new Request(`https://neurallog.test/v1/usage${query}`, { headers: { authorization: `Bearer ${key}` } }));
    const refused = await get(writer);
    expect(refused.status).toBe(403);
    const res = await get(billing);
    expect(res.status).toBe(200);
    const usage = await res.json<{
      hours: { recordsAccepted: number }[];
      days: unknown[];
      total: { recordsAccepted: number; bytesAccepted: number };
      currentMonth: {
        bytesAccepted: number;
        estimatedCharge: { feeCents: number; totalCents: number };
        quota: { limitBytes: number; usedBytes: number; bytesPerSecond: number; reachesLimitAt: string | null };
      };
    }>();
    expect(usage.total.recordsAccepted).toBe(7);
    expect(usage.hours).toHaveLength(1);
    expect(usage.days).toHaveLength(1);
    expect(usage.currentMonth.bytesAccepted).toBe(usage.total.bytesAccepted);
    expect(usage.currentMonth.estimatedCharge).toMatchObject({ feeCents: 4_900, totalCents: 4_900 });
    // The monthly quota as the quota counts it (the request's bytes), and its forecast at today's rate.
    const { quota } = usage.currentMonth;
    expect(quota.limitBytes).toBe(PLANS.starter.monthlyBytes);
    expect(quota.usedBytes).toBeGreaterThan(0);
    expect(quota.bytesPerSecond).toBeCloseTo(quota.usedBytes / (Math.max(600_000, Date.now() % 86_400_000) / 1000), 0);
    expect(quota.reachesLimitAt).toBeNull(); // seven records will not use up a month's quota before it resets
    const bad = await get(billing, '?from=yesterday');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ parameter: 'from' });
  });

  it("refuses a tenant's ingest while billing holds it (search and reads still work), and takes it again once the hold is lifted", async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const hold = (at: number | null) => env.CONTROL_DB.prepare('UPDATE tenants SET suspend_at = ? WHERE id = ?').bind(at, tenant).run();
    // A hold in the future (a failed payment inside its grace period) changes nothing yet.
    await hold(Date.now() + 3_600_000);
    expect((await post(await provisionKey(tenant, ['logs:write']), records(1))).status).toBe(202);
    // Past the grace period: ingest refused, with the reason; reading still allowed.
    await hold(Date.now() - 1000);
    const key = await provisionKey(tenant, ['logs:write', 'logs:read']); // a fresh key: no cached look-up
    const refused = await post(key, records(1));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'tenant_suspended', reason: 'payment_failed' });
    const otlp = await exports.default.fetch(
      new Request('https://neurallog.test/otlp/v1/logs', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"resourceLogs":[]}',
      }),
    );
    expect(otlp.status).toBe(403);
    const limits = await exports.default.fetch(new Request('https://neurallog.test/v1/limits', { headers: { authorization: `Bearer ${key}` } }));
    expect(limits.status).toBe(200);
    // The invoice is paid: the hold is lifted.
    await hold(null);
    expect((await post(await provisionKey(tenant, ['logs:write']), records(1))).status).toBe(202);
  });
});
