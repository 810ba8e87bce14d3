/**
 * GET /v1/dead-letters: the rows ClickHouse refused, with the reason, for the
 * caller's tenant only.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { LOG_COLUMNS } from '../../shared/row-format.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, flushActor, makeBatch, records, uniqueTenant } from '../support/in-workerd.ts';

function get(path: string, key: string): Promise<Response> {
  return exports.default.fetch(new Request(`https://neurallog.test${path}`, { headers: { authorization: `Bearer ${key}` } }));
}

describe('GET /v1/dead-letters', () => {
  it("lists a tenant's refused rows and returns them with their reasons; other tenants see none of them", async () => {
    const tenant = uniqueTenant('dl');
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:read']);
    const other = uniqueTenant('dl');
    await provisionTenant(other);
    const otherKey = await provisionKey(other, ['logs:read']);

    const batch = makeBatch(tenant, records(4));
    for (const chunk of batch.chunks) {
      chunk.text = chunk.text.replace('"event number 2"', '"event \\ud800 number 2"'); // past the API's checks, refused by ClickHouse
      chunk.bytes = new TextEncoder().encode(chunk.text).length;
    }
    expect(await actorOf(tenant).ingest(batch)).toMatchObject({ ok: true, accepted: 4 });
    await flushActor(actorOf(tenant));

    const list = await get('/v1/dead-letters', key);
    expect(list.status).toBe(200);
    const { deadLetters, nextCursor } = await list.json<{
      deadLetters: { id: string; rows: number; reason: string; batchId: string }[];
      nextCursor: string | null;
    }>();
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ rows: 1, reason: expect.stringMatching(/surrogate/) });
    expect(nextCursor).toBeNull();

    const object = await get(`/v1/dead-letters/${deadLetters[0]!.id}`, key);
    expect(object.status).toBe(200);
    expect(object.headers.get('content-type')).toBe('application/x-ndjson');
    const [header, row] = (await object.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toEqual({ columns: [...LOG_COLUMNS] });
    expect(row.row[LOG_COLUMNS.indexOf('Body')]).toBe('event \ud800 number 2');

    expect((await (await get('/v1/dead-letters', otherKey)).json<{ deadLetters: unknown[] }>()).deadLetters).toEqual([]);
    expect((await get(`/v1/dead-letters/${deadLetters[0]!.id}`, otherKey)).status).toBe(404);
    for (const bad of ['/v1/dead-letters/2026-11-29/..%2F..%2Fx', '/v1/dead-letters/__proto__/01M8ME5PE26NQ63BXN8C87A7YX', '/v1/dead-letters?limit=0']) {
      const res = await get(bad, key);
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_parameter' });
    }
  });
});
