/**
 * Alert rules measured in ClickHouse (shared/alerts/evaluation-query.ts):
 * rules sharing a window and group-by are one query; each rule's counts per
 * group are right on real rows; another tenant's rows and rows outside the
 * window never count; an absence rule sees a group that went quiet; the fast
 * path's group values agree with the SQL's; hostile attribute names are data.
 */
import { createClient } from '@clickhouse/client-web';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchRules, batchSql, groupKey, groupValuesOf, type MeasuredRule, readBatch, verdictOf } from '../../shared/alerts/evaluation-query.ts';
import type { LogRow } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import type { MatchableRecord } from '../../shared/query-language/evaluate.ts';
import { parseQuery } from '../../shared/query-language/parse.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const END = Math.floor(Date.UTC(2026, 10, 29, 10, 0, 0) / 1000); // the window's end (exclusive), Unix seconds
const TENANT = `eq-${crypto.randomUUID().slice(0, 8)}`;
const OTHER = `eq-other-${crypto.randomUUID().slice(0, 8)}`;

function rule(id: string, query: string, groupBy: string[], condition: MeasuredRule['condition'], windowSeconds = 60): MeasuredRule {
  return {
    id,
    query: parseQuery(query),
    denominator: condition.kind === 'ratio' ? parseQuery(condition.denominator) : null,
    groupBy,
    condition,
    windowSeconds,
  };
}

/** A record at `secondsBeforeEnd` before the window's end. */
function rec(tenantId: string, secondsBeforeEnd: number, fields: Record<string, unknown>, i: number): LogRow {
  const receivedAt = formatClickHouseTime(instantFromMillis(END * 1000));
  return normalizeRecord({ ...fields, timestamp: new Date((END - secondsBeforeEnd) * 1000).toISOString() }, i, {
    tenantId,
    retentionDays: 30,
    receivedAt,
    batchId: `EQ${tenantId}`,
  } as never);
}

let rows: LogRow[] = [];

beforeAll(async () => {
  const r: [string, number, Record<string, unknown>][] = [
    // In the window [END − 60, END):
    ...Array.from({ length: 5 }, (_, i): [string, number, Record<string, unknown>] => [
      TENANT,
      10 + i,
      { service: 'api', level: 'error', message: `boom ${i}` },
    ]),
    [TENANT, 20, { service: 'api', level: 'info', message: 'fine' }],
    [TENANT, 21, { service: 'api', level: 'info', message: 'fine' }],
    // An own `__proto__` attribute, as a JSON body carries it (an object literal would set the prototype instead).
    [TENANT, 30, JSON.parse('{"service":"web","level":"error","message":"boom web","__proto__":"evil"}')],
    [TENANT, 60, { service: 'api', level: 'error', message: 'at the first second of the window' }],
    // Outside it: just after, and in the minute before (where only `batch` logged).
    [TENANT, 0, { service: 'api', level: 'error', message: 'at the end: not counted' }],
    [TENANT, 90, { service: 'batch', level: 'info', message: 'nightly job ran' }],
    [TENANT, 61, { service: 'api', level: 'error', message: 'a second before the window' }],
    // Another tenant, same services, many errors: never counted.
    ...Array.from({ length: 50 }, (_, i): [string, number, Record<string, unknown>] => [
      OTHER,
      5 + (i % 50),
      { service: 'api', level: 'error', message: 'not yours' },
    ]),
  ];
  rows = r.map(([tenant, s, fields], i) => rec(tenant, s, fields, i));
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
});

async function measure(rules: MeasuredRule[]) {
  const batches = batchRules(rules);
  const out = new Map<string, Map<string, { numerator: number; denominator: number; group: [string, string][] }>>();
  for (const batch of batches) {
    const { sql, params } = batchSql(TENANT, batch, END);
    expect(sql).not.toContain(TENANT); // the tenant is a parameter
    const result = await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' });
    const { counts } = readBatch(batch, await result.json<Record<string, unknown>>());
    for (const [id, groups] of counts) out.set(id, groups);
  }
  return { batches, counts: out };
}

