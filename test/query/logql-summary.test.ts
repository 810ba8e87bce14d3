/**
 * LogQL counts by level/service from the per-minute summary: the volume
 * histogram's shape of query (count_over_time/rate, grouped and selected by
 * service and level only, whole-minute windows) is answered from the table's
 * per-minute projection, and its answer is the rows' to the record — records
 * exactly on a minute, a nanosecond after it, in the last nanosecond of a
 * minute, windows longer and shorter than the step.
 */
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRow } from '../../shared/log-record.ts';
import type { RangeAggregation } from '../../shared/logql/ast.ts';
import { parseLogql } from '../../shared/logql/parse.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { compileRangeSummary, summaryPlan } from '../../workers/query/loki/engine.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';
import { clickhouse } from '../support/in-workerd.ts';

const MIN = 60_000;
// A recent whole hour (inside the retention), the data in its first 20 minutes.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
const S = `sum-${crypto.randomUUID().slice(0, 8)}`;
const S2 = `${S}-b`;
const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;

/** A record's time: a minute, and an offset in nanoseconds from it (0 = exactly on the minute). */
function at(minute: number, offsetNs: bigint): string {
  const total = BigInt(T0 + minute * MIN) * 1_000_000n + offsetNs;
  const s = total / 1_000_000_000n;
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}.${(total % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

beforeAll(async () => {
  const rows: LogRow[] = [];
  const offsets = [0n, 1n, 500_000_000n, 59_999_999_999n, 30_000_000_000n];
  const levels = ['info', 'error', 'warn', 'debug', 'error', 'fatal', 'info'];
  let i = 0;
  for (let minute = 0; minute < 20; minute++) {
    for (const [j, offset] of offsets.entries()) {
      if ((minute + j) % 3 === 2) continue; // uneven counts
      rows.push(
        normalizeRecord({ timestamp: at(minute, offset), service: i % 4 === 0 ? S2 : S, level: levels[i % levels.length], message: `m${i}` }, 0, {
          tenantId: TEST_TENANT,
          retentionDays: 30,
          receivedAt: formatClickHouseTime(instantFromMillis(T0)),
          batchId: `SUM${String(i).padStart(5, '0')}`,
        }),
      );
      i++;
    }
  }
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
});

async function queryRange(query: string, start: number, end: number, step: string) {
  const url = new URL('https://neurallog.test/loki/api/v1/query_range');
  for (const [k, v] of Object.entries({ query, start: ns(start), end: ns(end), step })) url.searchParams.set(k, v);
  const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Basic ${btoa(`grafana:${TEST_API_KEY}`)}` } }));
  const body = (await res.json()) as { data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data.result.sort((a, b) => (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1));
}

/** The range aggregation a query's pushed-down sum holds, and its SQL grouping. */
function rangeOf(query: string): { range: RangeAggregation; grouping: string[] } {
  const expr = parseLogql(query);
  if (expr.kind === 'vector_agg' && expr.expr.kind === 'range') return { range: expr.expr, grouping: expr.grouping?.labels ?? [] };
  if (expr.kind === 'range') return { range: expr, grouping: expr.grouping!.labels };
  throw new Error('not a range aggregation');
}

// [query, start minute, end minute, step]: the summary answers these…
const SUMMARY_CASES: [string, number, number, string][] = [
  [`sum by (detected_level) (count_over_time({service_name="${S}"}[1m]))`, 0, 21, '60s'],
  [`sum by (level, detected_level) (count_over_time({service_name=~"${S}|${S2}"}[1m]))`, 1, 19, '1m'], // Grafana's volume query
  [`sum by (service_name) (rate({service_name=~"${S}.*", detected_level!="debug"}[5m]))`, 2, 22, '120s'], // windows overlap
  [`sum by (detected_level, service_name) (count_over_time({service="${S}", level=~"error|fatal"}[2m]))`, 0, 20, '3m'], // windows leave gaps
  [`sum(count_over_time({service_name="${S2}"} | json [20m]))`, 20, 20, '1m'], // one step
];

describe('LogQL counts from the per-minute summary', () => {
  it('routes the volume-shaped queries over whole minutes to the summary, everything else to the rows', () => {
    const grid = (startMin: number, endMin: number, step: bigint) => ({
      startNs: BigInt(T0 + startMin * MIN) * 1_000_000n,
      stepNs: step,
      steps: Number((BigInt((endMin - startMin) * MIN) * 1_000_000n) / step) + 1,
    });
    for (const [query, start, end, step] of SUMMARY_CASES) {
      const { range, grouping } = rangeOf(query);
      const stepNs = BigInt(Number.parseInt(step, 10) * (step.endsWith('m') ? 60 : 1)) * 1_000_000_000n;
      expect(summaryPlan(range, grid(start, end, stepNs), grouping), query).not.toBeNull();
    }
    const minute = 60_000_000_000n;
    const rows = (query: string, g = grid(0, 20, minute)) => summaryPlan(rangeOf(query).range, g, rangeOf(query).grouping);
    expect(rows(`sum by (detected_level) (count_over_time({service_name="${S}"} |= "m1" [1m]))`)).toBeNull(); // a line filter
    expect(rows(`sum by (detected_level) (count_over_time({service_name="${S}"} |= "" [1m]))`)).toBeNull();
    expect(rows(`sum by (detected_level) (count_over_time({service_name="${S}", host="a"}[1m]))`)).toBeNull(); // another label
    expect(rows(`sum by (host) (count_over_time({service_name="${S}"}[1m]))`)).toBeNull();
    expect(rows(`sum by (detected_level) (bytes_over_time({service_name="${S}"}[1m]))`)).toBeNull();
    expect(rows(`sum by (detected_level) (count_over_time({service_name="${S}"}[90s]))`)).toBeNull();
    expect(
      rows(`sum by (detected_level) (count_over_time({service_name="${S}"}[1m]))`, { ...grid(0, 20, minute), startNs: grid(0, 20, minute).startNs + 1n }),
    ).toBeNull();
    expect(rows(`sum by (detected_level) (count_over_time({service_name="${S}"}[1m]))`, grid(0, 20, 30_000_000_000n))).toBeNull();
  });

  it('gives the answer the rows give, to the record', async () => {
    for (const [query, start, end, step] of SUMMARY_CASES) {
      // `|= ""` keeps every record and sends the same query to the rows.
      const onRows = query.replace(/\}( \| json)? \[/, (_m, json: string | undefined) => `}${json ?? ''} |= "" [`).replace(/\}\[/, '} |= "" [');
      expect(onRows).toContain('|= ""');
      const fromSummary = await queryRange(query, T0 + start * MIN, T0 + end * MIN, step);
      const fromRows = await queryRange(onRows, T0 + start * MIN, T0 + end * MIN, step);
      expect(fromSummary.length, query).toBeGreaterThan(0);
      expect(fromSummary, query).toEqual(fromRows);
    }
  });

  it('reads the per-minute projection, not the rows, for the counts', async () => {
    const { range, grouping } = rangeOf(SUMMARY_CASES[1]![0]);
    const grid = { startNs: BigInt(T0) * 1_000_000n, stepNs: 60_000_000_000n, steps: 20 };
    const { sql, params } = compileRangeSummary(TEST_TENANT, range, grid, grouping);
    const rs = await clickhouse.query({ query: `EXPLAIN indexes = 1 ${sql}`, query_params: params, format: 'TabSeparatedRaw' });
    expect(await rs.text()).toMatch(/per_minute_edge/);
  });
});
