/**
 * The session cookie as the query worker's credential: search, saved searches
 * (CSRF on unsafe methods), sign-out and revocation, tenant isolation.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { TEST_KEY_CACHE_TTL_MS } from '../support/constants.ts';
import { provisionKey, provisionTenant, revokeKey } from '../support/control-plane.ts';
import { openSession, revokeSession, signedCookie, type TestSession } from '../support/sessions.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const marker = `sess${crypto.randomUUID().slice(0, 8)}`;
const tenantA = `sa-${crypto.randomUUID().slice(0, 8)}`;
const tenantB = `sb-${crypto.randomUUID().slice(0, 8)}`;
let keyA: string;
let keyB: string;

function call(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

const search = (headers: Record<string, string>) => call('GET', `/v1/logs?q=${marker}`, headers);
const bodies = async (res: Response) => (await res.json<{ logs: { body: string }[] }>()).logs.map((l) => l.body);
const sleepPastCache = () => new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 100));

beforeAll(async () => {
  await provisionTenant(tenantA);
  await provisionTenant(tenantB);
  keyA = await provisionKey(tenantA, ['logs:read']);
  keyB = await provisionKey(tenantB, ['logs:read']);
  const receivedAt = formatClickHouseTime(instantFromMillis(Date.now()));
  await clickhouse.insert({
    table: 'logs',
    values: [tenantA, tenantB].map((tenantId, i) =>
      normalizeRecord({ message: `${marker} of ${tenantId}` }, i, { tenantId, retentionDays: 7, receivedAt, batchId: marker }),
    ),
    format: 'JSONEachRow',
  });
});

describe('the session cookie on the query worker', () => {
  it("searches with the cookie alone, and sees only its tenant's logs", async () => {
    const a = await openSession(keyA);
    const res = await search({ cookie: a.cookie });
    expect(res.status).toBe(200);
    expect(await bodies(res)).toEqual([`${marker} of ${tenantA}`]);
    // Nothing in the request moves it to another tenant.
    const pushy = await call('GET', `/v1/logs?q=${marker}&tenant=${tenantB}`, { cookie: a.cookie, 'x-scope-orgid': tenantB });
    expect(await bodies(pushy)).toEqual([`${marker} of ${tenantA}`]);
    const b = await openSession(keyB);
    expect(await bodies(await search({ cookie: b.cookie }))).toEqual([`${marker} of ${tenantB}`]);
    // Another cookie beside ours changes nothing; ours is found among them.
    expect((await search({ cookie: `theme=dark; ${a.cookie}; other=1` })).status).toBe(200);
  });

  it('needs the CSRF token for unsafe methods with the cookie, and none with Bearer', async () => {
    const a = await openSession(keyA);
    const save = (headers: Record<string, string>, name: string) => call('POST', '/v1/saved-searches', headers, { name, params: { q: marker } });
    for (const headers of [{ cookie: a.cookie }, { cookie: a.cookie, 'x-csrf-token': '' }, { cookie: a.cookie, 'x-csrf-token': 'forged' }] as Record<
      string,
      string
    >[]) {
      const res = await save(headers, 'refused');
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'csrf_failed', header: 'X-CSRF-Token' });
    }
    // Another session's token is not this one's.
    const other = await openSession(keyA);
    expect((await save({ cookie: a.cookie, 'x-csrf-token': other.csrfToken }, 'crossed')).status).toBe(403);
    const saved = await save({ cookie: a.cookie, 'x-csrf-token': a.csrfToken }, 'with the token');
    expect(saved.status).toBe(201);
    const { id, createdBy } = await saved.json<{ id: string; createdBy: string }>();
    expect(createdBy).toBe(`key:${keyA.slice(4, 16)}`);
    expect((await call('GET', '/v1/saved-searches', { cookie: a.cookie })).status).toBe(200);
    expect((await call('DELETE', `/v1/saved-searches/${id}`, { cookie: a.cookie })).status).toBe(403);
    expect((await call('DELETE', `/v1/saved-searches/${id}`, { cookie: a.cookie, 'x-csrf-token': a.csrfToken })).status).toBe(204);
    expect((await save({ authorization: `Bearer ${keyA}` }, 'bearer')).status).toBe(201);
  });

  it("never shows a session another tenant's saved searches", async () => {
    const b = await openSession(keyB);
    const ofB = await (await call('POST', '/v1/saved-searches', { cookie: b.cookie, 'x-csrf-token': b.csrfToken }, { name: 'b only', params: {} })).json<{
      id: string;
    }>();
    const a = await openSession(keyA);
    const listed = await (await call('GET', '/v1/saved-searches', { cookie: a.cookie })).json<{ savedSearches: { id: string }[] }>();
    expect(listed.savedSearches.map((s) => s.id)).not.toContain(ofB.id);
    expect((await call('DELETE', `/v1/saved-searches/${ofB.id}`, { cookie: a.cookie, 'x-csrf-token': a.csrfToken })).status).toBe(404);
  });

  it('stops accepting a signed-out session within the cache TTL', async () => {
    const a = await openSession(keyA);
    expect((await search({ cookie: a.cookie })).status).toBe(200);
    await revokeSession(a);
    await sleepPastCache();
    const res = await search({ cookie: a.cookie });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_credentials' });
  });

  it('ends the sessions of a revoked key', async () => {
    const tenant = `sr-${crypto.randomUUID().slice(0, 8)}`;
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:read']);
    const session = await openSession(key);
    expect((await search({ cookie: session.cookie })).status).toBe(200);
    await revokeKey(key);
    await sleepPastCache();
    expect((await search({ cookie: session.cookie })).status).toBe(401);
  });

  it('refuses forged, re-signed, expired and unknown session tokens with 401', async () => {
    const a: TestSession = await openSession(keyA);
    const sibling = await provisionKey(tenantA, ['logs:read']);
    const unknown = { ...a.claims, id: 'not-a-session-of-ours' };
    const otherTenant = { ...a.claims, tenantId: tenantB };
    for (const cookie of [
      await signedCookie(a.claims, { secret: 'another_secret_of_32_characters_or_more!!' }),
      await signedCookie(a.claims, { exp: Math.floor(Date.now() / 1000) - 1 }),
      await signedCookie(unknown), // signed by us, but no such row
      await signedCookie(otherTenant), // its row says another tenant
      await signedCookie({ ...a.claims, credential: `key:${keyB.slice(4, 16)}` }), // another tenant's key
      await signedCookie({ ...a.claims, credential: `key:${sibling.slice(4, 16)}` }), // its row says another key of the tenant
      `${a.cookie}x`,
    ]) {
      const res = await search({ cookie });
      expect(res.status, cookie).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_credentials' });
    }
    expect((await search({ cookie: await signedCookie(a.claims) })).status).toBe(200);
    expect((await search({})).status).toBe(401);
  });

  it('takes the scopes of the credential: a write-only session cannot search', async () => {
    const writer = await openSession(await provisionKey(tenantA, ['logs:write']));
    const res = await search({ cookie: writer.cookie });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:read' });
  });
});
