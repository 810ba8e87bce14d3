import { describe, expect, it } from 'vitest';
import {
  classifyResponse,
  DEFAULT_DELIVERY_POLICY,
  DELIVERY_BASE_MS,
  DELIVERY_GIVE_UP_AFTER_MS,
  DELIVERY_MAX_MS,
  type DeliveryDecision,
  type DeliveryOutcome,
  type DeliveryPolicy,
  nextDelivery,
  parseRetryAfter,
} from '../../shared/alerts/delivery-schedule.ts';

const T0 = Date.UTC(2026, 10, 26, 6, 0, 0);
const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const DEADLINE = T0 + 24 * H;

/** The default policy with the jitter fixed at `fraction`, recording the attempt numbers it is asked for. */
function fixedJitter(fraction: number, asked: number[] = []): DeliveryPolicy {
  const jitter = (attempt: number) => {
    asked.push(attempt);
    return fraction;
  };
  return { ...DEFAULT_DELIVERY_POLICY, jitter };
}

const unavailable: DeliveryOutcome = { kind: 'retryable', status: 503 };
const timeout: DeliveryOutcome = { kind: 'retryable' };
const retryAfter = (ms: number): DeliveryOutcome => ({ kind: 'retryable', status: 429, retryAfterMs: ms });

interface Case {
  name: string;
  attempts: number;
  outcome: DeliveryOutcome;
  /** ms since T0 */
  now: number;
  jitter: number;
  expected: DeliveryDecision | { kind: 'failed'; reason: RegExp };
}

const NOW = 10 * S;
const at = (ms: number) => ({ kind: 'retry' as const, at: T0 + NOW + ms });

