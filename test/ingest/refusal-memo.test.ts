/**
 * The refusal memo (workers/ingest/refusal-memo.ts): once a tenant's actor
 * answered 429 with Retry-After, the ingest worker refuses that tenant's next
 * requests with the same answer before reading their bodies and without
 * asking the actor, until the stated time; then the actor decides again.
 * Bodies are streams that record whether they were pulled; the actor binding
 * is wrapped in a spy (as in bad-key-lookups.test.ts).
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PLANS, type Plan } from '../../shared/plans.ts';
import { pickShard } from '../../shared/sharding.ts';
import { TEST_LIMITS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { clickhouse, flushTenant, uniqueTenant } from '../support/in-workerd.ts';
import ingestWorker from '../../workers/ingest/index.ts';
import {
  MAX_HOLD_MS,
  MAX_TENANTS,
  memoDecision,
  memoUntil,
  policyKey,
  RefusalMemo,
  type ActorRefusal,
  type MemoEntry,
} from '../../workers/ingest/refusal-memo.ts';

/** A body that records whether anything read it. */
function watchedBody(text: string): { body: ReadableStream<Uint8Array>; pulled: () => boolean } {
  let pulled = false;
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulled = true;
        controller.enqueue(bytes);
        controller.close();
      },
    },
    { highWaterMark: 0 },
  ); // nothing pulled until a reader asks
  return { body, pulled: () => pulled };
}

interface Sent {
  res: Response;
  actorCalls: number;
  pulled: boolean;
}

