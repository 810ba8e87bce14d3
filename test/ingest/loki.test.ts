/**
 * Loki push at /loki/api/v1/push: snappy protobuf and JSON, mapping, Loki's
 * partial semantics and errors. (winston-loki drives it in
 * test/node/shippers.e2e.test.ts.)
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { exports } from 'cloudflare:workers';
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { parseLabels } from '../../workers/ingest/protocols/loki.ts';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { TEST_API_KEY, TEST_LIMITS, TEST_TENANT } from '../support/constants.ts';
import { storedRowsOfBatch } from '../support/in-workerd.ts';

function push(body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/loki/api/v1/push', {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`anyone:${TEST_API_KEY}`)}`, 'content-type': 'application/x-protobuf', ...headers },
      body,
    }),
  );
}

function protobufPush(streams: { labels: string; entries: { ms: number; line: string; metadata?: Record<string, string> }[] }[]): Uint8Array {
  const message = create(PushRequestSchema, {
    streams: streams.map((s) => ({
      labels: s.labels,
      entries: s.entries.map((e) => ({
        timestamp: timestampFromMs(e.ms),
        line: e.line,
        structuredMetadata: Object.entries(e.metadata ?? {}).map(([name, value]) => ({ name, value })),
      })),
    })),
  });
  return snappy.compress(toBinary(PushRequestSchema, message));
}

describe('Loki push', () => {
  it('takes snappy protobuf: labels → resource attributes, structured metadata → attributes, service and level found as Loki finds them', async () => {
    const t = Math.floor(Date.now() / 1000) * 1000 - 3_600_000 + 250; // an hour ago, inside any retention
    const res = await push(
      protobufPush([
        {
          labels: '{service_name="cart", env="prod", level="warn", note="a \\"quoted\\" value"}',
          entries: [
            { ms: t, line: 'cart is slow', metadata: { trace_id: '4BF92F3577B34DA6A3CE929D0E0E4736', user: 'u1' } },
            { ms: t + 1, line: 'cart recovered', metadata: { level: 'info' } },
          ],
        },
      ]),
      { 'x-scope-orgid': 'someone-else' },
    );
    expect(res.status).toBe(204);
    const rows = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      TenantId: TEST_TENANT, // never X-Scope-OrgID
      Timestamp: formatClickHouseTime(instantFromMillis(t)),
      Body: 'cart is slow',
      ServiceName: 'cart',
      SeverityText: 'warn',
      SeverityNumber: 13,
      TraceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      ResourceAttributes: { service_name: 'cart', env: 'prod', level: 'warn', note: 'a "quoted" value' },
      LogAttributes: { trace_id: '4BF92F3577B34DA6A3CE929D0E0E4736', user: 'u1' },
    });
    expect(rows[1]).toMatchObject({ SeverityText: 'info', SeverityNumber: 9, Body: 'cart recovered' });
  });

  it('takes JSON (values with nanosecond strings and metadata, and the older labels/entries form), gzip too', async () => {
    const second = Math.floor(Date.now() / 1000) - 3600; // an hour ago, inside any retention
    const clock = (fraction: string) => `${formatClickHouseTime({ seconds: second, nanos: 0 }).slice(0, 19)}.${fraction}`;
    const json = {
      streams: [
        {
          stream: { job: 'api' },
          values: [
            [`${second}123456789`, 'GET /health 200'],
            [`${second}200000000`, 'with metadata', { pod: 'api-7' }],
          ],
        },
        { labels: '{app="legacy"}', entries: [{ ts: `${new Date(second * 1000).toISOString().slice(0, 19)}.5Z`, line: 'old form' }] },
      ],
    };
    const gz = await new Response(new Blob([JSON.stringify(json)]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    const res = await push(gz, { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${TEST_API_KEY}` });
    expect(res.status).toBe(204);
    const rows = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(rows.map((r) => [r.Timestamp, r.ServiceName, r.Body, r.LogAttributes])).toEqual([
      [clock('123456789'), 'api', 'GET /health 200', {}],
      [clock('200000000'), 'api', 'with metadata', { pod: 'api-7' }],
      [clock('500000000'), 'legacy', 'old form', {}],
    ]);
  });

  it('drops a stream with unparsable labels and an oversized entry on their own, stores the rest, and answers 400 naming them', async () => {
    const res = await push(
      protobufPush([
        {
          labels: '{job="ok"}',
          entries: [
            { ms: Date.now(), line: 'kept' },
            { ms: Date.now(), line: 'y'.repeat(TEST_LIMITS.maxRecordBytes) },
          ],
        },
        { labels: '{job="unterminated}', entries: [{ ms: Date.now(), line: 'lost with its stream' }] },
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const message = await res.text();
    expect(message).toMatch(/stream 1 \{job="unterminated}: labels .* expected name="value"/);
    expect(message).toMatch(/stream 0 \{job="ok"} entry 1: entry is \d+ bytes once stored; the limit is 4096/);
    const rows = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(rows.map((r) => r.Body)).toEqual(['kept']);
  });

  it('answers malformed input with a clear 4xx text and stores nothing', async () => {
    const good = protobufPush([{ labels: '{job="x"}', entries: [{ ms: Date.now(), line: 'x' }] }]);
    const truncated = await push(good.slice(0, good.length - 3));
    expect(truncated.status).toBe(400);
    expect(await truncated.text()).toMatch(/snappy|PushRequest/);
    expect(truncated.headers.get('x-neurallog-batch-id')).toBeNull();

    const notProtobuf = await push(snappy.compress(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
    expect(notProtobuf.status).toBe(400);
    expect(await notProtobuf.text()).toMatch(/not a valid Loki PushRequest protobuf/);

    // Six bytes that kept snappyjs looping (a negative long-literal length): refused at once.
    const crafted = await push(Uint8Array.from([87, 252, 173, 243, 209, 194]));
    expect(crafted.status).toBe(400);
    expect(await crafted.text()).toMatch(/not snappy-compressed protobuf/);

    const badJson = await push('{"streams":[{"stream":{"a":1},"values":[]}]}', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(await badJson.text()).toMatch(/streams\[0\]\.stream must be an object of string label values/);

    const wrongType = await push('line', { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);

    const noKey = await push(good, { authorization: `Basic ${btoa('u:nlk_wrong')}` });
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('refuses a snappy body that claims to inflate past the request limit, before inflating it', async () => {
    const big = protobufPush([{ labels: '{job="x"}', entries: [{ ms: Date.now(), line: 'z'.repeat(TEST_LIMITS.maxRequestBytes * 4) }] }]);
    expect(big.byteLength).toBeLessThan(TEST_LIMITS.maxRequestBytes);
    const res = await push(big);
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/exceeds 65536 bytes once snappy-decompressed/);
  });

  it('parses label sets as Prometheus writes them', () => {
    expect(parseLabels('{}')).toEqual({});
    expect(parseLabels(' { a="1" ,b="x,y}" , c_d="\\n"} ')).toEqual({ a: '1', b: 'x,y}', c_d: '\n' });
    expect(() => parseLabels('{a=1}')).toThrow(/expected name="value"/);
    expect(() => parseLabels('{a="1"} trailing')).toThrow();
    expect(() => parseLabels('a="1"')).toThrow(/must look like/);
    expect(() => parseLabels('{1a="x"}')).toThrow(/not valid/);
  });
});
