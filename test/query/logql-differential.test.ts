/**
 * LogQL through the API (compiled to ClickHouse SQL) against the in-memory
 * reference (shared/logql/evaluate.ts) over one fixed data set: random queries
 * from a seeded generator — selectors, line and label filters, parsers,
 * formatting, every range function, vector aggregations, binary operations —
 * must give the same streams or the same series, or be refused with 400.
 */
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRow } from '../../shared/log-record.ts';
import { LogqlError } from '../../shared/logql/ast.ts';
import { type EvalRow, evaluateLogQuery, evaluateMetric } from '../../shared/logql/evaluate.ts';
import { labelsKey } from '../../shared/logql/labels.ts';
import { parseLogql } from '../../shared/logql/parse.ts';
import { formatSample, type Value } from '../../shared/logql/series.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { clickhouse } from '../support/in-workerd.ts';

const TENANT = `logql-diff-${crypto.randomUUID().slice(0, 8)}`;
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
let key = '';
const rows: EvalRow[] = [];

/** mulberry32: the same queries on every run. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['cart', 'checkout', 'search'];
const HOSTS = ['node-a', 'node-b', 'node-c'];
const LEVELS = ['debug', 'info', 'info', 'warn', 'error', 'fatal', ''];
const WORDS = ['timeout', 'connection', 'reset', 'user', 'Ada', 'ok', 'GET', '/api/v1', 'status=5', 'é'];

function toEvalRow(r: LogRow): EvalRow {
  const [date, time] = r.Timestamp.split(' ');
  const [hms, nanos] = time!.split('.');
  const seconds = BigInt(Date.parse(`${date}T${hms}Z`) / 1000);
  return {
    ns: seconds * 1_000_000_000n + BigInt(nanos!),
    LogId: r.LogId,
    Body: r.Body,
    ServiceName: r.ServiceName ?? '',
    SeverityNumber: r.SeverityNumber ?? 0,
    ResourceAttributes: r.ResourceAttributes ?? {},
    LogAttributes: r.LogAttributes ?? {},
  };
}

beforeAll(async () => {
  await provisionTenant(TENANT);
  key = await provisionKey(TENANT, ['logs:read']);
  const random = rng(7);
  const stored: LogRow[] = [];
  for (let i = 0; i < 120; i++) {
    const words = Array.from({ length: 2 + Math.floor(random() * 4) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
    const attributes: Record<string, string> = { latency_ms: String(Math.floor(random() * 900)), status: random() < 0.3 ? '500' : '200' };
    if (random() < 0.5) attributes['user.name'] = random() < 0.5 ? 'ada' : 'bob';
    if (random() < 0.2) attributes.region = 'eu-west';
    if (random() < 0.1) attributes.latency_ms = 'n/a';
    const record: Record<string, unknown> = {
      timestamp: new Date(T0 + i * 7_000 + Math.floor(random() * 1000)).toISOString(),
      message: `${words} #${i}`,
      attributes,
      resource: { 'host.name': HOSTS[i % 3], 'k8s.namespace': i % 5 === 0 ? 'ops' : 'shop' },
    };
    if (i % 11 !== 0) record.service = SERVICES[Math.floor(random() * 3)];
    const level = LEVELS[Math.floor(random() * LEVELS.length)];
    if (level) record.level = level;
    stored.push(
      normalizeRecord(record, i, {
        tenantId: TENANT,
        retentionDays: 30,
        receivedAt: formatClickHouseTime(instantFromMillis(T0)),
        batchId: `D${i.toString().padStart(4, '0')}`,
      }),
    );
  }
  await clickhouse.insert({ table: 'logs', values: stored, format: 'JSONEachRow' });
  rows.push(...stored.map(toEvalRow));
});

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function selector(random: () => number): string {
  const first = pick(random, [
    `service_name="${pick(random, SERVICES)}"`,
    `service_name=~"${pick(random, ['cart|search', 'c.*', '.+'])}"`,
    `host_name="${pick(random, HOSTS)}"`,
    `k8s_namespace=~".+"`,
    `level="${pick(random, ['info', 'error', 'warn', 'unknown'])}"`,
    `detected_level=~"${pick(random, ['info|warn', 'e.*'])}"`,
  ]);
  const more =
    random() < 0.5 ? [pick(random, ['host_name!="node-b"', 'k8s_namespace!~"ops"', 'service!="cart"', 'detected_level!="debug"', 'nothere=""'])] : [];
  return `{${[first, ...more].join(', ')}}`;
}

function stages(random: () => number, metric: boolean): string {
  const out: string[] = [];
  const n = Math.floor(random() * 4);
  for (let i = 0; i < n; i++) {
    out.push(
      pick(random, [
        `|= "${pick(random, WORDS)}"`,
        `!= "${pick(random, WORDS)}"`,
        `|~ "${pick(random, ['(?i)ada', 'time(out)?', '#1[0-9]$', 'é'])}"`,
        `!~ "${pick(random, ['reset', '^user'])}"`,
        '| json',
        '| logfmt',
        `| status ${pick(random, ['>=', '==', '!=', '<'])} ${pick(random, ['500', '200', '300'])}`,
        `| latency_ms > ${Math.floor(random() * 900)}`,
        `| user_name="${pick(random, ['ada', 'bob', ''])}"`,
        `| region=~"eu.*" or status="500"`,
        '| __error__=""',
      ]),
    );
  }
  if (!metric && random() < 0.3)
    out.push(
      pick(random, ['| line_format "{{.service_name}}: {{__line__}}"', '| drop host_name', '| keep service_name, status', '| label_format who=user_name']),
    );
  if (metric && random() < 0.15) out.push(pick(random, ['| drop host_name', '| keep service_name, detected_level']));
  return out.join(' ');
}

function metricQuery(random: () => number): string {
  const sel = `${selector(random)} ${stages(random, true)}`;
  const range = pick(random, ['30s', '1m', '2m', '5m']);
  const fn = pick(random, [
    'count_over_time',
    'rate',
    'bytes_over_time',
    'bytes_rate',
    'absent_over_time',
    'sum_over_time',
    'avg_over_time',
    'min_over_time',
    'max_over_time',
    'quantile_over_time',
  ]);
  let inner: string;
  if (['sum_over_time', 'avg_over_time', 'min_over_time', 'max_over_time'].includes(fn))
    inner = `${fn}(${sel} | unwrap latency_ms [${range}])${random() < 0.3 ? ' by (service_name)' : ''}`;
  else if (fn === 'quantile_over_time') inner = `quantile_over_time(0.${Math.floor(random() * 9) + 1}, ${sel} | unwrap latency_ms [${range}])`;
  else inner = `${fn}(${sel} [${range}])`;
  const wrapped = pick(random, [
    inner,
    `sum by (${pick(random, ['service_name', 'detected_level', 'host_name, detected_level', 'status', 'level'])}) (${inner})`,
    `sum(${inner})`,
    `count(${inner})`,
    `max by (service_name) (${inner})`,
    `avg without (host_name) (${inner})`,
    `topk(2, sum by (service_name) (${inner}))`,
    `bottomk(1, ${inner})`,
    `stddev(${inner})`,
  ]);
  return pick(random, [wrapped, wrapped, `${wrapped} * 2 + 1`, `${wrapped} > 1`, `${wrapped} > bool 2`, `2 ^ 2 * ${wrapped}`]);
}

async function api(path: string, params: Record<string, string>) {
  const url = new URL(`https://neurallog.test/loki/api/v1/${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
  return { status: res.status, json: (await res.json()) as any };
}

function seriesOf(value: Value, startNs: bigint, stepNs: bigint): Map<string, [number, string][]> {
  const out = new Map<string, [number, string][]>();
  if (value.type === 'scalar') throw new Error('scalar');
  for (const s of value.series) {
    out.set(
      labelsKey(s.labels),
      [...s.points].sort((a, b) => a[0] - b[0]).map(([k, v]) => [Number((startNs + BigInt(k) * stepNs) / 1_000_000n) / 1000, formatSample(v)]),
    );
  }
  return out;
}

function close(a: string, b: string): boolean {
  if (a === b) return true;
  const [x, y] = [Number(a), Number(b)];
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

describe('LogQL: SQL against the in-memory reference', () => {
  it('log queries: the same streams and lines, in order, or a 400', async () => {
    const random = rng(19);
    let answered = 0;
    for (let i = 0; i < 120; i++) {
      const query = `${selector(random)} ${stages(random, false)}`;
      const limit = 1 + Math.floor(random() * 60);
      const direction = random() < 0.5 ? 'forward' : 'backward';
      const startNs = BigInt(T0 - 30_000 + Math.floor(random() * 300_000)) * 1_000_000n;
      const endNs = startNs + BigInt(60_000 + Math.floor(random() * 900_000)) * 1_000_000n;
      const res = await api('query_range', { query, limit: String(limit), direction, start: String(startNs), end: String(endNs) });
      if (res.status === 400) {
        expect(() => evaluateLogQuery(parseLogql(query) as never, rows, { startNs, endNs, limit, direction }), `${query}: ${res.json.message}`).toThrow(
          LogqlError,
        );
        continue;
      }
      expect(res.status, `${query}: ${JSON.stringify(res.json)}`).toBe(200);
      answered++;
      const expected = evaluateLogQuery(parseLogql(query) as never, rows, { startNs, endNs, limit, direction });
      const got = new Map(
        (res.json.data.result as { stream: Record<string, string>; values: [string, string][] }[]).map((s) => [
          labelsKey(new Map(Object.entries(s.stream))),
          s.values,
        ]),
      );
      expect(got, query).toEqual(new Map(expected.map((s) => [labelsKey(s.labels), s.entries.map(([ns, line]) => [ns.toString(), line])])));
    }
    expect(answered).toBeGreaterThan(100);
  }, 120_000);

  it('metric queries over steps (range = step, range > step, range < step): the same series and values, or a 400', async () => {
    const random = rng(1919);
    let answered = 0;
    for (let i = 0; i < 150; i++) {
      const query = metricQuery(random);
      const stepNs = BigInt(pick(random, [30_000, 60_000, 120_000])) * 1_000_000n;
      const startNs = BigInt(T0 - 60_000 + Math.floor(random() * 120_000)) * 1_000_000n;
      const steps = 1 + Math.floor(random() * 14);
      const endNs = startNs + BigInt(steps - 1) * stepNs;
      const res = await api('query_range', { query, start: String(startNs), end: String(endNs), step: `${stepNs / 1_000_000n}ms` });
      const grid = { startNs, stepNs, steps };
      if (res.status === 400) {
        expect(() => evaluateMetric(parseLogql(query) as never, rows, grid), `${query}: ${res.json.message}`).toThrow(LogqlError);
        continue;
      }
      expect(res.status, `${query}: ${JSON.stringify(res.json)}`).toBe(200);
      answered++;
      const expected = seriesOf(evaluateMetric(parseLogql(query) as never, rows, grid), startNs, stepNs);
      const got = new Map(
        (res.json.data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => [
          labelsKey(new Map(Object.entries(s.metric))),
          s.values,
        ]),
      );
      expect([...got.keys()].sort(), query).toEqual([...expected.keys()].sort());
      for (const [k, values] of expected) {
        const mine = got.get(k)!;
        expect(
          mine.length === values.length && mine.every(([t, v], j) => t === values[j]![0] && close(v, values[j]![1])),
          `${query} ${k}: ${JSON.stringify(mine)} vs ${JSON.stringify(values)}`,
        ).toBe(true);
      }
    }
    expect(answered).toBeGreaterThan(120);
  }, 120_000);

  it('instant queries answer the last step of the same evaluation', async () => {
    const random = rng(4);
    for (let i = 0; i < 30; i++) {
      const query = metricQuery(random);
      const timeNs = BigInt(T0 + Math.floor(random() * 900_000)) * 1_000_000n;
      const res = await api('query', { query, time: String(timeNs) });
      if (res.status === 400) continue;
      expect(res.status, query).toBe(200);
      const expected = seriesOf(
        evaluateMetric(parseLogql(query) as never, rows, { startNs: timeNs, stepNs: 1_000_000_000n, steps: 1 }),
        timeNs,
        1_000_000_000n,
      );
      const got = new Map(
        (res.json.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => [
          labelsKey(new Map(Object.entries(s.metric))),
          s.value,
        ]),
      );
      expect([...got.keys()].sort(), query).toEqual([...expected.keys()].sort());
      for (const [k, v] of got) expect(close(v[1], expected.get(k)![0]![1]), `${query}: ${v[1]} vs ${expected.get(k)![0]![1]}`).toBe(true);
    }
  }, 60_000);
});
