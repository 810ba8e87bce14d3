import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRow, LogView } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { compileSearch } from '../../workers/query/compile-search.ts';
import { parseSearch } from '../../workers/query/search-params.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });

interface Page {
  logs: LogView[];
  nextCursor: string | null;
}

async function search(params: Record<string, string>, key = TEST_API_KEY): Promise<Response> {
  const url = new URL('https://neurallog.test/v1/logs');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
}

async function searchOk(params: Record<string, string>): Promise<Page> {
  const res = await search(params);
  expect(res.status).toBe(200);
  return res.json<Page>();
}

let seq = 0;
function row(tenantId: string, record: Record<string, unknown>): LogRow {
  const receivedAt = formatClickHouseTime(instantFromMillis(Date.now()));
  return normalizeRecord(record, 0, { tenantId, retentionDays: 30, receivedAt, batchId: `T${(seq++).toString().padStart(6, '0')}` });
}

async function insert(rows: LogRow[]): Promise<void> {
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
}

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe('GET /v1/logs', () => {
  const service = `svc-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    await insert([
      row(TEST_TENANT, { timestamp: iso(T0 + 1000), service, level: 'info', message: 'User Login succeeded', attributes: { region: 'eu-west' } }),
      row(TEST_TENANT, { timestamp: iso(T0 + 2000), service, level: 'ERR', message: 'connection reset by peer', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }),
      row(TEST_TENANT, { timestamp: '2026-11-20T12:00:03.123456789Z', service, severity_number: 18, message: 'disk full', resource: { host: 'db-1' } }),
      row('other-tenant', { timestamp: iso(T0 + 2500), service, level: 'error', message: 'connection reset: secret of another tenant' }),
    ]);
  });

  it("returns only the caller tenant's rows, newest first, with every field", async () => {
    const page = await searchOk({ service, from: iso(T0), to: iso(T0 + 60_000) });
    expect(page.logs.map((l) => l.body)).toEqual(['disk full', 'connection reset by peer', 'User Login succeeded']);
    expect(page.nextCursor).toBeNull();
    const [disk, reset, login] = page.logs;
    expect(disk).toMatchObject({ timestamp: '2026-11-20T12:00:03.123456789Z', severityNumber: 18, severityText: 'ERROR', resource: { host: 'db-1' } });
    expect(reset).toMatchObject({ severityText: 'ERR', severityNumber: 17, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', service });
    expect(login!.attributes).toEqual({ region: 'eu-west' });
  });

  it('filters by level, service, time range and case-insensitive full-text tokens', async () => {
    const range = { from: iso(T0), to: iso(T0 + 60_000) };
    expect((await searchOk({ ...range, service, level: 'error' })).logs.map((l) => l.body)).toEqual(['disk full', 'connection reset by peer']);
    expect((await searchOk({ ...range, service, level: 'info,fatal' })).logs.map((l) => l.body)).toEqual(['User Login succeeded']);
    expect((await searchOk({ ...range, service, q: 'CONNECTION reset' })).logs.map((l) => l.body)).toEqual(['connection reset by peer']);
    expect((await searchOk({ ...range, service, q: 'login' })).logs).toHaveLength(1);
    expect((await searchOk({ ...range, service, q: 'connection absent' })).logs).toHaveLength(0);
    expect((await searchOk({ from: iso(T0 + 1500), to: iso(T0 + 2500), service })).logs.map((l) => l.body)).toEqual(['connection reset by peer']);
    expect((await searchOk({ ...range, service: `${service},nope` })).logs).toHaveLength(3);
    expect((await searchOk({ ...range, service: 'nope' })).logs).toHaveLength(0);
  });

  it('defaults to the last 24 hours and accepts relative times', async () => {
    const fresh = `svc-${crypto.randomUUID().slice(0, 8)}`;
    await insert([row(TEST_TENANT, { service: fresh, message: 'just now' })]);
    expect((await searchOk({ service: fresh })).logs).toHaveLength(1);
    expect((await searchOk({ service: fresh, from: 'now-5m', to: 'now' })).logs).toHaveLength(1);
    expect((await searchOk({ service })).logs).toHaveLength(0); // those rows are days old
  });

  it('pages with a cursor that neither skips nor repeats rows while ingestion continues', async () => {
    const paged = `svc-${crypto.randomUUID().slice(0, 8)}`;
    // 25 rows; groups of five share a timestamp, so ties straddle page boundaries.
    await insert(
      Array.from({ length: 25 }, (_, i) => row(TEST_TENANT, { service: paged, message: `row ${i}`, timestamp: iso(T0 + Math.floor(i / 5) * 1000) })),
    );
    const range = { from: iso(T0), to: iso(T0 + 60_000), service: paged, limit: '7' };
    const seen: string[] = [];
    let page = await searchOk(range);
    seen.push(...page.logs.map((l) => l.id));
    // New rows arrive between pages, newer and older than the cursor.
    await insert([row(TEST_TENANT, { service: paged, message: 'late newer', timestamp: iso(T0 + 50_000) })]);
    while (page.nextCursor) {
      page = await searchOk({ ...range, cursor: page.nextCursor });
      seen.push(...page.logs.map((l) => l.id));
    }
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });

  it('answers 400 naming the parameter at fault', async () => {
    for (const [params, parameter] of [
      [{ limit: '0' }, 'limit'],
      [{ limit: '5000' }, 'limit'],
      [{ from: 'tomorrow' }, 'from'],
      [{ from: iso(T0 + 10), to: iso(T0) }, 'from'],
      [{ level: 'loud' }, 'level'],
      [{ cursor: 'not-a-cursor' }, 'cursor'],
    ] as const) {
      const res = await search(params);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter });
    }
  });

  it('answers 503 with Retry-After when ClickHouse cannot be reached', async () => {
    const marker = `unreachable${crypto.randomUUID().slice(0, 8)}`;
    const res0 = await fetch(`${env.TEST_FAULT_PROXY_URL}/__fault?mode=fail-before&match=${marker}&count=1`);
    await res0.arrayBuffer();
    const res = await search({ q: marker });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({ error: 'unavailable' });
    expect((await search({ q: marker })).status).toBe(200); // the next one gets through
  });

  it('requires a valid API key', async () => {
    expect((await search({}, 'nl_wrong')).status).toBe(401);
  });
});

describe('compileSearch', () => {
  it('puts the tenant first and keeps every request value out of the SQL text', () => {
    const hostile = "x') OR 1=1 --";
    const query = new URLSearchParams({ q: `"${hostile}" union select attr.${hostile.replace(/[^a-z]/g, '')}:"${hostile}"`, service: hostile, level: 'error' });
    const { sql, params } = compileSearch('acme', parseSearch(query, T0));
    expect(sql).toMatch(/^SELECT .* FROM logs WHERE TenantId = \{tenant:String\} AND /);
    expect(sql).not.toContain('OR 1=1');
    expect(sql).not.toContain('union');
    expect(sql).not.toContain('acme');
    expect(params.tenant).toBe('acme');
    expect(params.services).toEqual([hostile]);
    expect(Object.values(params)).toContain('union');
    expect(Object.values(params)).toContain(hostile);
  });
});
