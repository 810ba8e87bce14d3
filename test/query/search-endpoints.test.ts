/**
 * The endpoints around the search: histogram, facets (fields and values),
 * context around one record, and the plan's query limits.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api-error.ts';
import type { Principal } from '../../shared/auth.ts';
import type { LogRow } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { PLANS } from '../../shared/plans.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { checkRange, runQuery } from '../../workers/query/run-query.ts';
import { parseScope } from '../../workers/query/search-params.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const service = `ep-${crypto.randomUUID().slice(0, 8)}`;
const other = `${service}-other`;
let rows: LogRow[];

async function get(path: string, params: Record<string, string> = {}, key = TEST_API_KEY): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  return exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
}

async function getJson<T = any>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await get(path, params);
  expect(res.status, `${path} ${await res.clone().text()}`).toBe(200);
  return res.json<T>();
}

beforeAll(async () => {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  const records = Array.from({ length: 30 }, (_, i) => ({
    timestamp: iso(T0 + i * 60_000), // one a minute for 30 minutes
    service: i % 10 === 9 ? other : service,
    level: i % 3 === 0 ? 'error' : 'info',
    message: `request ${i} done`,
    attributes: { route: i % 2 === 0 ? '/cart' : '/pay', ...(i < 5 ? { region: 'eu' } : {}) },
    resource: { host: `web-${i % 3}` },
  }));
  rows = records.map((r, i) => normalizeRecord(r, i, { tenantId: TEST_TENANT, retentionDays: 30, receivedAt, batchId: `EP${service}` }));
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
  // The same service name in another tenant: never counted.
  await clickhouse.insert({
    table: 'logs',
    values: rows.slice(0, 5).map((r) => ({ ...r, TenantId: 'other-tenant', LogId: `${r.LogId}x` })),
    format: 'JSONEachRow',
  });
});

const scope = { from: iso(T0), to: iso(T0 + 30 * 60_000) };

describe('GET /v1/logs/histogram', () => {
  it('counts per automatically sized bucket, split by level, empty buckets included', async () => {
    const h = await getJson('/v1/logs/histogram', { ...scope, q: `service:${service}` });
    expect(h).toMatchObject({ interval: '30s', intervalSeconds: 30, total: 27, resolution: 'exact' });
    expect(h.buckets).toHaveLength(61);
    expect(h.buckets[0]).toMatchObject({ start: iso(T0), total: 1, levels: { error: 1, info: 0 } });
    expect(h.buckets[1]).toMatchObject({ total: 0 });
    expect(h.buckets[2]).toMatchObject({ start: iso(T0 + 60_000), total: 1, levels: { info: 1 } });
    const errors = h.buckets.reduce((n: number, b: any) => n + b.levels.error, 0);
    expect(errors).toBe(rows.filter((r) => r.ServiceName === service && r.SeverityNumber === 17).length);
  });

  it('takes an interval, and refuses one that makes too many buckets', async () => {
    const h = await getJson('/v1/logs/histogram', { ...scope, q: `service:${service}`, interval: '10m' });
    expect(h.buckets.map((b: any) => b.total)).toEqual([9, 9, 9, 0]);
    // Whole-minute buckets and a service filter: counted from the per-minute projection, the same numbers.
    expect(h.resolution).toBe('minute');
    // A text term needs the rows: same counts, counted exactly.
    const exact = await getJson('/v1/logs/histogram', { ...scope, q: `service:${service} done`, interval: '10m' });
    expect(exact.resolution).toBe('exact');
    expect(exact.buckets.map((b: any) => b.total)).toEqual([9, 9, 9, 0]);
    // By level too, from the projection.
    const errors = await getJson('/v1/logs/histogram', { ...scope, q: `service:${service} level:error`, interval: '10m' });
    expect(errors).toMatchObject({ resolution: 'minute', total: rows.filter((r) => r.ServiceName === service && r.SeverityNumber === 17).length });
    const res = await get('/v1/logs/histogram', { from: 'now-5d', interval: '1s' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'interval' });
  });
});

describe('facets', () => {
  it('lists the attribute keys seen, by how many records carry them', async () => {
    const f = await getJson('/v1/logs/fields', { ...scope, q: `service:${service}` });
    expect(f.builtin).toContain('level');
    expect(f.fields).toEqual([
      { name: 'attr.route', count: 27 },
      { name: 'resource.host', count: 27 },
      { name: 'attr.region', count: 5 },
    ]);
  });

  it('gives the top values of a field with counts', async () => {
    const level = await getJson('/v1/logs/fields/level/values', { ...scope, q: `service:${service}` });
    expect(level).toEqual({
      field: 'level',
      total: 27,
      values: [
        { value: 'info', count: 18 },
        { value: 'error', count: 9 },
      ],
    });
    const route = await getJson('/v1/logs/fields/attr.route/values', { ...scope, q: `service:${service}`, limit: '1' });
    expect(route.values).toHaveLength(1);
    expect(route.total).toBe(27);
    const services = await getJson('/v1/logs/fields/service/values', { ...scope, q: `service:${service}*` });
    expect(services.values).toEqual([
      { value: service, count: 27 },
      { value: other, count: 3 },
    ]);
    const host = await getJson('/v1/logs/fields/host/values', { ...scope, q: `service:${service}` }); // a resource attribute by its bare name
    expect(host.values.map((v: any) => v.value).sort()).toEqual(['web-0', 'web-1', 'web-2']);
    expect((await get('/v1/logs/fields/body/values', scope)).status).toBe(400);
  });
});

describe('GET /v1/logs/context/{id}', () => {
  it('returns the lines before and after one record, from the same service, in order', async () => {
    const target = rows[14]!; // service, minute 14
    const ctx = await getJson(`/v1/logs/context/${target.LogId}`, { before: '3', after: '2' });
    expect(ctx.log.body).toBe('request 14 done');
    expect(ctx.before.map((l: any) => l.body)).toEqual(['request 11 done', 'request 12 done', 'request 13 done']);
    expect(ctx.after.map((l: any) => l.body)).toEqual(['request 15 done', 'request 16 done']);
    // Record 19 belongs to the other service: after 18 comes 20.
    const around18 = await getJson(`/v1/logs/context/${rows[18]!.LogId}`, { before: '0', after: '1' });
    expect([around18.before, around18.after.map((l: any) => l.body)]).toEqual([[], ['request 20 done']]);
  });

  it("is 404 for an unknown id and for another tenant's", async () => {
    expect((await get('/v1/logs/context/nope')).status).toBe(404);
    expect((await get(`/v1/logs/context/${rows[0]!.LogId}x`)).status).toBe(404); // exists only in other-tenant
  });
});

describe("the plan's query limits", () => {
  const principal = (overrides: Partial<(typeof PLANS)['starter']>): Principal =>
    ({
      tenantId: TEST_TENANT,
      retentionDays: 7,
      plan: { ...PLANS.starter, ...overrides },
      scopes: new Set(['logs:read']),
      credential: 'test',
    }) as unknown as Principal;
  const context = (p: Principal) => ({ get: (key: string) => (key === 'principal' ? p : 'test-request'), env }) as never;

  it('refuses a range longer than the retention', () => {
    expect(() => checkRange(principal({}), parseScope(new URLSearchParams({ from: 'now-30d' })))).toThrow(/logs are kept 7 days/);
    expect(() => checkRange(principal({}), parseScope(new URLSearchParams({ from: 'now-7d' })))).not.toThrow();
  });

  it('stops a search past max_rows_to_read with a clear 400', async () => {
    const sql = 'SELECT count() AS n, sum(length(Body)) AS chars FROM logs WHERE TenantId = {tenant:String}';
    await expect(runQuery(context(principal({ queryMaxRowsRead: 1 })), sql, { tenant: TEST_TENANT })).rejects.toSatisfy(
      (err: unknown) =>
        err instanceof ApiError && err.code === 'query_limit_exceeded' && err.details.limit === 'rows_read' && /more than 1 rows/.test(err.message),
    );
    const [ok] = await runQuery<{ n: string }>(context(principal({})), sql, { tenant: TEST_TENANT });
    expect(Number(ok!.n)).toBeGreaterThan(0);
  });

  it("holds the plan's query concurrency across requests: 429 too_many_queries while the slots are taken", async () => {
    const tenant = `qgate-${crypto.randomUUID().slice(0, 6)}`;
    await provisionTenant(tenant, { plan: 'starter' }); // queryConcurrency 2
    const key = await provisionKey(tenant, ['logs:read']);
    const gate = env.QUERY_GATE.get(env.QUERY_GATE.idFromName(tenant));
    const held = [await gate.acquire(tenant, 2, 60_000), await gate.acquire(tenant, 2, 60_000)];
    expect(held.every((a) => a.ok)).toBe(true);
    const refused = await get('/v1/logs', { q: 'x' }, key);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: 'too_many_queries', limit: 2 });
    await gate.release((held[0] as { lease: string }).lease);
    expect((await get('/v1/logs', { q: 'x' }, key)).status).toBe(200);
    expect(await gate.running()).toBe(1); // the search gave its slot back
    // Every admitted search is the tenant's `queries` usage; the refused one is not.
    expect((await gate.usage()).filter((c) => c.metric === 'queries').reduce((n, c) => n + c.value, 0)).toBe(3);
    // An expired lease frees its slot by itself (a worker that died mid-query).
    expect(await gate.acquire(tenant, 2, 60_000, Date.now() + 120_000)).toMatchObject({ ok: true });
  });
});
