/**
 * The explorer's sessions: POST/GET/DELETE /v1/session on the admin worker,
 * and the cookie as a credential of the admin API (scopes, CSRF, audit).
 */
import { env, exports } from 'cloudflare:workers';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { HOSTILE_NAMES, TEST_API_KEY, TEST_JWT_AUDIENCE, TEST_JWT_ISSUER, TEST_KEY_CACHE_TTL_MS, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant, revokeKey } from '../support/control-plane.ts';
import { authenticateRequest } from '../../shared/auth.ts';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { signedCookie } from '../support/sessions.ts';

const privateJwk = JSON.parse(env.TEST_JWT_PRIVATE_JWK) as { kid: string };
const signingKey = await importJWK(privateJwk, 'RS256');

async function jwt(claims: JWTPayload, expiresInSeconds = 600): Promise<string> {
  return new SignJWT({ sub: 'user_42', tenant_id: TEST_TENANT, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid })
    .setIssuer(TEST_JWT_ISSUER)
    .setAudience(TEST_JWT_AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(signingKey);
}

function call(method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; origin?: string } = {}): Promise<Response> {
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  return exports.default.fetch(
    new Request(`${init.origin ?? 'https://neurallog.test'}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body,
    }),
  );
}

interface SessionBody {
  tenant: { id: string; name: string };
  scopes: string[];
  expiresAt: string;
  csrfToken: string;
}

async function signIn(credential: string, origin?: string): Promise<{ res: Response; body: SessionBody; cookie: string; setCookie: string }> {
  const res = await call('POST', '/v1/session', { body: { credential }, origin });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = res.status === 200 ? await res.json<SessionBody>() : ({} as SessionBody);
  return { res, body, cookie: setCookie.split(';')[0]!, setCookie };
}

const tenantId = () => `s-${crypto.randomUUID().slice(0, 10)}`;
const sleepPastCache = () => new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 100));

describe('POST /v1/session', () => {
  it('exchanges an API key for an HttpOnly, SameSite=Strict cookie, Secure over HTTPS', async () => {
    const before = Date.now();
    const { res, body, setCookie } = await signIn(TEST_API_KEY);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(body.tenant).toEqual({ id: TEST_TENANT, name: TEST_TENANT });
    expect(body.scopes).toEqual(['logs:write', 'logs:read', 'analytics:read', 'admin', 'billing:read']);
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const expiresAt = Date.parse(body.expiresAt);
    expect(expiresAt).toBeGreaterThan(before + 28_800_000 - 2000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 28_800_000);
    const attributes = setCookie.split(';').map((a) => a.trim());
    expect(attributes[0]).toMatch(/^nl_session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(attributes.slice(1).sort()).toEqual([
      'HttpOnly',
      `Max-Age=${attributes.find((a) => a.startsWith('Max-Age='))!.slice(8)}`,
      'Path=/',
      'SameSite=Strict',
      'Secure',
    ]);
    expect(Number(attributes.find((a) => a.startsWith('Max-Age='))!.slice(8))).toBeGreaterThan(28_800 - 3);
    // The cookie holds no part of the key.
    expect(setCookie).not.toContain(TEST_API_KEY.slice(18, 40));

    const plain = await signIn(TEST_API_KEY, 'http://127.0.0.1:8787');
    expect(plain.res.status).toBe(200);
    expect(plain.setCookie).not.toMatch(/Secure/i);
  });

  it('exchanges a JWT for a session with its scopes, never outliving the token', async () => {
    const { res, body, setCookie } = await signIn(await jwt({ roles: ['viewer'] }, 600));
    expect(res.status).toBe(200);
    expect(body.scopes).toEqual(['logs:read', 'analytics:read', 'alerts:read']);
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)![1]);
    expect(maxAge).toBeGreaterThan(590);
    expect(maxAge).toBeLessThanOrEqual(600);
    expect(Date.parse(body.expiresAt)).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('refuses a bad credential with the same 401 as a bad Bearer credential', async () => {
    const viaHeader = await call('GET', `/v1/admin/tenants/${TEST_TENANT}`, { headers: { authorization: 'Bearer nlk_nope' } });
    const expected = await viaHeader.json<Record<string, unknown>>();
    for (const credential of ['nlk_nope', `${TEST_API_KEY.slice(0, -1)}x`, 'a.b.c', await jwt({ roles: ['viewer'] }, -60)]) {
      const { res, setCookie } = await signIn(credential);
      expect(res.status, credential).toBe(401);
      expect(setCookie).toBe('');
      const body = await res.json<Record<string, unknown>>();
      expect({ ...body, requestId: undefined }).toEqual({ ...expected, requestId: undefined });
    }
  });

  it('answers 400 naming the field for a malformed body, and a form post signs nobody in', async () => {
    for (const body of [{}, { credential: '' }, { credential: 5 }, { credential: 'x'.repeat(9000) }, { __proto__: { credential: TEST_API_KEY } }]) {
      const res = await call('POST', '/v1/session', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', field: 'credential' });
    }
    // JSON.stringify drops a __proto__ set through a literal; send the text itself.
    const proto = await call('POST', '/v1/session', { body: `{"__proto__": {"credential": "${TEST_API_KEY}"}}` });
    expect(proto.status).toBe(400);
    expect(proto.headers.get('set-cookie')).toBeNull();
    // A cross-site form can send text/plain or a form encoding, never application/json.
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await exports.default.fetch(
        new Request('https://neurallog.test/v1/session', {
          method: 'POST',
          headers: { 'content-type': contentType },
          body: JSON.stringify({ credential: TEST_API_KEY }),
        }),
      );
      expect(res.status, contentType).toBe(415);
      expect(res.headers.get('set-cookie'), contentType).toBeNull();
    }
  });

  it('audits the sign-in under the credential, never the secret', async () => {
    const tenant = tenantId();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:read']);
    const { body } = await signIn(key);
    const rows = await env.CONTROL_DB.prepare("SELECT actor, details FROM audit_log WHERE tenant_id = ? AND action = 'session.open'")
      .bind(tenant)
      .all<{ actor: string; details: string }>();
    expect(rows.results).toHaveLength(1);
    expect(rows.results[0]!.actor).toBe(`key:${key.slice(4, 16)}`);
    expect(rows.results[0]!.details).not.toContain(key);
    expect(rows.results[0]!.details).not.toContain(body.csrfToken);
  });
});

describe('GET /v1/session', () => {
  it('answers the session in the cookie, with its CSRF token', async () => {
    const { body, cookie } = await signIn(TEST_API_KEY);
    const res = await call('GET', '/v1/session', { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(body);
  });

  it('answers 401 unauthenticated without a session, and for a forged, re-signed or expired token (clearing the cookie)', async () => {
    const none = await call('GET', '/v1/session');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'unauthenticated' });

    const { cookie } = await signIn(TEST_API_KEY);
    const token = cookie.slice('nl_session='.length);
    const [header, payload] = token.split('.');
    const claims = JSON.parse(atob(payload!.replace(/-/g, '+').replace(/_/g, '/'))) as { jti: string; sub: string; tid: string; csrf: string; exp: number };
    const asClaims = { id: claims.jti, tenantId: claims.tid, credential: claims.sub, csrfToken: claims.csrf, expiresAt: claims.exp * 1000, scopes: null };
    // Another tenant in the payload, the signature kept: the signature no longer holds.
    const otherPayload = btoa(JSON.stringify({ ...claims, tid: 'other' }))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    const forged = [
      `nl_session=${header}.${otherPayload}.${token.split('.')[2]}`,
      await signedCookie(asClaims, { secret: 'another_secret_of_32_characters_or_more!!' }),
      await signedCookie(asClaims, { exp: Math.floor(Date.now() / 1000) - 5 }),
      await signedCookie(asClaims, { issuer: TEST_JWT_ISSUER }),
      `nl_session=${token.split('.').slice(0, 2).join('.')}.`,
      'nl_session=garbage',
    ];
    for (const bad of forged) {
      const res = await call('GET', '/v1/session', { headers: { cookie: bad } });
      expect(res.status, bad).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
      expect(res.headers.get('set-cookie'), bad).toMatch(/^nl_session=; .*Max-Age=0/);
      // …and as a credential of the admin API: the 401 every bad credential gets.
      const admin = await call('GET', `/v1/admin/tenants/${TEST_TENANT}`, { headers: { cookie: bad } });
      expect(admin.status, bad).toBe(401);
      expect(await admin.json()).toMatchObject({ error: 'invalid_credentials' });
    }
    // The same claims signed with the real secret are accepted: it is the signature and expiry that were refused.
    expect((await call('GET', '/v1/session', { headers: { cookie: await signedCookie(asClaims) } })).status).toBe(200);
  });
});

describe('DELETE /v1/session', () => {
  it('needs the CSRF token, then ends the session and clears the cookie', async () => {
    const { body, cookie } = await signIn(TEST_API_KEY);
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'wrong' }, { cookie, 'x-csrf-token': `${body.csrfToken}x` }] as Record<string, string>[]) {
      const res = await call('DELETE', '/v1/session', { headers });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'csrf_failed' });
    }
    expect((await call('GET', '/v1/session', { headers: { cookie } })).status).toBe(200);
    const res = await call('DELETE', '/v1/session', { headers: { cookie, 'x-csrf-token': body.csrfToken } });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^nl_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0; Secure$/);
    await sleepPastCache();
    expect((await call('GET', '/v1/session', { headers: { cookie } })).status).toBe(401);
    expect((await call('GET', `/v1/admin/tenants/${TEST_TENANT}`, { headers: { cookie } })).status).toBe(401);
    const row = await env.CONTROL_DB.prepare('SELECT revoked_at FROM sessions WHERE credential = ? AND revoked_at IS NOT NULL ORDER BY revoked_at DESC LIMIT 1')
      .bind('key:testkeyid000')
      .first<{ revoked_at: number }>();
    expect(row?.revoked_at).toBeGreaterThan(Date.now() - 10_000);
  });

  it('only clears the cookie when there is no session', async () => {
    for (const headers of [{}, { cookie: 'nl_session=garbage' }] as Record<string, string>[]) {
      const res = await call('DELETE', '/v1/session', { headers });
      expect(res.status).toBe(204);
      expect(res.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    }
  });
});

describe('the session cookie as a credential of the admin API', () => {
  it('gives a logs:read session 403 on key management', async () => {
    const tenant = tenantId();
    await provisionTenant(tenant);
    const { body, cookie } = await signIn(await provisionKey(tenant, ['logs:read']));
    expect(body.scopes).toEqual(['logs:read']);
    const list = await call('GET', `/v1/admin/tenants/${tenant}/keys`, { headers: { cookie } });
    expect(list.status).toBe(403);
    expect(await list.json()).toMatchObject({ error: 'insufficient_scope', required: 'admin' });
    const create = await call('POST', `/v1/admin/tenants/${tenant}/keys`, {
      headers: { cookie, 'x-csrf-token': body.csrfToken },
      body: { name: 'x', scopes: ['admin'] },
    });
    expect(create.status).toBe(403);
    // A viewer JWT's session too.
    const viewer = await signIn(await jwt({ roles: ['viewer'] }));
    expect((await call('GET', `/v1/admin/tenants/${TEST_TENANT}/keys`, { headers: { cookie: viewer.cookie } })).status).toBe(403);
  });

  it('lets an admin session manage keys with the CSRF token, audited as the session with its credential', async () => {
    const { body, cookie } = await signIn(TEST_API_KEY);
    const path = `/v1/admin/tenants/${TEST_TENANT}/keys`;
    const withoutToken = await call('POST', path, { headers: { cookie }, body: { name: 'csrf', scopes: ['logs:read'] } });
    expect(withoutToken.status).toBe(403);
    expect(await withoutToken.json()).toMatchObject({ error: 'csrf_failed' });
    expect((await call('GET', path, { headers: { cookie } })).status).toBe(200); // a safe method needs none
    const created = await call('POST', path, { headers: { cookie, 'x-csrf-token': body.csrfToken }, body: { name: 'from a session', scopes: ['logs:read'] } });
    expect(created.status).toBe(201);
    const { id } = await created.json<{ id: string }>();
    const audit = await (await call('GET', `/v1/admin/tenants/${TEST_TENANT}/audit`, { headers: { cookie } })).json<{
      entries: { action: string; actor: string; credential: string | null; details: { keyId?: string } }[];
    }>();
    const entry = audit.entries.find((e) => e.action === 'key.create' && e.details.keyId === id)!;
    expect(entry.actor).toMatch(/^session:[A-Za-z0-9_-]{20,}$/);
    expect(entry.credential).toBe('key:testkeyid000');
    // A Bearer request needs no CSRF token, and is audited under its key.
    const bearer = await call('POST', path, { headers: { authorization: `Bearer ${TEST_API_KEY}` }, body: { name: 'bearer', scopes: ['logs:read'] } });
    expect(bearer.status).toBe(201);
    const after = await (await call('GET', `/v1/admin/tenants/${TEST_TENANT}/audit`, { headers: { cookie } })).json<{
      entries: { actor: string; credential: string | null }[];
    }>();
    expect(after.entries[0]).toMatchObject({ actor: 'key:testkeyid000', credential: null });
  });

  it('lets an Authorization header win over the cookie', async () => {
    const { cookie } = await signIn(TEST_API_KEY);
    const tenant = tenantId();
    await provisionTenant(tenant);
    const reader = await provisionKey(tenant, ['logs:read']);
    const path = `/v1/admin/tenants/${TEST_TENANT}/keys`;
    expect((await call('GET', path, { headers: { cookie } })).status).toBe(200);
    expect((await call('GET', path, { headers: { cookie, authorization: `Bearer ${reader}` } })).status).toBe(403);
    expect((await call('GET', path, { headers: { cookie, authorization: 'Bearer nlk_nope' } })).status).toBe(401);
  });

  it('ends the sessions of a revoked key, and refuses those of a suspended tenant as its key', async () => {
    const tenant = tenantId();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:read', 'admin']);
    const revoked = await signIn(key);
    const suspended = await signIn(await provisionKey(tenant, ['logs:read', 'admin']));
    expect((await call('GET', '/v1/session', { headers: { cookie: revoked.cookie } })).status).toBe(200);
    await revokeKey(key);
    await env.CONTROL_DB.prepare("UPDATE tenants SET status = 'suspended' WHERE id = ?").bind(tenant).run();
    await sleepPastCache();
    const gone = await call('GET', '/v1/session', { headers: { cookie: revoked.cookie } });
    expect(gone.status).toBe(401);
    expect((await call('GET', `/v1/admin/tenants/${tenant}`, { headers: { cookie: revoked.cookie } })).status).toBe(401);
    const held = await call('GET', `/v1/admin/tenants/${tenant}`, { headers: { cookie: suspended.cookie } });
    expect(held.status).toBe(403);
    expect(await held.json()).toMatchObject({ error: 'tenant_suspended' });
    expect((await call('GET', '/v1/session', { headers: { cookie: suspended.cookie } })).status).toBe(403);
  });

  it('gives a tenant-admin JWT session the admin scope over its own tenant only', async () => {
    const { cookie } = await signIn(await jwt({ roles: ['tenant-admin'] }));
    expect((await call('GET', `/v1/admin/tenants/${TEST_TENANT}/keys`, { headers: { cookie } })).status).toBe(200);
    const other = tenantId();
    await provisionTenant(other);
    expect((await call('GET', `/v1/admin/tenants/${other}/keys`, { headers: { cookie } })).status).toBe(403);
  });

  it('reads nothing of a cookie named after an Object.prototype member', async () => {
    for (const name of HOSTILE_NAMES) {
      const res = await call('GET', '/v1/session', { headers: { cookie: `${name}=x; nl_sessionx=y` } });
      expect(res.status, name).toBe(401);
    }
  });

  it('documents the session routes in the OpenAPI document', async () => {
    const doc = await (await call('GET', '/openapi.json')).json<{
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>();
    expect(Object.keys(doc.paths['/v1/session']!).sort()).toEqual(['delete', 'get', 'post']);
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'nl_session' });
    expect(doc.paths['/v1/admin/tenants/{tenantId}/keys']!.get!.security).toEqual([{ bearer: [] }, { session: [] }]);
  });

  it('takes a session secret of at least 32 characters that is not the JWT secret, and needs it only for sessions', async () => {
    expect(() => loadConfig({ NEURALLOG_SESSION_SECRET: 'too short' })).toThrow(ConfigError);
    const shared = 'x'.repeat(40);
    expect(() => loadConfig({ NEURALLOG_SESSION_SECRET: shared, NEURALLOG_JWT_SECRET: shared })).toThrow(/differ/);
    // A worker without it still takes Bearer credentials; a cookie there is a configuration error, never a pass.
    const { cookie } = await signIn(TEST_API_KEY);
    const bare = { CONTROL_DB: env.CONTROL_DB };
    const bearer = await authenticateRequest(new Request('https://neurallog.test/', { headers: { authorization: `Bearer ${TEST_API_KEY}` } }), bare);
    expect(bearer.tenantId).toBe(TEST_TENANT);
    await expect(authenticateRequest(new Request('https://neurallog.test/', { headers: { cookie } }), bare)).rejects.toThrow(ConfigError);
  });
});
