/**
 * Authentication's cache in front of D1 (shared/refresh-ahead-cache.ts): a
 * steady sender's requests never wait for D1, concurrent first requests share
 * one read, and a revoked key still stops within NEURALLOG_KEY_CACHE_TTL_MS.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { type AuthBindings, authenticate } from '../../shared/auth.ts';
import { TEST_KEY_CACHE_TTL_MS as TTL } from '../support/constants.ts';
import { provisionKey, provisionTenant, revokeKey } from '../support/control-plane.ts';
import { backgroundWork } from '../support/background-work.ts';
import { uniqueTenant } from '../support/in-workerd.ts';

/** CONTROL_DB as authentication sees it: every query counted; while `held`, queries wait until released; while `failing`, they fail. */
function watchedD1() {
  const real = env.CONTROL_DB;
  let release: () => void = () => undefined;
  const state = { queries: 0, held: null as Promise<void> | null, failing: false };
  const gate = async () => {
    if (state.held) await state.held;
    if (state.failing) throw new Error('D1_ERROR: unavailable (test)');
  };
  const db = {
    prepare(sql: string) {
      state.queries++;
      const statement = real.prepare(sql);
      return {
        bind(...values: unknown[]) {
          const bound = statement.bind(...values);
          return {
            all: () => gate().then(() => bound.all()),
            raw: (options?: { columnNames?: false }) => gate().then(() => bound.raw(options)),
            first: (column?: string) => gate().then(() => (column === undefined ? bound.first() : bound.first(column))),
            run: () => gate().then(() => bound.run()),
          };
        },
      };
    },
  };
  return {
    env: { ...env, CONTROL_DB: db as unknown as D1Database } as AuthBindings,
    queries: () => state.queries,
    hold() {
      state.held = new Promise((resolve) => (release = resolve));
    },
    release() {
      state.held = null;
      release();
    },
    fail(failing: boolean) {
      state.failing = failing;
    },
  };
}

/** The answer, or 'waited' if it did not come within `ms` (it is waiting for a held D1). */
async function within<T>(ms: number, answer: Promise<T>): Promise<T | 'waited'> {
  return Promise.race([answer, new Promise<'waited'>((r) => setTimeout(() => r('waited'), ms))]);
}

async function keyOf(scopes: Parameters<typeof provisionKey>[1] = ['logs:write']) {
  const tenant = uniqueTenant();
  await provisionTenant(tenant);
  return { tenant, key: await provisionKey(tenant, scopes) };
}

async function setScopes(key: string, scopes: string[]): Promise<void> {
  const keyId = key.split('_')[1]!;
  await env.CONTROL_DB.prepare('UPDATE api_keys SET scopes = ?1 WHERE id = ?2').bind(JSON.stringify(scopes), keyId).run();
}

