/**
 * When the alert evaluator measures each rule next, and when its alarm must
 * wake (issue 16). Pure functions with a table of tests
 * (test/shared/evaluation-schedule.test.ts); the Durable Object only stores
 * what they return.
 *
 * - **Aligned**: a rule runs at multiples of its interval from the epoch,
 *   shifted by an offset of the tenant's own. Rules of a tenant with the same
 *   interval are therefore due at the same instant and share one query when
 *   they share a window (shared/alerts/evaluation-query.ts), and tenants are
 *   spread over the interval instead of all querying at :00.
 * - **No hot loop on errors**: a rule whose query failed waits its interval
 *   doubled per consecutive failure, at most ERROR_BACKOFF_MAX_MS, before the
 *   next try — a broken rule costs little and recovers by itself.
 * - **A late alarm does not catch up**: the next time is the first aligned
 *   time after `now`, never a backlog of missed ones (one evaluation sees the
 *   whole window anyway).
 */

export const ERROR_BACKOFF_MAX_MS = 3_600_000;

/** The tenant's offset within an interval: the same for all its rules of that interval, different across tenants. */
export function tenantOffsetMs(tenantId: string, intervalMs: number): number {
  // FNV-1a 32: stable across restarts and runtimes.
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) {
    hash ^= tenantId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % Math.max(1, Math.floor(intervalMs / 1000))) * 1000;
}

/** The first aligned time strictly after `now`. */
export function nextAlignedAt(now: number, intervalMs: number, offsetMs: number): number {
  const k = Math.floor((now - offsetMs) / intervalMs) + 1;
  return k * intervalMs + offsetMs;
}

export interface RuleSchedule {
  intervalMs: number;
  offsetMs: number;
  /** Failures in a row so far (0 after a success). */
  consecutiveErrors: number;
}

/** When a rule is measured next, after a measurement (or a failure) at `now`. */
export function nextEvaluationAt(schedule: RuleSchedule, now: number): number {
  if (schedule.consecutiveErrors <= 0) return nextAlignedAt(now, schedule.intervalMs, schedule.offsetMs);
  const backoff = Math.min(ERROR_BACKOFF_MAX_MS, schedule.intervalMs * 2 ** Math.min(schedule.consecutiveErrors, 20));
  return nextAlignedAt(now + backoff - schedule.intervalMs, schedule.intervalMs, schedule.offsetMs);
}

/** Everything the evaluator's alarm waits for; null = nothing of that kind. */
export interface WakeInputs {
  /** The earliest next evaluation of any rule. */
  nextEvaluationAt: number | null;
  /** The earliest pending notification's next attempt. */
  nextDeliveryAt: number | null;
  /** When the actors' feed lease must be renewed (fast-path rules only). */
  leaseRenewAt: number | null;
  /** When firing alerts are next re-posted to Alertmanager targets (which forget an alert not re-posted). */
  repostAt?: number | null;
  /** When the rules are re-read from D1 (only while the tenant has rules). */
  resyncAt: number | null;
}

/** When the alarm must fire next: the earliest of its inputs, never in the past; null when nothing waits. */
export function nextWakeAt(inputs: WakeInputs, now: number): number | null {
  let at: number | null = null;
  for (const t of [inputs.nextEvaluationAt, inputs.nextDeliveryAt, inputs.leaseRenewAt, inputs.repostAt ?? null, inputs.resyncAt]) {
    if (t !== null && Number.isFinite(t) && (at === null || t < at)) at = t;
  }
  return at === null ? null : Math.max(at, now);
}
