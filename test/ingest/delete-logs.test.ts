/**
 * DELETE /v1/logs erases every record in its scope: those stored in
 * ClickHouse and those still buffered in the tenant's actors (every shard),
 * including during a ClickHouse outage — and nothing else.
 */
import { env, exports } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../shared/plans.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { gunzipMembers } from '../../shared/gzip.ts';
import { actorOf, clickhouse, flushTenant, injectFault, makeDue, uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';

const SHARDS = PLANS.professional.shardCount;

async function setUp() {
  const tenant = uniqueTenant('erase');
  await provisionTenant(tenant, { plan: 'professional' });
  return {
    tenant,
    writer: await provisionKey(tenant, ['logs:write']),
    admin: await provisionKey(tenant, ['admin']),
    reader: await provisionKey(tenant, ['logs:read']),
  };
}

function request(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }),
  );
}

const range = () => new URLSearchParams({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });

/** Bodies stored for the tenant in ClickHouse. */
async function storedBodies(tenant: string): Promise<string[]> {
  const rs = await clickhouse.query({
    query: 'SELECT Body FROM logs WHERE TenantId = {t:String} ORDER BY Body',
    query_params: { t: tenant },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ Body: string }>()).map((r) => r.Body);
}

async function send(writer: string, messages: string[]) {
  for (const message of messages) expect((await request('POST', '/v1/logs', writer, [{ message, service: 'api' }])).status).toBe(202);
}

describe('DELETE /v1/logs', () => {
  it('needs admin and a range', async () => {
    const { reader, admin } = await setUp();
    expect((await request('DELETE', `/v1/logs?${range()}`, reader)).status).toBe(403);
    const noRange = await request('DELETE', '/v1/logs?q=x', admin);
    expect(noRange.status).toBe(400);
    expect(await noRange.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'from' });
  });

  it('erases the records in its scope that are stored and those still buffered in every shard, and keeps the rest', async () => {
    const { tenant, writer, admin } = await setUp();
    await send(writer, ['secret stored 1', 'secret stored 2', 'kept stored']);
    await flushTenant(tenant, SHARDS);
    await send(writer, ['secret buffered 1', 'secret buffered 2', 'secret buffered 3', 'kept buffered']);
    const generation = async () =>
      (await env.CONTROL_DB.prepare('SELECT data_generation AS g FROM tenants WHERE id = ?').bind(tenant).first<{ g: number }>())!.g;
    const before = await generation();

    const res = await request('DELETE', `/v1/logs?${range()}&q=secret`, admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 5, stored: 2, buffered: 3 });
    await flushTenant(tenant, SHARDS);
    expect(await storedBodies(tenant)).toEqual(['kept buffered', 'kept stored']);
    expect(await generation()).toBe(before + 1);
    const audit = await env.CONTROL_DB.prepare("SELECT details FROM audit_log WHERE tenant_id = ? AND action = 'logs.delete'")
      .bind(tenant)
      .first<{ details: string }>();
    expect(JSON.parse(audit!.details)).toMatchObject({ q: 'secret', stored: 2, buffered: 3 });
    // The R2 archive is not rewritten (README "Archive": erased by the bucket's lifecycle): the records stored before are still in it.
    const archived: string[] = [];
    for (const object of (await env.ARCHIVE.list({ prefix: `logs/${tenant}/` })).objects) {
      archived.push(await gunzipMembers(await (await env.ARCHIVE.get(object.key))!.arrayBuffer()));
    }
    expect(archived.join('')).toContain('secret stored 1');
    expect(archived.join('')).not.toContain('secret buffered 1'); // erased before it was ever flushed
  });

  it('erases buffered records during a ClickHouse outage (those of a failed flush too), says the stored ones were not, and finishes when sent again', async () => {
    const { tenant, writer, admin } = await setUp();
    await injectFault('fail-before', tenant, 1000);
    try {
      await send(writer, ['secret a', 'secret b', 'kept c', 'secret d']);
      // The flushes fail and wait out their backoff, holding the rows.
      for (let k = 0; k < SHARDS; k++) {
        await makeDue(actorOf(tenant, k));
        await runDurableObjectAlarm(actorOf(tenant, k));
      }
      await eventually(
        'a flush attempted on every shard',
        async () => (await Promise.all(Array.from({ length: SHARDS }, (_, k) => actorOf(tenant, k).stats()))).flatMap((s) => s.pendingFlushes),
        { until: (p) => p.length > 0 && p.every((f) => f.attempts >= 1), timeoutMs: 10_000, intervalMs: 50 },
      );
      const res = await request('DELETE', `/v1/logs?${range()}&q=secret`, admin);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'unavailable', buffered: 3 });
    } finally {
      await injectFault('clear', tenant);
    }
    await flushTenant(tenant, SHARDS);
    expect(await storedBodies(tenant)).toEqual(['kept c']);
    const again = await request('DELETE', `/v1/logs?${range()}&q=secret`, admin);
    expect(await again.json()).toEqual({ deleted: 0, stored: 0, buffered: 0 });
  });

  it('erases every record of a pattern given by its current id, those mined under its earlier templates too', async () => {
    const { tenant, writer, admin } = await setUp();
    // One batch (one actor): the users' lines end in one template; the first ones were stored under narrower ones.
    const users = ['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => ({ message: `user ${u} logged in`, service: 'api' }));
    expect((await request('POST', '/v1/logs', writer, [...users, { message: 'disk is full', service: 'api' }])).status).toBe(202);
    await flushTenant(tenant, SHARDS);
    const ids = await clickhouse.query({
      query: 'SELECT uniqExact(PatternId) AS n FROM logs WHERE TenantId = {t:String} AND Body LIKE {p:String}',
      query_params: { t: tenant, p: 'user %' },
      format: 'JSONEachRow',
    });
    expect(Number((await ids.json<{ n: string }>())[0]!.n)).toBeGreaterThan(1); // stored under more than one id
    const general = await clickhouse.query({
      query: "SELECT PatternId FROM log_patterns WHERE TenantId = {t:String} AND Template = 'user <*> logged in'",
      query_params: { t: tenant },
      format: 'JSONEachRow',
    });
    const { PatternId } = (await general.json<{ PatternId: string }>())[0]!;
    const res = await request('DELETE', `/v1/logs?${range()}&q=${encodeURIComponent(`pattern:${PatternId}`)}`, admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stored: 5 });
    expect(await storedBodies(tenant)).toEqual(['disk is full']);
  });

  it('takes a query on a field named after an Object.prototype member', async () => {
    const { admin } = await setUp();
    const res = await request('DELETE', `/v1/logs?${range()}&q=${encodeURIComponent('constructor:x')}`, admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 0, stored: 0, buffered: 0 });
  });
});
