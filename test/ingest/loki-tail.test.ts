/**
 * Loki's live tail, GET /loki/api/v1/tail: a WebSocket served by the tenant's
 * TailHub (as GET /v1/tail), its records chosen by LogQL and sent in Loki's
 * frame shape, the budget's drops in `dropped_entries`.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { labelsObject } from '../../shared/logql/labels.ts';
import { MAX_DROPPED_PER_FRAME, MAX_ENTRIES_PER_FRAME, compileTailQuery, tailFrames } from '../../shared/logql/tail.ts';
import { TEST_API_KEY, TEST_TAIL_RECORDS_PER_S, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';

interface Frame {
  streams?: { stream: Record<string, string>; values: [string, string][] }[];
  dropped_entries?: { labels: Record<string, string>; timestamp: string }[];
}

const basic = (key: string) => `Basic ${btoa(`grafana:${key}`)}`;

function tailRequest(params: Record<string, string>, headers: Record<string, string> = {}): Request {
  const url = new URL('https://neurallog.test/loki/api/v1/tail');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return new Request(url, { headers: { authorization: basic(TEST_API_KEY), upgrade: 'websocket', ...headers } });
}

async function tail(params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(tailRequest(params, headers));
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  const frames: Frame[] = [];
  socket.addEventListener('message', (e) => frames.push(JSON.parse(e.data as string)));
  socket.accept();
  const until = (done: (f: Frame[]) => boolean) => eventually('the tail’s frames', () => frames, { until: done, timeoutMs: 5_000, intervalMs: 20 });
  return { socket, frames, until };
}

function post(records: unknown[], key = TEST_API_KEY): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
}

const entries = (frames: Frame[]) => frames.flatMap((f) => (f.streams ?? []).flatMap((s) => s.values.map(([ns, line]) => ({ ns, line, labels: s.stream }))));
const dropped = (frames: Frame[]) => frames.flatMap((f) => f.dropped_entries ?? []);

describe('Loki live tail', () => {
  it("streams what the selector and pipeline keep, in Loki frames, for the key's tenant whatever X-Scope-OrgID says", async () => {
    const tag = `lt${crypto.randomUUID().slice(0, 8)}`;
    const other = uniqueTenant('ltother');
    await provisionTenant(other);
    const otherKey = await provisionKey(other, ['logs:write', 'logs:read']);
    const { socket, frames, until } = await tail(
      { query: `{service_name="${tag}", detected_level=~"error|fatal"} |= "timeout" != "retry" | status >= 500`, delay_for: '1', limit: '50' },
      { 'x-scope-orgid': other },
    );
    // Another tenant's records of the same service never come.
    expect((await post([{ message: 'timeout', service: tag, level: 'error', status: '503' }], otherKey)).status).toBe(202);
    const t = Math.floor(Date.now() / 1000) * 1000 - 60_000; // recent: within retention
    const at = (ms: number) => new Date(t + ms).toISOString();
    expect(
      (
        await post([
          { timestamp: at(2), message: 'db timeout after 5s', service: tag, level: 'error', status: '504', resource: { 'k8s.namespace': 'shop' } },
          { timestamp: at(1), message: 'db timeout, retry 1', service: tag, level: 'error', status: '504' },
          { timestamp: at(3), message: 'db timeout', service: tag, level: 'info', status: '504' },
          { timestamp: at(4), message: 'db timeout', service: tag, level: 'fatal', status: '200' },
          { timestamp: at(5), message: 'upstream timeout', service: tag, level: 'fatal', status: '502' },
          { timestamp: at(0), message: 'db timeout', service: 'elsewhere', level: 'error', status: '500' },
        ])
      ).status,
    ).toBe(202);
    await until((f) => entries(f).length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(frames.every((f) => Object.keys(f).every((k) => k === 'streams'))).toBe(true); // no dropped_entries key when none were dropped
    expect(entries(frames)).toEqual([
      {
        ns: `${BigInt(t + 2) * 1_000_000n}`,
        line: 'db timeout after 5s',
        labels: { detected_level: 'error', k8s_namespace: 'shop', service_name: tag, status: '504' },
      },
      { ns: `${BigInt(t + 5) * 1_000_000n}`, line: 'upstream timeout', labels: { detected_level: 'fatal', service_name: tag, status: '502' } },
    ]);
    socket.close();
  });

  it('formats lines and labels as the query says (line_format, drop)', async () => {
    const tag = `ltf${crypto.randomUUID().slice(0, 8)}`;
    const { socket, frames, until } = await tail({ query: `{service="${tag}"} | line_format "{{.detected_level}}: {{__line__}}" | drop user` });
    await post([{ message: 'hello', service: tag, level: 'warn', user: 'u1', region: 'eu' }]);
    await until((f) => entries(f).length >= 1);
    expect(entries(frames)).toEqual([
      { ns: expect.stringMatching(/^\d{19}$/), line: 'warn: hello', labels: { detected_level: 'warn', region: 'eu', service_name: tag } },
    ]);
    socket.close();
  });

  it("lists in dropped_entries what the socket's budget made it miss", async () => {
    const tag = `ltd${crypto.randomUUID().slice(0, 8)}`;
    const { socket, frames, until } = await tail({ query: `{service_name="${tag}"}` });
    const n = TEST_TAIL_RECORDS_PER_S * 2;
    expect((await post(Array.from({ length: n }, (_, i) => ({ message: `${tag} ${i}`, service: tag })))).status).toBe(202);
    await until((f) => entries(f).length + dropped(f).length >= n);
    expect(entries(frames).length).toBeLessThanOrEqual(TEST_TAIL_RECORDS_PER_S);
    expect(entries(frames).length + dropped(frames).length).toBe(n);
    expect(dropped(frames)[0]).toEqual({ labels: { detected_level: 'unknown', service_name: tag }, timestamp: expect.stringMatching(/^\d{19}$/) });
    // Every record once: delivered or listed as dropped.
    const delivered = new Set(entries(frames).map((e) => e.ns + e.line));
    expect(delivered.size).toBe(entries(frames).length);
    socket.close();
  });

  it("refuses, in Loki's error shape and before any upgrade, what it cannot tail", async () => {
    const call = async (params: Record<string, string>, headers: Record<string, string> = {}) => {
      const res = await exports.default.fetch(tailRequest(params, headers));
      return { status: res.status, body: (await res.json()) as { status: string; code: number; message: string } };
    };
    const metric = await call({ query: 'sum(count_over_time({service_name="api"}[1m]))' });
    expect(metric).toEqual({ status: 400, body: { status: 'error', code: 400, message: expect.stringContaining('log queries only') } });
    expect((await call({ query: '{service_name="api"} | pattern "<_> <x>"' })).body.message).toContain('pattern');
    expect((await call({ query: '{service_name=""}' })).status).toBe(400);
    expect((await call({})).body.message).toContain('query parameter is required');
    expect((await call({ query: '{service_name="api"}', delay_for: '6' })).body.message).toBe("delay_for can't be greater than 5");
    expect((await call({ query: '{service_name="api"}', limit: '0' })).status).toBe(400);
    expect((await call({ query: '{service_name="api"}', limit: '5001' })).status).toBe(400);
    expect((await call({ query: '{service_name="api"}', start: 'yesterday' })).body.message).toContain('invalid start');
    expect(await call({ query: '{service_name="api"}' }, { upgrade: '' })).toMatchObject({ status: 426, body: { status: 'error', code: 426 } });
    expect(await call({ query: '{service_name="api"}' }, { authorization: '' })).toMatchObject({ status: 401, body: { status: 'error', code: 401 } });
    const readless = await provisionKey(TEST_TENANT, ['logs:write']);
    expect((await call({ query: '{service_name="api"}' }, { authorization: basic(readless) })).status).toBe(403);
  });

  it("frames hold at most 100 entries and 1,000 dropped entries, as Loki's", () => {
    const { query } = compileTailQuery('{service_name="api"}');
    const row = (i: number) => ({
      ns: BigInt(i),
      LogId: String(i).padStart(6, '0'),
      Body: `line ${i}`,
      ServiceName: 'api',
      SeverityNumber: 9,
      ResourceAttributes: {},
      LogAttributes: {},
    });
    const sent = Array.from({ length: 250 }, (_, i) => row(i)).reverse();
    const lost = Array.from({ length: 1500 }, (_, i) => row(1000 + i));
    const frames = tailFrames(query, sent, lost).map((f) => JSON.parse(f) as Frame);
    expect(frames.map((f) => entries([f]).length)).toEqual([MAX_ENTRIES_PER_FRAME, MAX_ENTRIES_PER_FRAME, 50]);
    expect(entries(frames).map((e) => e.ns)).toEqual(sent.map((r) => String(r.ns)).reverse()); // oldest first
    expect(frames.map((f) => dropped([f]).length)).toEqual([MAX_DROPPED_PER_FRAME, 0, 0]);
    expect(dropped(frames)[0]).toEqual({
      labels: {
        ...labelsObject(
          new Map([
            ['detected_level', 'info'],
            ['service_name', 'api'],
          ]),
        ),
      },
      timestamp: '1000',
    });
    expect(tailFrames(query, [], [row(7)]).map((f) => JSON.parse(f))).toEqual([
      { dropped_entries: [{ labels: { detected_level: 'info', service_name: 'api' }, timestamp: '7' }] },
    ]);
  });
});
