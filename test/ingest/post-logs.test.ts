import { env, exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';
import { TEST_API_KEY, TEST_LIMITS, TEST_TENANT } from '../support/constants.ts';
import { storedRowsOfBatch } from '../support/in-workerd.ts';

const URL_LOGS = 'https://neurallog.test/v1/logs';

function post(body: BodyInit | null, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request(URL_LOGS, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body,
    }),
  );
}

function devActor(): DurableObjectStub<TenantActor> {
  return env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(TEST_TENANT));
}

async function gzip(text: string): Promise<ArrayBuffer> {
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
}

describe('POST /v1/logs', () => {
  it('accepts a JSON array and answers 202 with the count and a batch id', async () => {
    const res = await post(JSON.stringify([{ message: 'a' }, { message: 'b' }]));
    expect(res.status).toBe(202);
    const body = await res.json<{ accepted: number; batchId: string }>();
    expect(body.accepted).toBe(2);
    expect(body.batchId).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('accepts a single object, NDJSON, and gzip', async () => {
    expect((await post(JSON.stringify({ message: 'one' }))).status).toBe(202);
    const ndjson = '{"message":"x"}\n\n{"message":"y"}\n';
    const nd = await post(ndjson, { 'content-type': 'application/x-ndjson' });
    expect(await nd.json()).toMatchObject({ accepted: 2 });
    const gz = await post(await gzip(ndjson), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    expect(await gz.json()).toMatchObject({ accepted: 2 });
  });

  it('reads NDJSON sent as application/json (a common shipper setting)', async () => {
    const res = await post('{"message":"x"}\n{"message":"y"}\n');
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 2 });
  });

  it('hands the rows to the tenant actor, which has stored them when the 202 arrives', async () => {
    const res = await post(JSON.stringify([{ message: 'durable' }, { message: 'ack' }]));
    expect(res.status).toBe(202);
    const { batchId } = await res.json<{ batchId: string }>();
    const stored = await runInDurableObject(devActor(), (_instance, state) =>
      state.storage.sql.exec<{ rows: number }>('SELECT rows FROM buffered_chunks WHERE batch_id = ?', batchId).toArray(),
    );
    expect(stored.reduce((n, c) => n + c.rows, 0)).toBe(2);
  });

  it('rejects a missing or wrong API key with 401', async () => {
    const missing = await exports.default.fetch(new Request(URL_LOGS, { method: 'POST', body: '{}' }));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: 'unauthenticated' });
    const wrong = await post('{}', { authorization: 'Bearer nl_wrong' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_credentials' });
  });

  it('never takes the tenant from the request', async () => {
    const res = await post(JSON.stringify({ message: 'm', tenant: 'evil', TenantId: 'evil' }), { 'x-scope-orgid': 'evil' });
    expect(res.status).toBe(202);
    const stats = await env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName('evil')).stats();
    expect(stats.tenantId).toBeNull();
  });

  it('answers 415 for an unsupported Content-Type or Content-Encoding', async () => {
    const type = await post('hello', { 'content-type': 'text/csv' });
    expect(type.status).toBe(415);
    expect(await type.json()).toMatchObject({ error: 'unsupported_media_type', field: 'Content-Type' });
    const enc = await post('{}', { 'content-encoding': 'br' });
    expect(enc.status).toBe(415);
    expect(await enc.json()).toMatchObject({ error: 'unsupported_encoding', field: 'Content-Encoding' });
  });

  it('answers 400 for malformed JSON, naming the NDJSON record and line', async () => {
    const json = await post('[{"message": "a"},');
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'malformed_json' });
    const nd = await post('{"message":"ok"}\n{"message": nope}\n', { 'content-type': 'application/x-ndjson' });
    expect(nd.status).toBe(400);
    expect(await nd.json()).toMatchObject({ error: 'malformed_json', record: 1, line: 2 });
    const empty = await post('   ');
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: 'empty_body' });
  });

  it('answers 400 naming the record and the field at fault, and stores nothing of the request', async () => {
    const marker = crypto.randomUUID();
    const before = await devActor().stats();
    const res = await post(JSON.stringify([{ message: marker }, { message: marker, timestamp: 'yesterday' }]));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_record', record: 1, field: 'timestamp' });
    const after = await devActor().stats();
    expect(after.buffered.rows).toBeLessThanOrEqual(before.buffered.rows);

    const notObject = await post(JSON.stringify([{ message: 'ok' }, 42]));
    expect(await notObject.json()).toMatchObject({ error: 'invalid_record', record: 1, field: null });
    const badTrace = await post(JSON.stringify({ message: 'x', trace_id: 'xyz' }));
    expect(await badTrace.json()).toMatchObject({ error: 'invalid_record', record: 0, field: 'trace_id' });
  });

  it('refuses, before acknowledging, a record the store would refuse or drop: unpaired surrogates, times past retention or past 2106', async () => {
    const cases: [string, number, string][] = [
      ['[{"message": "ok"}, {"message": "half a pair \\ud800"}]', 1, 'body'],
      ['[{"message": "ok", "user\\udc00": "v"}]', 0, 'attributes.user\udc00'],
      [`[{"message": "ok"}, {"message": "ok"}, {"message": "too old", "timestamp": "${new Date(Date.now() - 8 * 86_400_000).toISOString()}"}]`, 2, 'timestamp'],
      ['[{"message": "too late", "timestamp": "2150-01-01T00:00:00Z"}]', 0, 'timestamp'],
    ];
    for (const [body, record, field] of cases) {
      const before = (await devActor().stats()).buffered.rows;
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(await res.json(), body).toMatchObject({ error: 'invalid_record', record, field });
      expect((await devActor().stats()).buffered.rows).toBeLessThanOrEqual(before);
    }
    // The first command of issue 13: stored as sent (a level word that means nothing), not poison.
    const proto = await post('[{"level":"__proto__","message":"hello"}]');
    expect(proto.status).toBe(202);
    const { batchId } = await proto.json<{ batchId: string }>();
    expect(await storedRowsOfBatch(batchId)).toMatchObject([{ SeverityText: '__proto__', SeverityNumber: 0, Body: 'hello' }]);
  });

  it('answers 413 past the request size, the record count or the record size', async () => {
    const big = JSON.stringify([{ message: 'x'.repeat(TEST_LIMITS.maxRequestBytes) }]);
    const tooBig = await post(big);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toMatchObject({ error: 'request_too_large', limit: TEST_LIMITS.maxRequestBytes });

    const many = JSON.stringify(Array.from({ length: TEST_LIMITS.maxRecordsPerRequest + 1 }, () => ({ m: 1 })));
    const tooMany = await post(many);
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toMatchObject({ error: 'too_many_records', limit: TEST_LIMITS.maxRecordsPerRequest });

    const wide = JSON.stringify([{ message: 'ok' }, { message: 'y'.repeat(TEST_LIMITS.maxRecordBytes) }]);
    const tooWide = await post(wide);
    expect(tooWide.status).toBe(413);
    expect(await tooWide.json()).toMatchObject({ error: 'record_too_large', record: 1 });
  });

  it('stops inflating a gzip body at the limit (a small body that inflates past it is refused)', async () => {
    // ~64 KiB of JSON compresses to a few hundred bytes.
    const bomb = await gzip(JSON.stringify([{ message: ' '.repeat(TEST_LIMITS.maxRequestBytes * 4) }]));
    expect(bomb.byteLength).toBeLessThan(2048);
    const res = await post(bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'request_too_large' });

    const corrupt = await post(new Uint8Array([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5]), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(await corrupt.json()).toMatchObject({ error: 'invalid_gzip' });
  });

  it('answers 400 for a body that is not UTF-8', async () => {
    const res = await post(new Uint8Array([0x5b, 0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x5d]));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_encoding' });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await exports.default.fetch(new Request('https://neurallog.test/v2/nothing'));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });
});
