/**
 * Grafana's Loki data source against the stack started as `npm start` starts
 * it (one start for the file): records ingested through the public API
 * (native JSON and Loki push), then the requests Grafana sends — built as
 * its backend builds them, the data source URL being the origin and
 * `/loki/api/v1/…` joined to it (pkg/tsdb/loki/api.go), the key as the
 * Basic-auth password, an X-Scope-OrgID naming someone else — through the
 * gateway, and their answers compared with what /v1/logs answers for the
 * same records: the health check, an Explore log query with its volume
 * histogram and sample, log context both ways, label and value autocomplete,
 * Logs Drilldown's volume, patterns and detected fields, a dashboard series,
 * an alert rule's instant query, and the live tail's WebSocket receiving a
 * record ingested after it opened.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../../scripts/ports.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import type { LogView } from '../../shared/log-record.ts';
import { eventually } from '../support/eventually.ts';

let dataDir: string;
let stack: RunningStack;

const MIN = 60_000;
const svc = `grafe2e-${Date.now().toString(36)}`;
const pushed = `${svc}-push`;
// The records: 24 native ones 20 s apart from a whole minute some minutes ago, 6 pushed through Loki's API.
const T0 = Math.floor(Date.now() / MIN) * MIN - 12 * MIN;
const LEVELS = ['info', 'info', 'warn', 'error', 'debug', 'info'];
const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
const RANGE = { start: ns(T0 - 5 * MIN), end: ns(T0 + 15 * MIN) };

const basic = () => `Basic ${Buffer.from(`grafana:${stack.devApiKey}`).toString('base64')}`;

/** A GET as Grafana's backend sends it: the data source URL's path joined with /loki/api/v1/<resource>. */
async function grafana(resource: string, params: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const url = new URL(stack.url);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/loki/api/v1/${resource}`;
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
  const res = await fetch(url, { headers: { authorization: basic(), 'x-scope-orgid': 'someone-else', ...headers } });
  const json = (await res.json()) as any;
  expect(res.status, JSON.stringify(json).slice(0, 300)).toBe(200);
  return json;
}

async function native(params: Record<string, string>): Promise<LogView[]> {
  const url = new URL('/v1/logs', stack.url);
  for (const [k, v] of Object.entries({ from: new Date(T0 - 5 * MIN).toISOString(), to: new Date(T0 + 15 * MIN).toISOString(), limit: '1000', ...params }))
    url.searchParams.set(k, v);
  const res = await fetch(url, { headers: { authorization: `Bearer ${stack.devApiKey}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { logs: LogView[] }).logs;
}

type Streams = { stream: Record<string, string>; values: [string, string][] }[];
const entriesOf = (result: Streams) => result.flatMap((s) => s.values.map(([t, line]) => ({ ns: t, line, labels: s.stream })));
/** A search answer's RFC 3339 time (nine decimals) as Loki's nanosecond string. */
const nsOf = (l: LogView) => `${BigInt(Date.parse(`${l.timestamp.slice(0, 19)}Z`) / 1000) * 1_000_000_000n + BigInt(l.timestamp.slice(20, 29).padEnd(9, '0'))}`;

