/**
 * Waiting in tests for something that happens later — a flush, a webhook, a reconcile, a daemon that
 * starts listening: call a probe every `intervalMs` until its value is what the test waits for, or the
 * deadline passes. One helper for every test, so each waits the same way and a timeout says what was
 * awaited and what was last seen (not just "expected 0 to be 250").
 *
 * Web-standard only (no `node:`): the tests inside workerd use it too.
 */

/** What a truthiness check lets through: the value a probe returns once the awaited thing exists. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export interface EventuallyOptions<T> {
  /** How long to keep trying, counted from the first call; the probe runs at least once, and once after the deadline. */
  timeoutMs: number;
  /** The pause between two calls. */
  intervalMs: number;
  /**
   * A probe that throws means "not yet" (a port not listening, an assertion not yet true), kept for the
   * timeout's message. Without it an error fails the wait at once: a 500 while waiting is a failure, not a delay.
   */
  retryErrors?: boolean;
  /** The last value as the timeout's message shows it (default: its JSON, cut to 2,000 characters). */
  describe?: (value: T) => string;
  /** More for the timeout's message, read when it is built: what a receiver got, a daemon's output. */
  context?: () => string;
}

/** A wait that ran out: `what` was awaited for `timeoutMs`; the last value and error the probe gave are in the message. */
export class EventuallyTimeoutError extends Error {
  override name = 'EventuallyTimeoutError';
}

const DESCRIBED_MAX = 2_000;

/**
 * Calls `probe` until `until(value)` holds and returns that value; without `until`, until the value is truthy
 * (and returns it narrowed). Throws {@link EventuallyTimeoutError} when `timeoutMs` passed without it.
 */
export function eventually<T>(what: string, probe: () => T | Promise<T>, options: EventuallyOptions<T> & { until: (value: T) => boolean }): Promise<T>;
export function eventually<T>(what: string, probe: () => T | Promise<T>, options: EventuallyOptions<T>): Promise<Truthy<T>>;
export async function eventually<T>(what: string, probe: () => T | Promise<T>, options: EventuallyOptions<T> & { until?: (value: T) => boolean }): Promise<T> {
  const { timeoutMs, intervalMs, retryErrors = false, until = Boolean, describe = describeValue } = options;
  const deadline = Date.now() + timeoutMs;
  let seen: { value: T } | undefined;
  let lastError: unknown;
  let calls = 0;
  for (;;) {
    calls++;
    try {
      const value = await probe();
      seen = { value };
      lastError = undefined;
      if (until(value)) return value;
    } catch (error) {
      if (!retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const lines = [`timed out after ${timeoutMs} ms (${calls} tries, every ${intervalMs} ms) waiting for ${what}`];
  if (seen) lines.push(`last value: ${describe(seen.value)}`);
  if (lastError !== undefined) lines.push(`last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  const more = options.context?.();
  if (more) lines.push(more);
  throw new EventuallyTimeoutError(lines.join('\n'), lastError === undefined ? undefined : { cause: lastError });
}

function describeValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > DESCRIBED_MAX ? `${text.slice(0, DESCRIBED_MAX)}… (${text.length} characters)` : text;
}
