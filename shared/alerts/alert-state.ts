/**
 * The state of one alert instance — one (rule, group value) pair — from one
 * evaluation to the next (issue 16, docs/alerts.md), as in Prometheus and
 * Alertmanager:
 *
 *   inactive ──breach──▶ pending ──held for `for`──▶ firing ──cleared──▶ resolved
 *       ▲                   │                          (for = 0: inactive ──breach──▶ firing)
 *       └─────cleared───────┘       resolved ──breach──▶ pending or firing (a new firing instance)
 *
 * Why a pure function: the evaluator Durable Object measures (ClickHouse on
 * the scheduled path, the actors' live feed on the fast path), calls
 * nextAlertState with the instance it stored and the time it measured at,
 * stores the instance it gets back and acts on the transition. Deciding "what
 * happens next" is a pure function with a table of tests — a rule of this
 * codebase — so each awkward case (the `for` boundary, a flapping condition, an
 * alarm retried at least once, a fast-path observation that arrives after a
 * later scheduled one) is one row of a table, not a fake clock in a Durable
 * Object test. No clock, no I/O: time is an argument, milliseconds since the
 * epoch.
 *
 * Decisions (each is a row of test/shared/alert-state.test.ts):
 * - An observation at or before `lastEvaluatedAt` is ignored: `previous` itself
 *   is returned (identity, so the caller can skip the write) with no
 *   transition. "At" as well as "before": alarms are at-least-once, and
 *   replaying an observation that was already applied must be a no-op.
 * - A non-finite value (NaN from a ratio 0/0, ±Infinity) is not breaching,
 *   whatever `breaching` says — NaN compares false in Prometheus too. The
 *   alternative, holding the state, could keep an alert firing forever on a
 *   value that can no longer be measured. The instance keeps the last finite
 *   value (0 before any), so a stored instance is always a finite number that
 *   round-trips through JSON and SQLite. A *failed* evaluation (the query
 *   errored) is not an observation at all: the evaluator marks the rule in
 *   error and does not call this.
 * - `firingSeq` counts firing instances and increments when an instance
 *   becomes firing, not when it becomes pending: the dedup key of the firing
 *   notification and of its resolve notification is (rule, group, firingSeq),
 *   and a pending that clears notified nobody. Stored instances must therefore
 *   not be dropped while the rule exists: a resolved instance stays `resolved`
 *   (transition null) until the next breach, or a later firing would reuse a
 *   dedup key that was already delivered.
 * - The transition is non-null exactly when the state changes, including the
 *   silent pending → inactive (an improvement on "notifier events only": the
 *   history writer records every non-null transition, the notifier acts only
 *   where `notifies(transition)`).
 * - `keepFiringForMs` (Prometheus' keep_firing_for) damps flapping: a firing
 *   instance whose condition stops holding stays firing (`keptFiringSince` set)
 *   until it has not held for that long; a breach in between clears
 *   `keptFiringSince` with no notification. Durations that are negative or NaN
 *   count as 0; Infinity means "never" (never fires, never resolves).
 */

export type AlertStateName = 'inactive' | 'pending' | 'firing' | 'resolved';

/** The change an observation made; null when the state stayed the same. */
export type AlertTransition = 'pending' | 'firing' | 'resolved' | 'inactive';

export interface AlertInstance {
  state: AlertStateName;
  /** When the condition started holding (ms) — kept through firing and resolved for the history; null when inactive. */
  activeSince: number | null;
  /** When this firing instance started firing; null before it fires (inactive, pending). */
  firedAt: number | null;
  /** When this firing instance resolved; null unless state is resolved. */
  resolvedAt: number | null;
  /**
   * Firing, but the condition stopped holding at this time and keepFiringFor has not run out yet
   * (Prometheus' KeptFiringSince); null otherwise. Part of the state so the function stays pure.
   */
  keptFiringSince: number | null;
  /** The `at` of the last observation applied: older and equal ones are ignored. */
  lastEvaluatedAt: number;
  /** The last finite value observed (count, ratio…): what notification templates print. */
  value: number;
  /**
   * How many firing instances there have been: increments each time a new one starts firing. Part of the
   * notification dedup key (rule, group, firing instance). 0 until the first firing.
   */
  firingSeq: number;
}