async function pushLoki(stream: Record<string, string>, values: [string, string][]): Promise<void> {
  const res = await fetch(new URL('/loki/api/v1/push', stack.url), {
    method: 'POST',
    headers: { authorization: basic(), 'content-type': 'application/json' },
    body: JSON.stringify({ streams: [{ stream, values }] }),
  });
  expect(res.status).toBe(204);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-grafana-'));
  stack = await startStack({ port: await freePort(), dataDir, embeddedClickHousePort: await freePort(), workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' } });
  const records = Array.from({ length: 24 }, (_, i) => ({
    timestamp: new Date(T0 + i * 20_000).toISOString(),
    service: svc,
    level: LEVELS[i % LEVELS.length],
    message: i % 4 === 0 ? `GET /api/orders/${i} status=500 took ${i}ms` : `user ${i} checked out cart total=${i * 3}`,
    status: i % 4 === 0 ? '500' : '200',
    latency_ms: String(i * 10),
    resource: { 'k8s.namespace.name': 'shop' },
  }));
  const res = await fetch(new URL('/v1/logs', stack.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(records),
  });
  expect(res.status).toBe(202);
  await pushLoki(
    { service_name: pushed, env: 'e2e' },
    Array.from({ length: 6 }, (_, i) => [ns(T0 + i * 30_000 + 7), `pushed line ${i} level=${i % 2 ? 'error' : 'info'}`] as [string, string]),
  );
  // Searchable once flushed.
  await eventually(
    'the 24 sent and 6 pushed records searchable',
    async () => [(await native({ service: svc })).length, (await native({ service: pushed })).length],
    {
      until: ([sent, viaLoki]) => sent === 24 && viaLoki === 6,
      timeoutMs: 60_000,
      intervalMs: 250,
    },
  );
});

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('Grafana against the running stack', () => {
  it('health check, Explore (log query, volume, sample) and context both ways answer what /v1/logs finds', async () => {
    // Save & test: vector(1)+vector(1) as an instant query.
    const health = await grafana('query', { query: 'vector(1)+vector(1)', time: ns(Date.now()), direction: 'backward' });
    expect(health.data).toMatchObject({ resultType: 'vector', result: [{ metric: {}, value: [expect.any(Number), '2'] }] });

    const all = await native({ service: svc }); // newest first
    expect(all).toHaveLength(24);
    const explore = await grafana('query_range', { query: `{service_name="${svc}"}`, direction: 'backward', limit: '1000', step: '20000ms', ...RANGE });
    expect(explore.data.resultType).toBe('streams');
    const entries = entriesOf(explore.data.result).sort((a, b) => (BigInt(b.ns) > BigInt(a.ns) ? 1 : -1));
    expect(entries.map((e) => [e.ns, e.line])).toEqual(all.map((l) => [nsOf(l), l.body]));
    expect(entries[0]!.labels).toMatchObject({ service_name: svc, k8s_namespace_name: 'shop', detected_level: all[0]!.severityText });

    // The volume histogram, as Grafana aligns it to its step: per level, the counts /v1/logs finds.
    const volume = await grafana(
      'query_range',
      { query: `sum by (level, detected_level) (count_over_time({service_name="${svc}"}[1m]))`, step: '60000ms', ...RANGE },
      { 'x-query-tags': 'Source=logvolhist' },
    );
    const perLevel = new Map<string, number>();
    for (const s of volume.data.result as { metric: { detected_level: string }; values: [number, string][] }[])
      perLevel.set(
        s.metric.detected_level,
        s.values.reduce((n, [, v]) => n + Number(v), 0),
      );
    const expected = new Map<string, number>();
    for (const l of all) expected.set(l.severityText, (expected.get(l.severityText) ?? 0) + 1);
    expect(perLevel).toEqual(expected);

    // The log sample: the 10 newest.
    const sample = await grafana(
      'query_range',
      { query: `{service_name="${svc}"}`, direction: 'backward', limit: '10', step: '20000ms', ...RANGE },
      { 'x-query-tags': 'Source=logsample' },
    );
    expect(
      entriesOf(sample.data.result)
        .map((e) => e.line)
        .sort(),
    ).toEqual(
      all
        .slice(0, 10)
        .map((l) => l.body)
        .sort(),
    );

    // Context of the 12th oldest line: the 10 before it (backward, ending at it) and it with the 9 after (forward, from it).
    const chronological = [...all].reverse();
    const row = chronological[12]!;
    const t = BigInt(nsOf(row));
    const before = await grafana('query_range', {
      query: `{service_name="${svc}"}`,
      direction: 'backward',
      limit: '10',
      start: `${t - 7_200_000_000_000n}`,
      end: `${t}`,
    });
    expect(
      entriesOf(before.data.result)
        .map((e) => e.line)
        .sort(),
    ).toEqual(
      chronological
        .slice(2, 12)
        .map((l) => l.body)
        .sort(),
    );
    const after = await grafana('query_range', {
      query: `{service_name="${svc}"}`,
      direction: 'forward',
      limit: '10',
      start: `${t}`,
      end: `${t + 7_200_000_000_000n}`,
    });
    expect(
      entriesOf(after.data.result)
        .map((e) => e.line)
        .sort(),
    ).toEqual(
      chronological
        .slice(12, 22)
        .map((l) => l.body)
        .sort(),
    );

    // Records pushed through Loki's API: their stream labels come back.
    const fromPush = await grafana('query_range', {
      query: `{service_name="${pushed}", env="e2e"} |= "level=error"`,
      direction: 'forward',
      limit: '100',
      ...RANGE,
    });
    expect(entriesOf(fromPush.data.result).map((e) => e.line)).toEqual((await native({ service: pushed, q: '"level=error"' })).reverse().map((l) => l.body));
    expect(entriesOf(fromPush.data.result).map((e) => e.ns)).toEqual([1, 3, 5].map((i) => ns(T0 + i * 30_000 + 7)));
  });

  it('autocomplete, Drilldown, a dashboard series and an alert query', async () => {
    expect((await grafana('labels', RANGE)).data).toEqual(expect.arrayContaining(['service_name', 'detected_level', 'k8s_namespace_name', 'env']));
    expect((await grafana('label/service_name/values', { ...RANGE, query: '{k8s_namespace_name="shop"}' })).data).toContain(svc);
    expect((await grafana('label/service_name/values', { ...RANGE, query: '{k8s_namespace_name="shop"}' })).data).not.toContain(pushed);
    const series = await grafana('series', { 'match[]': `{service_name="${pushed}"}`, ...RANGE });
    expect(series.data).toEqual(expect.arrayContaining([expect.objectContaining({ service_name: pushed, env: 'e2e' })]));

    // Drilldown: the service list by volume (bytes of body), detected fields, patterns.
    const volume = await grafana('index/volume', {
      query: '{service_name=~".+"}',
      ...RANGE,
      limit: '5000',
      targetLabels: 'service_name',
      aggregateBy: 'series',
    });
    const bytes = (l: LogView[]) => l.reduce((n, x) => n + new TextEncoder().encode(x.body).byteLength, 0);
    const byService = new Map(
      (volume.data.result as { metric: { service_name: string }; value: [number, string] }[]).map((r) => [r.metric.service_name, Number(r.value[1])]),
    );
    expect(byService.get(svc)).toBe(bytes(await native({ service: svc })));
    expect(byService.get(pushed)).toBe(bytes(await native({ service: pushed })));
    const fields = await grafana('detected_fields', { query: `{service_name="${svc}"}`, ...RANGE, limit: '1000' });
    expect(fields.fields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ label: 'latency_ms', type: 'int', cardinality: 24 }),
        expect.objectContaining({ label: 'status', cardinality: 2 }),
      ]),
    );
    const patterns = await grafana('patterns', { query: `{service_name="${svc}"}`, ...RANGE, step: '60s' });
    const total = (patterns.data as { samples: [number, number][] }[]).reduce((n, p) => n + p.samples.reduce((m, [, c]) => m + c, 0), 0);
    const mined = (await native({ service: svc })).filter((l) => l.pattern !== '');
    expect(mined.length).toBeGreaterThan(0);
    expect(total).toBe(mined.length); // the records of a known template, counted once each
    expect(new Set((patterns.data as { pattern: string }[]).map((p) => p.pattern))).toEqual(new Set(mined.map((l) => l.pattern.replaceAll('<*>', '<_>'))));

    // A dashboard panel: errors per minute.
    const panel = await grafana('query_range', {
      query: `sum(count_over_time({service_name="${svc}", detected_level="error"}[1m]))`,
      step: '60000ms',
      ...RANGE,
    });
    const errors = await native({ service: svc, level: 'error' });
    expect((panel.data.result[0].values as [number, string][]).reduce((n, [, v]) => n + Number(v), 0)).toBe(errors.length);
    // A Grafana-managed alert rule: an instant query over the last 30 minutes.
    const alert = await grafana('query', { query: `sum(count_over_time({service_name="${svc}"} | status >= 500 [30m]))`, time: ns(Date.now()) });
    expect(alert.data.result[0].value[1]).toBe(String((await native({ service: svc, q: 'status>=500' })).length));
  });

  it('the live tail sends a record ingested after it opened, as /v1/logs then finds it', async () => {
    const url = new URL('/loki/api/v1/tail', stack.url);
    url.protocol = 'ws:';
    url.searchParams.set('query', `{service_name="${pushed}"} |= "tailed"`);
    const socket = new WebSocket(url, { headers: { authorization: basic(), 'x-scope-orgid': 'someone-else' } });
    const frames: { streams?: Streams }[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    try {
      const at = BigInt(Date.now()) * 1_000_000n + 123n;
      await pushLoki({ service_name: pushed, env: 'e2e' }, [
        [String(at), 'not this one'],
        [String(at + 1n), 'tailed line'],
      ]);
      await eventually('a frame of the live tail', () => frames.length > 0, { timeoutMs: 20_000, intervalMs: 50 });
      const got = frames.flatMap((f) => entriesOf(f.streams ?? []));
      expect(got).toEqual([{ ns: String(at + 1n), line: 'tailed line', labels: expect.objectContaining({ service_name: pushed, env: 'e2e' }) }]);
      // Once stored: the same record through search, and the same entry (labels included) through query_range.
      const found = await eventually(
        'the tailed line stored',
        () =>
          native({
            service: pushed,
            q: 'tailed',
            from: new Date(Date.now() - 5 * MIN).toISOString(),
            to: new Date(Date.now() + MIN).toISOString(),
          }),
        { until: (logs) => logs.length > 0, timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(found.map((l) => [nsOf(l), l.body])).toEqual([[String(at + 1n), 'tailed line']]);
      const queried = await grafana('query_range', {
        query: `{service_name="${pushed}"} |= "tailed"`,
        limit: '10',
        start: `${at - 60_000_000_000n}`,
        end: `${at + 60_000_000_000n}`,
      });
      expect(entriesOf(queried.data.result)).toEqual(got);
    } finally {
      socket.close();
    }
  });
});
