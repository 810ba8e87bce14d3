/**
 * Ingest rate limits, enforced exactly in the tenant's actor: one GCRA (the
 * generic cell rate algorithm — a token bucket kept as a single number) per
 * dimension, records/s and bytes/s, each with a burst. The state is one
 * "theoretical arrival time" per dimension, stored in the object's SQLite, so
 * the limit is per tenant, exact under any concurrency (the actor is single
 * threaded) and survives restarts and evictions.
 *
 * A request of n units fits when, after it, the bucket is not "in debt" by more
 * than the burst: max(tat, now) + n·T − now ≤ burst·T, with T = 1 s / rate.
 * Both dimensions must fit, or nothing is taken from either.
 */

export interface RateDimension {
  /** Sustained units per second. */
  rate: number;
  /** Units that may arrive at once on a full bucket. */
  burst: number;
}

export interface RateLimits {
  records: RateDimension;
  bytes: RateDimension;
}

export interface RateCost {
  records: number;
  bytes: number;
}

export interface DimensionState {
  /** Units that could be taken now. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
}

export type RateDecision =
  | { ok: true; state: Record<keyof RateLimits, DimensionState> }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number; dimension: keyof RateLimits; state: Record<keyof RateLimits, DimensionState> }
  | { ok: false; reason: 'too_large'; dimension: keyof RateLimits; limit: number };

const DIMENSIONS = ['records', 'bytes'] as const;

export class RateLimiter {
  readonly #sql: SqlStorage;
  /** Theoretical arrival time per dimension (ms), mirrored from storage. */
  readonly #tat = new Map<string, number>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // Table rate_limiter: the actor's schema (tenant-actor/schema.ts).
    for (const row of sql.exec<{ dimension: string; tat: number }>('SELECT dimension, tat FROM rate_limiter')) {
      this.#tat.set(row.dimension, row.tat);
    }
  }

  /** Takes `cost` if it fits in every dimension; otherwise takes nothing. */
  take(limits: RateLimits, cost: RateCost, now: number): RateDecision {
    const next = new Map<string, number>();
    for (const dimension of DIMENSIONS) {
      const { rate, burst } = limits[dimension];
      const units = cost[dimension];
      if (units > burst) return { ok: false, reason: 'too_large', dimension, limit: burst };
      const interval = 1000 / rate; // ms per unit
      const tat = Math.max(this.#tat.get(dimension) ?? now, now);
      const newTat = tat + units * interval;
      const excess = newTat - now - burst * interval;
      if (excess > 0) {
        return {
          ok: false,
          reason: 'rate_limited',
          dimension,
          retryAfterSeconds: Math.max(1, Math.ceil(excess / 1000)),
          state: this.state(limits, now),
        };
      }
      next.set(dimension, newTat);
    }
    for (const [dimension, tat] of next) {
      this.#tat.set(dimension, tat);
      this.#sql.exec('INSERT INTO rate_limiter (dimension, tat) VALUES (?, ?) ON CONFLICT (dimension) DO UPDATE SET tat = excluded.tat', dimension, tat);
    }
    return { ok: true, state: this.state(limits, now) };
  }

  state(limits: RateLimits, now: number): Record<keyof RateLimits, DimensionState> {
    const out = {} as Record<keyof RateLimits, DimensionState>;
    for (const dimension of DIMENSIONS) {
      const { rate, burst } = limits[dimension];
      const interval = 1000 / rate;
      const debt = Math.max(0, (this.#tat.get(dimension) ?? now) - now);
      out[dimension] = { remaining: Math.max(0, Math.floor(burst - debt / interval)), resetSeconds: Math.ceil(debt / 1000) };
    }
    return out;
  }
}
