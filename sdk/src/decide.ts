/**
 * What happens next — a pure function of the answer, the attempt, the
 * headers and the client's state, so every rule is a row in a table of tests
 * (test/sdk/decide.test.ts):
 *
 * - `decide`: after an answer, acknowledge, retry after a delay (exponential
 *   backoff with full jitter, never sooner than `Retry-After`), or drop.
 * - `paceDelay`: before a send, how long to wait so the batch fits in what the
 *   ingest's IETF `RateLimit` headers said was left, refilled at the rate its
 *   `RateLimit-Policy` states — slowing down before being refused.
 */

/** What an attempt got back. */
export type Answer = { kind: 'response'; status: number; retryAfterMs?: number } | { kind: 'network-error' } | { kind: 'timeout' };

export interface RetryPolicy {
  /** First backoff ceiling (ms); doubles each attempt. */
  baseDelayMs: number;
  /** Largest backoff ceiling (ms). */
  maxDelayMs: number;
  /** Attempts of one batch, the first included, before it is dropped. */
  maxAttempts: number;
  /** A Retry-After longer than this (a quota used up until midnight) drops the batch instead of holding the queue. */
  maxRetryAfterMs: number;
}

export type DropReason =
  /** A non-retryable answer (400, 401, 403, 413, 415, 422, other 4xx/3xx): sending it again cannot succeed. */
  | 'rejected'
  /** maxAttempts retryable failures in a row. */
  | 'retries_exhausted'
  /** The server asked to wait longer than maxRetryAfterMs. */
  | 'retry_after_too_long'
  /** close() ran out of time before the batch was acknowledged. */
  | 'closed'
  /** The queue was full (the drop policy chose these records). */
  | 'queue_full'
  /** One record larger than maxRecordBytes. */
  | 'record_too_large'
  /** The transform hook threw or rejected. */
  | 'transform_failed';

export type Step = { action: 'ack' } | { action: 'retry'; delayMs: number } | { action: 'drop'; reason: DropReason };

export interface DecideInput {
  answer: Answer;
  /** 1 for the first attempt. */
  attempt: number;
  policy: RetryPolicy;
  /** A uniform random number in [0, 1): the jitter (injected, so the function stays pure). */
  random: number;
  /** Time left before close() gives up (ms); undefined when not closing. */
  remainingMs?: number;
}

/** Answers worth sending the same batch again for: limits (429), overload and unknown outcomes (5xx but 501), request timeout (408). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export function decide({ answer, attempt, policy, random, remainingMs }: DecideInput): Step {
  if (answer.kind === 'response') {
    if (answer.status >= 200 && answer.status < 300) return { action: 'ack' };
    if (!isRetryableStatus(answer.status)) return { action: 'drop', reason: 'rejected' };
  }
  if (attempt >= policy.maxAttempts) return { action: 'drop', reason: 'retries_exhausted' };
  const retryAfterMs = answer.kind === 'response' ? answer.retryAfterMs : undefined;
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return { action: 'drop', reason: 'retry_after_too_long' };
  // Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): uniform in [0, ceiling).
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  const delayMs = Math.max(retryAfterMs ?? 0, Math.floor(random * ceiling));
  if (remainingMs !== undefined && delayMs >= remainingMs) return { action: 'drop', reason: 'closed' };
  return { action: 'retry', delayMs };
}

/** One dimension of the ingest's rate limit, as its headers last described it. */
export interface RateObservation {
  /** `RateLimit: …;r=`: units left when the answer was sent. */
  remaining: number;
  /** `RateLimit: …;t=`: seconds until the bucket is full again. */
  resetSeconds: number;
  /** `RateLimit-Policy: …;q=`: the bucket's size (the burst). */
  quota?: number;
  /** `RateLimit-Policy: …;w=`: seconds to refill it from empty. */
  windowSeconds?: number;
}

export interface RateState {
  /** When the answer carrying these was received (ms, the client's clock). */
  observedAt: number;
  records?: RateObservation;
  bytes?: RateObservation;
}

/**
 * Milliseconds to wait before sending `batch` so that it fits: what was left,
 * plus what refilled since at the policy's rate (quota ÷ window; else what
 * `t` says refills the missing part), capped at the quota. A batch larger than
 * the whole bucket waits until the bucket is full, then goes (the ingest
 * answers 413 for it: nothing smaller can be promised).
 */
export function paceDelay(state: RateState | undefined, batch: { records: number; bytes: number }, now: number): number {
  if (!state) return 0;
  const elapsedS = Math.max(0, now - state.observedAt) / 1000;
  let waitMs = 0;
  for (const [obs, need] of [
    [state.records, batch.records],
    [state.bytes, batch.bytes],
  ] as const) {
    if (!obs || need <= obs.remaining) continue;
    const rate = refillRate(obs);
    if (rate === undefined || rate <= 0) continue;
    const quota = obs.quota ?? Number.POSITIVE_INFINITY;
    const available = Math.min(quota, obs.remaining + rate * elapsedS);
    const target = Math.min(need, quota);
    if (target > available) waitMs = Math.max(waitMs, Math.ceil(((target - available) / rate) * 1000));
  }
  return waitMs;
}

/** Units per second the bucket refills at. */
function refillRate(obs: RateObservation): number | undefined {
  if (obs.quota !== undefined && obs.windowSeconds !== undefined && obs.windowSeconds > 0) return obs.quota / obs.windowSeconds;
  if (obs.quota !== undefined && obs.resetSeconds > 0) return (obs.quota - obs.remaining) / obs.resetSeconds;
  return undefined;
}

/**
 * The IETF rate-limit headers as the ingest sends them (shared/rate-limit-headers.ts):
 * `RateLimit: "records";r=5;t=3, "bytes";r=…;t=…` and
 * `RateLimit-Policy: "records";q=10000;w=10, "bytes";q=…;w=…` — Structured Field lists of
 * named items with integer parameters. Unknown items and parameters are ignored.
 */
export function parseRateLimit(rateLimit: string | null, policy: string | null, observedAt: number): RateState | undefined {
  const now = parseItems(rateLimit);
  if (now.size === 0) return undefined;
  const policies = parseItems(policy);
  const state: RateState = { observedAt };
  for (const dimension of ['records', 'bytes'] as const) {
    const current = now.get(dimension);
    const r = current?.get('r');
    const t = current?.get('t');
    if (r === undefined) continue;
    const p = policies.get(dimension);
    const q = p?.get('q');
    const w = p?.get('w');
    state[dimension] = { remaining: r, resetSeconds: t ?? 0, ...(q !== undefined && { quota: q }), ...(w !== undefined && { windowSeconds: w }) };
  }
  return state.records || state.bytes ? state : undefined;
}

function parseItems(header: string | null): Map<string, Map<string, number>> {
  const items = new Map<string, Map<string, number>>();
  if (!header) return items;
  for (const member of header.split(',')) {
    const [rawName, ...params] = member.split(';');
    const name = rawName?.trim().replace(/^"(.*)"$/, '$1');
    if (!name) continue;
    const values = new Map<string, number>();
    for (const param of params) {
      const [key, value] = param.split('=');
      const n = Number(value?.trim());
      if (key && value !== undefined && Number.isFinite(n)) values.set(key.trim(), n);
    }
    items.set(name, values);
  }
  return items;
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
