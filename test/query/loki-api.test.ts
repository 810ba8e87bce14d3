/**
 * Grafana's Loki data source against NeuralLog: the requests it sends
 * (pkg/tsdb/loki/api.go, healthcheck.go, LanguageProvider.ts,
 * LogContextProvider.ts, the log volume and sample supporting queries, Logs
 * Drilldown's volume, patterns and detected fields calls), replayed against
 * rows stored for the test, and their answers compared with what the same
 * rows answer through /v1/logs.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRow, LogView } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';
import { clickhouse } from '../support/in-workerd.ts';

// Recent (rows older than their retention are dropped by the TTL), on a whole minute.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
const NS = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
const iso = (ms: number) => new Date(ms).toISOString();
const svc = `graf-${crypto.randomUUID().slice(0, 8)}`;
const other = `graf-other-${crypto.randomUUID().slice(0, 8)}`;
const OTHER_TENANT = `loki-other-${crypto.randomUUID().slice(0, 8)}`;
const SECRET = 'zzsecretofanothertenantzz';
let otherKey = '';

let seq = 0;
function row(tenantId: string, record: Record<string, unknown>): LogRow {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  return normalizeRecord(record, 0, { tenantId, retentionDays: 30, receivedAt, batchId: `L${(seq++).toString().padStart(6, '0')}` });
}

/** Basic auth with the key as password, as Grafana's data source sends it. */
function basic(key = TEST_API_KEY): string {
  return `Basic ${btoa(`grafana:${key}`)}`;
}

async function loki(path: string, params: Record<string, string | string[]>, init: { key?: string; method?: string; headers?: Record<string, string> } = {}) {
  const url = new URL(`https://neurallog.test/loki/api/v1/${path}`);
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) (init.method === 'POST' ? body : url.searchParams).append(k, one);
  const res = await exports.default.fetch(
    new Request(url, {
      method: init.method ?? 'GET',
      headers: {
        authorization: basic(init.key),
        'x-scope-orgid': OTHER_TENANT,
        ...(init.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...init.headers,
      },
      ...(init.method === 'POST' ? { body } : {}),
    }),
  );
  return { status: res.status, json: (await res.json()) as any };
}

async function native(params: Record<string, string>): Promise<LogView[]> {
  const url = new URL('https://neurallog.test/v1/logs');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
  expect(res.status).toBe(200);
  return ((await res.json()) as { logs: LogView[] }).logs;
}

const levels = ['info', 'info', 'warn', 'error', 'info', 'debug', 'error', 'info'];

beforeAll(async () => {
  await provisionTenant(OTHER_TENANT);
  otherKey = await provisionKey(OTHER_TENANT, ['logs:read', 'logs:write']);
  const rows: LogRow[] = [];
  for (let i = 0; i < 40; i++) {
    rows.push(
      row(TEST_TENANT, {
        timestamp: iso(T0 + i * 15_000),
        service: i % 4 === 3 ? other : svc,
        level: levels[i % levels.length],
        message: i % 5 === 0 ? `GET /api/orders/${i} status=500 took ${i}ms` : `user ${i} checked out cart total=${i * 3}`,
        attributes: { status: i % 5 === 0 ? '500' : '200', 'http.method': 'GET', latency_ms: String(i * 10) },
        resource: { 'k8s.namespace': 'shop', host: `node-${i % 2}` },
      }),
    );
  }
  rows.push(
    row(OTHER_TENANT, {
      timestamp: iso(T0 + 30_000),
      service: svc,
      level: 'error',
      message: `${SECRET} status=500`,
      attributes: { secretattr: SECRET },
      resource: { 'k8s.namespace': 'shop', tenantlabel: SECRET },
    }),
  );
  rows[0]!.PatternId = 'aaaa0000aaaa0000';
  await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
  await clickhouse.insert({
    table: 'log_patterns',
    values: [
      {
        TenantId: TEST_TENANT,
        PatternId: 'aaaa0000aaaa0000',
        ServiceName: svc,
        Template: 'GET /api/orders/<*> status=500 took <*>',
        FirstSeen: formatClickHouseTime(instantFromMillis(T0)).slice(0, 23),
      },
    ],
    format: 'JSONEachRow',
  });
});

const range = { start: NS(T0 - 60_000), end: NS(T0 + 15 * 60_000) };

