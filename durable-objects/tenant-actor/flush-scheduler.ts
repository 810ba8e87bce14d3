/**
 * FlushScheduler: when the tenant actor's alarm should next fire, as a pure
 * function of what it holds and the time — so every case (a retry waiting out
 * its backoff, a threshold passed, rows ageing, an idle hour to roll up) is a
 * row of a table test (test/durable-objects/flush-scheduler.test.ts), not a
 * timing bug found by CI at the end of an hour.
 *
 * Small flushes wait (docs/capacity.md, "Many tenants"): a flush is one
 * ClickHouse insert, one new part and one R2 object whatever its size, so a
 * fleet of slow tenants each flushing every maxAgeMs makes inserts/s grow with
 * the number of tenants, not with the volume. With `minRows` above 1, rows that
 * reach maxAgeMs flush only if there are at least minRows of them; fewer wait
 * until the oldest is `slowMaxAgeMs` old. A tenant sending r rows/s then
 * flushes every clamp(minRows / r, maxAgeMs, slowMaxAgeMs): a busy tenant as
 * fresh as before, a trickle in inserts that are larger and rarer, and the
 * fleet's inserts/s at most (rows/s in all) / minRows + (tenants) /
 * slowMaxAgeMs. minRows = 1 is the plain age rule.
 */

export interface FlushThresholds {
  /** A flush is due at this many rows no flush covers yet… */
  maxRows: number;
  /** …or bytes… */
  maxBytes: number;
  /** …or when the oldest of them is this old (ms), provided there are at least minRows of them… */
  maxAgeMs: number;
  /** …(1: always); fewer rows wait… */
  minRows: number;
  /** …until the oldest is this old (ms; never earlier than maxAgeMs). */
  slowMaxAgeMs: number;
}

/** The age (ms) at which `rows` unflushed rows are due by age alone. */
export function dueAge(rows: number, thresholds: FlushThresholds): number {
  return rows >= thresholds.minRows ? thresholds.maxAgeMs : Math.max(thresholds.maxAgeMs, thresholds.slowMaxAgeMs);
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
  return (
    unassigned.rows >= thresholds.maxRows ||
    unassigned.bytes >= thresholds.maxBytes ||
    now - (unassigned.oldestReceivedAt ?? now) >= dueAge(unassigned.rows, thresholds)
  );
}

/**
 * The next moment something is due (ms), or null when nothing ever is:
 * - a flush waits out a backoff (ClickHouse or R2 failing): its retry time —
 *   new rows wait with it rather than hammer a store that is down;
 * - a flush was recorded but never tried (the object was evicted mid-flush): now;
 * - the unflushed rows passed a threshold: now; otherwise when the oldest of
 *   them reaches the age at which their number is due (`dueAge`): a later
 *   ingest that brings them to minRows brings the alarm forward;
 * - with nothing to flush, the usage roll-up (the end of the hour being
 *   counted). While logs arrive, the flush alarms roll closed hours up as they
 *   run, so the roll-up never moves a flush or a retry.
 */
export function nextAlarmAt(state: SchedulerState, now: number, thresholds: FlushThresholds): number | null {
  const retries = state.pending.filter((f) => f.attempts > 0).map((f) => f.nextAttemptAt ?? now);
  if (retries.length > 0) return Math.min(...retries);
  if (state.pending.length > 0) return now;
  const { unassigned } = state;
  if (unassigned.rows > 0) return flushDue(unassigned, now, thresholds) ? now : unassigned.oldestReceivedAt! + dueAge(unassigned.rows, thresholds);
  return state.rollUpAt;
}