async function send(path: string, key: string, type: string, text: string, headers: Record<string, string> = {}): Promise<Sent> {
  let actorCalls = 0;
  const actors = new Proxy(env.TENANT_ACTOR, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        actorCalls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const { body, pulled } = watchedBody(text);
  const ctx = createExecutionContext();
  const res = await ingestWorker.fetch(
    new Request(`https://neurallog.test${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': type, ...headers },
      body,
    }),
    { ...env, TENANT_ACTOR: actors },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { res, actorCalls, pulled: pulled() };
}

const postLogs = (key: string, records: unknown[], headers: Record<string, string> = {}) =>
  send('/v1/logs', key, 'application/json', JSON.stringify(records), headers);

async function storedBodies(tenant: string): Promise<string[]> {
  const rs = await clickhouse.query({ query: 'SELECT Body FROM logs WHERE TenantId = {t:String}', query_params: { t: tenant }, format: 'JSONEachRow' });
  return (await rs.json<{ Body: string }>()).map((r) => r.Body).sort();
}

/** Drains a starter tenant's burst until its actor refuses: the refusal's Retry-After (seconds). */
async function floodUntilRefused(key: string): Promise<number> {
  const batch = Array.from({ length: TEST_LIMITS.maxRecordsPerRequest }, (_, i) => ({ message: `flood ${i}` }));
  const requests = PLANS.starter.ingestRecordsBurst / TEST_LIMITS.maxRecordsPerRequest + 5;
  const answers = await Promise.all(Array.from({ length: requests }, () => postLogs(key, batch)));
  const refused = answers.filter((a) => a.res.status === 429);
  for (const a of answers) await a.res.arrayBuffer();
  expect(refused.length).toBeGreaterThan(0);
  return Math.max(...refused.map((a) => Number(a.res.headers.get('retry-after'))));
}

describe('a tenant its actor refused', () => {
  it('is refused again with 429 + Retry-After without its body read or its actor asked, until the window passes; others are unaffected', async () => {
    const flooder = uniqueTenant('memo');
    const neighbour = uniqueTenant('memo-calm');
    await provisionTenant(flooder, { plan: 'starter' });
    await provisionTenant(neighbour, { plan: 'starter' });
    const key = await provisionKey(flooder, ['logs:write']);
    const neighbourKey = await provisionKey(neighbour, ['logs:write']);

    // Accepted under an Idempotency-Key before the flood: its replay is checked after the window.
    const first = await postLogs(key, [{ message: 'kept once' }], { 'Idempotency-Key': 'memo-replay-1' });
    expect(first.res.status).toBe(202);
    await first.res.arrayBuffer();

    await floodUntilRefused(key);

    const again = await postLogs(key, [{ message: 'during the window' }]);
    expect(again.res.status).toBe(429);
    expect(Number(again.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(again.res.headers.get('ratelimit-policy')).toContain('"records";q=');
    expect(again.res.headers.get('ratelimit')).toContain('"records";r=');
    expect(await again.res.json()).toMatchObject({ error: 'rate_limited' });
    expect(again.pulled).toBe(false);
    expect(again.actorCalls).toBe(0);

    // The replay of an accepted batch inside the window: refused like the rest (the body is not read), retried after it.
    const replayInWindow = await postLogs(key, [{ message: 'kept once' }], { 'Idempotency-Key': 'memo-replay-1' });
    expect(replayInWindow.res.status).toBe(429);
    await replayInWindow.res.arrayBuffer();

    // Another tenant reaches its actor and is stored.
    const calm = await postLogs(neighbourKey, [{ message: 'calm neighbour' }]);
    expect(calm.res.status).toBe(202);
    expect(calm.actorCalls).toBeGreaterThan(0);
    await calm.res.arrayBuffer();

    // After the window the actor decides again: the bucket has refilled, a small batch is accepted and stored.
    const wait = Number(again.res.headers.get('retry-after')) * 1000 + 200;
    await new Promise((r) => setTimeout(r, wait));
    const after = await postLogs(key, [{ message: 'after the window' }]);
    expect(after.actorCalls).toBeGreaterThan(0);
    expect(after.pulled).toBe(true);
    expect(after.res.status).toBe(202);
    await after.res.arrayBuffer();
    const replay = await postLogs(key, [{ message: 'kept once' }], { 'Idempotency-Key': 'memo-replay-1' });
    expect(replay.res.status).toBe(202);
    expect(replay.res.headers.get('idempotent-replayed')).toBe('true');
    await replay.res.arrayBuffer();

    await flushTenant(flooder, 1);
    await flushTenant(neighbour, 1);
    const stored = await storedBodies(flooder);
    expect(stored.filter((b) => b === 'kept once')).toHaveLength(1);
    expect(stored).toContain('after the window');
    expect(stored).not.toContain('during the window');
    expect(await storedBodies(neighbour)).toEqual(['calm neighbour']);
  });

  it('is refused in each protocol’s own shape, none of the bodies read', async () => {
    const flooder = uniqueTenant('memo-shapes');
    await provisionTenant(flooder, { plan: 'starter' });
    const key = await provisionKey(flooder, ['logs:write']);
    await floodUntilRefused(key);

    const otlp = await send('/otlp/v1/logs', key, 'application/json', '{"resourceLogs":[]}');
    expect(otlp.res.status).toBe(429);
    expect(await otlp.res.json()).toMatchObject({ code: 8, message: expect.stringMatching(/rate/) }); // google.rpc.Status, RESOURCE_EXHAUSTED

    const loki = await send('/loki/api/v1/push', key, 'application/json', '{"streams":[]}');
    expect(loki.res.status).toBe(429);
    expect(loki.res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await loki.res.text()).toMatch(/rate/);

    const es = await send('/es/_bulk', key, 'application/x-ndjson', '{"index":{}}\n{"message":"x"}\n');
    expect(es.res.status).toBe(429);
    expect(await es.res.json()).toMatchObject({ status: 429, error: { type: 'es_rejected_execution_exception' } });

    const esIndex = await send('/es/logs-app/_bulk', key, 'application/x-ndjson', '{"index":{}}\n{"message":"x"}\n');
    expect(esIndex.res.status).toBe(429);
    await esIndex.res.arrayBuffer();

    const syslog = await send('/v1/syslog', key, 'text/plain', '<13>1 2026-01-01T00:00:00Z host app - - - hello\n');
    expect(syslog.res.status).toBe(429);
    expect(await syslog.res.json()).toMatchObject({ error: 'rate_limited' });

    for (const sent of [otlp, loki, es, esIndex, syslog]) {
      expect(Number(sent.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(sent.pulled).toBe(false);
      expect(sent.actorCalls).toBe(0);
    }
  });
});

describe('a sharded tenant one of whose shards refused', () => {
  it('is refused without its body read for the requests bound for that shard only; a request for another shard is stored', async () => {
    const flooder = uniqueTenant('memo-sharded');
    await provisionTenant(flooder, { plan: 'starter' });
    // 16 shards: each holds 1/16 of the starter's rate (62 records/s), so a refused 200-record request's
    // Retry-After is 3 s — long enough for the checks below on a loaded machine.
    const SHARDS = 16;
    await env.CONTROL_DB.prepare('UPDATE tenants SET shard_count = ?2 WHERE id = ?1').bind(flooder, SHARDS).run();
    const key = await provisionKey(flooder, ['logs:write']);
    // Idempotency-Keys choose the shard (shared/sharding.ts): these go to shard 0, `other` to shard 1.
    const keysFor = (shard: number, n: number, tag: string) =>
      Array.from({ length: 2000 }, (_, i) => `${tag}-${i}`)
        .filter((k) => pickShard(SHARDS, k) === shard)
        .slice(0, n);
    const batch = Array.from({ length: TEST_LIMITS.maxRecordsPerRequest }, (_, i) => ({ message: `flood ${i}` }));
    // Shard 0 holds 1/16 of the starter's burst: drain it until its actor refuses.
    const floodKeys = keysFor(0, Math.ceil(PLANS.starter.ingestRecordsBurst / SHARDS / TEST_LIMITS.maxRecordsPerRequest) + 3, 'flood');
    const answers = await Promise.all(floodKeys.map((k) => postLogs(key, batch, { 'Idempotency-Key': k })));
    for (const a of answers) await a.res.arrayBuffer();
    expect(answers.some((a) => a.res.status === 429)).toBe(true);

    const [toShard0] = keysFor(0, 1, 'again');
    const [toShard1] = keysFor(1, 1, 'other');
    const again = await postLogs(key, [{ message: 'shard 0 in its window' }], { 'Idempotency-Key': toShard0! });
    expect(again.res.status).toBe(429);
    expect(await again.res.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(again.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(again.pulled).toBe(false);
    expect(again.actorCalls).toBe(0);

    const other = await postLogs(key, [{ message: 'shard 1 has room' }], { 'Idempotency-Key': toShard1! });
    expect(other.res.status).toBe(202);
    expect(other.actorCalls).toBeGreaterThan(0);
    await other.res.arrayBuffer();

    await flushTenant(flooder, SHARDS);
    const stored = await storedBodies(flooder);
    expect(stored).toContain('shard 1 has room');
    expect(stored).not.toContain('shard 0 in its window');
  });
});

const starter = PLANS.starter;
const sharded: Plan = { ...PLANS.starter, shardCount: 4 };
const rateRefusal: ActorRefusal = { status: 429, code: 'rate_limited', message: 'over', details: {}, headers: {}, retryAfterSeconds: 2 };

describe('what the memo remembers (memoUntil)', () => {
  it.each([
    ['a rate refusal: its Retry-After from the hand-off', rateRefusal, 1_000 + 2_000],
    ['a quota refusal: at most MAX_HOLD_MS', { ...rateRefusal, code: 'quota_exceeded', retryAfterSeconds: 36_000 }, 1_000 + MAX_HOLD_MS],
    ['buffer_full (503): nothing', { ...rateRefusal, status: 503 as const, code: 'buffer_full' }, null],
    ['request_too_large (413, the request’s own size): nothing', { ...rateRefusal, status: 413 as const, code: 'request_too_large' }, null],
    ['idempotency_key_reused: nothing', { ...rateRefusal, status: 422 as const, code: 'idempotency_key_reused' }, null],
    ['a 429 without Retry-After: nothing', { ...rateRefusal, retryAfterSeconds: undefined }, null],
  ] as const)('%s', (_, refusal, until) => {
    expect(memoUntil(refusal, 1_000)).toBe(until);
  });
});

describe('a sharded tenant: what a request bound for a shard meets, after one shard refused (RefusalMemo per actor)', () => {
  const quotaRefusal: ActorRefusal = { ...rateRefusal, code: 'quota_exceeded', retryAfterSeconds: 36_000 };
  it.each([
    // refusal remembered from actor, at 0 ms; the request's actor, its plan and time → refused?
    ['the same shard, inside its Retry-After', rateRefusal, 't#1', 't#1', sharded, 1_999, true],
    ['the same shard, at its Retry-After', rateRefusal, 't#1', 't#1', sharded, 2_000, false],
    ['another shard (its own 1/N of the rate)', rateRefusal, 't#1', 't#2', sharded, 500, false],
    ['shard 0 is the tenant’s own name, and only shard 0', rateRefusal, 't', 't#1', sharded, 500, false],
    ['shard 0, inside the window', rateRefusal, 't', 't', sharded, 500, true],
    ['a quota refusal (the coordinator’s): that shard, at most MAX_HOLD_MS', quotaRefusal, 't#3', 't#3', sharded, MAX_HOLD_MS - 1, true],
    ['a quota refusal, after MAX_HOLD_MS', quotaRefusal, 't#3', 't#3', sharded, MAX_HOLD_MS, false],
    ['a quota refusal, another shard (it may hold a reservation)', quotaRefusal, 't#3', 't#0', sharded, 500, false],
    ['the shard count changed (another plan)', rateRefusal, 't#1', 't#1', { ...sharded, shardCount: 8 }, 500, false],
    ['unsharded again', rateRefusal, 't', 't', starter, 500, false],
  ] as const)('%s', (_, refusal, from, to, plan, now, refused) => {
    const memo = new RefusalMemo();
    memo.remember(from, sharded, refusal, 0);
    expect(memo.refusalFor(to, plan, now) !== null).toBe(refused);
  });
});

describe('what a request meets (memoDecision)', () => {
  const entry: MemoEntry = { refusal: rateRefusal, policy: policyKey(starter), until: 5_000, retryAt: 5_000, since: 3_000 };
  it.each([
    ['no entry', undefined, starter, 4_000, 'ask_actor'],
    ['inside the window', entry, starter, 4_999, 'refuse'],
    ['at the stated time', entry, starter, 5_000, 'ask_actor'],
    ['after it', entry, starter, 9_000, 'ask_actor'],
    ['the plan changed', entry, PLANS.professional, 4_000, 'ask_actor'],
  ] as const)('%s → %s', (_, e, plan, now, decision) => {
    expect(memoDecision(e, plan, now)).toBe(decision);
  });
});

describe('RefusalMemo', () => {
  it('answers the time left, keeps the later horizon, forgets what ran out and stays bounded, least recently used out first', () => {
    const memo = new RefusalMemo(2);
    memo.remember('a', starter, rateRefusal, 0);
    const refusal = memo.refusalFor('a', starter, 500);
    expect(refusal?.status).toBe(429);
    expect(refusal?.headers['Retry-After']).toBe('2');
    expect(memo.refusalFor('a', starter, 1_500)?.headers['Retry-After']).toBe('1');
    memo.remember('a', starter, { ...rateRefusal, retryAfterSeconds: 1 }, 100); // an earlier horizon, answered later: the later one stands
    expect(memo.refusalFor('a', starter, 1_500)).not.toBeNull();
    expect(memo.refusalFor('a', starter, 2_000)).toBeNull(); // run out: forgotten
    expect(memo.size).toBe(0);

    memo.remember('a', starter, rateRefusal, 0);
    memo.remember('b', starter, rateRefusal, 0);
    expect(memo.refusalFor('a', starter, 10)).not.toBeNull(); // a is now the most recent
    memo.remember('c', starter, rateRefusal, 0);
    expect(memo.size).toBe(2);
    expect(memo.refusalFor('b', starter, 10)).toBeNull();
    expect(memo.refusalFor('a', starter, 10)).not.toBeNull();
    expect(memo.refusalFor('c', starter, 10)).not.toBeNull();
    expect(MAX_TENANTS).toBe(10_000);
  });
});
