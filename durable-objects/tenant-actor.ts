/**
 * TenantActor: one SQLite-backed Durable Object per tenant, the single place
 * where a tenant's writes are serialised.
 *
 * - `ingest()` (RPC from the ingest worker) appends the batch to the durable
 *   buffer and returns. The runtime's output gate holds that return until the
 *   write is durable, so the worker's 202 is a durable acknowledgement.
 * - `alarm()` flushes: the oldest buffered rows go to R2 (gzip NDJSON) and to
 *   ClickHouse (one insert, deduplicated by batch id). Only when both succeed do
 *   the rows leave the buffer; on failure they stay and are retried, with
 *   capped exponential backoff, under the same batch id.
 *
 * Flushes start in the alarm (alarms never overlap) and run until nothing is
 * due. Up to `concurrency` of them are in flight, each over a fixed range of
 * chunks recorded before its first attempt, so preparing one (reading the
 * buffer, compressing, archiving) overlaps another's ClickHouse insert. While
 * flushes are in flight, batches keep arriving; one that makes the next flush
 * due starts it at once instead of waiting for the next alarm.
 *
 * Metering: a batch's usage (records and bytes accepted, or rejected and
 * why) is counted per hour in the same storage transaction that buffers it,
 * and a batch sent again under the same Idempotency-Key within a day is
 * answered as the first time, neither stored nor counted twice. The alarm also
 * rolls closed hours up to D1 (durable-objects/usage-meter.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { clickHouseClient, insertRows, LOGS_TABLE } from '../shared/clickhouse.ts';
import { loadConfig, type ConfigBindings, type FlushPolicy } from '../shared/config.ts';
import { newBatchId } from '../shared/ids.ts';
import { logEvent } from '../shared/logger.ts';
import { ARCHIVE_HEADER, type Chunk } from '../shared/row-format.ts';
import { archiveKey, writeArchive } from './archive.ts';
import { retryDelay } from './backoff.ts';
import { LogBuffer, type BufferTotals, type PendingFlush } from './tenant-actor/log-buffer.ts';
import type { QuotaCoordinator, Reservation } from './quota-coordinator.ts';
import { RateLimiter, type DimensionState, type RateLimits } from './rate-limiter.ts';
import type { TailHub } from './tail-hub.ts';
import { UsageQuota, utcWindows, type QuotaLimits, type QuotaUsage } from './usage-quota.ts';
import { UsageMeter, type HourlyCount } from './usage-meter.ts';

export interface TenantActorEnv extends ConfigBindings {
  ARCHIVE: R2Bucket;
  CONTROL_DB: D1Database;
  QUOTA_COORDINATOR: DurableObjectNamespace<QuotaCoordinator>;
  TAIL_HUB: DurableObjectNamespace<TailHub>;
}

/** The plan's limits, as the ingest worker read them from the tenant's credential. */
export interface IngestPolicy {
  /** This shard's share of the tenant's rate (the plan's rate ÷ shards). */
  rate: RateLimits;
  /** The tenant's quotas (whole, not per shard). */
  quota: QuotaLimits;
  /** Actors the tenant's ingest is spread over; above 1, quotas go through the QuotaCoordinator. */
  shards: number;
}

/** What the ingest worker hands over: normalised rows, already serialised (shared/row-format.ts). */
export interface ActorBatch {
  tenantId: string;
  /** Which of the tenant's actors this is (shared/sharding.ts): names its usage counters. */
  shard: number;
  batchId: string;
  /** The client's Idempotency-Key: the same key again within a day is answered as the first time, stored and counted once. */
  idempotencyKey?: string;
  /** Records the ingest worker rejected on their own (invalid, too large), by reason: counted as usage, never stored. */
  rejected?: Record<string, number>;
  requestId: string;
  receivedAt: number;
  chunks: Chunk[];
  /** Size of the request as received (after decompression): what rates and quotas count. */
  receivedBytes: number;
  policy: IngestPolicy;
}

