/**
 * When the alert evaluator measures a rule next and when its alarm wakes
 * (shared/alerts/evaluation-schedule.ts): a table per function.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_BACKOFF_MAX_MS, nextAlignedAt, nextEvaluationAt, nextWakeAt, tenantOffsetMs, type WakeInputs } from '../../shared/alerts/evaluation-schedule.ts';

const MIN = 60_000;
const T = Date.UTC(2026, 10, 30, 12, 0, 0); // a whole minute

describe('nextAlignedAt', () => {
  const cases: [string, number, number, number, number][] = [
    // name, now, interval, offset, expected
    ['on a boundary: the next one, not this one', T, MIN, 0, T + MIN],
    ['just after a boundary', T + 1, MIN, 0, T + MIN],
    ['just before a boundary', T + MIN - 1, MIN, 0, T + MIN],
    ['with an offset, before it', T + 5_000, MIN, 17_000, T + 17_000],
    ['with an offset, on it', T + 17_000, MIN, 17_000, T + MIN + 17_000],
    ['30 s interval', T + 31_000, 30_000, 0, T + 60_000],
    ['a late alarm does not catch up: one step past now', T + 10 * MIN + 3, MIN, 0, T + 11 * MIN],
  ];
  for (const [name, now, interval, offset, expected] of cases) {
    it(name, () => expect(nextAlignedAt(now, interval, offset)).toBe(expected));
  }
});

describe('nextEvaluationAt', () => {
  const cases: [string, number, number, number][] = [
    // name, consecutive errors, now, expected (interval 1 min, offset 0)
    ['after a success: the next aligned minute', 0, T + 2_000, T + MIN],
    ['after the first failure: one interval is skipped', 1, T + 2_000, T + 2 * MIN],
    ['after the second: three skipped', 2, T + 2_000, T + 4 * MIN],
    ['after many: at most an hour away', 30, T + 2_000, T + ERROR_BACKOFF_MAX_MS],
  ];
  for (const [name, errors, now, expected] of cases) {
    it(name, () => expect(nextEvaluationAt({ intervalMs: MIN, offsetMs: 0, consecutiveErrors: errors }, now)).toBe(expected));
  }

  it('never retries a failed rule sooner than one interval after the slot that failed (no hot loop)', () => {
    for (const interval of [10_000, 30_000, MIN, 3_600_000]) {
      for (let errors = 1; errors < 25; errors++) {
        const now = T + 1_234; // the slot at T failed 1.2 s into it
        expect(nextEvaluationAt({ intervalMs: interval, offsetMs: 0, consecutiveErrors: errors }, now) - T).toBeGreaterThanOrEqual(interval);
      }
    }
  });
});

describe('tenantOffsetMs', () => {
  it('is whole seconds within the interval, stable, and spreads tenants', () => {
    const offsets = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const offset = tenantOffsetMs(`tenant-${i}`, MIN);
      expect(offset).toBe(tenantOffsetMs(`tenant-${i}`, MIN));
      expect(offset % 1000).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(MIN);
      offsets.add(offset);
    }
    expect(offsets.size).toBeGreaterThan(40);
  });
});

describe('nextWakeAt', () => {
  const none: WakeInputs = { nextEvaluationAt: null, nextDeliveryAt: null, leaseRenewAt: null, resyncAt: null };
  const cases: [string, Partial<WakeInputs>, number | null][] = [
    ['nothing waits: no alarm', {}, null],
    ['the earliest of several', { nextEvaluationAt: T + 50, nextDeliveryAt: T + 10, resyncAt: T + 90 }, T + 10],
    ['a delivery due in the past: now', { nextDeliveryAt: T - 5_000 }, T],
    ['a lease renewal alone keeps it awake', { leaseRenewAt: T + 30_000 }, T + 30_000],
    ['an Alertmanager re-post sooner than the next evaluation', { nextEvaluationAt: T + 3_600_000, repostAt: T + 60_000 }, T + 60_000],
    ['NaN is ignored', { nextEvaluationAt: Number.NaN, resyncAt: T + 1 }, T + 1],
  ];
  for (const [name, inputs, expected] of cases) {
    it(name, () => expect(nextWakeAt({ ...none, ...inputs }, T)).toBe(expected));
  }
});
