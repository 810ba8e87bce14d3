/**
 * Saved searches: /v1/saved-searches on the query worker, per tenant in D1.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HOSTILE_NAMES, TEST_API_KEY } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { MAX_SAVED_SEARCHES } from '../../workers/query/routes/saved-searches.ts';

interface Saved {
  id: string;
  name: string;
  params: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
}

function call(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test/v1/saved-searches${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

const list = async (key: string) => (await (await call('GET', '', key)).json<{ savedSearches: Saved[] }>()).savedSearches;

/** A tenant of its own and a logs:read key, so that counts and names start empty. */
async function freshTenant(): Promise<{ tenant: string; key: string }> {
  const tenant = `ss-${crypto.randomUUID().slice(0, 10)}`;
  await provisionTenant(tenant);
  return { tenant, key: await provisionKey(tenant, ['logs:read']) };
}

describe('saved searches', () => {
  it('saves, lists newest first and deletes, for the tenant of the credential', async () => {
    const { key } = await freshTenant();
    expect(await list(key)).toEqual([]);
    const params = {
      q: 'level:error "connection reset"',
      from: 'now-1h',
      to: 'now',
      level: 'error,fatal',
      service: 'checkout',
      columns: ['attr.region', 'trace_id'],
    };
    const created = await call('POST', '', key, { name: 'Checkout errors', params });
    expect(created.status).toBe(201);
    const first = await created.json<Saved>();
    expect(first).toMatchObject({ name: 'Checkout errors', params, createdBy: `key:${key.slice(4, 16)}` });
    expect(Date.parse(first.createdAt)).toBeGreaterThan(Date.now() - 10_000);
    await new Promise((r) => setTimeout(r, 5));
    const second = await (await call('POST', '', key, { name: '  All  ', params: {} })).json<Saved>();
    expect(second).toMatchObject({ name: 'All', params: {} });
    expect((await list(key)).map((s) => s.name)).toEqual(['All', 'Checkout errors']);
    expect((await list(key))[1]).toEqual(first);

    const deleted = await call('DELETE', `/${first.id}`, key);
    expect(deleted.status).toBe(204);
    expect((await list(key)).map((s) => s.id)).toEqual([second.id]);
    const again = await call('DELETE', `/${first.id}`, key);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'not_found' });
  });

  it("never shows or deletes another tenant's saved searches", async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const ofB = await (await call('POST', '', b.key, { name: 'secret of b', params: { q: 'b' } })).json<Saved>();
    expect(await list(a.key)).toEqual([]);
    expect((await call('DELETE', `/${ofB.id}`, a.key)).status).toBe(404);
    expect((await list(b.key)).map((s) => s.id)).toEqual([ofB.id]);
    // The same name in two tenants is two searches.
    expect((await call('POST', '', a.key, { name: 'secret of b', params: {} })).status).toBe(201);
  });

  it('refuses a second search of the same name with 409 already_exists', async () => {
    const { key } = await freshTenant();
    expect((await call('POST', '', key, { name: 'dup', params: {} })).status).toBe(201);
    const res = await call('POST', '', key, { name: 'dup', params: { q: 'other' } });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'already_exists', field: 'name' });
    expect(await list(key)).toHaveLength(1);
  });

  it(`keeps at most ${MAX_SAVED_SEARCHES} per tenant (409 too_many_saved_searches)`, async () => {
    const { tenant, key } = await freshTenant();
    const insert = env.CONTROL_DB.prepare("INSERT INTO saved_searches (id, tenant_id, name, params, created_by) VALUES (?1, ?2, ?1, '{}', 'test')");
    await env.CONTROL_DB.batch(Array.from({ length: MAX_SAVED_SEARCHES - 1 }, (_, i) => insert.bind(`fill-${tenant}-${i}`, tenant)));
    expect((await call('POST', '', key, { name: 'the last one', params: {} })).status).toBe(201);
    const res = await call('POST', '', key, { name: 'one too many', params: {} });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'too_many_saved_searches', limit: MAX_SAVED_SEARCHES });
    expect(await list(key)).toHaveLength(MAX_SAVED_SEARCHES);
    // Another tenant is not affected.
    expect((await call('POST', '', (await freshTenant()).key, { name: 'one too many', params: {} })).status).toBe(201);
  });

  it('refuses a query that does not parse with 400 query_syntax at its position, as search does', async () => {
    const { key } = await freshTenant();
    const search = await exports.default.fetch(
      new Request('https://neurallog.test/v1/logs?q=level:error%20AND%20(x', { headers: { authorization: `Bearer ${key}` } }),
    );
    const expected = await search.json<{ position: number; expected: string }>();
    const res = await call('POST', '', key, { name: 'broken', params: { q: 'level:error AND (x' } });
    expect(res.status).toBe(400);
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({ error: 'query_syntax', field: 'params.q', position: expected.position, expected: expected.expected });
    expect(await list(key)).toEqual([]);
  });

  it('answers 400 naming the field for names and params out of bounds', async () => {
    const { key } = await freshTenant();
    for (const [body, field] of [
      [{ params: {} }, 'name'],
      [{ name: '', params: {} }, 'name'],
      [{ name: '   ', params: {} }, 'name'],
      [{ name: 'x'.repeat(201), params: {} }, 'name'],
      [{ name: 5, params: {} }, 'name'],
      [{ name: 'p' }, 'params'],
      [{ name: 'p', params: { q: 5 } }, 'params.q'],
      [{ name: 'p', params: { q: 'x'.repeat(4097) } }, 'params.q'],
      [{ name: 'p', params: { from: 'yesterday-ish' } }, 'params.from'],
      [{ name: 'p', params: { from: 'now', to: 'now-1h' } }, 'params.from'],
      [{ name: 'p', params: { level: 'loud' } }, 'params.level'],
      [{ name: 'p', params: { columns: 'attr.x' } }, 'params.columns'],
      [{ name: 'p', params: { columns: Array(101).fill('c') } }, 'params.columns'],
      [{ name: 'p', params: { columns: [''] } }, 'params.columns.0'],
      [{ name: 'p', params: { sql: 'DROP TABLE logs' } }, 'params'],
    ] as const) {
      const res = await call('POST', '', key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json(), JSON.stringify(body)).toMatchObject({ field });
    }
    expect((await call('POST', '', key, { name: 'x'.repeat(200), params: {} })).status).toBe(201);
  });

  it("takes Object.prototype's member names as names, queries and columns, and refuses them as params keys", async () => {
    const { key } = await freshTenant();
    for (const name of HOSTILE_NAMES) {
      const res = await call('POST', '', key, { name, params: { q: `${name}:x`, service: name, columns: [name, `attr.${name}`] } });
      expect(res.status, name).toBe(201);
      expect(await res.json()).toMatchObject({ name, params: { q: `${name}:x`, service: name, columns: [name, `attr.${name}`] } });
    }
    expect((await list(key)).map((s) => s.name).sort()).toEqual([...HOSTILE_NAMES].sort());
    // A __proto__ key inside params is an unknown field, not a way around validation.
    const proto = await call('POST', '', key, '{"name": "proto", "params": {"__proto__": {"q": "("}}}');
    expect(proto.status).toBe(400);
    expect(await proto.json()).toMatchObject({ field: 'params' });
    const topLevel = await call('POST', '', key, '{"__proto__": {"name": "n", "params": {}}}');
    expect(topLevel.status).toBe(400);
    for (const id of HOSTILE_NAMES) expect((await call('DELETE', `/${id}`, key)).status, id).toBe(404);
  });

  it('needs logs:read', async () => {
    const { tenant } = await freshTenant();
    const writer = await provisionKey(tenant, ['logs:write']);
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['POST', '', { name: 'w', params: {} }],
      ['DELETE', '/x', undefined],
    ] as const) {
      const res = await call(method, path, writer, body);
      expect(res.status, method).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:read' });
    }
    expect((await call('GET', '', 'nlk_nope')).status).toBe(401);
    // The dev key (all scopes) works too.
    expect((await call('GET', '', TEST_API_KEY)).status).toBe(200);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await (await exports.default.fetch(new Request('https://neurallog.test/openapi.json'))).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(Object.keys(doc.paths['/v1/saved-searches']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/saved-searches/{id}']!)).toEqual(['delete']);
    expect(Object.keys(doc.paths['/v1/logs/export']!)).toEqual(['get']);
  });
});
