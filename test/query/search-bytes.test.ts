/**
 * Reads are bounded in bytes as well as rows: a search page or a context
 * answer stops at NEURALLOG_SEARCH_MAX_BYTES of row JSON (256 KiB in the test
 * bindings, vitest.config.ts), says it was cut short, and paging on from its
 * cursor returns every row exactly once.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import type { LogRow, LogView } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { utf8Length } from '../../workers/query/run-query.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const CAP = loadConfig(env).searchMaxBytes;
const T0 = Date.now() - 2 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const range = { from: iso(T0 - 60_000), to: iso(T0 + 3_600_000) };
/** Two bytes a character in UTF-8: a cap counted in characters would let twice as many rows through. */
const BODY_CHARS = 10_000;
const BODY_BYTES = 2 * BODY_CHARS;
const ROWS = 40;

const tenant = `bytes-${crypto.randomUUID().slice(0, 8)}`;
let key: string;
let rows: LogRow[];

interface Page {
  logs: LogView[];
  nextCursor: string | null;
  truncated: boolean;
  truncatedReason?: string;
}

async function get<T>(path: string, params: Record<string, string>): Promise<T> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
  expect(
    res.status,
    await res
      .clone()
      .text()
      .then((t) => t.slice(0, 300)),
  ).toBe(200);
  return res.json<T>();
}

function records(service: string, bodies: string[], at: (i: number) => number): LogRow[] {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  return bodies.map((message, i) =>
    normalizeRecord({ timestamp: iso(at(i)), service, message }, i, { tenantId: tenant, retentionDays: 30, receivedAt, batchId: `B${service}` }),
  );
}

/** Newest first, as the search orders them: (Timestamp, LogId) descending. */
const newestFirst = (a: LogRow, b: LogRow) => (a.Timestamp === b.Timestamp ? (a.LogId < b.LogId ? 1 : -1) : a.Timestamp < b.Timestamp ? 1 : -1);
const bodyBytes = (logs: LogView[]) => logs.reduce((n, l) => n + utf8Length(l.body), 0);

beforeAll(async () => {
  await provisionTenant(tenant, { plan: 'professional', retentionDays: 30 });
  key = await provisionKey(tenant, ['logs:read']);
  // 40 rows of 20 KB (800 KB, three times the cap); four share each timestamp, so cursors land inside ties.
  rows = records(
    'big',
    Array.from({ length: ROWS }, (_, i) => `row ${i} ${'é'.repeat(BODY_CHARS)}`),
    (i) => T0 + Math.floor(i / 4) * 1000,
  );
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
});

describe('the byte cap on reads', () => {
  it('cuts a search page at NEURALLOG_SEARCH_MAX_BYTES, says so, and pages on from its last row: every row exactly once', async () => {
    expect(CAP).toBe(262_144);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await get<Page>('/v1/logs', { ...range, q: 'service:big', limit: '1000', ...(cursor ? { cursor } : {}) });
      pages++;
      expect(bodyBytes(page.logs)).toBeLessThanOrEqual(CAP);
      if (page.nextCursor) {
        // Cut by bytes, not by the limit: as many rows as fit, counted in bytes (not characters), and it says so.
        expect(page).toMatchObject({ truncated: true, truncatedReason: 'bytes' });
        expect(page.logs.length).toBeLessThanOrEqual(Math.floor(CAP / BODY_BYTES));
        expect(page.logs.length).toBeGreaterThanOrEqual(Math.floor(CAP / (BODY_BYTES + 2048)));
      } else {
        expect(page.truncated).toBe(false);
        expect(page).not.toHaveProperty('truncatedReason');
      }
      seen.push(...page.logs.map((l) => l.id));
      cursor = page.nextCursor;
    } while (cursor && pages < 20);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual([...rows].sort(newestFirst).map((r) => r.LogId));
    // Every read was cut off mid-answer; every one gave its query slot back.
    expect(await env.QUERY_GATE.get(env.QUERY_GATE.idFromName(tenant)).running()).toBe(0);
  });

  it('is not truncated when the page is full by its limit and only the look-ahead row did not fit', async () => {
    const first = await get<Page>('/v1/logs', { ...range, q: 'service:big', limit: '1000' });
    const fits = first.logs.length;
    const full = await get<Page>('/v1/logs', { ...range, q: 'service:big', limit: String(fits) });
    expect(full.logs.map((l) => l.id)).toEqual(first.logs.map((l) => l.id));
    expect(full.truncated).toBe(false);
    expect(full.nextCursor).toBe(first.nextCursor);
    const smaller = await get<Page>('/v1/logs', { ...range, q: 'service:big', limit: '3' });
    expect(smaller).toMatchObject({ truncated: false, nextCursor: expect.any(String) });
    expect(smaller.logs).toHaveLength(3);
  });

  it('returns a row larger than the cap on its own, so that paging still moves on', async () => {
    const huge = records('huge', ['newest', `huge ${'x'.repeat(CAP + 1000)}`, 'oldest'], (i) => T0 + (3 - i) * 1000);
    await clickhouse.insert({ table: 'logs', values: huge, format: 'JSONEachRow' });
    const bodies: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await get<Page>('/v1/logs', { ...range, q: 'service:huge', ...(cursor ? { cursor } : {}) });
      bodies.push(page.logs.map((l) => l.body.slice(0, 6)));
      cursor = page.nextCursor;
    } while (cursor && bodies.length < 10);
    expect(bodies).toEqual([['newest'], ['huge x'], ['oldest']]);
  });

  it('cuts the lines around a record at the same cap, keeping the nearest either side', async () => {
    const oldestFirst = [...rows].sort(newestFirst).reverse();
    const at = 20;
    const target = oldestFirst[at]!;
    const ctx = await get<{ log: LogView; before: LogView[]; after: LogView[]; truncated: boolean; truncatedReason?: string }>(
      `/v1/logs/context/${target.LogId}`,
      {
        before: '500',
        after: '500',
      },
    );
    expect(ctx.log.id).toBe(target.LogId);
    expect(ctx).toMatchObject({ truncated: true, truncatedReason: 'bytes' });
    expect(utf8Length(ctx.log.body) + bodyBytes(ctx.before) + bodyBytes(ctx.after)).toBeLessThanOrEqual(CAP);
    // Half of what the record leaves each side (both asked for 500): the nearest lines, in order.
    for (const side of [ctx.before, ctx.after]) {
      expect(side.length).toBeGreaterThanOrEqual(Math.floor((CAP - BODY_BYTES - 2048) / 2 / (BODY_BYTES + 2048)));
      expect(side.length).toBeLessThanOrEqual(Math.floor(CAP / 2 / BODY_BYTES));
    }
    expect(ctx.before.map((l) => l.id)).toEqual(oldestFirst.slice(at - ctx.before.length, at).map((r) => r.LogId));
    expect(ctx.after.map((l) => l.id)).toEqual(oldestFirst.slice(at + 1, at + 1 + ctx.after.length).map((r) => r.LogId));

    // Asking for fewer lines than fit: all of them, not truncated.
    const small = await get<{ before: LogView[]; after: LogView[]; truncated: boolean }>(`/v1/logs/context/${target.LogId}`, { before: '2', after: '2' });
    expect(small.truncated).toBe(false);
    expect([small.before.length, small.after.length]).toEqual([2, 2]);
  });
});