/** An accepted batch, or why not — expected refusals are values, not exceptions. */
export type IngestOutcome =
  | {
      ok: true;
      accepted: number;
      bytes: number;
      buffered: { rows: number; bytes: number };
      rate: Record<keyof RateLimits, DimensionState>;
      /** The batch was accepted before under the same Idempotency-Key: this is that answer again. */
      replayed?: boolean;
    }
  | {
      ok: false;
      status: 413 | 429 | 503;
      code: 'request_too_large' | 'rate_limited' | 'quota_exceeded' | 'buffer_full';
      message: string;
      retryAfterSeconds?: number;
      rate?: Record<keyof RateLimits, DimensionState>;
      details: Record<string, string | number>;
    };

export interface LimitsReport {
  rate: Record<keyof RateLimits, DimensionState>;
  usage: QuotaUsage;
}

export interface ActorStats {
  tenantId: string | null;
  /** Usage counters not yet rolled up to D1. */
  usage: HourlyCount[];
  buffered: BufferTotals;
  pendingFlushes: PendingFlush[];
  alarmAt: number | null;
}

interface FlushTimings {
  readMs: number;
  archiveMs: number;
  insertMs: number;
  archivedBytes: number;
}

export class TenantActor extends DurableObject<TenantActorEnv> {
  readonly #buffer: LogBuffer;
  readonly #limiter: RateLimiter;
  readonly #quota: UsageQuota;
  readonly #meter: UsageMeter;
  readonly #policy: FlushPolicy;
  #tenantId: string | null = null;
  #shard = 0;
  /** A roll-up to D1 failed: not before this time (ms) again. */
  #rollUpRetryAt = 0;
  /** When the alarm is set for (ms), mirrored here so ingest need not read it back. */
  #alarmAt: number | null = null;
  /** Flushes running now; non-empty only while an alarm handler waits for them. */
  readonly #inFlight = new Map<string, Promise<void>>();
  /** A flush failed in this alarm run: ClickHouse or R2 is likely down, start no more. */
  #failedThisRun = false;
  /** Volume reserved from the QuotaCoordinator and not yet spent (sharded tenants; lost on eviction, never over-granted). */
  #reservation: { window: string; bytes: number } | null = null;
  /** Until when (ms) the tenant's TailHub wants this actor's accepted batches (0: nobody tails). */
  #tailUntil = 0;

