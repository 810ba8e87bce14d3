/**
 * Decoders fed a few thousand generated bodies: whatever arrives, the answer is
 * a 2xx or a 4xx with the protocol's error shape — never a crash, never a 5xx.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { exports } from 'cloudflare:workers';
import fc from 'fast-check';
import snappy from 'snappyjs';
import { StatusSchema } from '../../workers/ingest/protocols/generated/google/rpc/status_pb.ts';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { ExportLogsServiceRequestSchema } from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { parseSyslogLine } from '../../workers/ingest/protocols/syslog.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

// A tenant whose limits the fuzzing does not reach, so inputs get decoded rather than refused.
const auth = { authorization: '' };
beforeAll(async () => {
  await provisionTenant('fuzz', { plan: 'enterprise' });
  auth.authorization = `Bearer ${await provisionKey('fuzz', ['logs:write'])}`;
});

/** JSON-ish text: real JSON values, their fragments, and noise. */
const jsonish = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }).map((v) => JSON.stringify(v)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }).map((v) => v.map((x) => JSON.stringify(x)).join('\n')),
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }).chain((j) => fc.nat({ max: Math.max(0, j.length) }).map((n) => j.slice(0, n))),
);

function post(path: string, type: string, body: BodyInit): Promise<Response> {
  return exports.default.fetch(new Request(`https://neurallog.test${path}`, { method: 'POST', headers: { ...auth, 'content-type': type }, body }));
}

/** Valid bytes, then damaged: a byte changed, the end cut off, or bytes inserted. */
function damaged(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert', 'none')).map(([bytes, at, value, how]) => {
    if (bytes.length === 0 || how === 'none') return bytes;
    const i = at % bytes.length;
    if (how === 'cut') return bytes.slice(0, i);
    if (how === 'insert') return Uint8Array.from([...bytes.slice(0, i), value, ...bytes.slice(i)]);
    const copy = bytes.slice();
    copy[i] = value;
    return copy;
  });
}

const anyValue = fc.oneof(
  fc.string({ maxLength: 40 }).map((value) => ({ value: { case: 'stringValue' as const, value } })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ value: { case: 'intValue' as const, value } })),
  fc.double().map((value) => ({ value: { case: 'doubleValue' as const, value } })),
  fc.uint8Array({ maxLength: 20 }).map((value) => ({ value: { case: 'bytesValue' as const, value } })),
  fc.constant({}),
);
const keyValues = fc.array(fc.record({ key: fc.string({ maxLength: 12 }), value: anyValue }), { maxLength: 4 });

/** ExportLogsServiceRequests with fields anywhere in their ranges (ids of any length, any times). */
const otlpRequest = fc
  .array(
    fc.record({
      timeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      observedTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      severityNumber: fc.integer({ min: 0, max: 40 }),
      severityText: fc.string({ maxLength: 10 }),
      body: anyValue,
      attributes: keyValues,
      flags: fc.nat(),
      traceId: fc.uint8Array({ maxLength: 20 }),
      spanId: fc.uint8Array({ maxLength: 10 }),
      eventName: fc.string({ maxLength: 10 }),
    }),
    { maxLength: 6 },
  )
  .chain((logRecords) => keyValues.map((attributes) => ({ logRecords, attributes })))
  .map(({ logRecords, attributes }) =>
    toBinary(ExportLogsServiceRequestSchema, create(ExportLogsServiceRequestSchema, { resourceLogs: [{ resource: { attributes }, scopeLogs: [{ scope: { name: 's' }, logRecords }] }] })),
  );

const labelText = fc.oneof(
  fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/), fc.string({ maxLength: 12 }), { maxKeys: 4 }).map(
    (labels) => `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`,
  ),
  fc.string({ maxLength: 30 }),
);
const lokiPush = fc
  .array(
    fc.record({
      labels: labelText,
      entries: fc.array(
        fc.record({
          timestamp: fc.record({ seconds: fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }), nanos: fc.integer({ min: -5, max: 1_000_000_005 }) }),
          line: fc.string({ maxLength: 60 }),
          structuredMetadata: fc.array(fc.record({ name: fc.string({ maxLength: 8 }), value: fc.string({ maxLength: 20 }) }), { maxLength: 3 }),
        }),
        { maxLength: 4 },
      ),
    }),
    { maxLength: 4 },
  )
  .map((streams) => toBinary(PushRequestSchema, create(PushRequestSchema, { streams })));

