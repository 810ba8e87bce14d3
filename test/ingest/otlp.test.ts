/**
 * OTLP/HTTP at /otlp/v1/logs: mapping, partial success and errors, with
 * requests built from the vendored OTLP schema. (The OpenTelemetry SDK's own
 * exporters drive it in test/node/shippers.e2e.test.ts.)
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { StatusSchema } from '../../workers/ingest/protocols/generated/google/rpc/status_pb.ts';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { formatClickHouseTime } from '../../shared/timestamp.ts';
import { TEST_API_KEY, TEST_LIMITS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { storedRowsOfBatch, uniqueTenant } from '../support/in-workerd.ts';

const TRACE_ID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const SPAN_ID = Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);

function otlp(body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/otlp/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/x-protobuf', ...headers },
      body,
    }),
  );
}

function request(records: Record<string, unknown>[]) {
  return create(ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { value: { case: 'stringValue', value: 'checkout' } } },
            { key: 'host.name', value: { value: { case: 'stringValue', value: 'web-1' } } },
          ],
        },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeLogs: [
          {
            scope: { name: 'com.acme.payments', version: '2.1.0', attributes: [{ key: 'lib', value: { value: { case: 'boolValue', value: true } } }] },
            logRecords: records,
          },
        ],
      },
    ],
  });
}

async function statusOf(res: Response) {
  return fromBinary(StatusSchema, new Uint8Array(await res.arrayBuffer()));
}

/** A whole second an hour ago (inside any retention), and its ClickHouse text with a given fraction. */
const SECOND = Math.floor(Date.now() / 1000) - 3600;
const NANOS = BigInt(SECOND) * 1_000_000_000n;
const clock = (seconds: number, fraction: string) => `${formatClickHouseTime({ seconds, nanos: 0 }).slice(0, 19)}.${fraction}`;

