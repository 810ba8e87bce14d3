/**
 * Decoders fed a few thousand generated bodies: whatever arrives, the answer is
 * a 2xx or a 4xx with the protocol's error shape — never a crash, never a 5xx
 * — and every record that was acknowledged is in ClickHouse after the flush:
 * each test has its own tenant, and once its actors (every shard) have
 * flushed, the rows stored equal the records its actors counted as accepted,
 * none twice. Keys, levels and labels are drawn partly from the names of
 * Object.prototype's members (`__proto__`, `constructor`…).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { env, exports } from 'cloudflare:workers';
import fc from 'fast-check';
import snappy from 'snappyjs';
import { StatusSchema } from '../../workers/ingest/protocols/generated/google/rpc/status_pb.ts';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { ExportLogsServiceRequestSchema } from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { parseSyslogLine } from '../../workers/ingest/protocols/syslog.ts';
import { PLANS } from '../../shared/plans.ts';
import { describe, expect, it } from 'vitest';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, clickhouse, flushTenant, uniqueTenant } from '../support/in-workerd.ts';

// A tenant per test whose limits the fuzzing does not reach, so inputs get decoded rather than refused.
const SHARDS = PLANS.enterprise.shardCount;
const auth = { authorization: '' };
let tenant = '';
async function freshTenant(): Promise<void> {
  tenant = uniqueTenant('fuzz');
  await provisionTenant(tenant, { plan: 'enterprise' });
  auth.authorization = `Bearer ${await provisionKey(tenant, ['logs:write'])}`;
}

/** After the flush: the rows stored equal the records accepted (the actors' own counters, open hours and rolled-up ones), none twice. */
async function expectEveryAcceptedRecordStored(atLeast: number): Promise<void> {
  await flushTenant(tenant, SHARDS);
  let accepted = 0;
  for (let k = 0; k < SHARDS; k++) {
    for (const c of await actorOf(tenant, k).usage()) if (c.metric === 'records_accepted') accepted += c.value;
  }
  const rolled = await env.CONTROL_DB.prepare("SELECT coalesce(sum(value), 0) AS n FROM usage_hourly WHERE tenant_id = ? AND metric = 'records_accepted'")
    .bind(tenant)
    .first<{ n: number }>();
  accepted += rolled?.n ?? 0;
  const rs = await clickhouse.query({
    query: 'SELECT count() AS n, uniqExact(LogId) AS ids FROM logs WHERE TenantId = {t:String}',
    query_params: { t: tenant },
    format: 'JSONEachRow',
  });
  const [stored] = await rs.json<{ n: string; ids: string }>();
  expect(Number(stored!.n)).toBe(accepted);
  expect(Number(stored!.ids)).toBe(accepted);
  expect(accepted).toBeGreaterThanOrEqual(atLeast);
}

/** Times anywhere in their type's range, but often within a day of now (inside retention: stored, not refused). */
const NOW_SECONDS = BigInt(Math.floor(Date.now() / 1000));
const anyTimeNanos = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: (NOW_SECONDS - 86_400n) * 1_000_000_000n, max: (NOW_SECONDS + 86_400n) * 1_000_000_000n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

/** Object.prototype's member names, mixed into the strings a generator draws. */
const hostile = fc.constantFrom(...HOSTILE_NAMES);
const name = (maxLength: number) => fc.oneof(hostile, fc.string({ maxLength }));
/** JSON objects (as text, so `__proto__` is an own key, as in a client's body) whose keys and values are often those names. */
const hostileRecord = fc
  .array(
    fc.tuple(
      fc.oneof(hostile, fc.constantFrom('level', 'message', 'service', 'attributes', 'resource', 'severity', 'body', 'trace_id'), fc.string({ maxLength: 8 })),
      fc.oneof(
        hostile,
        fc.jsonValue({ maxDepth: 2 }),
        fc.array(fc.tuple(hostile, fc.string({ maxLength: 4 })), { maxLength: 2 }).map((pairs) => Object.fromEntries(pairs)),
      ),
    ),
    { maxLength: 6 },
  )
  .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);