  constructor(ctx: DurableObjectState, env: TenantActorEnv) {
    super(ctx, env);
    this.#policy = loadConfig(env).flush;
    this.#buffer = new LogBuffer(ctx.storage);
    this.#limiter = new RateLimiter(ctx.storage.sql);
    this.#quota = new UsageQuota(ctx.storage.sql);
    this.#meter = new UsageMeter(ctx.storage.sql);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS actor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS accepted_batches (
        idempotency_key TEXT PRIMARY KEY,
        accepted_at     INTEGER NOT NULL,
        rows            INTEGER NOT NULL,
        bytes           INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS accepted_batches_at ON accepted_batches (accepted_at);
    `);
    this.#tenantId =
      ctx.storage.sql.exec<{ value: string }>("SELECT value FROM actor_meta WHERE key = 'tenant_id'").toArray()[0]?.value ?? null;
    this.#shard = Number(ctx.storage.sql.exec<{ value: string }>("SELECT value FROM actor_meta WHERE key = 'shard'").toArray()[0]?.value ?? 0);
    this.#tailUntil = Number(ctx.storage.sql.exec<{ value: string }>("SELECT value FROM actor_meta WHERE key = 'tail_until'").toArray()[0]?.value ?? 0);
    ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Admits a batch or refuses it whole. The checks run in order — can it ever
   * fit, is there room in the buffer, is the quota left, does the rate allow it
   * — and nothing is counted or stored unless all pass. The object is single
   * threaded and nothing here awaits before the write, so concurrent requests
   * see each other's effects exactly.
   */
  async ingest(batch: ActorBatch): Promise<IngestOutcome> {
    this.#bindTenant(batch.tenantId, batch.shard);
    const now = Date.now();
    let rows = 0;
    let bytes = 0;
    for (const chunk of batch.chunks) {
      rows += chunk.rows;
      bytes += chunk.bytes;
    }
    const replay = batch.idempotencyKey === undefined ? null : this.#acceptedBefore(batch.idempotencyKey, now);
    if (replay) {
      const buffered = this.#buffer.totals;
      return { ok: true, accepted: replay.rows, bytes: replay.bytes, buffered: { rows: buffered.rows, bytes: buffered.bytes }, rate: this.#limiter.state(batch.policy.rate, now), replayed: true };
    }
    const admission = rows === 0 ? null : await this.#admit(batch, rows, bytes, now);
    if (admission && !admission.ok) {
      // Refused whole: nothing stored; the records count as rejected, for this reason.
      this.ctx.storage.transactionSync(() => {
        this.#meter.add(now, 'records_rejected', rows, admission.code);
        this.#countRejectedInWorker(batch, now);
      });
      return admission;
    }
    // One transaction: the rows, their usage, the quota and the idempotency key — all or nothing.
    this.ctx.storage.transactionSync(() => {
      this.#countRejectedInWorker(batch, now);
      if (rows === 0) return;
      this.#quota.record(batch.receivedBytes, rows, now);
      this.#meter.add(now, 'records_accepted', rows);
      this.#meter.add(now, 'bytes_accepted', bytes);
      this.#buffer.append(batch.batchId, batch.chunks, batch.receivedAt);
      if (batch.idempotencyKey !== undefined) {
        this.ctx.storage.sql.exec('INSERT INTO accepted_batches (idempotency_key, accepted_at, rows, bytes) VALUES (?, ?, ?, ?)', batch.idempotencyKey, now, rows, bytes);
      }
    });
    if (admission === null) {
      const buffered = this.#buffer.totals;
      return { ok: true, accepted: 0, bytes: 0, buffered: { rows: buffered.rows, bytes: buffered.bytes }, rate: this.#limiter.state(batch.policy.rate, now) };
    }
    if (batch.policy.shards > 1) this.#reservation!.bytes -= batch.receivedBytes;
    if (this.#inFlight.size > 0) this.#startDueFlushes(now);
    else await this.#scheduleAlarm(now);
    const after = this.#buffer.totals;
    // Live tail: stored first, then shown (never a record that was not kept).
    if (this.#tailUntil > now) this.ctx.waitUntil(this.#publishToTail(batch.tenantId, batch.chunks));
    return { ok: true, accepted: rows, bytes, buffered: { rows: after.rows, bytes: after.bytes }, rate: admission.rate };
  }

  /**
   * Whether the batch may be stored: can it ever fit, is there room in the
   * buffer, is the quota left, does the rate allow it. Returns the refusal, or
   * the rate state after taking the batch's tokens. Nothing after the
   * coordinator's await is asynchronous, so concurrent requests see each
   * other's effects exactly.
   */
  async #admit(
    batch: ActorBatch,
    rows: number,
    bytes: number,
    now: number,
  ): Promise<Extract<IngestOutcome, { ok: false }> | { ok: true; rate: Record<keyof RateLimits, DimensionState> }> {
    const { rate, quota } = batch.policy;
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
    // A sharded tenant's volume is granted by its coordinator (this may await;
    // everything after it is synchronous, so the checks below see one state).
    // Another batch on this shard may spend the reservation while we await the
    // coordinator, so reserve until it covers this batch after the await; each
    // round is granted at least what is missing, or refused when the quota is.
    while (batch.policy.shards > 1 && !this.#reservationCovers(cost.bytes, now)) {
      const refusal = await this.#reserveVolume(batch.tenantId, cost.bytes, quota, now);
      if (refusal) return refusal;
    }
    const totals = this.#buffer.totals;
    if (totals.rows + rows > this.#policy.bufferMaxRows || totals.bytes + bytes > this.#policy.bufferMaxBytes) {
      const retryAt = this.#alarmAt ?? now + 5_000;
      return {
        ok: false,
        status: 503,
        code: 'buffer_full',
        message: 'the log store is not keeping up; nothing was accepted, retry later',
        retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)),
        details: { bufferedRows: totals.rows },
      };
    }
    if (batch.policy.shards === 1) {
      const quotaDecision = this.#quota.check(quota, cost.bytes, now);
      if (!quotaDecision.ok) return quotaRefusal(quotaDecision);
    }
    const rateDecision = this.#limiter.take(rate, cost, now);
    if (!rateDecision.ok) {
      // take() reports too_large only for costs above the burst, refused above.
      const decision = rateDecision as Extract<typeof rateDecision, { reason: 'rate_limited' }>;
      return {
        ok: false,
        status: 429,
        code: 'rate_limited',
        message: `over the plan's ${decision.dimension} rate; retry in ${decision.retryAfterSeconds} s`,
        retryAfterSeconds: decision.retryAfterSeconds,
        rate: decision.state,
        details: { dimension: decision.dimension },
      };
    }
    return { ok: true, rate: rateDecision.state };
  }

  #countRejectedInWorker(batch: ActorBatch, now: number): void {
    for (const [reason, records] of Object.entries(batch.rejected ?? {})) this.#meter.add(now, 'records_rejected', records, reason);
  }

  /** The first answer to a batch sent under this key in the last day, if there was one. */
  #acceptedBefore(key: string, now: number): { rows: number; bytes: number } | null {
    return (
      this.ctx.storage.sql
        .exec<{ rows: number; bytes: number }>('SELECT rows, bytes FROM accepted_batches WHERE idempotency_key = ? AND accepted_at > ?', key, now - IDEMPOTENCY_WINDOW_MS)
        .toArray()[0] ?? null
    );
  }

  /** Usage counted here and not yet rolled up to D1: the open hour, for GET /v1/usage. */
  async usage(): Promise<HourlyCount[]> {
    return this.#meter.counts();
  }

  /** Called by the tenant's TailHub while it has clients: publish accepted batches to it until `until` (ms). */
  async tailUntil(tenantId: string, until: number): Promise<void> {
    this.#bindTenant(tenantId, null);
    this.#tailUntil = until;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO actor_meta (key, value) VALUES ('tail_until', ?)", String(until));
  }

  async #publishToTail(tenantId: string, chunks: { text: string }[]): Promise<void> {
    try {
      await this.env.TAIL_HUB.get(this.env.TAIL_HUB.idFromName(tenantId)).publish(chunks.map((c) => c.text).join(''));
    } catch (err) {
      // Tail is best effort: the batch is stored whatever happens here.
      logEvent('warn', 'tail.publish_failed', { tenant: tenantId, error: (err as Error).message });
    }
  }

  /** Makes sure this shard holds at least `bytes` of today's volume, reserving a chunk from the coordinator when it does not. */
  async #reserveVolume(tenantId: string, bytes: number, quota: QuotaLimits, now: number): Promise<Extract<IngestOutcome, { ok: false }> | null> {
    const today = utcWindows(now).day;
    if (this.#reservation?.window !== today) this.#reservation = { window: today, bytes: 0 };
    if (this.#reservation.bytes >= bytes) return null;
    const needed = bytes - this.#reservation.bytes;
    const chunk = Math.max(needed, Math.ceil(quota.dailyBytes / 100));
    const coordinator = this.env.QUOTA_COORDINATOR.get(this.env.QUOTA_COORDINATOR.idFromName(tenantId));
    const granted: Reservation = await coordinator.reserve(chunk, needed, quota);
    if (granted.granted > 0) {
      if (this.#reservation?.window === granted.window) this.#reservation.bytes += granted.granted;
      return null;
    }
    return quotaRefusal(granted as Extract<Reservation, { period: string }>);
  }

  #reservationCovers(bytes: number, now: number): boolean {
    return this.#reservation?.window === utcWindows(now).day && this.#reservation.bytes >= bytes;
  }

  /** The tenant's rate state and volume usage, for GET /v1/limits. */
  async limits(policy: IngestPolicy): Promise<LimitsReport> {
    const now = Date.now();
    return { rate: this.#limiter.state(policy.rate, now), usage: this.#quota.usage(policy.quota, now) };
  }

  async stats(): Promise<ActorStats> {
    return {
      tenantId: this.#tenantId,
      usage: this.#meter.counts(),
      buffered: { ...this.#buffer.totals },
      pendingFlushes: this.#buffer.pendingFlushes(),
      alarmAt: this.#alarmAt,
    };
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    this.#failedThisRun = false;
    // The alarm is only ever set for when something is due — a flush retry, a
    // flush threshold or age, or, with nothing to flush, the end of the hour
    // (#scheduleAlarm) — so every pending flush (including ones waiting out a
    // backoff) is tried now.
    for (const flush of this.#buffer.pendingFlushes()) this.#launch(flush);
    this.#startDueFlushes(Date.now());
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight.values());
    await this.#rollUpUsage(Date.now());
    await this.#scheduleAlarm(Date.now());
  }

  /** Closed hours' usage to D1, and idempotency keys older than their window forgotten. */
  async #rollUpUsage(now: number): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM accepted_batches WHERE accepted_at <= ?', now - IDEMPOTENCY_WINDOW_MS);
    const due = this.#meter.nextRollUpAt(now);
    if (due === null || due > now || this.#tenantId === null || now < this.#rollUpRetryAt) return;
    try {
      const written = await this.#meter.rollUp(this.env.CONTROL_DB, this.#tenantId, `ingest:${this.#shard}`, now);
      logEvent('info', 'usage.rolled_up', { tenant: this.#tenantId, shard: this.#shard, counters: written });
    } catch (err) {
      this.#rollUpRetryAt = now + ROLL_UP_RETRY_MS;
      logEvent('warn', 'usage.roll_up_failed', { tenant: this.#tenantId, shard: this.#shard, error: (err as Error).message });
    }
  }

  /** Starts new flushes while there is room and the unflushed rows are due. */
  #startDueFlushes(now: number): void {
    while (!this.#failedThisRun && this.#buffer.pendingFlushes().length < this.#policy.concurrency && this.#flushDue(now)) {
      const flush = this.#buffer.startFlush(newBatchId(now), now, this.#policy);
      if (!flush) return;
      this.#launch(flush);
    }
  }

  #launch(flush: PendingFlush): void {
    if (this.#inFlight.has(flush.batchId)) return;
    const run = this.#runFlush(flush).finally(() => {
      this.#inFlight.delete(flush.batchId);
      this.#startDueFlushes(Date.now());
    });
    this.#inFlight.set(flush.batchId, run);
  }

  async #runFlush(flush: PendingFlush): Promise<void> {
    const started = Date.now();
    let timings: FlushTimings;
    try {
      timings = await this.#writeStores(flush);
    } catch (err) {
      this.#failedThisRun = true;
      const message = err instanceof Error ? err.message : String(err);
      const delay = retryDelay(flush.attempts + 1, this.#policy.retryBaseMs, this.#policy.retryMaxMs);
      const failed = this.#buffer.failFlush(flush, Date.now() + delay, message);
      logEvent('warn', 'flush.failed', {
        tenant: this.#tenantId,
        batchId: flush.batchId,
        rows: flush.rows,
        attempt: failed.attempts,
        retryInMs: delay,
        error: message,
      });
      return;
    }
    this.#buffer.completeFlush(flush);
    logEvent('info', 'flush.done', {
      tenant: this.#tenantId,
      batchId: flush.batchId,
      rows: flush.rows,
      bytes: flush.bytes,
      attempts: flush.attempts + 1,
      durationMs: Date.now() - started,
      ...timings,
      lagMs: Date.now() - flush.createdAt,
    });
  }

  /** R2 first, then ClickHouse: a row is searchable only once it is archived. */
  async #writeStores(flush: PendingFlush): Promise<FlushTimings> {
    const tenantId = this.#tenantId!;
    const t0 = Date.now();
    const rows = this.#buffer.readFlush(flush);
    const t1 = Date.now();
    const archivedBytes = await writeArchive(this.env.ARCHIVE, archiveKey(tenantId, flush.batchId, flush.createdAt), ARCHIVE_HEADER + rows, {
      tenantId,
      batchId: flush.batchId,
      rows: flush.rows,
    });
    const t2 = Date.now();
    await insertRows(clickHouseClient(loadConfig(this.env).clickhouse), LOGS_TABLE, rows, flush.batchId);
    return { readMs: t1 - t0, archiveMs: t2 - t1, insertMs: Date.now() - t2, archivedBytes };
  }

  /** Rows no flush covers yet have reached a threshold or the maximum age. */
  #flushDue(now: number, unassigned = this.#buffer.unassigned()): boolean {
    if (unassigned.rows === 0) return false;
    return (
      unassigned.rows >= this.#policy.maxRows ||
      unassigned.bytes >= this.#policy.maxBytes ||
      now - (unassigned.oldestReceivedAt ?? now) >= this.#policy.maxAgeMs
    );
  }

  /**
   * Sets the alarm for the next moment something is due, and only ever
   * brings it forward. While a flush waits out a backoff (ClickHouse or R2
   * failing), that retry time is the next moment: new rows wait with it rather
   * than hammer a store that is down. Otherwise it is now, if the unflushed
   * rows passed a threshold, or when the oldest of them reaches the maximum age.
   */
  async #scheduleAlarm(now: number): Promise<void> {
    const pending = this.#buffer.pendingFlushes();
    const retries = pending.filter((f) => f.attempts > 0).map((f) => f.nextAttemptAt ?? now);
    let due: number | null;
    if (retries.length > 0) {
      due = Math.min(...retries);
    } else if (pending.length > 0) {
      due = now; // recorded but never tried (the object was evicted mid-flush)
    } else {
      const unassigned = this.#buffer.unassigned();
      due = unassigned.rows === 0 ? null : this.#flushDue(now, unassigned) ? now : unassigned.oldestReceivedAt! + this.#policy.maxAgeMs;
    }
    // With nothing to flush, the end of the hour being counted, to roll its usage up. While
    // logs arrive, the flush alarms (every ≤ maxAge) roll closed hours up as they run, so the
    // roll-up never moves a flush or a retry earlier or later.
    if (due === null) {
      const rollUp = this.#meter.nextRollUpAt(now);
      if (rollUp !== null) due = Math.max(rollUp, this.#rollUpRetryAt);
    }
    if (due !== null && (this.#alarmAt === null || due < this.#alarmAt)) {
      this.#alarmAt = due;
      await this.ctx.storage.setAlarm(due);
    }
  }

  /** The object is named after its tenant (and shard); a batch for anyone else is a routing bug. */
  #bindTenant(tenantId: string, shard: number | null): void {
    if (this.#tenantId !== null && this.#tenantId !== tenantId) {
      throw new Error(`tenant actor of "${this.#tenantId}" was handed a batch of "${tenantId}"`);
    }
    if (this.#tenantId === null) {
      this.ctx.storage.sql.exec("INSERT INTO actor_meta (key, value) VALUES ('tenant_id', ?)", tenantId);
      this.#tenantId = tenantId;
    }
    if (shard !== null && shard !== this.#shard) {
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO actor_meta (key, value) VALUES ('shard', ?)", String(shard));
      this.#shard = shard;
    }
  }
}

/** How long an Idempotency-Key is remembered: a client's retries of one batch come within minutes, a day covers an outage. */
const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
/** After a failed roll-up to D1, the next try. */
const ROLL_UP_RETRY_MS = 60_000;

function quotaRefusal(refusal: { period: 'day' | 'month'; limitBytes: number; resetsAt: string; retryAfterSeconds: number }): Extract<IngestOutcome, { ok: false }> {
  return {
    ok: false,
    status: 429,
    code: 'quota_exceeded',
    message: `the ${refusal.period === 'day' ? 'daily' : 'monthly'} volume quota of ${refusal.limitBytes} bytes is used up until ${refusal.resetsAt}`,
    retryAfterSeconds: refusal.retryAfterSeconds,
    details: { period: refusal.period, limit: refusal.limitBytes, resetsAt: refusal.resetsAt },
  };
}
