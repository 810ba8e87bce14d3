/**
 * GET /v1/anomalies on rows in ClickHouse: eight days of a steady rhythm, and
 * on the last one a burst of one pattern, a service that stops, and an error
 * pattern never seen before — each found, with the baseline it was judged by,
 * and nothing else alarmed on.
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
const DAY = 86_400_000;
const SLOT = 30 * 60_000;
const D = Date.UTC(2026, 10, 10); // the day looked at; the seven before are its baseline
const id = crypto.randomUUID().slice(0, 6);
const api = `an-api-${id}`;
const cron = `an-cron-${id}`;
const T = {
  request: ['request <*> ok', api],
  cache: ['cache miss for key <*>', api],
  crash: ['worker <*> crashed: out of memory', api],
  tick: ['tick <*> done', cron],
} as const;
const pid = (t: keyof typeof T) => templateToId(T[t][1], T[t][0]);

async function getJson(params: Record<string, string>): Promise<any> {
  const url = new URL('https://neurallog.test/v1/anomalies');
  url.search = new URLSearchParams(params).toString();
  const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

beforeAll(async () => {
  const receivedAt = formatClickHouseTime(instantFromMillis(D));
  const rows: LogRow[] = [];
  const add = (t: keyof typeof T, at: number, level = 'info') =>
    rows.push({
      ...normalizeRecord(
        { timestamp: new Date(at).toISOString(), service: T[t][1], level, message: T[t][0].replace('<*>', String(rows.length)) },
        rows.length,
        {
          tenantId: TEST_TENANT,
          retentionDays: 30,
          receivedAt,
          batchId: `AN${id}`,
        },
      ),
      PatternId: pid(t),
    });
  for (let day = -7; day <= 0; day++) {
    for (let slot = 0; slot < 48; slot++) {
      const at = D + day * DAY + slot * SLOT;
      // A daily rhythm: busier in the day's second half.
      for (let i = 0; i < (slot < 24 ? 6 : 12); i++) add('request', at + i * 1000);
      add('cache', at + 500);
      const cronStopped = day === 0 && slot >= 10 && slot <= 12;
      if (!cronStopped) for (let i = 0; i < 4; i++) add('tick', at + i * 2000);
    }
  }
  for (let i = 0; i < 80; i++) add('cache', D + 20 * SLOT + 60_000 + i * 1000); // the burst: 80 where 1 is usual
  for (let i = 0; i < 3; i++) add('crash', D + 30 * SLOT + i * 60_000, 'error'); // never seen before
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
  await clickhouse.insert({
    table: 'log_patterns',
    values: (Object.keys(T) as (keyof typeof T)[]).map((t) => ({
      TenantId: TEST_TENANT,
      PatternId: pid(t),
      ServiceName: T[t][1],
      Template: T[t][0],
      FirstSeen: D,
    })),
    format: 'JSONEachRow',
  });
});

describe('GET /v1/anomalies', () => {
  it('finds the burst, the silence and the new error pattern of a day, against the seven before, and alarms on nothing else', async () => {
    const body = await getJson({ from: new Date(D).toISOString(), to: new Date(D + DAY).toISOString(), service: `${api},${cron}` });
    expect(body.interval).toBe('30m');
    expect(body.baselineDays).toBe(7);
    const alarms = body.anomalies.filter((a: any) => a.score >= 1);
    const at = (slot: number) => new Date(D + slot * SLOT).toISOString();
    expect(alarms).toContainEqual(
      expect.objectContaining({
        kind: 'volume',
        direction: 'spike',
        service: api,
        patternId: pid('cache'),
        template: T.cache[0],
        start: at(20),
        end: at(21),
        expected: 1,
        actual: 81,
      }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({ kind: 'silence', service: cron, patternId: null, start: at(10), end: at(13), expected: 12, actual: 0 }),
    );
    expect(alarms).toContainEqual(expect.objectContaining({ kind: 'new_pattern', service: api, patternId: pid('crash'), template: T.crash[0], actual: 3 }));
    // What else alarmed: only the same events seen from the service (api's spike) or the pattern (cron's tick) level.
    for (const a of alarms) {
      const sameEvent =
        (a.service === api && a.start === at(20)) || (a.service === cron && a.start === at(10)) || (a.kind === 'new_pattern' && a.patternId === pid('crash'));
      expect(sameEvent, JSON.stringify(a)).toBe(true);
    }
  });

  it('says nothing about volume where there is no baseline yet', async () => {
    const body = await getJson({ from: new Date(D - 6 * DAY).toISOString(), to: new Date(D - 5 * DAY).toISOString(), service: `${api},${cron}` });
    expect(body.baselineDays).toBeLessThan(3);
    expect(body.anomalies.filter((a: any) => a.kind !== 'new_pattern')).toEqual([]);
  });

  it('refuses what it cannot judge: a query, a level filter, more than 7 days', async () => {
    for (const [params, parameter] of [
      [{ q: 'error' }, 'q'],
      [{ level: 'error' }, 'level'],
      [{ from: new Date(D - 8 * DAY).toISOString(), to: new Date(D).toISOString() }, 'from'],
    ] as const) {
      const url = new URL('https://neurallog.test/v1/anomalies');
      url.search = new URLSearchParams(params).toString();
      const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter });
    }
  });
});