describe('Grafana Loki data source', () => {
  it('health check: vector(1)+vector(1) at t=4s answers one sample equal to 2', async () => {
    // healthcheck.go: instant query, time range 1s..4s, the tenant from the Basic password.
    const { status, json } = await loki('query', { query: 'vector(1)+vector(1)', direction: '', time: '4000000000' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ status: 'success', data: { resultType: 'vector' } });
    expect(json.data.result).toEqual([{ metric: {}, value: [4, '2'] }]);
  });

  it('Explore: the log query returns the rows /v1/logs returns, newest first, as streams', async () => {
    const { status, json } = await loki(
      'query_range',
      { query: `{service_name="${svc}"} |= "status=500"`, limit: '1000', direction: 'backward', step: '15000ms', ...range },
      { headers: { 'x-query-tags': 'Source=grafana' } },
    );
    expect(status).toBe(200);
    expect(json.data.resultType).toBe('streams');
    const entries = (json.data.result as { stream: Record<string, string>; values: [string, string][] }[]).flatMap((s) =>
      s.values.map((v) => ({ ...v, stream: s.stream })),
    );
    const expected = await native({ service: svc, q: '"status=500"', from: iso(T0 - 60_000), to: iso(T0 + 15 * 60_000), limit: '1000' });
    expect(expected.length).toBeGreaterThan(3);
    expect(entries.map((e) => e[1]).sort()).toEqual(expected.map((l) => l.body).sort());
    // Stream labels: the service, the level, the resource (dots as underscores) and the attributes.
    const first = (json.data.result as { stream: Record<string, string> }[])[0]!.stream;
    expect(first).toMatchObject({ service_name: svc, k8s_namespace: 'shop', status: '500', http_method: 'GET' });
    expect(['info', 'warn', 'error', 'debug']).toContain(first.detected_level);
    // Nanosecond timestamps, newest first across the answer.
    const times = entries.map((e) => BigInt(e[0])).sort((a, b) => (a > b ? -1 : 1));
    expect(times[0]).toBe(BigInt(Date.parse(expected[0]!.timestamp)) * 1_000_000n);
  });

  it('Explore: the log volume histogram counts what /v1/logs finds per level', async () => {
    // The supporting query Grafana adds to a log query (logsVolumeProvider): by level and detected_level.
    const { status, json } = await loki(
      'query_range',
      { query: `sum by (level, detected_level) (count_over_time({service_name="${svc}"}[60s]))`, step: '60000ms', ...range },
      { headers: { 'x-query-tags': 'Source=logvolhist' } },
    );
    expect(status).toBe(200);
    expect(json.data.resultType).toBe('matrix');
    const totals = new Map<string, number>();
    for (const s of json.data.result as { metric: Record<string, string>; values: [number, string][] }[]) {
      expect(Object.keys(s.metric)).toEqual(['detected_level']);
      totals.set(
        s.metric.detected_level!,
        s.values.reduce((n, [, v]) => n + Number(v), 0),
      );
    }
    for (const level of ['info', 'warn', 'error', 'debug']) {
      const rows = await native({ service: svc, level, from: iso(T0 - 60_000), to: iso(T0 + 15 * 60_000), limit: '1000' });
      expect(totals.get(level) ?? 0, level).toBe(rows.length);
    }
    // Steps of 60 s from start, values as strings, timestamps in seconds.
    const [t, v] = (json.data.result[0].values as [number, string][])[0]!;
    expect((t * 1000 - (T0 - 60_000)) % 60_000).toBe(0);
    expect(typeof v).toBe('string');
  });

  it('Explore: the log sample (limit 10) and forward direction', async () => {
    const { json } = await loki('query_range', { query: `{service_name="${svc}"}`, limit: '10', direction: 'forward', ...range });
    const values = (json.data.result as { values: [string, string][] }[]).flatMap((s) => s.values).sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1));
    expect(values).toHaveLength(10);
    expect(values[0]![0]).toBe(NS(T0)); // the oldest first
  });

  it('context: the rows before and after a line, both ways, as /v1/logs orders them', async () => {
    const all = (await native({ service: svc, from: iso(T0 - 60_000), to: iso(T0 + 15 * 60_000), limit: '1000' })).reverse(); // oldest first
    const pivot = all[10]!;
    const pivotNs = BigInt(Date.parse(pivot.timestamp)) * 1_000_000n;
    const selector = `{service_name="${svc}"}`;
    // LogContextProvider: backward from the row's time (exclusive), forward from it, limit 10, a 2 h window.
    const before = await loki('query_range', {
      query: selector,
      limit: '3',
      direction: 'backward',
      start: String(pivotNs - 7_200_000_000_000n),
      end: String(pivotNs),
    });
    const after = await loki('query_range', {
      query: selector,
      limit: '3',
      direction: 'forward',
      start: String(pivotNs),
      end: String(pivotNs + 7_200_000_000_000n),
    });
    const lines = (r: typeof before) =>
      (r.json.data.result as { values: [string, string][] }[])
        .flatMap((s) => s.values)
        .sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1))
        .map((v) => v[1]);
    expect(lines(before)).toEqual(all.slice(7, 10).map((l) => l.body));
    expect(lines(after)).toEqual(all.slice(10, 13).map((l) => l.body));
  });

  it('autocomplete: labels, label values (with a selector) and series', async () => {
    const labels = await loki('labels', range);
    expect(labels.status).toBe(200);
    expect(labels.json.data).toEqual(expect.arrayContaining(['service_name', 'detected_level', 'k8s_namespace', 'host']));
    expect(labels.json.data).not.toContain('tenantlabel');
    const values = await loki('label/host/values', { ...range, query: `{service_name="${svc}"}` });
    expect(values.json.data).toEqual(['node-0', 'node-1']);
    const services = await loki('label/service_name/values', { ...range, query: `{k8s_namespace="shop"}` });
    expect(services.json.data).toEqual(expect.arrayContaining([svc, other]));
    const series = await loki('series', { ...range, 'match[]': `{service_name="${other}"}` }, { method: 'POST' });
    expect(series.status).toBe(200);
    // `other` has only i % 4 === 3 rows: levels warn and info (i % 8 ∈ {3, 7}); hosts node-1 only.
    expect(series.json.data).toEqual(
      expect.arrayContaining([
        { service_name: other, detected_level: 'error', host: 'node-1', k8s_namespace: 'shop' },
        { service_name: other, detected_level: 'info', host: 'node-1', k8s_namespace: 'shop' },
      ]),
    );
    expect(series.json.data).toHaveLength(2);
  });

  it('Drilldown: volume by service, detected labels, detected fields and patterns', async () => {
    const volume = await loki('index/volume', { ...range, query: `{service_name=~"${svc}|${other}"}`, limit: '5000', aggregateBy: 'series' });
    expect(volume.status).toBe(200);
    expect(volume.json.data.resultType).toBe('vector');
    const bytes = new Map(
      (volume.json.data.result as { metric: { service_name: string }; value: [number, string] }[]).map((r) => [r.metric.service_name, Number(r.value[1])]),
    );
    const svcRows = await native({ service: svc, from: iso(T0 - 60_000), to: iso(T0 + 15 * 60_000), limit: '1000' });
    expect(bytes.get(svc)).toBe(svcRows.reduce((n, l) => n + new TextEncoder().encode(l.body).byteLength, 0));
    const volumeRange = await loki('index/volume_range', { ...range, query: `{service_name="${svc}"}`, step: '300' });
    expect(volumeRange.json.data.resultType).toBe('matrix');
    expect((volumeRange.json.data.result[0].values as [number, string][]).reduce((n, [, v]) => n + Number(v), 0)).toBe(bytes.get(svc));

    const detectedLabels = await loki('detected_labels', { ...range, query: `{service_name="${svc}"}` });
    expect(detectedLabels.json.detectedLabels).toEqual(
      expect.arrayContaining([
        { label: 'host', cardinality: 2 },
        { label: 'service_name', cardinality: 1 },
      ]),
    );

    const fields = await loki('detected_fields', { ...range, query: `{service_name="${svc}"}`, limit: '1000' });
    expect(fields.status).toBe(200);
    expect(fields.json.fields).toEqual(
      expect.arrayContaining([
        { label: 'status', type: 'int', cardinality: 2, parsers: null },
        { label: 'http_method', type: 'string', cardinality: 1, parsers: null },
      ]),
    );
    const statusValues = await loki('detected_field/status/values', { ...range, query: `{service_name="${svc}"}` });
    expect(statusValues.json.values).toEqual(['200', '500']);

    const patterns = await loki('patterns', { ...range, query: `{service_name="${svc}"}`, step: '60s' });
    expect(patterns.status).toBe(200);
    expect(patterns.json.data).toEqual([{ pattern: 'GET /api/orders/<_> status=500 took <_>', samples: [[Math.floor((T0 - 60_000) / 1000) + 60, 1]] }]);
  });

  it('dashboard time series and a Grafana-managed alert query', async () => {
    const ts = await loki('query_range', {
      query: `sum by (service_name) (count_over_time({k8s_namespace="shop"} | status >= 500 [5m]))`,
      step: '300000ms',
      ...range,
    });
    expect(ts.status).toBe(200);
    const errors500 = await native({ q: 'status>=500', from: iso(T0 - 60_000), to: iso(T0 + 15 * 60_000), limit: '1000', service: `${svc},${other}` });
    const sum = (ts.json.data.result as { values: [number, string][] }[]).reduce((n, s) => n + s.values.reduce((m, [, v]) => m + Number(v), 0), 0);
    // 5-minute windows at 5-minute steps: every row in exactly one window.
    expect(sum).toBe(errors500.length);
    // An alert rule's instant query: how many error lines in the last 10 minutes, > 0.
    const alert = await loki('query', {
      query: `sum(count_over_time({service_name="${svc}"} | detected_level="error" [10m])) > 0`,
      time: NS(T0 + 10 * 60_000),
    });
    const errors = await native({ service: svc, level: 'error', from: iso(T0), to: iso(T0 + 10 * 60_000), limit: '1000' });
    expect(alert.json.data.result).toEqual([{ metric: {}, value: [(T0 + 10 * 60_000) / 1000, String(errors.length)] }]);
    // A topk over services, then arithmetic with a scalar (precedence: 2 * x + 1).
    const top = await loki('query', {
      query: `1 + 2 * topk(1, sum by (service_name) (count_over_time({k8s_namespace="shop"}[20m])))`,
      time: NS(T0 + 15 * 60_000),
    });
    expect(top.json.data.result).toEqual([{ metric: { service_name: svc }, value: [(T0 + 15 * 60_000) / 1000, String(1 + 2 * 30)] }]);
  });

  it('errors in Loki shape: 400 naming the construct, never a 500', async () => {
    for (const [query, words] of [
      ['{service_name="x"} | pattern "<_> <_>"', 'pattern'],
      ['sum(rate({a="b"}[1m])) and vector(1)', 'and'],
      ['count_over_time({a="b"}[1m] offset 5m)', 'offset'],
      ['{a="b"', 'parse error'],
      ['label_replace(rate({a="b"}[1m]), "x", "$1", "a", "(.*)")', 'label_replace'],
      ['{a=~".*"}', 'empty-compatible'],
      ['{a="b"} |~ "(?=x)"', 'lookaround'],
    ] as const) {
      const { status, json } = await loki('query_range', { query, ...range });
      expect(status, query).toBe(400);
      expect(json.status).toBe('error');
      expect(json.message, query).toContain(words);
    }
    const unauth = await loki('labels', {}, { key: 'nl_wrong' });
    expect(unauth.status).toBe(401);
    expect(unauth.json.message).toBeTypeOf('string');
  });

  it('hostile input: prototype names, huge regexes, deep nesting are bounded 4xx', async () => {
    for (const query of [
      `{__proto__="x", service_name="${svc}"}`,
      `{constructor=~".+"}`,
      `{service_name="${svc}"} | json | __proto__="1" or constructor != "" or toString="x"`,
      `sum by (__proto__, constructor) (count_over_time({service_name="${svc}"} | json [1m]))`,
    ]) {
      const { status, json } = await loki('query_range', { query, ...range, step: '60s' });
      // Grafana's grammar refuses some of these names outright (400); the rest answer, reading no prototype member.
      expect([200, 400], `${query}: ${JSON.stringify(json)}`).toContain(status);
      expect(JSON.stringify(json)).not.toMatch(/function|\[native code\]|Object\]/);
      if (status === 200) expect(json.data.result.length, query).toBeGreaterThanOrEqual(query.includes('sum by') ? 1 : 0);
    }
    const huge = await loki('query_range', { query: `{service_name="${svc}"} |~ "${'(a|b)'.repeat(400)}"`, ...range });
    expect(huge.status).toBe(400);
    const deep = await loki('query', { query: `${'('.repeat(500)}1${')'.repeat(500)}` });
    expect(deep.status).toBe(400);
    const bigRepeat = await loki('query_range', { query: `{service_name="${svc}"} |~ "a{5000}"`, ...range });
    expect(bigRepeat.status).toBe(400);
    const badLabel = await loki('label/__proto__/values', range);
    expect(badLabel.status).toBeLessThan(500);
  });

  it("isolation: another tenant's labels, values and lines never appear, whatever the selector", async () => {
    const everything = [
      await loki('query_range', { query: '{service_name=~".+"} |= "zz"', limit: '5000', ...range }),
      await loki('query_range', { query: '{k8s_namespace="shop"} | secretattr != ""', limit: '5000', ...range }),
      await loki('query_range', { query: 'sum by (tenantlabel, secretattr) (count_over_time({k8s_namespace=~".+"}[15m]))', step: '60s', ...range }),
      await loki('labels', range),
      await loki('label/tenantlabel/values', range),
      await loki('series', { ...range, 'match[]': '{k8s_namespace=~".+"}' }),
      await loki('detected_fields', { ...range, query: '{k8s_namespace=~".+"}' }),
      await loki('index/volume', { ...range, query: '{tenantlabel=~".+"}' }),
    ];
    for (const r of everything) {
      expect(r.status).toBe(200);
      expect(JSON.stringify(r.json)).not.toContain(SECRET);
    }
    // The other tenant's own key reaches its line (X-Scope-OrgID names it in every request above and changes nothing).
    const own = await loki('query_range', { query: '{tenantlabel=~".+"}', ...range }, { key: otherKey });
    expect(JSON.stringify(own.json)).toContain(SECRET);
    expect(env).toBeDefined();
  });
});
