/**
 * The encryption key registry (docs/encryption.md): public keys only, the key
 * id computed by the server (RFC 7638, as jose computes it), revocation,
 * every change audited, another tenant's admin refused.
 */
import { env, exports } from 'cloudflare:workers';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { TEST_PLATFORM_ADMIN_TOKEN } from '../support/constants.ts';
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

async function keyPair(): Promise<{ publicJwk: Record<string, unknown>; privateJwk: Record<string, unknown> }> {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256', extractable: true });
  return { publicJwk: { ...(await exportJWK(publicKey)) }, privateJwk: { ...(await exportJWK(privateKey)) } };
}

const tenantId = () => `t-${crypto.randomUUID().slice(0, 10)}`;

describe('encryption keys (admin API)', () => {
  it('registers a public key under its RFC 7638 thumbprint, lists it, revokes it, each step audited', async () => {
    const id = tenantId();
    await provisionTenant(id);
    const { publicJwk } = await keyPair();
    const kid = await calculateJwkThumbprint(publicJwk as never);
    const res = await admin('POST', `/tenants/${id}/encryption-keys`, { name: 'prod 2026', publicKey: { ...publicJwk, kid: 'ignored', use: 'enc' } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      kid,
      name: 'prod 2026',
      publicKey: { kty: 'EC', crv: 'P-256', x: publicJwk.x, y: publicJwk.y },
      createdAt: expect.any(String),
      revokedAt: null,
    });
    expect((await admin('POST', `/tenants/${id}/encryption-keys`, { name: 'again', publicKey: publicJwk })).status).toBe(409);

    const listed = await (await admin('GET', `/tenants/${id}/encryption-keys`)).json<{ keys: { kid: string }[] }>();
    expect(listed.keys.map((k) => k.kid)).toEqual([kid]);

    const revoked = await admin('DELETE', `/tenants/${id}/encryption-keys/${kid}`);
    expect(await revoked.json()).toMatchObject({ kid, revokedAt: expect.any(String) });
    const row = await env.CONTROL_DB.prepare('SELECT revoked_at FROM encryption_keys WHERE tenant_id = ? AND kid = ?')
      .bind(id, kid)
      .first<{ revoked_at: number }>();
    expect(row!.revoked_at).toBeGreaterThan(0);
    expect((await admin('DELETE', `/tenants/${id}/encryption-keys/${'A'.repeat(43)}`)).status).toBe(404);

    const audit = await (await admin('GET', `/tenants/${id}/audit`)).json<{ entries: { action: string; details: Record<string, unknown> }[] }>();
    expect(audit.entries.map((e) => [e.action, e.details.kid])).toEqual([
      ['encryption_key.revoke', kid],
      ['encryption_key.register', kid],
    ]);
  });

  it('refuses a private JWK, other curves and key types, and coordinates that are not a point on P-256', async () => {
    const id = tenantId();
    await provisionTenant(id);
    const { publicJwk, privateJwk } = await keyPair();
    const refused = async (publicKey: unknown) => {
      const res = await admin('POST', `/tenants/${id}/encryption-keys`, { name: 'x', publicKey });
      expect(res.status).toBe(400);
      return res.json<{ field: string; message: string }>();
    };
    expect(await refused(privateJwk)).toMatchObject({ field: 'publicKey', message: expect.stringMatching(/private key/) });
    expect((await refused({ ...publicJwk, crv: 'P-384' })).message).toMatch(/P-256/);
    expect((await refused({ kty: 'RSA', n: 'AQAB', e: 'AQAB' })).message).toMatch(/kty "EC"/);
    expect((await refused({ ...publicJwk, y: publicJwk.x })).message).toMatch(/not a point on P-256/);
    expect((await refused({ ...publicJwk, x: 'short' })).message).toMatch(/x: 32 bytes/);
    const stored = await env.CONTROL_DB.prepare('SELECT count(*) AS n FROM encryption_keys WHERE tenant_id = ?').bind(id).first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });

  it("lets a tenant's admin manage its own keys, not another tenant's", async () => {
    const mine = tenantId();
    const theirs = tenantId();
    await provisionTenant(mine);
    await provisionTenant(theirs);
    const token = await provisionKey(mine, ['admin']);
    const { publicJwk } = await keyPair();
    expect((await admin('POST', `/tenants/${mine}/encryption-keys`, { name: 'mine', publicKey: publicJwk }, token)).status).toBe(201);
    expect((await admin('POST', `/tenants/${theirs}/encryption-keys`, { name: 'theirs', publicKey: publicJwk }, token)).status).toBe(403);
    expect((await admin('GET', `/tenants/${theirs}/encryption-keys`, undefined, token)).status).toBe(403);
  });
});
