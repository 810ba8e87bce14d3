import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { formatApiKey, generateApiKey, parseApiKey } from '../../shared/api-keys.ts';
import { TEST_KEY_CACHE_TTL_MS } from '../support/constants.ts';
import { provisionKey, provisionTenant, revokeKey } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';

function post(key: string, body: unknown = { message: 'hi' }, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }),
  );
}

const INVALID = { error: 'invalid_credentials', message: 'the credential is not valid' };

describe('API keys', () => {
  it('have a prefix, a key id, a secret and a checksum that catches typos', () => {
    const { key, keyId } = generateApiKey();
    expect(key).toMatch(/^nlk_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(parseApiKey(key)).toEqual({ keyId, key });
    const typo = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
    expect(parseApiKey(typo)).toBeNull();
    expect(parseApiKey(key.slice(0, -1))).toBeNull();
    expect(parseApiKey(`${key}x`)).toBeNull();
    expect(generateApiKey().key).not.toBe(key);
  });

  it('accept a write-scoped key for ingest, and refuse a read-only key with 403', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const writer = await provisionKey(tenant, ['logs:write']);
    const reader = await provisionKey(tenant, ['logs:read']);
    expect((await post(writer)).status).toBe(202);
    const refused = await post(reader);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:write' });
  });

  it('answer every wrong key with the same 401 body, never saying what was wrong', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const good = await provisionKey(tenant, ['logs:write']);
    const { keyId } = parseApiKey(good)!;
    const wrongSecret = formatApiKey(keyId, 'x'.repeat(32)); // valid checksum, right id, wrong secret
    const unknownId = generateApiKey().key; // well formed, never provisioned
    const badChecksum = `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`;
    const expired = await provisionKey(tenant, ['logs:write'], { expiresAt: Date.now() - 1000 });
    const revoked = await provisionKey(tenant, ['logs:write'], { revokedAt: Date.now() - 1000 });
    for (const key of [wrongSecret, unknownId, badChecksum, expired, revoked, 'nlk_', 'not-a-key']) {
      const res = await post(key);
      expect(res.status, key).toBe(401);
      const body = await res.json<Record<string, unknown>>();
      expect({ error: body.error, message: body.message }).toEqual(INVALID);
    }
  });

  it(`stop working within ${TEST_KEY_CACHE_TTL_MS} ms of being revoked, even when cached`, async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    expect((await post(key)).status).toBe(202); // now cached in this isolate
    await revokeKey(key);
    await new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 50));
    expect((await post(key)).status).toBe(401);
  });

  it('are accepted in the forms shippers send: Bearer, Basic with the key as password, ApiKey', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    for (const authorization of [`Bearer ${key}`, `Basic ${btoa(`anyone:${key}`)}`, `ApiKey ${key}`]) {
      const res = await exports.default.fetch(
        new Request('https://neurallog.test/v1/logs', {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: '{"message":"x"}',
        }),
      );
      expect(res.status, authorization.split(' ')[0]).toBe(202);
    }
    for (const authorization of [`Basic ${btoa(key)}`, 'Basic !!!', `Digest ${key}`]) {
      const res = await exports.default.fetch(
        new Request('https://neurallog.test/v1/logs', { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{}' }),
      );
      expect(res.status, authorization).toBe(401);
    }
  });

  it('refuse a suspended tenant with 403', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { status: 'suspended' });
    const key = await provisionKey(tenant, ['logs:write']);
    const res = await post(key);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'tenant_suspended' });
  });
});
