/**
 * findAnomalies without ClickHouse: a stand-in `run` answers each of its
 * queries from a table of counts, and records what it was asked — every value
 * a parameter, the tenant predicate first; a generalised pattern followed under
 * its current id; a pattern new under its id but seen under an earlier one not
 * new. (GET /v1/anomalies runs it against ClickHouse: test/query/anomalies.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { anomalyInterval, BASELINE_DAYS, findAnomalies, MAX_RANGE_SECONDS, type RunQuery } from '../../shared/analytics/find-anomalies.ts';
import { AliasGraph } from '../../shared/patterns/aliases.ts';
import { instantFromMillis } from '../../shared/timestamp.ts';

const DAY = 86_400;
const T = Date.UTC(2026, 10, 20) / 1000; // midnight: the range is this day
const scope = { tenantId: "tenant-'x", from: instantFromMillis(T * 1000), to: instantFromMillis((T + DAY) * 1000), services: [] as string[] };

interface Answers {
  services?: { service: string; b: number; n: string; e: string }[];
  patterns?: { service: string; pattern: string; b: number; n: string }[];
  fresh?: { service: string; pattern: string; first: string; n: string; severity: number }[];
  seen?: { pattern: string }[];
}

/** A stand-in for ClickHouse: each query answered by its kind, every call recorded. */
function fakeRun(answers: Answers) {
  const calls: { sql: string; params: Record<string, unknown> }[] = [];
  const run: RunQuery = async <T>(sql: string, params: Record<string, unknown>) => {
    calls.push({ sql, params });
    const rows = sql.includes('countIf(')
      ? answers.services
      : sql.includes('GROUP BY service, pattern, b')
        ? answers.patterns
        : sql.includes('min(Timestamp)')
          ? answers.fresh
          : answers.seen;
    return (rows ?? []) as T[];
  };
  return { run, calls };
}

/** `n` records in every 30-minute slot of the range and the BASELINE_DAYS days before, with `extra` in one slot of the range. */
function steady(service: string, n: number, extra: Record<number, number> = {}) {
  const rows: { service: string; b: number; n: string; e: string }[] = [];
  for (let day = -BASELINE_DAYS; day <= 0; day++)
    for (let slot = 0; slot < 48; slot++) {
      const b = T + day * DAY + slot * 1800;
      rows.push({ service, b, n: String(n + (day === 0 ? (extra[slot] ?? 0) : 0)), e: '0' });
    }
  return rows;
}

describe('findAnomalies', () => {
  it('cuts the range by anomalyInterval and asks ClickHouse with every value a parameter, the tenant first', async () => {
    const { run, calls } = fakeRun({});
    const found = await findAnomalies(run, new AliasGraph([]), { ...scope, services: ["api'); DROP TABLE logs --"] });
    expect(found).toEqual({ interval: anomalyInterval(DAY), baselineDays: 0, anomalies: [] });
    expect(found.interval).toBe(1800);
    expect(calls).toHaveLength(3); // no family to look up
    for (const { sql, params } of calls) {
      expect(sql).toMatch(/ WHERE TenantId = \{tenant:String\} /);
      expect(sql).not.toContain('tenant-');
      expect(sql).not.toContain('DROP');
      expect(sql).toContain('ServiceName IN {services:Array(String)}');
      expect(params).toMatchObject({ tenant: "tenant-'x", services: ["api'); DROP TABLE logs --"], first: T, interval: 1800, span: DAY, end: T + DAY });
      expect(params.lookback).toBe(T - BASELINE_DAYS * DAY);
    }
  });

  it('finds a spike against the same slot on the days before', async () => {
    const { run } = fakeRun({ services: steady('api', 10, { 20: 200 }) });
    const found = await findAnomalies(run, new AliasGraph([]), scope);
    expect(found.baselineDays).toBe(BASELINE_DAYS);
    expect(found.anomalies).toHaveLength(1);
    expect(found.anomalies[0]).toMatchObject({
      kind: 'volume',
      service: 'api',
      patternId: null,
      direction: 'spike',
      start: new Date((T + 20 * 1800) * 1000).toISOString(),
      end: new Date((T + 21 * 1800) * 1000).toISOString(),
      expected: 10,
      actual: 210,
    });
  });

  it('follows a generalised pattern under its current id, and a new id of an old family is not new', async () => {
    const graph = new AliasGraph([['old', 'new']]);
    const patterns = steady('api', 10).flatMap((r) => {
      const day = Math.floor((r.b - T) / DAY);
      // The template generalised today: its records were counted under "old" before, under "new" since.
      return [{ service: 'api', pattern: day < 0 ? 'old' : 'new', b: r.b, n: r.n }];
    });
    const { run, calls } = fakeRun({
      services: steady('api', 10),
      patterns,
      fresh: [{ service: 'api', pattern: 'new', first: '2026-11-20 00:00:00.000000000', n: '480', severity: 9 }],
      seen: [{ pattern: 'old' }],
    });
    const found = await findAnomalies(run, graph, scope);
    expect(found.anomalies).toEqual([]); // neither "old" falling silent, nor "new" appearing
    expect(calls).toHaveLength(4);
    expect(calls[3]!.sql).toMatch(/ WHERE TenantId = \{tenant:String\} /);
    expect(calls[3]!.params).toMatchObject({ ids: ['old'] });
  });

  it('reports a pattern first seen in the range at its level', async () => {
    const { run } = fakeRun({ fresh: [{ service: 'api', pattern: 'p1', first: '2026-11-20 03:00:00.500000000', n: '3', severity: 17 }] });
    const found = await findAnomalies(run, new AliasGraph([]), scope);
    expect(found.anomalies).toEqual([
      expect.objectContaining({
        kind: 'new_pattern',
        service: 'api',
        patternId: 'p1',
        start: '2026-11-20T03:00:00.500000000Z',
        actual: 3,
        summary: expect.stringContaining('(error)'),
      }),
    ]);
  });

  it('refuses an empty, reversed or too long range', async () => {
    const { run } = fakeRun({});
    const graph = new AliasGraph([]);
    await expect(findAnomalies(run, graph, { ...scope, to: scope.from })).rejects.toThrow(RangeError);
    await expect(findAnomalies(run, graph, { ...scope, from: scope.to, to: scope.from })).rejects.toThrow(RangeError);
    await expect(findAnomalies(run, graph, { ...scope, from: instantFromMillis((T - MAX_RANGE_SECONDS - 1) * 1000), to: scope.from })).rejects.toThrow(
      RangeError,
    );
  });
});