const CASES: Case[] = [
  { name: 'delivered: done', attempts: 1, outcome: { kind: 'delivered' }, now: NOW, jitter: 1, expected: { kind: 'done' } },
  { name: 'delivered after retries: done', attempts: 7, outcome: { kind: 'delivered' }, now: 23 * H, jitter: 1, expected: { kind: 'done' } },
  {
    name: 'delivered past the deadline (a slow answer): done, not failed',
    attempts: 600,
    outcome: { kind: 'delivered' },
    now: 24 * H + 30 * S,
    jitter: 1,
    expected: { kind: 'done' },
  },
  {
    name: '404: failed at once, not retried',
    attempts: 1,
    outcome: { kind: 'rejected', status: 404 },
    now: NOW,
    jitter: 1,
    expected: { kind: 'failed', reason: /refused the notification with HTTP 404; not retried/ },
  },
  {
    name: '301: failed at once, told to set the URL',
    attempts: 1,
    outcome: { kind: 'rejected', status: 301 },
    now: NOW,
    jitter: 1,
    expected: { kind: 'failed', reason: /HTTP 301, a redirect; redirects are not followed/ },
  },
  // Backoff: the ceiling doubles from 1 s, the jitter picks a point below it.
  { name: 'attempt 1, jitter 1: 1 s', attempts: 1, outcome: unavailable, now: NOW, jitter: 1, expected: at(1 * S) },
  { name: 'attempt 1, jitter 0.5: 500 ms', attempts: 1, outcome: unavailable, now: NOW, jitter: 0.5, expected: at(500) },
  { name: 'attempt 1, jitter 0: at once (full jitter starts at 0)', attempts: 1, outcome: unavailable, now: NOW, jitter: 0, expected: at(0) },
  { name: 'attempt 2, jitter 1: 2 s', attempts: 2, outcome: unavailable, now: NOW, jitter: 1, expected: at(2 * S) },
  { name: 'attempt 3, jitter 0.25: 1 s of 4 s', attempts: 3, outcome: unavailable, now: NOW, jitter: 0.25, expected: at(1 * S) },
  { name: 'attempt 9, jitter 1: 256 s', attempts: 9, outcome: unavailable, now: NOW, jitter: 1, expected: at(256 * S) },
  { name: 'attempt 10, jitter 1: capped at 5 min (not 512 s)', attempts: 10, outcome: unavailable, now: NOW, jitter: 1, expected: at(5 * MIN) },
  { name: 'attempt 10, jitter 0.5: half the cap', attempts: 10, outcome: unavailable, now: NOW, jitter: 0.5, expected: at(150 * S) },
  { name: 'attempt 2000: still the cap (no overflow)', attempts: 2_000, outcome: unavailable, now: NOW, jitter: 1, expected: at(5 * MIN) },
  { name: 'a fractional wait rounds up', attempts: 1, outcome: unavailable, now: NOW, jitter: 0.0001, expected: at(1) },
  { name: 'a timeout (no status) retries like a 503', attempts: 4, outcome: timeout, now: NOW, jitter: 1, expected: at(8 * S) },
  { name: 'jitter above 1 is clamped', attempts: 2, outcome: unavailable, now: NOW, jitter: 1.5, expected: at(2 * S) },
  { name: 'jitter below 0 is clamped', attempts: 2, outcome: unavailable, now: NOW, jitter: -3, expected: at(0) },
  { name: 'NaN jitter waits the longest', attempts: 2, outcome: unavailable, now: NOW, jitter: Number.NaN, expected: at(2 * S) },
  // Retry-After lengthens the wait, never shortens it, and stops at the cap.
  { name: 'Retry-After 30 s beats a 1 s backoff', attempts: 1, outcome: retryAfter(30 * S), now: NOW, jitter: 1, expected: at(30 * S) },
  { name: 'Retry-After 0 does not shorten a 16 s backoff', attempts: 5, outcome: retryAfter(0), now: NOW, jitter: 1, expected: at(16 * S) },
  { name: 'Retry-After 0 with jitter 0.5: the jittered backoff', attempts: 5, outcome: retryAfter(0), now: NOW, jitter: 0.5, expected: at(8 * S) },
  { name: 'Retry-After 500 ms below a 4 s backoff', attempts: 3, outcome: retryAfter(500), now: NOW, jitter: 1, expected: at(4 * S) },
  { name: 'Retry-After above the jittered backoff', attempts: 3, outcome: retryAfter(3 * S), now: NOW, jitter: 0.25, expected: at(3 * S) },
  { name: 'Retry-After 1 h is capped at 5 min', attempts: 1, outcome: retryAfter(H), now: NOW, jitter: 0, expected: at(5 * MIN) },
  { name: 'Retry-After of a fraction rounds up', attempts: 1, outcome: retryAfter(1_500.2), now: NOW, jitter: 0, expected: at(1_501) },
  { name: 'Retry-After NaN is ignored', attempts: 2, outcome: retryAfter(Number.NaN), now: NOW, jitter: 1, expected: at(2 * S) },
  { name: 'Retry-After negative is ignored', attempts: 2, outcome: retryAfter(-60 * S), now: NOW, jitter: 1, expected: at(2 * S) },
  { name: 'Retry-After Infinity is ignored', attempts: 2, outcome: retryAfter(Number.POSITIVE_INFINITY), now: NOW, jitter: 1, expected: at(2 * S) },
  // Giving up 24 h after the first attempt; no attempt starts after the deadline.
  {
    name: 'a retry landing exactly on the deadline is allowed',
    attempts: 500,
    outcome: unavailable,
    now: 24 * H - 5 * MIN,
    jitter: 1,
    expected: { kind: 'retry', at: DEADLINE },
  },
  {
    name: 'a retry 1 ms past the deadline fails the delivery',
    attempts: 500,
    outcome: unavailable,
    now: 24 * H - 5 * MIN + 1,
    jitter: 1,
    expected: { kind: 'failed', reason: /^gave up after 500 attempts over 24 h; the last got HTTP 503$/ },
  },
  {
    name: 'the same moment with a shorter jittered wait still retries',
    attempts: 500,
    outcome: unavailable,
    now: 24 * H - 5 * MIN + 1,
    jitter: 0.5,
    expected: { kind: 'retry', at: T0 + 24 * H - 5 * MIN + 1 + 150 * S },
  },
  {
    name: 'at the deadline even a zero wait fails',
    attempts: 501,
    outcome: timeout,
    now: 24 * H,
    jitter: 0,
    expected: { kind: 'failed', reason: /^gave up after 501 attempts over 24 h; the last got no answer \(a timeout or a network error\)$/ },
  },
  {
    name: 'Retry-After pushing past the deadline fails',
    attempts: 3,
    outcome: retryAfter(60 * S),
    now: 24 * H - 10 * S,
    jitter: 0,
    expected: { kind: 'failed', reason: /gave up after 3 attempts over 24 h; the last got HTTP 429/ },
  },
  {
    name: 'one attempt is said in the singular',
    attempts: 1,
    outcome: unavailable,
    now: 25 * H,
    jitter: 0,
    expected: { kind: 'failed', reason: /^gave up after 1 attempt over 24 h/ },
  },
];