/** Lines that look like syslog in every part, and plain noise. */
const syslogLine = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc
    .tuple(
      fc.integer({ min: 0, max: 300 }),
      fc.constantFrom('1 ', '2 ', ''),
      fc.constantFrom('2026-11-26T10:00:00.123456Z', '-', '2026-02-30T00:00:00Z', 'Nov 26 10:00:00', 'Feb 29 23:59:60', 'Xyz 99 99:99:99'),
      fc.array(fc.constantFrom('host', '-', 'app', 'app[12]:', 'x:', '[sd a="1"]', '[sd a="\\"]"]', '[bad', '\uFEFFmsg', ' ', ''), { maxLength: 6 }),
    )
    .map(([pri, version, time, tokens]) => `<${pri}>${version}${time} ${tokens.join(' ')}`),
);

describe('fuzzed bodies', () => {
  it('the syslog parser never throws, on 3,000 lines', () => {
    fc.assert(
      fc.property(syslogLine, fc.date({ min: new Date('1971-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }), (line, now) => {
        const parsed = parseSyslogLine(line, now);
        expect(['rfc5424', 'rfc3164', 'unparsed']).toContain(parsed.format);
      }),
      { numRuns: 3000 },
    );
  });

  it('POST /v1/syslog answers 2xx or 4xx to anything', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(syslogLine, { maxLength: 6 }), async (lines) => {
        const res = await post('/v1/syslog', 'text/plain', lines.join('\n'));
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof (await res.json<{ error?: string }>()).error).toBe('string');
        else await res.arrayBuffer();
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('POST /otlp/v1/logs answers 200 or a 4xx google.rpc.Status to any protobuf body, valid, damaged or noise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(otlpRequest, damaged(otlpRequest), fc.uint8Array({ maxLength: 200 })), async (body) => {
        const res = await post('/otlp/v1/logs', 'application/x-protobuf', body);
        const bytes = new Uint8Array(await res.arrayBuffer());
        expect(res.status === 200 || (res.status >= 400 && res.status < 500)).toBe(true);
        if (res.status >= 400) expect(fromBinary(StatusSchema, bytes).message).not.toBe('');
      }),
      { numRuns: 2000 },
    );
  }, 180_000);

  it('POST /otlp/v1/logs answers 200 or a 4xx JSON Status to any JSON body', async () => {
    const otlpJsonish = fc.oneof(
      jsonish,
      fc.record({ resourceLogs: fc.array(fc.record({ scopeLogs: fc.array(fc.record({ logRecords: fc.array(fc.dictionary(fc.constantFrom('timeUnixNano', 'traceId', 'spanId', 'body', 'severityNumber', 'attributes', 'flags'), fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }) }), { maxLength: 2 }) }), { maxLength: 2 }) }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(otlpJsonish, async (body) => {
        const res = await post('/otlp/v1/logs', 'application/json', body);
        const json = await res.json<{ message?: string }>();
        expect(res.status === 200 || (res.status >= 400 && res.status < 500)).toBe(true);
        if (res.status >= 400) expect(typeof json.message).toBe('string');
      }),
      { numRuns: 1500 },
    );
  }, 180_000);

  it('POST /loki/api/v1/push answers 204 or a 4xx text to any snappy body, valid, damaged or noise, and to any JSON', async () => {
    const compressed = lokiPush.map((bytes) => snappy.compress(bytes));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          compressed.map((body) => ['application/x-protobuf', body] as const),
          damaged(compressed).map((body) => ['application/x-protobuf', body] as const),
          damaged(lokiPush).map((body) => ['application/x-protobuf', snappy.compress(body)] as const),
          fc.uint8Array({ maxLength: 200 }).map((body) => ['application/x-protobuf', body] as const),
          jsonish.map((body) => ['application/json', body] as const),
        ),
        async ([type, body]) => {
          const res = await post('/loki/api/v1/push', type, body);
          const text = await res.text();
          expect(res.status === 204 || (res.status >= 400 && res.status < 500)).toBe(true);
          if (res.status >= 400) expect(text.trim()).not.toBe('');
        },
      ),
      { numRuns: 2500 },
    );
  }, 180_000);

  it('POST /v1/logs answers 2xx or 4xx to anything (JSON and NDJSON)', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, fc.constantFrom('application/json', 'application/x-ndjson'), async (body, type) => {
        const res = await exports.default.fetch(new Request('https://neurallog.test/v1/logs', { method: 'POST', headers: { ...auth, 'content-type': type }, body }));
        const json = await res.json<{ error?: string }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error).toBe('string');
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it('POST /es/_bulk answers 2xx or 4xx to anything, in Elasticsearch\'s shape', async () => {
    const line = fc.oneof(
      fc.constantFrom('{"index":{}}', '{"create":{"_index":"x"}}', '{"delete":{"_id":"1"}}', '{"update":{}}', '{}', '[]', '{"index":null}'),
      jsonish,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const res = await exports.default.fetch(
          new Request('https://neurallog.test/es/_bulk', { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n` }),
        );
        const json = await res.json<{ error?: { type: string }; items?: unknown[] }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error?.type).toBe('string');
        else expect(Array.isArray(json.items)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);
});
