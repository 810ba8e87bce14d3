/**
 * The operator's work queue: one reconcile per key at a time, bursts folded
 * into one, capped exponential backoff that resets on success.
 */
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../operator/src/work-queue.ts';

describe('work queue', () => {
  it('folds repeated adds of a waiting key into one', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
    for (let i = 0; i < 5; i++) q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    expect([await q.get(), await q.get()]).toEqual(['a', 'b']);
  });

  it('never hands a key to two workers at once; a change meanwhile is worked on after', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a'); // changed while being reconciled
    q.add('b');
    expect(await q.get()).toBe('b'); // not 'a': it is still being worked on
    let second: string | null = null;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBeNull();
    q.done('a');
    await waiting;
    expect(second).toBe('a');
  });

  it('backs off exponentially on failure, capped, and starts over after a success', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1_000 });
    const delays = Array.from({ length: 6 }, () => q.addRateLimited('a'));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
    q.shutDown();
  });

  it('hands nothing out after shutdown and wakes the waiting workers', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeNull();
    q.add('a');
    expect(await q.get()).toBeNull();
  });
});
