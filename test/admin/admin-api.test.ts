import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../shared/auth.ts';
import { TEST_API_KEY, TEST_KEY_CACHE_TTL_MS, TEST_PLATFORM_ADMIN_TOKEN, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

async function admin(method: string, path: string, body?: unknown, token = TEST_PLATFORM_ADMIN_TOKEN): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

const tenantId = () => `t-${crypto.randomUUID().slice(0, 10)}`;

describe('admin API', () => {
  it('lets the platform admin create, read, re-plan, suspend and resume tenants, each step audited', async () => {
    const id = tenantId();
    const created = await admin('POST', '/tenants', { id, name: 'Acme', plan: 'professional' });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id, name: 'Acme', plan: 'professional', status: 'active', retentionDays: 30 });
    expect((await admin('POST', '/tenants', { id, name: 'Acme', plan: 'starter' })).status).toBe(409);
    expect(await (await admin('GET', `/tenants/${id}`)).json()).toMatchObject({ id, plan: 'professional' });
    expect(await (await admin('PATCH', `/tenants/${id}`, { plan: 'enterprise' })).json()).toMatchObject({ plan: 'enterprise', shardCount: 8 });
    expect(await (await admin('PATCH', `/tenants/${id}`, { shardCount: 4 })).json()).toMatchObject({ shardCount: 4 });
    expect(await (await admin('PATCH', `/tenants/${id}`, { shardCount: null })).json()).toMatchObject({ shardCount: 8 });
    expect(await (await admin('PATCH', `/tenants/${id}`, { status: 'suspended' })).json()).toMatchObject({ status: 'suspended' });
    expect(await (await admin('PATCH', `/tenants/${id}`, { status: 'active' })).json()).toMatchObject({ status: 'active' });
    const list = await (await admin('GET', '/tenants')).json<{ tenants: { id: string }[] }>();
    expect(list.tenants.map((t) => t.id)).toContain(id);

    const audit = await (await admin('GET', `/tenants/${id}/audit`)).json<{ entries: { action: string; actor: string; requestId: string }[] }>();
    expect(audit.entries.map((e) => e.action)).toEqual(['tenant.resume', 'tenant.suspend', 'tenant.update', 'tenant.update', 'tenant.update', 'tenant.create']);
    expect(audit.entries.every((e) => e.actor === 'platform-admin' && e.requestId)).toBe(true);
  });

  it('creates a key shown once, stores only its hash, lists and revokes it', async () => {
    const id = tenantId();
    await admin('POST', '/tenants', { id, name: 'Keys', plan: 'starter' });
    const res = await admin('POST', `/tenants/${id}/keys`, { name: 'shipper', scopes: ['logs:write'] });
    expect(res.status).toBe(201);
    const created = await res.json<{ id: string; key: string; scopes: string[] }>();
    expect(created.key).toMatch(/^nlk_/);
    expect(created.scopes).toEqual(['logs:write']);
    const stored = await env.CONTROL_DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(created.id).first<Record<string, unknown>>();
    expect(JSON.stringify(stored)).not.toContain(created.key.slice(18)); // no part of the secret
    const principal = await authenticate(`Bearer ${created.key}`, env);
    expect(principal).toMatchObject({ tenantId: id, credential: { kind: 'api-key', keyId: created.id } });

    const listed = await (await admin('GET', `/tenants/${id}/keys`)).json<{ keys: Record<string, unknown>[] }>();
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]).not.toHaveProperty('key');
    expect(listed.keys[0]).not.toHaveProperty('secretHash');

    const revoked = await admin('DELETE', `/tenants/${id}/keys/${created.id}`);
    expect(await revoked.json()).toMatchObject({ id: created.id, revokedAt: expect.any(String) });
    await new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 50));
    await expect(authenticate(`Bearer ${created.key}`, env)).rejects.toMatchObject({ status: 401 });
    const audit = await (await admin('GET', `/tenants/${id}/audit`)).json<{ entries: { action: string; details: Record<string, unknown> }[] }>();
    expect(audit.entries.map((e) => e.action)).toEqual(['key.revoke', 'key.create', 'tenant.create']);
    expect(JSON.stringify(audit.entries)).not.toContain(created.key);
  });

  it('confines a tenant admin to its own tenant, and keeps plan changes for the platform admin', async () => {
    // TEST_API_KEY has the admin scope for the dev tenant.
    const own = await admin('GET', `/tenants/${TEST_TENANT}`, undefined, TEST_API_KEY);
    expect(own.status).toBe(200);
    const other = tenantId();
    await provisionTenant(other);
    expect((await admin('GET', `/tenants/${other}`, undefined, TEST_API_KEY)).status).toBe(403);
    expect((await admin('POST', `/tenants/${other}/keys`, { name: 'x', scopes: ['logs:read'] }, TEST_API_KEY)).status).toBe(403);
    expect((await admin('GET', `/tenants/${other}/keys`, undefined, TEST_API_KEY)).status).toBe(403);
    const listed = await (await admin('GET', '/tenants', undefined, TEST_API_KEY)).json<{ tenants: { id: string }[] }>();
    expect(listed.tenants.map((t) => t.id)).toEqual([TEST_TENANT]);
    expect((await admin('PATCH', `/tenants/${TEST_TENANT}`, { plan: 'enterprise' }, TEST_API_KEY)).status).toBe(403);
    expect((await admin('POST', '/tenants', { id: tenantId(), name: 'n', plan: 'starter' }, TEST_API_KEY)).status).toBe(403);
    const made = await admin('POST', `/tenants/${TEST_TENANT}/keys`, { name: 'ci', scopes: ['logs:read'] }, TEST_API_KEY);
    expect(made.status).toBe(201);
    const audit = await (await admin('GET', `/tenants/${TEST_TENANT}/audit`, undefined, TEST_API_KEY)).json<{ entries: { actor: string }[] }>();
    expect(audit.entries[0]!.actor).toBe('key:testkeyid000');
  });

  it('refuses credentials without the admin scope, and bad tokens', async () => {
    const reader = await provisionKey(TEST_TENANT, ['logs:read', 'logs:write']);
    const res = await admin('GET', '/tenants', undefined, reader);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope', required: 'admin' });
    expect((await admin('GET', '/tenants', undefined, `${TEST_PLATFORM_ADMIN_TOKEN}x`)).status).toBe(401);
    expect((await exports.default.fetch(new Request('https://neurallog.test/v1/admin/tenants'))).status).toBe(401);
  });

  it('answers invalid input with 400 naming the field', async () => {
    for (const [body, field] of [
      [{ id: '../etc', name: 'x', plan: 'starter' }, 'id'],
      [{ id: "a' OR 1=1", name: 'x', plan: 'starter' }, 'id'],
      [{ id: 'ok-id', name: 'x', plan: 'platinum' }, 'plan'],
      [{ id: 'ok-id', plan: 'starter' }, 'name'],
    ] as const) {
      const res = await admin('POST', '/tenants', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', field });
    }
    const badScope = await admin('POST', `/tenants/${TEST_TENANT}/keys`, { name: 'x', scopes: ['root'] });
    expect(await badScope.json()).toMatchObject({ error: 'invalid_request', field: 'scopes.0' });
    expect((await admin('GET', '/tenants/UPPER')).status).toBe(400);
    expect((await admin('GET', '/tenants/no-such-tenant')).status).toBe(404);
    const malformed = await exports.default.fetch(
      new Request('https://neurallog.test/v1/admin/tenants', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_PLATFORM_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: '{not json',
      }),
    );
    expect(malformed.status).toBe(400);
  });

  it('documents every route in its OpenAPI document', async () => {
    const doc = await (await exports.default.fetch(new Request('https://neurallog.test/openapi.json'))).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/metrics',
      '/v1/admin/platform/health',
      '/v1/admin/platform/metrics',
      '/v1/admin/tenants',
      '/v1/admin/tenants/{tenantId}',
      '/v1/admin/tenants/{tenantId}/audit',
      '/v1/admin/tenants/{tenantId}/encryption-keys',
      '/v1/admin/tenants/{tenantId}/encryption-keys/{kid}',
      '/v1/admin/tenants/{tenantId}/keys',
      '/v1/admin/tenants/{tenantId}/keys/{keyId}',
      '/v1/session',
    ]);
    expect(Object.keys(doc.paths['/v1/admin/tenants']!).sort()).toEqual(['get', 'post']);
  });
});
