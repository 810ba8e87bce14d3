/**
 * The session cookie as the ingest worker's credential: live tail (a GET: no
 * CSRF token), writes (which need it), erasure audited as the session; and
 * the gateway's routes to the new endpoints.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { allowedMethods, resolveUpstream } from '../../workers/gateway/routes.ts';
import { TEST_KEY_CACHE_TTL_MS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';
import { openSession, revokeSession } from '../support/sessions.ts';
import { eventually } from '../support/eventually.ts';

function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function tenantWithKey(scopes: Parameters<typeof provisionKey>[1]) {
  const tenant = uniqueTenant('sess');
  await provisionTenant(tenant);
  return { tenant, key: await provisionKey(tenant, scopes) };
}

describe('the session cookie on the ingest worker', () => {
  it('opens the live tail with the cookie alone, and streams what the tenant ingests', async () => {
    const { key } = await tenantWithKey(['logs:read', 'logs:write']);
    const session = await openSession(key);
    const tag = `cookietail${crypto.randomUUID().slice(0, 8)}`;
    const res = await call('GET', `/v1/tail?q=${tag}`, { cookie: session.cookie, upgrade: 'websocket', origin: 'https://neurallog.test' });
    expect(res.status).toBe(101);
    const socket = res.webSocket!;
    const messages: { type: string; logs?: { body: string }[] }[] = [];
    socket.addEventListener('message', (e) => {
      messages.push(JSON.parse(e.data as string));
    });
    socket.accept();
    const until = (what: string, done: () => boolean) => eventually(what, done, { timeoutMs: 5_000, intervalMs: 20, context: () => JSON.stringify(messages) });
    await until('the hello', () => messages.some((m) => m.type === 'hello'));
    expect((await call('POST', '/v1/logs', { authorization: `Bearer ${key}` }, [{ message: `${tag} live` }])).status).toBe(202);
    await until('the live record', () => messages.some((m) => m.type === 'logs'));
    expect(messages.flatMap((m) => m.logs ?? []).map((l) => l.body)).toEqual([`${tag} live`]);
    socket.close();
  });

  it("refuses a tail opened with the cookie from another site's page (or none), not one opened with a key", async () => {
    const { key } = await tenantWithKey(['logs:read']);
    const session = await openSession(key);
    for (const origin of ['https://evil.example', 'null', 'https://neurallog.test.evil.example', undefined]) {
      const res = await call('GET', '/v1/tail?q=x', { cookie: session.cookie, upgrade: 'websocket', ...(origin === undefined ? {} : { origin }) });
      expect(res.status, String(origin)).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'origin_refused' });
    }
    const withKey = await call('GET', '/v1/tail?q=x', { authorization: `Bearer ${key}`, upgrade: 'websocket', origin: 'https://evil.example' });
    expect(withKey.status).toBe(101); // a key is not ambient: whoever holds it may tail from anywhere
    withKey.webSocket!.accept();
    withKey.webSocket!.close();
  });

  it('refuses the tail to a signed-out session and to a session without logs:read', async () => {
    const { key } = await tenantWithKey(['logs:read']);
    const session = await openSession(key);
    await revokeSession(session);
    await new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 100));
    expect((await call('GET', '/v1/tail?q=x', { cookie: session.cookie, upgrade: 'websocket' })).status).toBe(401);
    const writer = await openSession((await tenantWithKey(['logs:write'])).key);
    expect((await call('GET', '/v1/tail?q=x', { cookie: writer.cookie, upgrade: 'websocket', origin: 'https://neurallog.test' })).status).toBe(403);
  });

  it('takes writes with the cookie only with the CSRF token', async () => {
    const { key } = await tenantWithKey(['logs:write']);
    const session = await openSession(key);
    const refused = await call('POST', '/v1/logs', { cookie: session.cookie }, [{ message: 'no token' }]);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'csrf_failed' });
    expect((await call('POST', '/v1/logs', { cookie: session.cookie, 'x-csrf-token': session.csrfToken }, [{ message: 'with token' }])).status).toBe(202);
    expect((await call('GET', '/v1/limits', { cookie: session.cookie })).status).toBe(200);
  });

  it('audits an erasure made by a session as the session, with the credential behind it', async () => {
    const { tenant, key } = await tenantWithKey(['admin']);
    const session = await openSession(key);
    const range = new URLSearchParams({ from: new Date(Date.now() - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });
    expect((await call('DELETE', `/v1/logs?${range}`, { cookie: session.cookie })).status).toBe(403);
    const res = await call('DELETE', `/v1/logs?${range}`, { cookie: session.cookie, 'x-csrf-token': session.csrfToken });
    expect(res.status).toBe(200);
    const entry = await env.CONTROL_DB.prepare("SELECT actor, credential FROM audit_log WHERE tenant_id = ? AND action = 'logs.delete'")
      .bind(tenant)
      .first<{ actor: string; credential: string }>();
    expect(entry).toEqual({ actor: `session:${session.claims.id}`, credential: `key:${key.slice(4, 16)}` });
  });
});

describe('gateway routes of the explorer', () => {
  it('sends sessions to admin, saved searches and export to query', () => {
    for (const method of ['GET', 'POST', 'DELETE']) expect(resolveUpstream(method, '/v1/session'), method).toBe('ADMIN');
    expect(resolveUpstream('PUT', '/v1/session')).toBeNull();
    expect(resolveUpstream('GET', '/v1/saved-searches')).toBe('QUERY');
    expect(resolveUpstream('POST', '/v1/saved-searches')).toBe('QUERY');
    expect(resolveUpstream('DELETE', '/v1/saved-searches/3f1c')).toBe('QUERY');
    expect(resolveUpstream('GET', '/v1/logs/export')).toBe('QUERY');
    expect(resolveUpstream('POST', '/v1/logs/export')).toBeNull();
    expect(allowedMethods('/v1/session')).toEqual(['GET', 'POST', 'DELETE']);
  });
});
