/**
 * What the canary client does after one attempt at a batch: the whole retry
 * policy of a client that keeps everything it did not see acknowledged.
 * Every attempt of a batch carries the same body and Idempotency-Key, so
 * retrying after an answer was lost never stores the batch twice.
 *
 * Pure, so a table test pins it (test/node/chaos-logic.test.ts).
 */

/** One attempt's outcome: the HTTP status and its Retry-After, or no answer at all. */
export type AttemptOutcome = { status: number; retryAfter: string | null } | { networkError: string };

export type NextStep =
  | { kind: 'acked' }
  /** Send the same batch again after `afterMs`. */
  | { kind: 'retry'; afterMs: number }
  /** The server refused the batch for good (a 4xx that waiting cannot fix): a canary never should be. */
  | { kind: 'refused'; status: number };

/** The longest wait the client accepts from a Retry-After, and the longest backoff of its own. */
export const MAX_RETRY_AFTER_MS = 30_000;
export const MAX_BACKOFF_MS = 5_000;
const BASE_BACKOFF_MS = 100;

/**
 * `attempt` counts from 1 (the attempt that just ended); `random` in [0, 1)
 * spreads retries (full jitter) so that clients refused together do not return
 * together.
 */
export function nextStep(outcome: AttemptOutcome, attempt: number, random: number): NextStep {
  if ('status' in outcome) {
    if (outcome.status === 202 || outcome.status === 200) return { kind: 'acked' };
    const retryable = outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
    if (!retryable) return { kind: 'refused', status: outcome.status };
    const seconds = outcome.retryAfter === null ? Number.NaN : Number(outcome.retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return { kind: 'retry', afterMs: Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) };
  }
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(attempt - 1, 16));
  return { kind: 'retry', afterMs: Math.floor(random * ceiling) };
}
