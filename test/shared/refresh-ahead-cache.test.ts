import { describe, expect, it } from 'vitest';
import { type CacheStep, cacheStep, RefreshAheadCache } from '../../shared/refresh-ahead-cache.ts';
import { backgroundWork } from '../support/background-work.ts';

const TTL = 1000;

describe('cacheStep', () => {
  // entry age, age of the read in flight (null: none), → what a look-up does
  const table: [number | null, number | null, CacheStep][] = [
    [null, null, 'read'], // never read
    [0, null, 'serve'],
    [499, null, 'serve'], // younger than half the TTL: nothing to do
    [500, null, 'serve-and-refresh'], // half the TTL: answered, refreshed in the background
    [999, null, 'serve-and-refresh'],
    [600, 100, 'serve'], // a refresh is already on its way
    [1000, null, 'read'], // expired: never answered, whoever asks waits for D1
    [5000, null, 'read'],
    [1000, 400, 'join-read'], // expired, a read in flight: share it
    [null, 0, 'join-read'], // concurrent first requests share one read
    [null, 999, 'join-read'],
    [null, 1000, 'read'], // a read a TTL old is presumed lost: not waited for again
    [1500, 1000, 'read'],
    [999, 1000, 'serve-and-refresh'], // (an entry younger than a lost read: refreshed anew)
    [-5, null, 'serve'], // a clock behind the entry's: still within the TTL, as before
  ];
  it.each(table)('entry %s ms old, read in flight for %s ms → %s', (entryAge, readAge, step) => {
    expect(cacheStep(entryAge, readAge, TTL)).toBe(step);
  });

  it('with a TTL of 0 caches and shares nothing', () => {
    expect(cacheStep(0, null, 0)).toBe('read');
    expect(cacheStep(null, 0, 0)).toBe('read');
  });
});

/** A read that waits until released, counting how many were started. */
function controlledReads<T>() {
  const pending: { resolve: (value: T) => void; reject: (err: Error) => void }[] = [];
  return {
    started: () => pending.length,
    read: () => new Promise<T>((resolve, reject) => pending.push({ resolve, reject })),
    settle: (index: number, value: T) => pending[index]!.resolve(value),
    fail: (index: number, err: Error) => pending[index]!.reject(err),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('RefreshAheadCache', () => {
  it('shares one read among concurrent look-ups of a key, and keeps its answer', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const answers = Array.from({ length: 10 }, () => cache.get('k', { now: 0, ttl: TTL }, reads.read));
    await tick();
    expect(reads.started()).toBe(1);
    reads.settle(0, 'v1');
    expect(await Promise.all(answers)).toEqual(Array(10).fill('v1'));
    expect(cache.readsInFlight).toBe(0);
    expect(await cache.get('k', { now: 10, ttl: TTL }, reads.read)).toBe('v1');
    expect(reads.started()).toBe(1);
  });

  it('keeps no failure: every waiter sees it, and the next look-up reads again', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const answers = [cache.get('k', { now: 0, ttl: TTL }, reads.read), cache.get('k', { now: 1, ttl: TTL }, reads.read)];
    await tick();
    reads.fail(0, new Error('D1 unavailable'));
    for (const answer of answers) await expect(answer).rejects.toThrow('D1 unavailable');
    const next = cache.get('k', { now: 2, ttl: TTL }, reads.read);
    await tick();
    expect(reads.started()).toBe(2);
    reads.settle(1, 'v1');
    expect(await next).toBe('v1');
  });

  it('answers from the entry past half its TTL and replaces it by one read in the background', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const first = cache.get('k', { now: 0, ttl: TTL }, reads.read);
    await tick();
    reads.settle(0, 'v1');
    await first;
    const work = backgroundWork();
    // Three requests past half the TTL, the refresh not yet answered: all served at once, one read started.
    for (const now of [600, 650, 700]) expect(await cache.get('k', { now, ttl: TTL, background: work.background }, reads.read)).toBe('v1');
    expect(reads.started()).toBe(2);
    expect(work.count()).toBe(1);
    reads.settle(1, 'v2');
    await work.settled();
    // The refreshed entry counts from its read's start (600): still good at 1,500, past the first one's TTL.
    expect(await cache.get('k', { now: 1500, ttl: TTL }, reads.read)).toBe('v2');
    expect(reads.started()).toBe(3); // and that look-up, 900 ms into the new entry, refreshes it
  });

  it('never answers an entry a TTL old, even when its refresh failed', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const first = cache.get('k', { now: 0, ttl: TTL }, reads.read);
    await tick();
    reads.settle(0, 'v1');
    await first;
    const work = backgroundWork();
    expect(await cache.get('k', { now: 600, ttl: TTL, background: work.background }, reads.read)).toBe('v1');
    reads.fail(1, new Error('D1 unavailable'));
    await work.settled();
    const late = cache.get('k', { now: 1000, ttl: TTL }, reads.read);
    await tick();
    expect(reads.started()).toBe(3);
    reads.settle(2, 'v3');
    expect(await late).toBe('v3');
  });

  it('does not keep what a read returns after the key was forgotten meanwhile', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const before = cache.get('k', { now: 0, ttl: TTL }, reads.read);
    await tick();
    cache.forget('k'); // e.g. the session was signed out here while the read was in flight
    reads.settle(0, 'before the change');
    await before;
    const after = cache.get('k', { now: 1, ttl: TTL }, reads.read);
    await tick();
    expect(reads.started()).toBe(2);
    reads.settle(1, 'after the change');
    expect(await after).toBe('after the change');
  });

  it('hands every read to the background, so the context that started it outlives it', async () => {
    const cache = new RefreshAheadCache<string>('test', 10);
    const reads = controlledReads<string>();
    const work = backgroundWork();
    const answer = cache.get('k', { now: 0, ttl: TTL, background: work.background }, reads.read);
    expect(work.count()).toBe(1);
    await tick();
    reads.settle(0, 'v1');
    expect(await answer).toBe('v1');
  });

  it('keeps at most maxEntries entries, the oldest read going first', async () => {
    const cache = new RefreshAheadCache<string>('test', 2);
    let reads = 0;
    const read = async () => `v${++reads}`;
    for (const key of ['a', 'b', 'c']) await cache.get(key, { now: 0, ttl: TTL }, read);
    expect(await cache.get('b', { now: 1, ttl: TTL }, read)).toBe('v2');
    expect(await cache.get('c', { now: 1, ttl: TTL }, read)).toBe('v3');
    expect(await cache.get('a', { now: 1, ttl: TTL }, read)).toBe('v4'); // evicted, read again
  });
});