describe('nextDelivery', () => {
  it.each(CASES)('$name', ({ attempts, outcome, now, jitter, expected }) => {
    const decision = nextDelivery({ attempts, firstAttemptAt: T0 }, outcome, T0 + now, fixedJitter(jitter));
    if (expected.kind === 'failed' && expected.reason instanceof RegExp) {
      expect(decision.kind).toBe('failed');
      expect(decision.kind === 'failed' && decision.reason).toMatch(expected.reason);
    } else {
      expect(decision).toEqual(expected);
    }
  });

  it('draws the jitter for the attempt that failed', () => {
    const asked: number[] = [];
    nextDelivery({ attempts: 6, firstAttemptAt: T0 }, unavailable, T0 + NOW, fixedJitter(0.5, asked));
    expect(asked).toEqual([6]);
  });

  it('uses the policy it is given', () => {
    const policy: DeliveryPolicy = { baseMs: 100, maxMs: 1_000, giveUpAfterMs: 10 * S, jitter: () => 1 };
    expect(nextDelivery({ attempts: 3, firstAttemptAt: T0 }, unavailable, T0, policy)).toEqual({ kind: 'retry', at: T0 + 400 });
    expect(nextDelivery({ attempts: 8, firstAttemptAt: T0 }, unavailable, T0, policy)).toEqual({ kind: 'retry', at: T0 + 1_000 });
    expect(nextDelivery({ attempts: 9, firstAttemptAt: T0 }, unavailable, T0 + 9_500, policy)).toEqual({
      kind: 'failed',
      reason: 'gave up after 9 attempts over 10 s; the last got HTTP 503',
    });
  });

  it('defaults to 1 s base, 5 min cap, 24 h, random jitter', () => {
    expect([DELIVERY_BASE_MS, DELIVERY_MAX_MS, DELIVERY_GIVE_UP_AFTER_MS]).toEqual([1_000, 300_000, 86_400_000]);
    expect(DEFAULT_DELIVERY_POLICY).toMatchObject({ baseMs: 1_000, maxMs: 300_000, giveUpAfterMs: 86_400_000 });
    const waits = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const decision = nextDelivery({ attempts: 10, firstAttemptAt: T0 }, unavailable, T0);
      if (decision.kind !== 'retry') throw new Error(decision.kind);
      expect(decision.at - T0).toBeGreaterThanOrEqual(0);
      expect(decision.at - T0).toBeLessThanOrEqual(5 * MIN);
      waits.add(decision.at);
    }
    expect(waits.size).toBeGreaterThan(40); // jittered, not one instant
  });

  it('refuses an attempt count that cannot be', () => {
    for (const attempts of [0, -1, 1.5, Number.NaN]) {
      expect(() => nextDelivery({ attempts, firstAttemptAt: T0 }, unavailable, T0), String(attempts)).toThrow(RangeError);
    }
    expect(() => nextDelivery({ attempts: 1, firstAttemptAt: Number.NaN }, unavailable, T0)).toThrow(RangeError);
  });
});

describe('classifyResponse', () => {
  const CODES: ReadonlyArray<readonly [number, ReturnType<typeof classifyResponse>]> = [
    [200, 'delivered'],
    [201, 'delivered'],
    [202, 'delivered'], // PagerDuty Events v2 answers 202
    [204, 'delivered'],
    [299, 'delivered'],
    [300, 'rejected'],
    [301, 'rejected'],
    [302, 'rejected'],
    [304, 'rejected'],
    [307, 'rejected'],
    [308, 'rejected'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [404, 'rejected'],
    [409, 'rejected'],
    [410, 'rejected'], // Slack: channel archived
    [413, 'rejected'],
    [422, 'rejected'],
    [408, 'retryable'],
    [425, 'retryable'],
    [429, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [599, 'retryable'],
    [100, 'rejected'],
    [101, 'rejected'],
    [199, 'rejected'],
    [600, 'rejected'],
    [0, 'rejected'],
  ];
  it.each(CODES)('%i: %s', (status, expected) => {
    expect(classifyResponse(status)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2015, 9, 21, 7, 27, 0);
  const VALUES: ReadonlyArray<readonly [string | null | undefined, number | undefined]> = [
    ['120', 120_000],
    [' 5 ', 5_000],
    ['0', 0],
    ['Wed, 21 Oct 2015 07:28:00 GMT', 60_000],
    ['Wed, 21 Oct 2015 07:00:00 GMT', 0], // already past
    [null, undefined],
    [undefined, undefined],
    ['', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2015-10-21T07:28:00Z', undefined], // not an HTTP-date
    ['Wed, 99 Foo 2015 07:28:00 GMT', undefined],
  ];
  it.each(VALUES)('%j → %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