/** JSON-ish text: real JSON values, their fragments, and noise. */
const jsonish = fc.oneof(
  hostileRecord,
  fc.array(hostileRecord, { maxLength: 4 }).map((records) => `[${records.join(',')}]`),
  fc.array(hostileRecord, { maxLength: 4 }).map((records) => records.join('\n')),
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
  name(40).map((value) => ({ value: { case: 'stringValue' as const, value } })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ value: { case: 'intValue' as const, value } })),
  fc.double().map((value) => ({ value: { case: 'doubleValue' as const, value } })),
  fc.uint8Array({ maxLength: 20 }).map((value) => ({ value: { case: 'bytesValue' as const, value } })),
  fc.constant({}),
);
const keyValues = fc.array(
  fc.record({
    key: name(12),
    value: fc.oneof(
      anyValue,
      name(8).map((key) => ({
        value: { case: 'kvlistValue' as const, value: { values: [{ key, value: { value: { case: 'stringValue' as const, value: 'v' } } }] } },
      })),
    ),
  }),
  { maxLength: 4 },
);

/** ExportLogsServiceRequests with fields anywhere in their ranges (ids of any length, any times). */
const otlpRequest = fc
  .array(
    fc.record({
      timeUnixNano: anyTimeNanos,
      observedTimeUnixNano: anyTimeNanos,
      severityNumber: fc.integer({ min: 0, max: 40 }),
      severityText: name(10),
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
    toBinary(
      ExportLogsServiceRequestSchema,
      create(ExportLogsServiceRequestSchema, { resourceLogs: [{ resource: { attributes }, scopeLogs: [{ scope: { name: 's' }, logRecords }] }] }),
    ),
  );

const labelText = fc.oneof(
  fc
    .dictionary(
      fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'level', 'service_name'), fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/)),
      name(12),
      { maxKeys: 4 },
    )
    .map(
      (labels) =>
        `{${Object.entries(labels)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(', ')}}`,
    ),
  fc.string({ maxLength: 30 }),
);
const lokiPush = fc
  .array(
    fc.record({
      labels: labelText,
      entries: fc.array(
        fc.record({
          timestamp: fc.record({
            seconds: fc.oneof(fc.bigInt({ min: NOW_SECONDS - 86_400n, max: NOW_SECONDS + 86_400n }), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })),
            nanos: fc.integer({ min: -5, max: 1_000_000_005 }),
          }),
          line: fc.string({ maxLength: 60 }),
          structuredMetadata: fc.array(fc.record({ name: fc.oneof(name(8), fc.constant('level')), value: name(20) }), { maxLength: 3 }),
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
      fc.array(
        fc.oneof(
          fc.constantFrom('host', '-', 'app', 'app[12]:', 'x:', '[sd a="1"]', '[sd a="\\"]"]', '[bad', '\uFEFFmsg', ' ', ''),
          fc.tuple(hostile, hostile).map(([id, param]) => `[${id} ${param}="v"]`),
          hostile,
        ),
        { maxLength: 6 },
      ),
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

  it('POST /v1/syslog answers 2xx or 4xx to anything, and stores every line it accepted', async () => {
    await freshTenant();
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(syslogLine, { maxLength: 6 }), async (lines) => {
        const res = await post('/v1/syslog', 'text/plain', lines.join('\n'));
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof (await res.json<{ error?: string }>()).error).toBe('string');
        else acknowledged += (await res.json<{ accepted: number }>()).accepted;
      }),
      { numRuns: 1000 },
    );
    await expectEveryAcceptedRecordStored(acknowledged);
  }, 120_000);

  it('POST /otlp/v1/logs answers 200 or a 4xx google.rpc.Status to any protobuf body, valid, damaged or noise, and stores what it accepted', async () => {
    await freshTenant();
    await fc.assert(
      fc.asyncProperty(fc.oneof(otlpRequest, damaged(otlpRequest), fc.uint8Array({ maxLength: 200 })), async (body) => {
        const res = await post('/otlp/v1/logs', 'application/x-protobuf', body);
        const bytes = new Uint8Array(await res.arrayBuffer());
        expect(res.status === 200 || (res.status >= 400 && res.status < 500)).toBe(true);
        if (res.status >= 400) expect(fromBinary(StatusSchema, bytes).message).not.toBe('');
      }),
      { numRuns: 2000 },
    );
    await expectEveryAcceptedRecordStored(1);
  }, 180_000);

  it('POST /otlp/v1/logs answers 200 or a 4xx JSON Status to any JSON body, and stores what it accepted', async () => {
    await freshTenant();
    const otlpJsonish = fc.oneof(
      jsonish,
      fc
        .record({
          resourceLogs: fc.array(
            fc.record({
              scopeLogs: fc.array(
                fc.record({
                  logRecords: fc.array(
                    fc.dictionary(
                      fc.constantFrom('timeUnixNano', 'traceId', 'spanId', 'body', 'severityNumber', 'attributes', 'flags'),
                      fc.jsonValue({ maxDepth: 2 }),
                    ),
                    { maxLength: 3 },
                  ),
                }),
                { maxLength: 2 },
              ),
            }),
            { maxLength: 2 },
          ),
        })
        .map((v) => JSON.stringify(v)),
      // Well-formed records whose keys and texts are Object.prototype's member names.
      fc.array(fc.tuple(name(8), name(8), name(8)), { minLength: 1, maxLength: 3 }).map((records) =>
        JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: [{ key: records[0]![0], value: { stringValue: 'r' } }] },
              scopeLogs: [
                {
                  logRecords: records.map(([key, text, value]) => ({
                    severityText: text,
                    body: { stringValue: value },
                    attributes: [{ key, value: { stringValue: value } }],
                  })),
                },
              ],
            },
          ],
        }),
      ),
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
    await expectEveryAcceptedRecordStored(1);
  }, 180_000);

  it('POST /loki/api/v1/push answers 204 or a 4xx text to any snappy body, valid, damaged or noise, and to any JSON, and stores what it accepted', async () => {
    await freshTenant();
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
    await expectEveryAcceptedRecordStored(1);
  }, 180_000);

  it('POST /v1/logs answers 2xx or 4xx to anything (JSON and NDJSON), and stores every record it accepted', async () => {
    await freshTenant();
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(jsonish, fc.constantFrom('application/json', 'application/x-ndjson'), async (body, type) => {
        const res = await exports.default.fetch(
          new Request('https://neurallog.test/v1/logs', { method: 'POST', headers: { ...auth, 'content-type': type }, body }),
        );
        const json = await res.json<{ error?: string; accepted?: number }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error).toBe('string');
        else acknowledged += json.accepted!;
      }),
      { numRuns: 1500 },
    );
    await expectEveryAcceptedRecordStored(acknowledged);
  }, 120_000);

  it("POST /es/_bulk answers 2xx or 4xx to anything, in Elasticsearch's shape, and stores every document it created", async () => {
    await freshTenant();
    let created = 0;
    const line = fc.oneof(
      fc.constantFrom('{"index":{}}', '{"create":{"_index":"x"}}', '{"delete":{"_id":"1"}}', '{"update":{}}', '{}', '[]', '{"index":null}'),
      jsonish,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const res = await exports.default.fetch(
          new Request('https://neurallog.test/es/_bulk', {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/x-ndjson' },
            body: `${lines.join('\n')}\n`,
          }),
        );
        const json = await res.json<{ error?: { type: string }; items?: Record<string, { status: number }>[] }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error?.type).toBe('string');
        else {
          expect(Array.isArray(json.items)).toBe(true);
          created += json.items!.filter((item) => Object.values(item)[0]!.status === 201).length;
        }
      }),
      { numRuns: 1500 },
    );
    await expectEveryAcceptedRecordStored(created);
  }, 120_000);
});
