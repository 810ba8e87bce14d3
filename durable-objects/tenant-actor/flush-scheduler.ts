/**
 * FlushScheduler: when the tenant actor's alarm should next fire, as a pure
 * function of what it holds and the time — so every case (a retry waiting out
 * its backoff, a threshold passed, rows ageing, an idle hour to roll up) is a
 * row of a table test (test/durable-objects/flush-scheduler.test.ts), not a
 * timing bug found by CI at the end of an hour.
 */

export interface FlushThresholds {
  /** A flush is due at this many rows no flush covers yet… */
  maxRows: number;
  /** …or bytes… */
  maxBytes: number;
  /** …or when the oldest of them is this old (ms). */
  maxAgeMs: number;
}

/** Buffered rows no pending flush covers yet. */
export interface Unassigned {
  rows: number;
  bytes: number;
  /** Receive time (ms) of the oldest of them; null when there are none. */
  oldestReceivedAt: number | null;
}

export interface PendingState {
  /** Attempts made so far (0: recorded but never tried, as after an eviction mid-flush). */
  attempts: number;
  /** After a failure: not before this (ms). */
  nextAttemptAt: number | null;
}

export interface SchedulerState {
  pending: readonly PendingState[];
  unassigned: Unassigned;
  /** When the usage counters next need rolling up (the usage roll-up's dueAt, its retry pause included), or null. */
  rollUpAt: number | null;
}

/** The unflushed rows have reached a threshold or the maximum age. */
export function flushDue(unassigned: Unassigned, now: number, thresholds: FlushThresholds): boolean {
  if (unassigned.rows === 0) return false;
  return unassigned.rows >= thresholds.maxRows || unassigned.bytes >= thresholds.maxBytes || now - (unassigned.oldestReceivedAt ?? now) >= thresholds.maxAgeMs;
}

/**
 * The next moment something is due (ms), or null when nothing ever is:
 * - a flush waits out a backoff (ClickHouse or R2 failing): its retry time —
 *   new rows wait with it rather than hammer a store that is down;
 * - a flush was recorded but never tried (the object was evicted mid-flush): now;
 * - the unflushed rows passed a threshold: now; otherwise when the oldest of
 *   them reaches the maximum age;
 * - with nothing to flush, the usage roll-up (the end of the hour being
 *   counted). While logs arrive, the flush alarms roll closed hours up as they
 *   run, so the roll-up never moves a flush or a retry.
 */
export function nextAlarmAt(state: SchedulerState, now: number, thresholds: FlushThresholds): number | null {
  const retries = state.pending.filter((f) => f.attempts > 0).map((f) => f.nextAttemptAt ?? now);
  if (retries.length > 0) return Math.min(...retries);
  if (state.pending.length > 0) return now;
  const { unassigned } = state;
  if (unassigned.rows > 0) return flushDue(unassigned, now, thresholds) ? now : unassigned.oldestReceivedAt! + thresholds.maxAgeMs;
  return state.rollUpAt;
}
