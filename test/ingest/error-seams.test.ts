/**
 * Each protocol answers every error in its own wire format, wherever the error
 * comes from — its decoder, or a step all protocols share (the
 * Idempotency-Key, body limits, the pipeline's refusals): one error seam per
 * protocol. (A bad Idempotency-Key once answered OTLP, Loki and Elasticsearch
 * clients with the JSON API's envelope.)
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { exports } from 'cloudflare:workers';
import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { StatusSchema } from '../../workers/ingest/protocols/generated/google/rpc/status_pb.ts';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { ExportLogsServiceRequestSchema } from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { TEST_API_KEY } from '../support/constants.ts';

const BAD_KEY = { 'Idempotency-Key': 'has spaces in it' };

function post(path: string, type: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': type, ...headers },
      body,
    }),
  );
}

const otlpBody = toBinary(
  ExportLogsServiceRequestSchema,
  create(ExportLogsServiceRequestSchema, { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { value: { case: 'stringValue', value: 'x' } } }] }] }] }),
);

describe('one error seam per protocol', () => {
  it('OTLP: a google.rpc.Status in the request encoding', async () => {
    const protobuf = await post('/otlp/v1/logs', 'application/x-protobuf', otlpBody, BAD_KEY);
    expect(protobuf.status).toBe(400);
    expect(protobuf.headers.get('content-type')).toBe('application/x-protobuf');
    expect(fromBinary(StatusSchema, new Uint8Array(await protobuf.arrayBuffer()))).toMatchObject({
      code: 3,
      message: expect.stringMatching(/Idempotency-Key/),
    });
    const json = await post('/otlp/v1/logs', 'application/json', '{"resourceLogs":[]}', BAD_KEY);
    expect(json.status).toBe(400);
    expect(await json.json()).toEqual({ code: 3, message: expect.stringMatching(/Idempotency-Key/) });
    const type = await post('/otlp/v1/logs', 'text/plain', 'x');
    expect(type.status).toBe(415);
    expect(await type.json()).toMatchObject({ code: 3 });
  });

  it('Loki: plain text', async () => {
    const body = snappy.compress(toBinary(PushRequestSchema, create(PushRequestSchema, { streams: [{ labels: '{job="x"}', entries: [{ line: 'x' }] }] })));
    const res = await post('/loki/api/v1/push', 'application/x-protobuf', body, BAD_KEY);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/Idempotency-Key/);
  });

  it('Elasticsearch: its error object, with the product header shippers check', async () => {
    const res = await post('/es/_bulk', 'application/x-ndjson', '{"index":{}}\n{"message":"x"}\n', BAD_KEY);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-elastic-product')).toBe('Elasticsearch');
    expect(await res.json()).toMatchObject({ status: 400, error: { type: 'parse_exception', reason: expect.stringMatching(/Idempotency-Key/) } });
    const big = await post('/es/_bulk', 'application/x-ndjson', `{"index":{}}\n{"message":"${'x'.repeat(70_000)}"}\n`);
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { type: 'content_too_long_exception' } });
  });

  it('the JSON API (/v1/logs, /v1/syslog): its envelope', async () => {
    for (const [path, type, body] of [
      ['/v1/logs', 'application/json', '{"message":"x"}'],
      ['/v1/syslog', 'text/plain', 'x'],
    ] as const) {
      const res = await post(path, type, body, BAD_KEY);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', field: 'Idempotency-Key' });
    }
  });
});
