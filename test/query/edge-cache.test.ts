/**
 * The edge cache of search results: hit and miss, equivalent queries sharing
 * an entry, ranges near now bypassing it, never another tenant's entry, never
 * an entry from before the tenant's logs were deleted.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../shared/normalize.ts';
import { compileScope, parseScope } from '../../shared/search-scope.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const T0 = Date.now() - 3 * 3_600_000; // three hours ago: past the flush horizon
const iso = (ms: number) => new Date(ms).toISOString();
const service = `cache-${crypto.randomUUID().slice(0, 8)}`;
const range = { from: iso(T0 - 60_000), to: iso(T0 + 3_600_000) };

async function get(path: string, params: Record<string, string>, key = TEST_API_KEY, method = 'GET'): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  return exports.default.fetch(new Request(url, { method, headers: { authorization: `Bearer ${key}` } }));
}

beforeAll(async () => {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  const rows = Array.from({ length: 5 }, (_, i) =>
    normalizeRecord({ timestamp: iso(T0 + i * 1000), service, level: 'error', message: `payment failed ${i} gateway timeout` }, i, {
      tenantId: TEST_TENANT,
      retentionDays: 30,
      receivedAt,
      batchId: `C${service}`,
    }),
  );
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
});

describe('edge cache', () => {
  it('stores a closed range, answers the same or an equivalent search from the cache, and says so', async () => {
    const first = await get('/v1/logs', { ...range, q: `service:${service} payment timeout` });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    const body = await first.json<{ logs: unknown[] }>();
    expect(body.logs).toHaveLength(5);

    const again = await get('/v1/logs', { ...range, q: `service:${service} payment timeout` });
    expect(again.headers.get('cache-status')).toBe('NeuralLog; hit');
    expect(await again.json()).toEqual(body);
    // Same meaning, different text: the same entry.
    const equivalent = await get('/v1/logs', { ...range, q: `timeout AND (payment service:${service})` });
    expect(equivalent.headers.get('cache-status')).toBe('NeuralLog; hit');
    // Another page size is another answer.
    const other = await get('/v1/logs', { ...range, q: `service:${service} payment timeout`, limit: '2' });
    expect(other.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');

    const histogram = await get('/v1/logs/histogram', { ...range, q: `service:${service}` });
    expect(histogram.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    expect((await get('/v1/logs/histogram', { ...range, q: `service:${service}` })).headers.get('cache-status')).toBe('NeuralLog; hit');
  });

  it('keeps searches for attribute names that differ only in case in two entries, with their own answers', async () => {
    const svc = `cache-case-${crypto.randomUUID().slice(0, 8)}`;
    const receivedAt = formatClickHouseTime(instantFromMillis(T0));
    const records = [{ Region: 'eu' }, { region: 'eu' }, { region: 'eu' }].map((attributes, i) =>
      normalizeRecord({ timestamp: iso(T0 + i * 1000), service: svc, message: `case ${i}`, attributes }, i, {
        tenantId: TEST_TENANT,
        retentionDays: 30,
        receivedAt,
        batchId: `C${svc}`,
      }),
    );
    await clickhouse.insert({ table: 'logs', values: records, format: 'JSONEachRow' });
    const upper = await get('/v1/logs', { ...range, q: `service:${svc} attr.Region:eu` });
    expect(upper.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    expect((await upper.json<{ logs: { body: string }[] }>()).logs.map((l) => l.body)).toEqual(['case 0']);
    const lower = await get('/v1/logs', { ...range, q: `service:${svc} attr.region:eu` });
    expect(lower.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    expect((await lower.json<{ logs: { body: string }[] }>()).logs.map((l) => l.body)).toEqual(['case 2', 'case 1']);
    // The built-in names are one field in any case: that is still the same entry.
    expect((await get('/v1/logs', { ...range, q: `SERVICE=${svc} attr.region:eu` })).headers.get('cache-status')).toBe('NeuralLog; hit');
  });

  it('bypasses the cache for a range that reaches the flush horizon', async () => {
    const res = await get('/v1/logs', { from: range.from, q: `service:${service}` }); // to = now
    expect(res.headers.get('cache-status')).toMatch(/^NeuralLog; fwd=bypass/);
  });

  it("never serves one tenant's cached answer to another", async () => {
    await get('/v1/logs', { ...range, q: `service:${service}` }); // cached for the dev tenant
    const tenant = `cache-other-${crypto.randomUUID().slice(0, 6)}`;
    await provisionTenant(tenant, { plan: 'professional' });
    const key = await provisionKey(tenant, ['logs:read']);
    const res = await get('/v1/logs', { ...range, q: `service:${service}` }, key);
    expect(res.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    expect((await res.json<{ logs: unknown[] }>()).logs).toEqual([]);
  });

  it('never serves an answer cached before the logs were deleted', async () => {
    const q = `service:${service}`;
    await get('/v1/logs', { ...range, q });
    expect((await get('/v1/logs', { ...range, q })).headers.get('cache-status')).toBe('NeuralLog; hit');
    // The time chart by minute comes from the table's per-minute projection (migration 0004).
    const chart = async () => (await get('/v1/logs/histogram', { ...range, q, interval: '1m' })).json<{ resolution: string; total: number }>();
    expect(await chart()).toMatchObject({ resolution: 'minute', total: 5 });

    // What DELETE /v1/logs does to ClickHouse and D1 (the route is the ingest worker's: test/ingest/delete-logs.test.ts).
    const now = Date.now();
    const { where, params } = compileScope(TEST_TENANT, parseScope(new URLSearchParams({ ...range, q }), now), now);
    await clickhouse.command({
      query: `DELETE FROM logs WHERE ${where.join(' AND ')}`,
      query_params: params,
      clickhouse_settings: { lightweight_deletes_sync: '2' },
    });
    await env.CONTROL_DB.prepare('UPDATE tenants SET data_generation = data_generation + 1 WHERE id = ?').bind(TEST_TENANT).run();

    const after = await get('/v1/logs', { ...range, q });
    expect(after.headers.get('cache-status')).toBe('NeuralLog; fwd=miss; stored');
    expect((await after.json<{ logs: unknown[] }>()).logs).toEqual([]);
    // The projection's counts were rebuilt with the delete (lightweight_mutation_projection_mode = 'rebuild').
    expect(await chart()).toMatchObject({ resolution: 'minute', total: 0 });
    // A synchronous delete rewrites the parts it touches and rebuilds their projections: seconds on a busy machine.
  }, 30_000);
});
