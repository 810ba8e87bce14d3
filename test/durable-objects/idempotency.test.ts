/**
 * Idempotency without surprises: a key past its day is free again, the same
 * key with another body is refused (422, as Stripe does), concurrent twins
 * are stored once (a sharded tenant too), and a worker that lost the actor's
 * answer can ask again and is answered from the ledger.
 */
import { exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../shared/plans.ts';
import { actorFailure } from '../../workers/ingest/pipeline.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, makeBatch, records, uniqueTenant } from '../support/in-workerd.ts';

function post(key: string, body: unknown, idempotencyKey?: string): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey && { 'Idempotency-Key': idempotencyKey }) },
      body: JSON.stringify(body),
    }),
  );
}

/** Rows buffered across every shard of a tenant. */
async function bufferedRows(tenant: string, shards: number): Promise<number> {
  let rows = 0;
  for (let k = 0; k < shards; k++) rows += (await actorOf(tenant, k).stats()).buffered.rows;
  return rows;
}

describe('Idempotency-Key', () => {
  it('is free again once its day has passed: the batch is stored, with no error', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    const idempotencyKey = `reuse-${crypto.randomUUID()}`;
    expect((await post(key, records(3), idempotencyKey)).status).toBe(202);
    // A day later (the entry expired; the alarm that deletes expired entries has not run yet).
    await runInDurableObject(actorOf(tenant), (_instance, state) => {
      state.storage.sql.exec('UPDATE accepted_batches SET accepted_at = accepted_at - 90000000, expires_at = expires_at - 90000000');
    });
    const again = await post(key, records(3), idempotencyKey);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await bufferedRows(tenant, 1)).toBe(6);
    // …and from then on it replays the new batch.
    expect((await post(key, records(3), idempotencyKey)).headers.get('idempotent-replayed')).toBe('true');
    expect(await bufferedRows(tenant, 1)).toBe(6);
  });

  it('with another body is refused with 422 idempotency_key_reused, and nothing of it is stored', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant);
    const key = await provisionKey(tenant, ['logs:write']);
    const idempotencyKey = `body-${crypto.randomUUID()}`;
    expect((await post(key, [{ message: 'first' }], idempotencyKey)).status).toBe(202);
    const other = await post(key, [{ message: 'something else' }], idempotencyKey);
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ error: 'idempotency_key_reused', field: 'Idempotency-Key' });
    const same = await post(key, [{ message: 'first' }], idempotencyKey);
    expect(same.status).toBe(202);
    expect(same.headers.get('idempotent-replayed')).toBe('true');
    expect(await bufferedRows(tenant, 1)).toBe(1);
  });

  it('sent by several requests at once, on a sharded tenant, is stored once', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'professional' });
    const key = await provisionKey(tenant, ['logs:write']);
    for (let round = 0; round < 3; round++) {
      const idempotencyKey = `twins-${round}-${crypto.randomUUID()}`;
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(key, records(5), idempotencyKey)));
      expect(answers.map((r) => r.status)).toEqual(Array(6).fill(202));
      expect(answers.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    }
    expect(await bufferedRows(tenant, PLANS.professional.shardCount)).toBe(15);
  });
});

describe('a worker that lost the actor’s answer', () => {
  it('asks again with the same batch and is answered from the ledger: stored once', async () => {
    const tenant = uniqueTenant();
    const batch = makeBatch(tenant, records(4));
    expect(await actorOf(tenant).ingest(batch)).toMatchObject({ ok: true, accepted: 4 });
    expect(await actorOf(tenant).ingest(batch)).toMatchObject({ ok: true, accepted: 4, replayed: true });
    expect((await actorOf(tenant).stats()).buffered.rows).toBe(4);
  });

  it('asks the ledger whether a batch was stored when every attempt failed (recall reads, writes nothing)', async () => {
    const tenant = uniqueTenant();
    const stored = makeBatch(tenant, records(3));
    const never = makeBatch(tenant, records(2));
    // An actor that never took a batch of the tenant holds none, and recalling binds nothing.
    expect(await actorOf(tenant).recall(stored)).toBeNull();
    expect(await actorOf(tenant).ingest(stored)).toMatchObject({ ok: true, accepted: 3 });
    expect(await actorOf(tenant).recall(stored)).toMatchObject({ ok: true, accepted: 3, replayed: true });
    // Not stored: null, which the ingest worker answers 503 + Retry-After (not 504 "may be stored").
    expect(await actorOf(tenant).recall(never)).toBeNull();
    expect((await actorOf(tenant).stats()).buffered.rows).toBe(3);
  });

  it('tells an exception thrown before anything was stored from one that says nothing', () => {
    const remote = Object.assign(new Error('tenant actor of "a" was handed a batch of "b"'), { remote: true });
    const overloaded = Object.assign(new Error('Durable Object is overloaded'), { overloaded: true, retryable: false });
    const reset = Object.assign(new Error('Network connection lost.'), { retryable: true });
    expect(actorFailure(remote)).toBe('nothing_stored');
    expect(actorFailure(overloaded)).toBe('nothing_stored');
    expect(actorFailure(reset)).toBe('ask_again');
    expect(actorFailure(new Error('internal error'))).toBe('ask_again');
  });

  it.each([
    ['a full disk on the first attempt: nothing stored', 'database or disk is full: SQLITE_FULL', false, 'nothing_stored'],
    ['a full disk after an unclear attempt: ask the ledger', 'database or disk is full: SQLITE_FULL', true, 'ask_again'],
    ['a reset on the first attempt: ask again', 'Network connection lost.', false, 'ask_again'],
    ['an internal error: ask again', 'internal error; reference = x', false, 'ask_again'],
  ] as const)('storage failures: %s', (_name, message, earlierUnclear, expected) => {
    expect(actorFailure(new Error(message), earlierUnclear)).toBe(expected);
  });
});