describe('authentication cache', () => {
  it('answers a steady sender from the cache past half the TTL, without D1 on its path, and refreshes it in the background', async () => {
    const { tenant, key } = await keyOf(['logs:write']);
    const d1 = watchedD1();
    const t0 = Date.now();
    expect((await authenticate(`Bearer ${key}`, d1.env, t0)).tenantId).toBe(tenant);
    expect(d1.queries()).toBe(1);
    await setScopes(key, ['logs:write', 'logs:read']); // a change the refresh must pick up

    // Every TTL/4, for 3 TTLs, D1 held while each request is answered: none waits for it. Between
    // requests D1 is let go, so the refreshes started in the background (one per half TTL) land.
    const seen: string[][] = [];
    for (let now = t0 + TTL / 4; now <= t0 + 3 * TTL; now += TTL / 4) {
      const work = backgroundWork();
      d1.hold();
      const principal = await within(2000, authenticate(`Bearer ${key}`, d1.env, now, work.background));
      expect(principal, `request at +${now - t0} ms`).not.toBe('waited');
      if (principal !== 'waited') seen.push([...principal.scopes].sort());
      d1.release();
      await work.settled();
    }
    expect(seen[0]).toEqual(['logs:write']); // the entry read at t0
    expect(seen.at(-1)).toEqual(['logs:read', 'logs:write']); // refreshed: what D1 says now
    // One read each time the entry reached half the TTL (+0.5, +1.0, … +3.0 TTL), none on a request's path.
    expect(d1.queries()).toBe(1 + 6);
  });

  it('makes one D1 read for 20 concurrent first requests with the same key', async () => {
    const { tenant, key } = await keyOf();
    const d1 = watchedD1();
    const now = Date.now();
    const principals = await Promise.all(Array.from({ length: 20 }, () => authenticate(`Bearer ${key}`, d1.env, now)));
    expect(principals.map((p) => p.tenantId)).toEqual(Array(20).fill(tenant));
    expect(d1.queries()).toBe(1);
  });

  it('keeps no failed read: concurrent requests all fail, the next one reads again and passes', async () => {
    const { tenant, key } = await keyOf();
    const d1 = watchedD1();
    const now = Date.now();
    d1.fail(true);
    const answers = await Promise.allSettled(Array.from({ length: 5 }, () => authenticate(`Bearer ${key}`, d1.env, now)));
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    expect(d1.queries()).toBe(1);
    d1.fail(false);
    expect((await authenticate(`Bearer ${key}`, d1.env, now + 1)).tenantId).toBe(tenant);
    expect(d1.queries()).toBe(2);
  });

  it('refuses a revoked key within the TTL of its last read, even when every refresh fails', async () => {
    const { key } = await keyOf();
    const d1 = watchedD1();
    const t0 = Date.now();
    await authenticate(`Bearer ${key}`, d1.env, t0);
    await revokeKey(key, t0);
    d1.fail(true); // the background refreshes fail: the entry read at t0 is the only one
    const work = backgroundWork();
    for (const offset of [TTL / 4, TTL / 2, (3 * TTL) / 4, TTL - 1]) {
      // Within the TTL of the read, the entry may be served (the documented bound).
      await expect(authenticate(`Bearer ${key}`, d1.env, t0 + offset, work.background)).resolves.toMatchObject({ tenantId: expect.any(String) });
    }
    await work.settled();
    d1.fail(false);
    await expect(authenticate(`Bearer ${key}`, d1.env, t0 + TTL, work.background)).rejects.toMatchObject({ status: 401 });
  });

  it('through the ingest worker: a revoked key is refused as soon as the refresh ahead of the TTL lands', async () => {
    const { tenant, key: warmUp } = await keyOf();
    const post = (key: string, records: unknown[]) =>
      exports.default.fetch(
        new Request('https://neurallog.test/v1/logs', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(records),
        }),
      );
    expect((await post(warmUp, [{ message: 'wake the actor' }])).status).toBe(202); // the requests below are then quick

    /** One try with a fresh key: whether its revocation showed before the TTL, or the machine was too slow to tell. */
    async function attempt(): Promise<'refused before the TTL' | 'accepted until the TTL' | 'too slow to tell'> {
      const key = await provisionKey(tenant, ['logs:write']);
      const t0 = Date.now();
      expect((await post(key, [{ message: 'first' }])).status).toBe(202); // read and cached at ≥ t0
      await revokeKey(key);
      await new Promise((r) => setTimeout(r, TTL / 2 + 20));
      // Past half the TTL: answered from the cache, and a refresh started on the request's waitUntil.
      const served = await post(key, [{ message: 'served from the cache' }]);
      await served.body?.cancel();
      if (Date.now() > t0 + TTL - 200) return 'too slow to tell'; // no time left to see a difference from the TTL itself
      expect(served.status).toBe(202);
      while (Date.now() < t0 + TTL) {
        const started = Date.now();
        const res = await post(key, [{ message: 'after the revocation' }]);
        await res.body?.cancel();
        if (res.status === 401) return started < t0 + TTL ? 'refused before the TTL' : 'too slow to tell';
        await new Promise((r) => setTimeout(r, 20));
      }
      return 'accepted until the TTL';
    }

    // Before the refresh ahead, nothing read D1 again until the entry was TTL old: every try said 'accepted until the TTL'.
    let outcome = await attempt();
    for (let retry = 0; retry < 2 && outcome === 'too slow to tell'; retry++) outcome = await attempt();
    expect(outcome).toBe('refused before the TTL');
  });
});
