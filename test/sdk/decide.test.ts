/**
 * The SDK's "what happens next" (sdk/src/decide.ts) as tables: after an
 * answer — acknowledge, retry after how long, or drop and why — and before a
 * send, how long the ingest's RateLimit headers say to wait.
 */
import { describe, expect, it } from 'vitest';
import { type Answer, decide, type DecideInput, paceDelay, parseRateLimit, parseRetryAfter, type RateState } from '../../sdk/src/decide.ts';

const policy = { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10, maxRetryAfterMs: 300_000 };
const response = (status: number, retryAfterMs?: number): Answer => ({ kind: 'response', status, ...(retryAfterMs !== undefined && { retryAfterMs }) });

describe('decide: after an answer', () => {
  // [what, answer, attempt, random, remainingMs, expected]
  const table: [string, Answer, number, number, number | undefined, ReturnType<typeof decide>][] = [
    ['202 is acknowledged', response(202), 1, 0.5, undefined, { action: 'ack' }],
    ['a 202 on the last attempt is still acknowledged', response(202), 10, 0.5, undefined, { action: 'ack' }],
    ['400 (a bad record) is dropped: sending it again cannot succeed', response(400), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['401 (a bad key) is dropped', response(401), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['403 (no logs:write, a suspended tenant) is dropped', response(403), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['413 (too large) is dropped', response(413), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['415 is dropped', response(415), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['422 (idempotency key reused) is dropped', response(422), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['a redirect is dropped (the endpoint is wrong)', response(308), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['501 is dropped (not a transient failure)', response(501), 1, 0.5, undefined, { action: 'drop', reason: 'rejected' }],
    ['503 on the first attempt: full jitter under the base', response(503), 1, 0.5, undefined, { action: 'retry', delayMs: 250 }],
    ['503, attempt 3: the ceiling doubled twice (2,000 ms)', response(503), 3, 0.5, undefined, { action: 'retry', delayMs: 1_000 }],
    ['full jitter reaches down to zero', response(503), 3, 0, undefined, { action: 'retry', delayMs: 0 }],
    ['the ceiling stops at maxDelayMs', response(503), 9, 0.999, undefined, { action: 'retry', delayMs: 29_970 }],
    ['429 with Retry-After: never sooner than it says', response(429, 4_000), 1, 0.5, undefined, { action: 'retry', delayMs: 4_000 }],
    ['Retry-After shorter than the backoff: the backoff', response(429, 1_000), 6, 0.5, undefined, { action: 'retry', delayMs: 8_000 }],
    ['503 with Retry-After (buffer full)', response(503, 1_000), 1, 0.9, undefined, { action: 'retry', delayMs: 1_000 }],
    ['504 (outcome unknown) is retried: the Idempotency-Key makes it safe', response(504, 1_000), 1, 0, undefined, { action: 'retry', delayMs: 1_000 }],
    ['500 and 502 are retried', response(502), 2, 0.25, undefined, { action: 'retry', delayMs: 250 }],
    ['408 is retried', response(408), 1, 1 - 2 ** -52, undefined, { action: 'retry', delayMs: 499 }],
    ['a network error is retried', { kind: 'network-error' }, 2, 0.5, undefined, { action: 'retry', delayMs: 500 }],
    ['a timeout is retried', { kind: 'timeout' }, 1, 0.5, undefined, { action: 'retry', delayMs: 250 }],
    ['the last attempt failing drops the batch', response(503), 10, 0.5, undefined, { action: 'drop', reason: 'retries_exhausted' }],
    ['a network error on the last attempt drops it', { kind: 'network-error' }, 10, 0.5, undefined, { action: 'drop', reason: 'retries_exhausted' }],
    [
      'a quota used up until tomorrow (Retry-After past the cap) drops',
      response(429, 6 * 3600_000),
      1,
      0.5,
      undefined,
      { action: 'drop', reason: 'retry_after_too_long' },
    ],
    ['closing: a retry that fits in the time left is made', response(503), 1, 0.5, 1_000, { action: 'retry', delayMs: 250 }],
    ['closing: a retry after the deadline drops (close timed out)', response(429, 5_000), 1, 0.5, 1_000, { action: 'drop', reason: 'closed' }],
    ['closing: an answer is acknowledged whatever the time', response(202), 1, 0.5, 0, { action: 'ack' }],
  ];
  it.each(table)('%s', (_what, answer, attempt, random, remainingMs, expected) => {
    const input: DecideInput = { answer, attempt, policy, random, ...(remainingMs !== undefined && { remainingMs }) };
    expect(decide(input)).toEqual(expected);
  });

  it('never waits longer than maxDelayMs without a Retry-After, whatever the attempt', () => {
    for (let attempt = 1; attempt < 60; attempt++) {
      const step = decide({ answer: { kind: 'network-error' }, attempt, policy: { ...policy, maxAttempts: 100 }, random: 0.999999 });
      expect(step.action).toBe('retry');
      if (step.action === 'retry') expect(step.delayMs).toBeLessThan(policy.maxDelayMs);
    }
  });
});

describe('paceDelay: before a send', () => {
  const observed = (remaining: number, quota = 10_000, windowSeconds = 10): RateState => ({
    observedAt: 1_000_000,
    records: { remaining, resetSeconds: Math.ceil((quota - remaining) / (quota / windowSeconds)), quota, windowSeconds },
  });
  // [what, state, batch records, batch bytes, now, expected ms]
  const table: [string, RateState | undefined, number, number, number, number][] = [
    ['no headers seen yet: no wait', undefined, 1_000, 10_000, 1_000_000, 0],
    ['the batch fits what is left: no wait', observed(5_000), 1_000, 10_000, 1_000_000, 0],
    ['the bucket is empty: wait for the batch to refill (1,000 at 1,000/s)', observed(0), 1_000, 10_000, 1_000_000, 1_000],
    ['half the batch is left: wait for the other half', observed(500), 1_000, 10_000, 1_000_000, 500],
    ['time since the answer counts as refill', observed(0), 1_000, 10_000, 1_000_400, 600],
    ['refilled long ago: no wait', observed(0), 1_000, 10_000, 1_005_000, 0],
    ['a batch larger than the bucket waits until it is full, no longer', observed(0, 100, 1), 1_000, 10_000, 1_000_000, 1_000],
    [
      'the slower dimension decides (bytes)',
      {
        observedAt: 0,
        records: { remaining: 10_000, resetSeconds: 0, quota: 10_000, windowSeconds: 10 },
        bytes: { remaining: 0, resetSeconds: 10, quota: 1_000_000, windowSeconds: 10 },
      },
      10,
      200_000,
      0,
      2_000,
    ],
    [
      'without a policy, the rate comes from t: (quota unknown) no wait can be computed',
      { observedAt: 0, records: { remaining: 0, resetSeconds: 5 } },
      10,
      10,
      0,
      0,
    ],
    ['without w, the rate is (q − r) ÷ t', { observedAt: 0, records: { remaining: 0, resetSeconds: 10, quota: 1_000 } }, 200, 10, 0, 2_000],
  ];
  it.each(table)('%s', (_what, state, records, bytes, now, expected) => {
    expect(paceDelay(state, { records, bytes }, now)).toBe(expected);
  });
});

describe('reading the headers', () => {
  it('reads the ingest’s RateLimit and RateLimit-Policy (both dimensions, quoted names, spaces)', () => {
    expect(parseRateLimit('"records";r=42;t=3, "bytes";r=1000;t=1', '"records";q=10000;w=10, "bytes";q=10485760;w=10', 5)).toEqual({
      observedAt: 5,
      records: { remaining: 42, resetSeconds: 3, quota: 10_000, windowSeconds: 10 },
      bytes: { remaining: 1000, resetSeconds: 1, quota: 10_485_760, windowSeconds: 10 },
    });
  });

  it('ignores what it does not know and survives garbage', () => {
    expect(parseRateLimit(null, null, 0)).toBeUndefined();
    expect(parseRateLimit('"requests";r=1;t=1', null, 0)).toBeUndefined();
    expect(parseRateLimit('garbage;;=,,;r=x', '"records";q=;w', 0)).toBeUndefined();
    expect(parseRateLimit('"records";r=3;t=1;x=9, "__proto__";r=1', '', 0)).toEqual({ observedAt: 0, records: { remaining: 3, resetSeconds: 1 } });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3_000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter(new Date(0).toUTCString(), 60_000)).toBe(0);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
