/**
 * Patterns on the read side: GET /v1/patterns counts a pattern's records under
 * its current id (those of the templates it generalised included), with
 * shares, levels, a sample and a sparkline; `pattern:<id>` finds the whole
 * family; search answers carry each record's current pattern and template.
 * Rows are written to ClickHouse as the actors write them (PatternId in the
 * row, templates and aliases in their tables).
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRow } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { templateToId } from '../../shared/patterns/pattern-id.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const service = `pt-${crypto.randomUUID().slice(0, 8)}`;

// A template that generalised (alice's, then everyone's), and one that did not.
const specific = 'user alice logged in';
const general = 'user <*> logged in';
const disk = 'disk <*> is full';
const SPECIFIC = templateToId(service, specific);
const GENERAL = templateToId(service, general);
const DISK = templateToId(service, disk);

async function get(path: string, params: Record<string, string> = {}): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  return exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
}

async function getJson<T = any>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await get(path, params);
  expect(res.status, `${path} ${await res.clone().text()}`).toBe(200);
  return res.json<T>();
}

const scope = { from: iso(T0), to: iso(T0 + 60 * 60_000), service };

beforeAll(async () => {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  const records: [string, string, string][] = [
    // message, level, pattern id as the actor wrote it
    ['user alice logged in', 'info', SPECIFIC],
    ['user alice logged in', 'info', SPECIFIC],
    ['user bob logged in', 'info', GENERAL],
    ['user carol logged in', 'warn', GENERAL],
    ['disk sda1 is full', 'error', DISK],
    ['a record stored before patterns', 'info', ''],
  ];
  const rows: LogRow[] = records.map(([message, level, patternId], i) => ({
    ...normalizeRecord({ timestamp: iso(T0 + i * 5 * 60_000), service, level, message }, i, {
      tenantId: TEST_TENANT,
      retentionDays: 30,
      receivedAt,
      batchId: `PT${service}`,
    }),
    PatternId: patternId,
  }));
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
  await clickhouse.insert({
    table: 'log_patterns',
    values: [
      [SPECIFIC, specific],
      [GENERAL, general],
      [DISK, disk],
    ].map(([PatternId, Template]) => ({ TenantId: TEST_TENANT, PatternId, ServiceName: service, Template, FirstSeen: T0 })),
    format: 'JSONEachRow',
  });
  await clickhouse.insert({
    table: 'log_pattern_aliases',
    values: [{ TenantId: TEST_TENANT, FromId: SPECIFIC, ToId: GENERAL, At: T0 }],
    format: 'JSONEachRow',
  });
  // Another tenant's template under the same id: never read.
  await clickhouse.insert({
    table: 'log_patterns',
    values: [{ TenantId: 'other-tenant', PatternId: DISK, ServiceName: service, Template: 'not yours <*>', FirstSeen: T0 }],
    format: 'JSONEachRow',
  });
});

describe('GET /v1/patterns', () => {
  it('counts each pattern once under its current id, with its share, levels, sample and sparkline', async () => {
    const body = await getJson('/v1/patterns', scope);
    expect(body.total).toBe(6);
    expect(body.unpatterned).toBe(1);
    expect(body.patterns.map((p: any) => [p.patternId, p.template, p.count])).toEqual([
      [GENERAL, general, 4],
      [DISK, disk, 1],
    ]);
    const users = body.patterns[0];
    expect(users.share).toBeCloseTo(4 / 6);
    expect(users.ids).toEqual([GENERAL, SPECIFIC].sort());
    expect(users.levels).toEqual(['info', 'warn']);
    expect(users.firstSeen).toBe(iso(T0).replace('.000Z', 'Z')); // to the second
    expect(users.sample.body).toBe('user carol logged in'); // the latest
    expect(users.lastSeen).toBe(users.sample.timestamp);
    expect(users.counts).toHaveLength(body.bucketStarts.length);
    expect(users.counts.reduce((a: number, b: number) => a + b, 0)).toBe(4);
    // A bucket holds what was logged in it.
    const bucketOf = (ms: number) => body.bucketStarts.findLastIndex((s: string) => Date.parse(s) <= ms);
    expect(users.counts[bucketOf(T0 + 15 * 60_000)]).toBeGreaterThanOrEqual(1);
  });

  it('counts to the exact bounds of the range, within its first and last second too', async () => {
    // Records 0 (T0) and 1 (T0 + 5 min): a range from 1 ms after the first to 1 ms after the second holds only the second,
    // and so does one from 1 ms before the second to 1 ms before the third; the seconds at both ends are shared.
    const second = T0 + 5 * 60_000;
    const counted = async (from: number, to: number) => (await getJson('/v1/patterns', { service, from: iso(from), to: iso(to) })).total;
    expect(await counted(T0 + 1, second + 1)).toBe(1);
    expect(await counted(T0, second)).toBe(1); // `to` is exclusive
    expect(await counted(T0, second + 1)).toBe(2);
    expect(await counted(second - 1, second + 5 * 60_000 - 1)).toBe(1);
    expect(await counted(second + 1, second + 2)).toBe(0);
  });

  it('narrows by the query like a search, and keeps the limit', async () => {
    const errors = await getJson('/v1/patterns', { ...scope, q: 'level:error' });
    expect(errors.patterns.map((p: any) => p.patternId)).toEqual([DISK]);
    const one = await getJson('/v1/patterns', { ...scope, limit: '1' });
    expect(one.patterns).toHaveLength(1);
    for (const limit of ['0', '501', 'x', '__proto__']) {
      const res = await get('/v1/patterns', { ...scope, limit });
      expect(res.status, limit).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'limit' });
    }
  });
});

describe('pattern:<id> in the query language', () => {
  it('finds the records of every template of the pattern, by its current id or an earlier one', async () => {
    for (const id of [GENERAL, SPECIFIC]) {
      const page = await getJson('/v1/logs', { ...scope, q: `pattern:${id}` });
      expect(page.logs.map((l: any) => l.body).sort(), id).toEqual([
        'user alice logged in',
        'user alice logged in',
        'user bob logged in',
        'user carol logged in',
      ]);
      // Each record shows its current pattern, whatever it was stored under.
      for (const log of page.logs) expect([log.patternId, log.pattern]).toEqual([GENERAL, general]);
    }
    const disks = await getJson('/v1/logs', { ...scope, q: `pattern:${DISK.toUpperCase()}` });
    expect(disks.logs.map((l: any) => [l.body, l.pattern])).toEqual([['disk sda1 is full', disk]]);
  });

  it('refuses an id that is not hexadecimal, at its position', async () => {
    for (const q of ['pattern:__proto__', 'pattern:constructor']) {
      const res = await get('/v1/logs', { ...scope, q });
      expect(res.status, q).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'query_syntax', parameter: 'q', position: 8, message: expect.stringMatching(/hexadecimal/) });
    }
  });

  it('counts patterns in the histogram and the facets like the search', async () => {
    const histogram = await getJson('/v1/logs/histogram', { ...scope, q: `pattern:${SPECIFIC}` });
    expect(histogram.total).toBe(4);
    const facet = await getJson('/v1/logs/fields/pattern/values', scope);
    expect(facet.values).toContainEqual({ value: DISK, count: 1 });
  });
});
