/**
 * Rows labelled by the ingest worker (workers/ingest/pattern-snapshots.ts):
 * once the worker holds a copy of the actor's templates, rows it matches
 * reach the actor sealed — one gzip member the actor stores without reading —
 * with the PatternId the actor's own miner gave the same messages; rows of a
 * new shape still go to the actor, which learns from them. Either way the
 * records are stored and found with their pattern.
 */
import { env, exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';
import { AliasGraph, aliasesQuery } from '../../shared/patterns/aliases.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, clickhouse, flushActor, storedRowsOfBatch, uniqueTenant } from '../support/in-workerd.ts';

function aliasesQueryOf(tenant: string) {
  const { query, params } = aliasesQuery(tenant);
  return { query, query_params: params };
}

function devActor(): DurableObjectStub<TenantActor> {
  return env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(TEST_TENANT));
}

async function post(records: unknown[], key = TEST_API_KEY): Promise<string> {
  const res = await exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
  expect(res.status).toBe(202);
  return (await res.json<{ batchId: string }>()).batchId;
}

/** The kinds of the batch's buffered chunks: 'blob' (sealed by the worker) or 'text' (labelled by the actor). */
async function chunkKinds(batchId: string, actor = devActor()): Promise<string[]> {
  return runInDurableObject(actor, (_instance, state) =>
    state.storage.sql
      .exec<{ kind: string }>('SELECT typeof(data) AS kind FROM buffered_chunks WHERE batch_id = ? ORDER BY seq', batchId)
      .toArray()
      .map((r) => r.kind),
  );
}

describe('rows labelled by the ingest worker', () => {
  it('seals the rows its copy of the templates matches, with the ids the actor gave, and leaves new shapes to the actor', async () => {
    const service = `checkout-${crypto.randomUUID().slice(0, 8)}`;
    const known = (i: number) => [
      { message: `user u${i} logged in from 10.0.0.${i}`, service },
      { message: `order ${1000 + i} paid in ${i * 7} ms`, service },
      { message: 'cache warmed', service: '__proto__' },
    ];
    // First: every shape is new, so the actor mines the rows (and learns the templates).
    const first = await post([0, 1, 2, 3, 4].flatMap(known));
    expect(await chunkKinds(first)).toEqual(['text']);
    const firstRows = await storedRowsOfBatch(first);
    const idOf = (rows: Record<string, unknown>[], body: string) => rows.find((r) => r.Body === body)?.PatternId;

    // The worker refreshes its copy (at most once a second per actor) after an answer names newer templates.
    let sealed: string | null = null;
    const deadline = Date.now() + 10_000;
    // A message of a new length each time: a shape no copy can know yet.
    const newShape = (n: number) => `fresh ${'word '.repeat(n + 3)}here`;
    for (let n = 0; sealed === null && Date.now() < deadline; n++) {
      const batch = await post([...known(50), { message: newShape(n), service }]);
      if ((await chunkKinds(batch)).includes('blob')) sealed = batch;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(sealed, 'the worker never sealed a batch').not.toBeNull();
    // The known shapes sealed; the new one left to the actor.
    expect(await chunkKinds(sealed!)).toEqual(['blob', 'text']);
    const rows = await storedRowsOfBatch(sealed!);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.PatternId, String(row.Body)).toMatch(/^[0-9a-f]{16}$/);

    // Flushed: ClickHouse holds the batch's rows, with the same ids.
    await flushActor(devActor());
    const stored = await storedRowsOfBatch(sealed!);
    expect(stored.map((r) => [r.Body, r.PatternId]).sort()).toEqual(rows.map((r) => [r.Body, r.PatternId]).sort());
    // The same pattern as the actor's miner gave the same kind of message: the first batch's ids, or the
    // template they were generalised into (an alias, as search and the patterns page resolve it).
    const aliases = await clickhouse.query({ ...aliasesQueryOf(TEST_TENANT), format: 'JSONEachRow' });
    const graph = new AliasGraph((await aliases.json<{ FromId: string; ToId: string }>()).map((a) => [a.FromId, a.ToId] as const));
    const same = (body: string, firstBody: string) =>
      expect(graph.canonical(String(idOf(firstRows, firstBody)))).toBe(graph.canonical(String(idOf(rows, body))));
    same('user u50 logged in from 10.0.0.50', 'user u0 logged in from 10.0.0.0');
    same('order 1050 paid in 350 ms', 'order 1000 paid in 0 ms');
    same('cache warmed', 'cache warmed');
    expect(idOf(rows, 'cache warmed')).toBe(idOf(firstRows, 'cache warmed'));
  });
  it('erases records inside a sealed chunk (DELETE /v1/logs before the flush): the rest of the chunk is stored, the erased never', async () => {
    // A tenant of its own with one actor, so the erasure touches nothing another test sent.
    const tenant = uniqueTenant('sealed-erase');
    await provisionTenant(tenant, { plan: 'starter' });
    const writer = await provisionKey(tenant, ['logs:write']);
    const admin = await provisionKey(tenant, ['admin']);
    const actor = actorOf(tenant);
    const batch = (i: number) => [
      { message: `user u${i} logged in from 10.0.0.${i}`, service: 'api' },
      { message: `card ${4000 + i} charged by mistake`, service: 'api' },
    ];
    await post([0, 1, 2].flatMap(batch), writer); // the actor learns both shapes
    let sealed: string | null = null;
    const deadline = Date.now() + 10_000;
    for (let n = 0; sealed === null && Date.now() < deadline; n++) {
      const id = await post(batch(10 + n), writer);
      if ((await chunkKinds(id, actor)).includes('blob')) sealed = id;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(sealed, 'the worker never sealed a batch').not.toBeNull();
    const sealedRows = await storedRowsOfBatch(sealed!, tenant);
    const sealedCard = String(sealedRows.find((r) => String(r.Body).startsWith('card '))!.Body);
    const sealedLogin = String(sealedRows.find((r) => String(r.Body).startsWith('user '))!.Body);

    const range = new URLSearchParams({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), q: 'mistake' });
    const res = await exports.default.fetch(
      new Request(`https://neurallog.test/v1/logs?${range}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } }),
    );
    expect(res.status).toBe(200);
    const erased = await res.json<{ buffered: number }>();
    expect(erased.buffered).toBeGreaterThanOrEqual(1);

    await flushActor(actor);
    const rs = await clickhouse.query({ query: 'SELECT Body FROM logs WHERE TenantId = {t:String}', query_params: { t: tenant }, format: 'JSONEachRow' });
    const bodies = (await rs.json<{ Body: string }>()).map((r) => r.Body);
    expect(bodies).toContain(sealedLogin);
    expect(bodies).not.toContain(sealedCard);
    expect(bodies.filter((b) => b.includes('mistake'))).toEqual([]);
    expect(bodies.filter((b) => b.startsWith('user '))).toHaveLength(bodies.length);
  });
});