/** One evaluation of a rule's condition for one group, at `at` (ms). */
export interface Observation {
  at: number;
  /** The caller's verdict on the rule's condition (threshold crossed, absence, anomaly found). */
  breaching: boolean;
  value: number;
}

export interface AlertRuleTiming {
  /** How long the condition must hold before firing (Prometheus `for`); 0 fires on the first breach. */
  forMs: number;
  /** How long a firing alert keeps firing after its condition stops holding (Prometheus `keep_firing_for`); default 0. */
  keepFiringForMs?: number;
}

export interface AlertStep {
  instance: AlertInstance;
  transition: AlertTransition | null;
}

/** Whether a transition is one the notifier sends (firing and resolve notifications); pending and inactive only go to history. */
export function notifies(transition: AlertTransition | null): transition is 'firing' | 'resolved' {
  return transition === 'firing' || transition === 'resolved';
}

/** A duration from a rule: negative and NaN are 0, Infinity stays ("never"). */
function durationMs(ms: number | undefined): number {
  return ms !== undefined && ms > 0 ? ms : 0;
}

export function nextAlertState(previous: AlertInstance | null, observation: Observation, rule: AlertRuleTiming): AlertStep {
  const { at } = observation;
  // A clock never says NaN: this is a bug in the caller, and storing it would disable the ordering check forever.
  if (!Number.isFinite(at)) throw new RangeError(`observation time must be finite milliseconds, got ${at}`);
  if (previous !== null && at <= previous.lastEvaluatedAt) return { instance: previous, transition: null };

  const measured = Number.isFinite(observation.value);
  const breaching = observation.breaching && measured;
  const current: AlertInstance = {
    ...(previous ?? { state: 'inactive', activeSince: null, firedAt: null, resolvedAt: null, keptFiringSince: null, firingSeq: 0 }),
    lastEvaluatedAt: at,
    value: measured ? observation.value : (previous?.value ?? 0),
  };
  const forMs = durationMs(rule.forMs);

  switch (current.state) {
    case 'inactive':
    case 'resolved': {
      if (!breaching) return { instance: current, transition: null };
      const started: AlertInstance = { ...current, activeSince: at, firedAt: null, resolvedAt: null, keptFiringSince: null };
      // forMs = 0 goes straight to firing: no pending step.
      return forMs === 0 ? fire(started, at) : { instance: { ...started, state: 'pending' }, transition: 'pending' };
    }
    case 'pending': {
      if (!breaching) return { instance: { ...current, state: 'inactive', activeSince: null }, transition: 'inactive' };
      // Held since activeSince, as Prometheus assumes between evaluations; fires at exactly `for` (>=, as Prometheus).
      const activeSince = current.activeSince ?? at;
      return at - activeSince >= forMs ? fire({ ...current, activeSince }, at) : { instance: { ...current, activeSince }, transition: null };
    }
    case 'firing': {
      if (breaching) return { instance: { ...current, keptFiringSince: null }, transition: null };
      const clearedSince = current.keptFiringSince ?? at;
      if (at - clearedSince >= durationMs(rule.keepFiringForMs)) {
        return { instance: { ...current, state: 'resolved', resolvedAt: at, keptFiringSince: null }, transition: 'resolved' };
      }
      return { instance: { ...current, keptFiringSince: clearedSince }, transition: null };
    }
  }
}

function fire(instance: AlertInstance, at: number): AlertStep {
  return { instance: { ...instance, state: 'firing', firedAt: at, firingSeq: instance.firingSeq + 1 }, transition: 'firing' };
}

/** The notifier's rate-limit window: one hour, sliding. */
export const NOTIFICATION_WINDOW_MS = 3_600_000;

/**
 * Flap damping for the notifier: whether one more notification may be sent at `now`, given when the
 * earlier ones were sent (in any order). A send counts while `now - sentAt < 1 h`: one sent exactly an
 * hour ago has left the window. Times after `now` (another machine's clock) count, so skew never raises
 * the limit. maxPerHour ≤ 0 or NaN allows nothing; Infinity allows everything.
 * Which sends count (resolve notifications too, per target or per rule) is the notifier's decision.
 */
export function notificationsAllowed(sentAtMs: readonly number[], now: number, maxPerHour: number): boolean {
  let inWindow = 0;
  for (const sentAt of sentAtMs) if (now - sentAt < NOTIFICATION_WINDOW_MS) inWindow++;
  return inWindow < maxPerHour;
}