describe('OTLP/HTTP logs', () => {
  it('maps resource, scope and record fields onto the log columns, as the ClickHouse exporter does', async () => {
    const body = toBinary(
      ExportLogsServiceRequestSchema,
      request([
        {
          timeUnixNano: NANOS + 123_456_789n,
          observedTimeUnixNano: NANOS + 1_000_000_000n,
          severityNumber: 17,
          severityText: 'Error',
          body: { value: { case: 'stringValue', value: 'payment declined' } },
          attributes: [
            { key: 'http.status', value: { value: { case: 'intValue', value: 402n } } },
            { key: 'amount', value: { value: { case: 'doubleValue', value: 12.5 } } },
            { key: 'tags', value: { value: { case: 'arrayValue', value: { values: [{ value: { case: 'stringValue', value: 'a' } }] } } } },
          ],
          flags: 1,
          traceId: TRACE_ID,
          spanId: SPAN_ID,
          eventName: 'payment.failed',
        },
        { severityNumber: 9, body: { value: { case: 'kvlistValue', value: { values: [{ key: 'k', value: { value: { case: 'intValue', value: 7n } } }] } } } },
      ]),
    );
    const res = await otlp(body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const answer = fromBinary(ExportLogsServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(answer.partialSuccess).toBeUndefined();
    const rows = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      Timestamp: clock(SECOND, '123456789'),
      ObservedTimestamp: clock(SECOND + 1, '000000000'),
      SeverityText: 'Error',
      SeverityNumber: 17,
      ServiceName: 'checkout',
      Body: 'payment declined',
      TraceId: '0102030405060708090a0b0c0d0e0f10',
      SpanId: 'a0a1a2a3a4a5a6a7',
      TraceFlags: 1,
      LogAttributes: { 'http.status': '402', amount: '12.5', tags: '["a"]', 'event.name': 'payment.failed' },
      ResourceAttributes: { 'service.name': 'checkout', 'host.name': 'web-1' },
      ResourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      ScopeName: 'com.acme.payments',
      ScopeVersion: '2.1.0',
      ScopeAttributes: { lib: 'true' },
    });
    // No time: the observed time (here: receive time); a number without text gets the canonical text; a map body is JSON.
    expect(rows[1]).toMatchObject({ SeverityNumber: 9, SeverityText: 'INFO', Body: '{"k":7}', TraceId: '' });
    expect(rows[1]!.Timestamp).toBe(rows[1]!.ObservedTimestamp);
  });

  it('takes OTLP/JSON with hex ids and string int64s, gzip, and answers in JSON', async () => {
    const json = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeLogs: [
            {
              scope: { name: 'json-scope' },
              logRecords: [
                {
                  timeUnixNano: String(NANOS + 1n),
                  severityNumber: 13,
                  body: { stringValue: 'slow query' },
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                  attributes: [{ key: 'ms', value: { intValue: '1200' } }],
                  someFutureField: true,
                },
              ],
            },
          ],
        },
      ],
    };
    const gz = await new Response(new Blob([JSON.stringify(json)]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    const res = await otlp(gz, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({});
    const [row] = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(row).toMatchObject({
      Timestamp: clock(SECOND, '000000001'),
      SeverityNumber: 13,
      SeverityText: 'WARN',
      ServiceName: 'api',
      Body: 'slow query',
      TraceId: '5b8efff798038103d269b633813fc60c',
      SpanId: 'eee19b7ec3c1b174',
      LogAttributes: { ms: '1200' },
      ScopeName: 'json-scope',
    });
  });

  it('rejects bad records on their own with partial_success, and stores the rest', async () => {
    const body = toBinary(
      ExportLogsServiceRequestSchema,
      request([
        { body: { value: { case: 'stringValue', value: 'good one' } } },
        { body: { value: { case: 'stringValue', value: 'short trace id' } }, traceId: new Uint8Array(5) },
        { body: { value: { case: 'stringValue', value: 'x'.repeat(TEST_LIMITS.maxRecordBytes) } } },
        { body: { value: { case: 'stringValue', value: 'good two' } } },
      ]),
    );
    const res = await otlp(body);
    expect(res.status).toBe(200);
    const answer = fromBinary(ExportLogsServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    expect(answer.partialSuccess?.rejectedLogRecords).toBe(2n);
    expect(answer.partialSuccess?.errorMessage).toMatch(/record 1: trace_id must be 16 bytes, got 5; record 2: \d+ bytes once stored; the limit is 4096/);
    const rows = await storedRowsOfBatch(res.headers.get('x-neurallog-batch-id')!);
    expect(rows.map((r) => r.Body).sort()).toEqual(['good one', 'good two']);
  });

  it('answers bad requests with a google.rpc.Status body in the request encoding, and stores nothing', async () => {
    const malformed = await otlp(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('x-neurallog-batch-id')).toBeNull();
    const status = await statusOf(malformed);
    expect(status.code).toBe(3); // INVALID_ARGUMENT
    expect(status.message).toMatch(/not a valid ExportLogsServiceRequest protobuf/);

    const badJson = await otlp('{"resourceLogs": [', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 3, message: expect.stringMatching(/not valid JSON/) });

    const wrongType = await otlp('hello', { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect(await wrongType.json()).toMatchObject({ message: expect.stringMatching(/application\/x-protobuf or application\/json/) });

    const noKey = await otlp(toBinary(ExportLogsServiceRequestSchema, request([])), { authorization: 'Bearer nlk_nope' });
    expect(noKey.status).toBe(401);
    expect((await statusOf(noKey)).code).toBe(16); // UNAUTHENTICATED
  });

  it('cuts a gzip bomb off at the request limit while inflating it', async () => {
    const huge = toBinary(
      ExportLogsServiceRequestSchema,
      request([{ body: { value: { case: 'stringValue', value: 'z'.repeat(TEST_LIMITS.maxRequestBytes * 8) } } }]),
    );
    const bomb = await new Response(new Blob([huge]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    expect(bomb.byteLength).toBeLessThan(TEST_LIMITS.maxRequestBytes / 8);
    const res = await otlp(bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect((await statusOf(res)).message).toMatch(/exceeds 65536 bytes \(counted after decompression\)/);
  });

  it('refuses more records than one request may hold, naming the batch setting to lower', async () => {
    const records = Array.from({ length: TEST_LIMITS.maxRecordsPerRequest + 1 }, () => ({ body: { value: { case: 'stringValue' as const, value: 'x' } } }));
    const res = await otlp(toBinary(ExportLogsServiceRequestSchema, request(records)));
    expect(res.status).toBe(413);
    expect((await statusOf(res)).message).toMatch(/201 log records; at most 200.*maxExportBatchSize/);
  });

  it("answers the plan's rate limit with 429, Retry-After and RESOURCE_EXHAUSTED, which OTLP clients retry", async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'starter' });
    const key = await provisionKey(tenant, ['logs:write']);
    const full = toBinary(
      ExportLogsServiceRequestSchema,
      request(Array.from({ length: TEST_LIMITS.maxRecordsPerRequest }, () => ({ body: { value: { case: 'stringValue' as const, value: 'x' } } }))),
    );
    let refused: Response | null = null;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await otlp(full, { authorization: `Bearer ${key}` });
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(200);
    }
    expect(refused).not.toBeNull();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const status = await statusOf(refused!);
    expect(status.code).toBe(8);
    expect(status.message).toMatch(/rate/);
  });
});
