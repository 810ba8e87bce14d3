/**
 * Every read endpoint, asked with names that are members of Object.prototype
 * (`constructor`, `__proto__`, `toString`…) as query fields, attribute names,
 * levels, services and facet names: a 200 that finds exactly the records
 * carrying that name, or a 400 naming the parameter — never a 500.
 * (Before the fix, `q=constructor:x` was a 500: the field name found
 * Object.prototype.constructor in the table of column names.)
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const tenant = `hostile-read-${crypto.randomUUID().slice(0, 8)}`;
const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const scope = { from: new Date(T0 - 60_000).toISOString(), to: new Date(T0 + 3_600_000).toISOString() };
let key = '';

beforeAll(async () => {
  await provisionTenant(tenant, { plan: 'professional', retentionDays: 30 });
  key = await provisionKey(tenant, ['logs:read']);
  // One record per name, carrying it as an attribute, a resource key and its service; one plain record.
  const time = (i: number) => new Date(T0 + i * 1000).toISOString().replace('T', ' ').replace('Z', '');
  const rows: Record<string, unknown>[] = HOSTILE_NAMES.map((name, i) => ({
    TenantId: tenant,
    Timestamp: time(i),
    ObservedTimestamp: time(i),
    LogId: `hostile-${i}`,
    ServiceName: name,
    SeverityText: name,
    Body: `record of ${name}`,
    LogAttributes: { [name]: 'x', plain: 'y' },
    ResourceAttributes: { [name]: 'r' },
    RetentionDays: 30,
  }));
  rows.push({
    TenantId: tenant,
    Timestamp: time(50),
    ObservedTimestamp: time(50),
    LogId: 'plain',
    ServiceName: 'plain',
    SeverityText: 'info',
    Body: 'plain record',
    LogAttributes: { plain: 'y' },
    ResourceAttributes: {},
    RetentionDays: 30,
  });
  // Built with computed keys, so `__proto__` is an own key of the map.
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
});

async function get(path: string, params: Record<string, string>): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams({ ...scope, ...params }).toString();
  return exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
}

async function ok<T = any>(path: string, params: Record<string, string>): Promise<T> {
  const res = await get(path, params);
  expect(res.status, `${path} ${JSON.stringify(params)} → ${await res.clone().text()}`).toBe(200);
  return res.json<T>();
}

async function bad(path: string, params: Record<string, string>, parameter: string): Promise<void> {
  const res = await get(path, params);
  expect(res.status, `${path} ${JSON.stringify(params)} → ${await res.clone().text()}`).toBe(400);
  expect(await res.json()).toMatchObject({ parameter });
}

describe.each(HOSTILE_NAMES)('the name %s', (name) => {
  it('as a query field finds the record that carries that attribute, and only it', async () => {
    for (const q of [`${name}:x`, `attr.${name}:x`, `resource.${name}:r`, `${name}:*`, `${name}>=x`]) {
      const page = await ok<{ logs: { id: string; attributes: Record<string, string> }[] }>('/v1/logs', { q });
      expect(
        page.logs.map((l) => l.id),
        q,
      ).toEqual([`hostile-${HOSTILE_NAMES.indexOf(name)}`]);
      expect(Object.hasOwn(page.logs[0]!.attributes, name)).toBe(true);
    }
    expect((await ok('/v1/logs', { q: `${name}:other` })).logs).toEqual([]);
    expect((await ok('/v1/logs', { q: `-${name}:*` })).logs).toHaveLength(HOSTILE_NAMES.length);
  });

  it('as a service, a search word and in the histogram, fields and values', async () => {
    expect((await ok('/v1/logs', { service: name })).logs).toHaveLength(1);
    expect((await ok('/v1/logs', { q: `service:${name}` })).logs).toHaveLength(1);
    expect((await ok('/v1/logs/histogram', { q: `${name}:x` })).total).toBe(1);
    const fields = await ok<{ fields: { name: string; count: number }[] }>('/v1/logs/fields', { q: `${name}:*` });
    expect(fields.fields).toContainEqual({ name: `attr.${name}`, count: 1 });
    const values = await ok<{ values: { value: string; count: number }[] }>(`/v1/logs/fields/${encodeURIComponent(name)}/values`, {});
    expect(values.values).toEqual([{ value: 'x', count: 1 }]);
    const context = await get(`/v1/logs/context/${encodeURIComponent(name)}`, {});
    expect(context.status).toBe(404);
    await context.arrayBuffer();
    // As a service of the analytics endpoints: its records counted (rows written without a pattern), nothing else.
    expect(await ok('/v1/patterns', { service: name })).toMatchObject({ total: 1, unpatterned: 1, patterns: [] });
    const anomalies = await get('/v1/anomalies', { service: name });
    expect(anomalies.status).toBe(200);
    expect(await anomalies.json()).toMatchObject({ anomalies: [] });
  });

  it('as a pattern id is refused with a 400 at its position (ids are hexadecimal)', async () => {
    await bad('/v1/logs', { q: `pattern:${name}` }, 'q');
    await bad('/v1/patterns', { q: `pattern:${name}` }, 'q');
  });

  it('as a level is refused with a 400 naming the parameter', async () => {
    await bad('/v1/logs', { level: name }, 'level');
    await bad('/v1/logs', { q: `level:${name}` }, 'q');
    await bad('/v1/logs/histogram', { interval: name }, 'interval');
  });
});
