/**
 * When to try a notification again: the retry schedule of one delivery to
 * one target, as pure functions of what has happened so far, so the notifier
 * stores `attempts` and `firstAttemptAt` with the delivery and asks again
 * after every attempt (the answer survives a restart because the inputs do).
 *
 * - Exponential backoff with full jitter (AWS, "Exponential Backoff and
 *   Jitter"): the wait before retry n is uniform in [0, min(maxMs, baseMs ·
 *   2^(n−1))]. Many deliveries fail together when a receiver goes down; full
 *   jitter spreads their retries over the whole window instead of bunching
 *   them at the same instants, which is what lets a recovering receiver
 *   recover. With a 1 s base the ceiling reaches the 5 min cap at the 10th
 *   attempt; from then on a dead receiver sees one request per delivery every
 *   2.5 min on average.
 * - Retry-After lengthens the wait and never shortens it: the wait is the
 *   larger of the jittered backoff and Retry-After, so `Retry-After: 0` (or a
 *   date already past) cannot turn the backoff into a hot loop. It is capped
 *   at maxMs like the backoff: a receiver asking for an hour (a daily quota,
 *   a misconfiguration) is asked again every 5 min, one cheap request, and
 *   delivery resumes within 5 min of the receiver recovering rather than
 *   spending the give-up budget in one wait.
 * - Given up 24 h after the first attempt, and shown as failed in the
 *   history. An alert is about now: past a day the on-call person has
 *   learned of the problem some other way, and a page that old does harm
 *   when it finally arrives. A day still rides out the outages receivers
 *   actually have (hours), and leaves time to fix a misconfigured receiver
 *   the same working day; it also bounds the deliveries a tenant keeps
 *   pending. No attempt is started after the deadline: a retry that would
 *   fall after it fails the delivery now instead.
 * - A permanent refusal (4xx other than 408, 425, 429; a 3xx, see
 *   classifyResponse) fails at once: sending the same request again gets the
 *   same answer, for 24 h.
 *
 * Retrying is safe for exactly-once because every attempt carries the same
 * idempotency / dedup key; a timeout may hide an accepted request, and the
 * receiver discards the repeat.
 */

/** First retry ceiling. */
export const DELIVERY_BASE_MS = 1_000;
/** Longest wait between two attempts, Retry-After included. */
export const DELIVERY_MAX_MS = 5 * 60_000;
/** Time from the first attempt after which no attempt starts and the delivery is failed. */
export const DELIVERY_GIVE_UP_AFTER_MS = 24 * 60 * 60_000;

export interface DeliveryPolicy {
  baseMs: number;
  maxMs: number;
  giveUpAfterMs: number;
  /** A number in [0, 1] for the retry after attempt `attempt`: Math.random in production, fixed in tests. Out of range is clamped; NaN waits longest. */
  jitter: (attempt: number) => number;
}

export const DEFAULT_DELIVERY_POLICY: Readonly<DeliveryPolicy> = Object.freeze({
  baseMs: DELIVERY_BASE_MS,
  maxMs: DELIVERY_MAX_MS,
  giveUpAfterMs: DELIVERY_GIVE_UP_AFTER_MS,
  jitter: () => Math.random(),
});

export interface DeliveryState {
  /** Attempts made, the one whose outcome is being reported included (so ≥ 1). */
  attempts: number;
  /** When the first attempt started (ms since the epoch). */
  firstAttemptAt: number;
}

export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** A permanent refusal: a 4xx other than 408/425/429, or a 3xx. */
  | { kind: 'rejected'; status: number }
  /** 5xx, 408, 425, 429, a timeout or a network error (no status). `retryAfterMs` from the answer's Retry-After (parseRetryAfter). */
  | { kind: 'retryable'; status?: number; retryAfterMs?: number };

export type DeliveryDecision = { kind: 'done' } | { kind: 'failed'; reason: string } | { kind: 'retry'; at: number };

/** What to do after an attempt: nothing more, fail the delivery (with a reason for the history), or try again at `at`. */
export function nextDelivery(state: DeliveryState, outcome: DeliveryOutcome, now: number, policy: DeliveryPolicy = DEFAULT_DELIVERY_POLICY): DeliveryDecision {
  if (!Number.isInteger(state.attempts) || state.attempts < 1) throw new RangeError(`attempts must be a whole number ≥ 1, got ${state.attempts}`);
  if (!Number.isFinite(state.firstAttemptAt) || !Number.isFinite(now)) throw new RangeError('firstAttemptAt and now must be finite times');
  if (outcome.kind === 'delivered') return { kind: 'done' };
  if (outcome.kind === 'rejected') return { kind: 'failed', reason: rejectionReason(outcome.status) };

  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (state.attempts - 1));
  const drawn = policy.jitter(state.attempts);
  const fraction = Number.isNaN(drawn) ? 1 : Math.min(1, Math.max(0, drawn));
  let wait = Math.ceil(fraction * ceiling);
  const retryAfter = outcome.retryAfterMs;
  if (retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter > wait) wait = Math.min(policy.maxMs, Math.ceil(retryAfter));

  const deadline = state.firstAttemptAt + policy.giveUpAfterMs;
  const at = now + wait;
  if (now >= deadline || at > deadline) {
    const last = outcome.status === undefined ? 'no answer (a timeout or a network error)' : `HTTP ${outcome.status}`;
    const tries = state.attempts === 1 ? '1 attempt' : `${state.attempts} attempts`;
    return { kind: 'failed', reason: `gave up after ${tries} over ${formatDuration(policy.giveUpAfterMs)}; the last got ${last}` };
  }
  return { kind: 'retry', at };
}

/**
 * How the notifier reads a receiver's status code.
 * - 2xx: delivered.
 * - 408 (timeout), 425 (too early), 429 (rate limited), 5xx: retryable —
 *   the receiver or something in front of it may answer differently later.
 * - Any other 4xx: rejected — the request itself is wrong (bad payload,
 *   revoked webhook, deleted channel) and will be wrong in an hour too.
 * - 3xx: rejected. Redirects are not followed (`redirect: 'manual'`): the
 *   Location was not checked by checkOutboundUrl (shared/outbound-url.ts) and
 *   may point into a private network, and a moved receiver is the tenant's to
 *   update; retrying would get the same redirect for a day.
 * - Anything else (1xx as a final answer, outside 100–599): rejected, a
 *   receiver that does not speak HTTP properly.
 */
export function classifyResponse(status: number): 'delivered' | 'rejected' | 'retryable' {
  if (status >= 200 && status <= 299) return 'delivered';
  if (status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599)) return 'retryable';
  return 'rejected';
}

/**
 * Reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date, as milliseconds from `now`; undefined when absent or unreadable
 * (the backoff alone decides then). A date in the past gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // All three HTTP-date forms start with a weekday name; Date.parse reads them all, but also guesses at text like "1.5", so ask for that shape first.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function rejectionReason(status: number): string {
  if (status >= 300 && status <= 399) {
    return `the receiver answered HTTP ${status}, a redirect; redirects are not followed, so set the target to the URL it points to`;
  }
  return `the receiver refused the notification with HTTP ${status}; not retried (a 4xx other than 408, 425 or 429 is permanent)`;
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
