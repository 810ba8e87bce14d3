/**
 * Admission: whether the tenant actor may take a batch, or why not. The
 * checks run in order — can it ever fit (the plan's burst), is there room in
 * the buffer, is the quota left, does the rate allow it — and nothing is taken
 * unless all pass.
 *
 * A sharded tenant's volume is granted by its QuotaCoordinator, in chunks that
 * this shard then spends locally; asking for a chunk is the one await. So
 * admission has two steps: `reserve()` (may await the coordinator) and then
 * `decide()` (synchronous, with nothing awaited between it and the caller's
 * storage transaction), which makes concurrent requests see each other's
 * effects exactly: the actor is single-threaded between awaits.
 */
import type { FlushPolicy } from '../../shared/config.ts';
import type { QuotaCoordinator, Reservation } from '../quota-coordinator.ts';
import type { ActorBatch, IngestRefusal, LimitsReport, IngestPolicy } from './contract.ts';
import { RateLimiter, type DimensionState, type RateLimits } from './rate-limiter.ts';
import { UsageQuota, utcWindows, type QuotaLimits } from './usage-quota.ts';

export type Decision = IngestRefusal | { ok: true; rate: Record<keyof RateLimits, DimensionState> };

export class Admission {
  readonly #limiter: RateLimiter;
  readonly #quota: UsageQuota;
  /** Volume reserved from the QuotaCoordinator and not yet spent (sharded tenants; lost on eviction, never over-granted). */
  #reservation: { window: string; bytes: number } | null = null;
  /** The request to the QuotaCoordinator in flight, if any. */
  #asking: Promise<IngestRefusal | null> | null = null;

  constructor(
    sql: SqlStorage,
    private readonly coordinators: DurableObjectNamespace<QuotaCoordinator>,
    private readonly policy: Pick<FlushPolicy, 'bufferMaxRows' | 'bufferMaxBytes'>,
  ) {
    this.#limiter = new RateLimiter(sql);
    this.#quota = new UsageQuota(sql);
  }

  /** Refuses a batch larger than the plan's burst: it could never be taken, however long the client waits. */
  checkSize(batch: ActorBatch, rows: number): IngestRefusal | null {
    const { rate } = batch.policy;
    const cost = { records: rows, bytes: batch.receivedBytes };
    for (const dimension of ['records', 'bytes'] as const) {
      if (cost[dimension] > rate[dimension].burst) {
        return {
          ok: false,
          status: 413,
          code: 'request_too_large',
          message: `the request holds ${cost[dimension]} ${dimension}; the plan's burst allows at most ${rate[dimension].burst} at once — split it`,
          details: { dimension, limit: rate[dimension].burst },
        };
      }
    }
    return null;
  }

  /**
   * A sharded tenant: makes sure this shard holds the batch's volume, asking
   * the coordinator for chunks. Another batch on this shard may spend the
   * reservation while we await, so it reserves until the reservation covers
   * the batch after the await; each round is granted at least what is missing,
   * or refused when the quota is.
   */
  async reserve(batch: ActorBatch, now: number): Promise<IngestRefusal | null> {
    if (batch.policy.shards <= 1) return null;
    while (!this.#reservationCovers(batch.receivedBytes, now)) {
      // One request to the coordinator at a time: each replaces this shard's claim with what the shard holds
      // when it asks, so two at once would each leave out the other's grant.
      if (this.#asking) {
        await this.#asking.catch(() => undefined);
        continue;
      }
      const asking = this.#reserveVolume(batch.tenantId, batch.shard, batch.receivedBytes, batch.policy.quota, now);
      this.#asking = asking;
      let refusal: IngestRefusal | null;
      try {
        refusal = await asking;
      } finally {
        this.#asking = null;
      }
      if (refusal) return refusal;
    }
    return null;
  }