describe('rules measured in ClickHouse', () => {
  it('counts per group for threshold and ratio rules sharing one query; other tenants and other seconds never count', async () => {
    const errors = rule('errors', 'level:error', ['service'], { kind: 'threshold', op: '>', value: 5, window: '1m' });
    const ratio = rule('ratio', 'level:error', ['service'], { kind: 'ratio', denominator: '', op: '>', value: 0.7, window: '1m' });
    const { batches, counts } = await measure([errors, ratio]);
    expect(batches).toHaveLength(1);
    const api = counts.get('errors')!.get(groupKey(['api']))!;
    // 5 errors + the one at the window's first second; not the one at END nor the one a second before.
    expect(api.numerator).toBe(6);
    expect(verdictOf(errors.condition, api)).toEqual({ breaching: true, value: 6 });
    expect(counts.get('errors')!.get(groupKey(['web']))!.numerator).toBe(1);
    const apiRatio = counts.get('ratio')!.get(groupKey(['api']))!;
    expect(apiRatio).toMatchObject({ numerator: 6, denominator: 8 });
    expect(verdictOf(ratio.condition, apiRatio)).toEqual({ breaching: true, value: 0.75 });
    expect(verdictOf(ratio.condition, counts.get('ratio')!.get(groupKey(['web']))!).breaching).toBe(true); // 1 / 1
  });

  it('a rule without group-by gets one row, even when nothing matches', async () => {
    const none = rule('none', 'service:nothing-logs-here', [], { kind: 'absence', below: 1, window: '1m' });
    const { counts } = await measure([none]);
    const only = counts.get('none')!.get(groupKey([]))!;
    expect(only.numerator).toBe(0);
    expect(verdictOf(none.condition, only).breaching).toBe(true);
  });

  it('an absence rule grouped by service sees the group that logged in the window before and not in this one', async () => {
    const quiet = rule('quiet', '', ['service'], { kind: 'absence', below: 1, window: '1m' });
    const { counts } = await measure([quiet]);
    const groups = counts.get('quiet')!;
    expect(groups.get(groupKey(['batch']))!.numerator).toBe(0);
    expect(verdictOf(quiet.condition, groups.get(groupKey(['batch']))!).breaching).toBe(true);
    expect(verdictOf(quiet.condition, groups.get(groupKey(['api']))!).breaching).toBe(false);
  });

  it('groups by level and by an attribute named __proto__, as data', async () => {
    const byLevel = rule('lvl', '', ['level', '__proto__'], { kind: 'threshold', op: '>=', value: 1, window: '1m' });
    const { counts } = await measure([byLevel]);
    const groups = counts.get('lvl')!;
    expect(groups.get(groupKey(['error', 'evil']))!.numerator).toBe(1);
    expect(groups.get(groupKey(['error', '']))!.numerator).toBe(6);
    expect(groups.get(groupKey(['info', '']))!.numerator).toBe(2);
  });

  it('the fast path groups a record exactly as the SQL does', async () => {
    const groupBy = ['service', 'level', '__proto__', 'attr.missing'];
    const batch = batchRules([rule('g', '', groupBy, { kind: 'threshold', op: '>', value: 0, window: '1m' })])[0]!;
    const { sql, params } = batchSql(TENANT, batch, END);
    const { counts } = readBatch(batch, await (await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json());
    const sqlKeys = [...counts.get('g')!.keys()].sort();
    const inWindow = rows.filter(
      (r) =>
        r.TenantId === TENANT &&
        r.Timestamp >= formatClickHouseTime(instantFromMillis((END - 60) * 1000)) &&
        r.Timestamp < formatClickHouseTime(instantFromMillis(END * 1000)),
    );
    const fastKeys = [...new Set(inWindow.map((r) => groupKey(groupValuesOf(r as unknown as MatchableRecord, groupBy))))].sort();
    expect(fastKeys).toEqual(sqlKeys);
  });
});