  /**
   * Buffer room, quota (one shard) and rate, in that order; takes the rate's
   * tokens when all pass. Synchronous: the caller stores the batch right after
   * and records the quota with `spend()` in the same transaction.
   */
  decide(batch: ActorBatch, rows: number, bytes: number, buffered: { rows: number; bytes: number }, alarmAt: number | null, now: number): Decision {
    const { rate, quota } = batch.policy;
    if (buffered.rows + rows > this.policy.bufferMaxRows || buffered.bytes + bytes > this.policy.bufferMaxBytes) {
      const retryAt = alarmAt ?? now + 5_000;
      return {
        ok: false,
        status: 503,
        code: 'buffer_full',
        message: 'the log store is not keeping up; nothing was accepted, retry later',
        retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)),
        details: { bufferedRows: buffered.rows },
      };
    }
    if (batch.policy.shards === 1) {
      const decision = this.#quota.check(quota, batch.receivedBytes, now);
      if (!decision.ok) return quotaRefusal(decision);
    }
    const decision = this.#limiter.take(rate, { records: rows, bytes: batch.receivedBytes }, now);
    if (!decision.ok) {
      // take() reports too_large only for costs above the burst, refused by checkSize.
      const limited = decision as Extract<typeof decision, { reason: 'rate_limited' }>;
      return {
        ok: false,
        status: 429,
        code: 'rate_limited',
        message: `over the plan's ${limited.dimension} rate; retry in ${limited.retryAfterSeconds} s`,
        retryAfterSeconds: limited.retryAfterSeconds,
        rate: limited.state,
        details: { dimension: limited.dimension },
      };
    }
    return { ok: true, rate: decision.state };
  }

  /** Counts an admitted batch against the quota (in the caller's transaction) and its reservation. */
  spend(batch: ActorBatch, rows: number, now: number): void {
    this.#quota.record(batch.receivedBytes, rows, now);
    if (batch.policy.shards > 1 && this.#reservation) this.#reservation.bytes -= batch.receivedBytes;
  }

  rateState(rate: RateLimits, now: number): Record<keyof RateLimits, DimensionState> {
    return this.#limiter.state(rate, now);
  }

  limits(policy: IngestPolicy, now: number): LimitsReport {
    return { rate: this.#limiter.state(policy.rate, now), usage: this.#quota.usage(policy.quota, now) };
  }

  #reservationCovers(bytes: number, now: number): boolean {
    return this.#reservation?.window === utcWindows(now).day && this.#reservation.bytes >= bytes;
  }

  async #reserveVolume(tenantId: string, shard: number, bytes: number, quota: QuotaLimits, now: number): Promise<IngestRefusal | null> {
    const today = utcWindows(now).day;
    if (this.#reservation?.window !== today) this.#reservation = { window: today, bytes: 0 };
    if (this.#reservation.bytes >= bytes) return null;
    const needed = bytes - this.#reservation.bytes;
    const chunk = Math.max(needed, Math.ceil(quota.dailyBytes / 100));
    const coordinator = this.coordinators.get(this.coordinators.idFromName(tenantId));
    // This shard's durable spend and what it holds replace its claim at the coordinator (quota-coordinator.ts).
    const spent = this.#quota.spent(now);
    const holding = { shard, spentDay: spent.day, spentMonth: spent.month, held: this.#reservation.bytes };
    const granted: Reservation = await coordinator.reserve(chunk, needed, quota, holding);
    if (granted.granted > 0) {
      if (this.#reservation?.window === granted.window) this.#reservation.bytes += granted.granted;
      return null;
    }
    return quotaRefusal(granted as Extract<Reservation, { period: string }>);
  }
}

function quotaRefusal(refusal: { period: 'day' | 'month'; limitBytes: number; resetsAt: string; retryAfterSeconds: number }): IngestRefusal {
  return {
    ok: false,
    status: 429,
    code: 'quota_exceeded',
    message: `the ${refusal.period === 'day' ? 'daily' : 'monthly'} volume quota of ${refusal.limitBytes} bytes is used up until ${refusal.resetsAt}`,
    retryAfterSeconds: refusal.retryAfterSeconds,
    details: { period: refusal.period, limit: refusal.limitBytes, resetsAt: refusal.resetsAt },
  };
}
