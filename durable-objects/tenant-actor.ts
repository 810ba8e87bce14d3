/**
 * TenantActor: one SQLite-backed Durable Object per tenant (or per shard of a
 * hot tenant), the single place where a tenant's writes are serialised. It
 * composes parts that each do one thing (durable-objects/tenant-actor/):
 *
 * - `contract.ts`: what the workers hand it and what it answers;
 * - `schema.ts`: its SQLite tables, as versioned migrations applied when it
 *   starts, so a deploy can change them without losing buffered rows;
 * - `IdempotencyLedger`: a batch sent again is answered as the first time;
 * - `Admission`: the plan's burst, the buffer's cap, quotas (with the
 *   QuotaCoordinator of a sharded tenant) and rates;
 * - `PatternBook`: mines each accepted row's pattern and writes its PatternId;
 * - `LogBuffer`: accepted rows in SQLite until ClickHouse and R2 hold them;
 * - `flush.ts`: storing one recorded range, exactly once, with the rows
 *   ClickHouse refuses sent to the dead letters instead of blocking the rest;
 * - `flush-scheduler.ts`: when the alarm fires next, a pure function.
 *
 * `ingest()` (RPC from the ingest worker) stores a batch and returns; the
 * runtime's output gate holds that return until the write is durable, so the
 * worker's 202 is a durable acknowledgement. `alarm()` flushes — up to
 * `concurrency` recorded ranges in flight, so preparing one overlaps another's
 * insert — retries failures with capped exponential backoff under the same
 * batch id, and rolls closed hours of usage up to D1.
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { DurableObject } from 'cloudflare:workers';
import { clickHouseClient, insertCompressedRows, LOGS_TABLE } from '../shared/clickhouse.ts';
import { loadConfig, type FlushPolicy } from '../shared/config.ts';
import { newBatchId } from '../shared/ids.ts';
import { gunzip } from '../shared/gzip.ts';
import type { Chunk, SealedChunk } from '../shared/row-format.ts';
import { logEvent } from '../shared/logger.ts';
import { type PlatformMetrics, platformMetrics } from '../shared/platform-metrics/reporting.ts';
import { Alarm, UsageRollUp } from './alarm.ts';
import { migrateSchema, schemaVersion } from './sqlite-migrations.ts';
import { Admission } from './tenant-actor/admission.ts';
import { retryDelay } from './tenant-actor/backoff.ts';
import type {
  ActorBatch,
  ActorStats,
  EraseReport,
  EraseScope,
  IngestOutcome,
  IngestPolicy,
  IngestRefusal,
  LimitsReport,
  PatternSnapshot,
  TenantActorEnv,
} from './tenant-actor/contract.ts';
import { eraseMatcher } from './tenant-actor/erase.ts';
import { FlushFailure, storeFlush, type StoredFlush } from './tenant-actor/flush.ts';
import { flushDue, nextAlarmAt } from './tenant-actor/flush-scheduler.ts';
import { IdempotencyLedger, ledgerKeyOf, type LedgerKey } from './tenant-actor/idempotency-ledger.ts';
import { LogBuffer, type PendingFlush } from './tenant-actor/log-buffer.ts';
import { PatternBook } from './tenant-actor/patterns.ts';
import { TENANT_ACTOR_MIGRATIONS } from './tenant-actor/schema.ts';
import { UsageMeter, type HourlyCount } from './usage-meter.ts';

export type {
  ActorBatch,
  ActorStats,
  EraseReport,
  EraseScope,
  IngestOutcome,
  IngestPolicy,
  LimitsReport,
  PatternSnapshot,
  TenantActorEnv,
} from './tenant-actor/contract.ts';

export class TenantActor extends DurableObject<TenantActorEnv> {
  readonly #buffer: LogBuffer;
  readonly #patterns: PatternBook;
  /** A publication of the pattern book in progress: concurrent flushes wait for the same one. */
  #publishing: Promise<void> | null = null;
  readonly #admission: Admission;
  readonly #ledger: IdempotencyLedger;
  readonly #meter: UsageMeter;
  readonly #rollUp: UsageRollUp;
  readonly #alarm: Alarm;
  readonly #policy: FlushPolicy;
  #tenantId: string | null = null;
  #shard = 0;
  /** Flushes running now; non-empty only while an alarm handler waits for them. */
  readonly #inFlight = new Map<string, Promise<void>>();
  /** A flush failed in this alarm run: ClickHouse or R2 is likely down, start no more. */
  #failedThisRun = false;
  /** Until when (ms) the tenant's TailHub wants this actor's accepted batches (0: nobody tails). */
  #tailUntil = 0;
  /** Until when (ms) the tenant's AlertEvaluator wants them (0: no rule uses the fast path). */
  #alertFeedUntil = 0;
  /** Buffer depth, oldest unflushed age, flushes and inserts, for operators (shared/platform-metrics/). */
  readonly #metrics: PlatformMetrics;

  constructor(ctx: DurableObjectState, env: TenantActorEnv) {
    super(ctx, env);
    migrateSchema(ctx.storage, TENANT_ACTOR_MIGRATIONS);
    this.#policy = loadConfig(env).flush;
    this.#buffer = new LogBuffer(ctx.storage);
    this.#patterns = new PatternBook(ctx.storage.sql);
    this.#admission = new Admission(ctx.storage.sql, env.QUOTA_COORDINATOR, this.#policy);
    this.#ledger = new IdempotencyLedger(ctx.storage.sql);
    this.#meter = new UsageMeter(ctx.storage.sql);
    this.#rollUp = new UsageRollUp(this.#meter, () => `ingest:${this.#shard}`);
    this.#alarm = new Alarm(ctx.storage);
    this.#tenantId = this.#meta('tenant_id');
    this.#shard = Number(this.#meta('shard') ?? 0);
    this.#tailUntil = Number(this.#meta('tail_until') ?? 0);
    this.#alertFeedUntil = Number(this.#meta('alert_feed_until') ?? 0);
    this.#metrics = platformMetrics(env);
    ctx.blockConcurrencyWhile(() => this.#alarm.load());
  }

  /**
   * Stores a batch, or refuses it whole. Nothing is awaited between the last
   * check and the storage transaction, so concurrent requests see each
   * other's effects exactly; and nothing after the commit throws, so an
   * exception reaching the worker always means nothing was stored.
   */
  async ingest(batch: ActorBatch): Promise<IngestOutcome> {
    this.#bindTenant(batch.tenantId, batch.shard);
    const now = Date.now();
    const sealed = batch.sealed ?? [];
    let rows = 0;
    let bytes = 0;
    for (const chunk of batch.chunks) {
      rows += chunk.rows;
      bytes += chunk.bytes;
    }
    for (const chunk of sealed) {
      rows += chunk.rows;
      bytes += chunk.bytes;
    }
    const entry = ledgerKeyOf(batch);
    const earlier = this.#answerFromLedger(entry, batch, now);
    if (earlier) return earlier;
    if (rows > 0) {
      const refusal = this.#admission.checkSize(batch, rows) ?? (await this.#admission.reserve(batch, now));
      if (refusal) return this.#refuse(batch, rows, refusal, now);
    }
    // A twin of this batch (same key) may have been stored while a sharded tenant's reservation
    // awaited the coordinator (the one await before the commit; with one shard there is none).
    if (rows > 0 && batch.policy.shards > 1) {
      const twin = this.#answerFromLedger(entry, batch, now);
      if (twin) return twin;
    }
    const decision = rows === 0 ? null : this.#admission.decide(batch, rows, bytes, this.#buffer.totals, this.#alarm.at, now);
    if (decision && !decision.ok) return this.#refuse(batch, rows, decision, now);

    // Accepted: each open row gets its pattern (synchronous, so nothing comes between the checks and
    // the commit); sealed rows have theirs.
    const labelled = batch.chunks.length > 0 ? this.#patterns.label(batch.chunks) : null;
    // One transaction: the rows, their patterns, usage, the quota and the ledger entry — all or nothing.
    this.ctx.storage.transactionSync(() => {
      this.#countRejectedInWorker(batch, now);
      if (rows > 0) {
        this.#admission.spend(batch, rows, now);
        this.#meter.add(now, 'records_accepted', rows);
        this.#meter.add(now, 'bytes_accepted', bytes);
        this.#buffer.append(batch.batchId, labelled?.chunks ?? [], sealed, batch.receivedAt);
        if (labelled) this.#patterns.record(labelled, now);
      }
      this.#ledger.record(entry, now, rows, bytes);
    });
    if (rows > 0) await this.#afterCommit(batch, labelled?.chunks ?? [], sealed, now);
    if (rows > 0) this.#reportBuffer();
    const buffered = this.#buffer.totals;
    return {
      ok: true,
      accepted: rows,
      bytes,
      buffered: { rows: buffered.rows, bytes: buffered.bytes },
      rate: decision?.rate ?? this.#admission.rateState(batch.policy.rate, now),
      patterns: this.#patterns.version,
    };
  }

  /** A replay of an earlier answer, a refusal of a reused key, or null for a batch not seen before. */
  #answerFromLedger(entry: LedgerKey, batch: ActorBatch, now: number): IngestOutcome | null {
    const answer = this.#ledger.check(entry, now);
    if (answer.kind === 'new') return null;
    if (answer.kind === 'conflict') {
      return {
        ok: false,
        status: 422,
        code: 'idempotency_key_reused',
        message: `the Idempotency-Key was used at ${new Date(answer.acceptedAt).toISOString()} for a different request; send a new request under a new key`,
        details: { field: 'Idempotency-Key' },
      };
    }
    const buffered = this.#buffer.totals;
    return {
      ok: true,
      accepted: answer.rows,
      bytes: answer.bytes,
      buffered: { rows: buffered.rows, bytes: buffered.bytes },
      rate: this.#admission.rateState(batch.policy.rate, now),
      replayed: true,
    };
  }

  /**
   * Whether a batch was stored, from the ledger alone — a read, nothing
   * written: the ingest worker asks when every attempt failed without saying
   * why (workers/ingest/pipeline.ts), as when every commit fails on a full
   * disk. The ledger entry is written in the same transaction as the rows, so
   * null means the batch is not stored; otherwise the answer ingest gave.
   */
  async recall(batch: ActorBatch): Promise<IngestOutcome | null> {
    // An actor that never took a batch of this tenant holds none (and binding it now would write).
    if (this.#tenantId !== batch.tenantId) return null;
    return this.#answerFromLedger(ledgerKeyOf(batch), batch, Date.now());
  }

  /** Refused whole: nothing stored; the records count as rejected, for this reason. */
  #refuse(batch: ActorBatch, rows: number, refusal: IngestRefusal, now: number): IngestRefusal {
    this.ctx.storage.transactionSync(() => {
      this.#meter.add(now, 'records_rejected', rows, refusal.code);
      this.#countRejectedInWorker(batch, now);
    });
    return refusal;
  }

  #countRejectedInWorker(batch: ActorBatch, now: number): void {
    for (const [reason, records] of Object.entries(batch.rejected ?? {})) this.#meter.add(now, 'records_rejected', records, reason);
  }

  /** What follows a stored batch: the next flush, and live tail. Never throws: the batch is stored. */
  async #afterCommit(batch: ActorBatch, chunks: Chunk[], sealed: SealedChunk[], now: number): Promise<void> {
    try {
      if (this.#inFlight.size > 0) this.#startDueFlushes(now);
      else await this.#schedule(now);
    } catch (err) {
      logEvent('error', 'actor.schedule_failed', { tenant: this.#tenantId, batchId: batch.batchId, error: (err as Error).message });
    }
    // Live tail and alerting's fast path: stored first, then shown (never a record that was not kept).
    const tail = this.#tailUntil > now;
    const alerts = this.#alertFeedUntil > now;
    if (!tail && !alerts) return;
    // Only while someone watches are sealed rows read (decompressed once for both).
    const text = batchText(chunks, sealed);
    if (tail) this.ctx.waitUntil(text.then((t) => this.#publishToTail(batch.tenantId, t)).catch(() => undefined));
    if (alerts) this.ctx.waitUntil(text.then((t) => this.#publishToAlerts(batch.tenantId, t)).catch(() => undefined));
  }

  /** The current templates, for the ingest worker to label rows with (workers/ingest/pattern-snapshots.ts). */
  async patternSnapshot(): Promise<PatternSnapshot> {
    return this.#patterns.snapshot();
  }

  /** Usage counted here and not yet rolled up to D1: the open hour, for GET /v1/usage. */
  async usage(): Promise<HourlyCount[]> {
    return this.#meter.counts();
  }

  /** Called by the tenant's TailHub while it has clients: publish accepted batches to it until `until` (ms). */
  async tailUntil(tenantId: string, until: number): Promise<void> {
    this.#bindTenant(tenantId, null);
    this.#tailUntil = until;
    this.#setMeta('tail_until', String(until));
  }

  /** Called by the tenant's AlertEvaluator while it has fast-path rules: publish accepted batches to it until `until` (ms). */
  async alertFeedUntil(tenantId: string, until: number): Promise<void> {
    this.#bindTenant(tenantId, null);
    this.#alertFeedUntil = until;
    this.#setMeta('alert_feed_until', String(until));
  }

  async #publishToAlerts(tenantId: string, text: string): Promise<void> {
    try {
      await this.env.ALERT_EVALUATOR.get(this.env.ALERT_EVALUATOR.idFromName(tenantId)).observe(tenantId, text);
    } catch (err) {
      // The fast path is best effort: the scheduled evaluation counts the batch from ClickHouse.
      logEvent('warn', 'alerts.publish_failed', { tenant: tenantId, error: (err as Error).message });
    }
  }

  async #publishToTail(tenantId: string, text: string): Promise<void> {
    try {
      const templates = this.#patterns.templatesOf(patternIdsIn(text));
      await this.env.TAIL_HUB.get(this.env.TAIL_HUB.idFromName(tenantId)).publish(text, templates);
    } catch (err) {
      // Tail is best effort: the batch is stored whatever happens here.
      logEvent('warn', 'tail.publish_failed', { tenant: tenantId, error: (err as Error).message });
    }
  }

  /** The tenant's rate state and volume usage, for GET /v1/limits. */
  async limits(policy: IngestPolicy): Promise<LimitsReport> {
    return this.#admission.limits(policy, Date.now());
  }

  async stats(): Promise<ActorStats> {
    return {
      tenantId: this.#tenantId,
      usage: this.#meter.counts(),
      buffered: { ...this.#buffer.totals },
      pendingFlushes: this.#buffer.pendingFlushes(),
      alarmAt: this.#alarm.at,
      schemaVersion: schemaVersion(this.ctx.storage.sql),
    };
  }

  /**
   * Erasure (`DELETE /v1/logs`): removes the buffered records in `scope` —
   * including those of flushes waiting out a ClickHouse outage — then waits
   * for the flushes in flight, which may carry records read before the
   * rewrite, so that the caller's DELETE in ClickHouse, which comes next,
   * finds whatever they stored.
   */
  async erase(scope: EraseScope): Promise<EraseReport> {
    if (this.#tenantId === null) return { erased: 0 }; // an actor that never took a batch holds none
    this.#bindTenant(scope.tenantId, null);
    const matches = eraseMatcher(scope);
    let erased = 0;
    for (const seq of this.#buffer.chunkSeqs()) erased += await this.#buffer.eraseInChunk(seq, matches);
    await Promise.allSettled([...this.#inFlight.values()]);
    if (erased > 0) logEvent('info', 'actor.erased', { tenant: this.#tenantId, shard: this.#shard, records: erased });
    if (erased > 0) this.#reportBuffer();
    return { erased };
  }

  override async alarm(): Promise<void> {
    this.#alarm.fired();
    this.#failedThisRun = false;
    // The alarm is only ever set for when something is due (flush-scheduler.ts), so every pending
    // flush — including ones waiting out a backoff — is tried now.
    for (const flush of this.#buffer.pendingFlushes()) this.#launch(flush);
    this.#startDueFlushes(Date.now());
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight.values());
    const now = Date.now();
    this.#ledger.forgetExpired(now);
    await this.#rollUp.runIfDue(this.env.CONTROL_DB, this.#tenantId, now);
    await this.#schedule(Date.now());
  }

  /** Starts new flushes while there is room and the unflushed rows are due. */
  #startDueFlushes(now: number): void {
    while (!this.#failedThisRun && this.#buffer.pendingFlushes().length < this.#policy.concurrency && flushDue(this.#buffer.unassigned(), now, this.#policy)) {
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
    let stored: StoredFlush | null = null;
    try {
      // A range an erasure emptied has nothing to store.
      if (flush.rows > 0) {
        const config = loadConfig(this.env).clickhouse;
        const clickhouse = clickHouseClient(config);
        // The templates first: a stored row's pattern can always be looked up.
        await this.#publishPatterns(clickhouse);
        const parts = this.#buffer.readFlush(flush);
        stored = await storeFlush(
          {
            tenantId: this.#tenantId!,
            archive: this.env.ARCHIVE,
            clickhouse,
            insertCompressed: (body, token) => this.#timedInsert(() => insertCompressedRows(config, LOGS_TABLE, body, token)),
            ranges: this.#buffer.rangeLog(flush.batchId),
          },
          flush,
          parts,
          Date.now() - started,
        );
      }
    } catch (err) {
      this.#failedThisRun = true;
      const message = err instanceof Error ? err.message : String(err);
      const delay = retryDelay(flush.attempts + 1, this.#policy.retryBaseMs, this.#policy.retryMaxMs);
      const failed = this.#buffer.failFlush(flush, Date.now() + delay, message);
      this.#countFlush(flush, 'failed', started);
      logEvent(err instanceof FlushFailure ? 'warn' : 'error', 'flush.failed', {
        tenant: this.#tenantId,
        batchId: flush.batchId,
        rows: flush.rows,
        attempt: failed.attempts,
        retryInMs: delay,
        error: message.split('\n')[0]!.slice(0, 300),
      });
      return;
    }
    const refused = stored?.refused.length ?? 0;
    this.ctx.storage.transactionSync(() => {
      this.#buffer.completeFlush(flush);
      if (refused > 0) this.#meter.add(Date.now(), 'records_rejected', refused, 'store_refused');
    });
    this.#countFlush(flush, 'ok', started);
    if (refused > 0) {
      logEvent('error', 'flush.dead_lettered', {
        tenant: this.#tenantId,
        batchId: flush.batchId,
        rows: refused,
        key: stored!.deadLetterKey,
        reason: stored!.refused[0]!.reason.split('\n')[0]!.slice(0, 200),
      });
    }
    logEvent('info', 'flush.done', {
      tenant: this.#tenantId,
      batchId: flush.batchId,
      rows: flush.rows,
      bytes: flush.bytes,
      attempts: flush.attempts + 1,
      durationMs: Date.now() - started,
      ...(stored && {
        ...stored.timings,
        archivedBytes: stored.archivedBytes,
        inserts: stored.inserts,
        probes: stored.probes,
        landedBefore: stored.landedBefore,
      }),
      deadLettered: refused,
      lagMs: Date.now() - flush.createdAt,
    });
  }

  /** One flush attempt in the platform metrics, and the buffer it leaves. */
  #countFlush(flush: PendingFlush, outcome: 'ok' | 'failed', started: number): void {
    const tenant = this.#tenantId ?? '';
    this.#metrics.count('neurallog_actor_flushes_total', { tenant, outcome });
    if (flush.attempts > 0) this.#metrics.count('neurallog_actor_flush_retries_total', { tenant });
    this.#metrics.observe('neurallog_actor_flush_duration_seconds', { outcome }, (Date.now() - started) / 1000);
    this.#reportBuffer();
  }

  /** A ClickHouse insert of flushed rows, timed and counted whatever its outcome. */
  async #timedInsert(insert: () => Promise<void>): Promise<void> {
    const started = Date.now();
    let outcome = 'error';
    try {
      await insert();
      outcome = 'ok';
    } finally {
      this.#metrics.count('neurallog_clickhouse_inserts_total', { outcome });
      this.#metrics.observe('neurallog_clickhouse_insert_duration_seconds', { outcome }, (Date.now() - started) / 1000);
    }
  }

  /** The buffer's depth and oldest record as they are now, for the next metrics report (at most one per interval per isolate). */
  #reportBuffer(): void {
    if (this.#tenantId === null) return;
    const totals = this.#buffer.totals;
    this.#metrics.actorBuffer({
      actor: `${this.#tenantId}/${this.#shard}`,
      tenant: this.#tenantId,
      rows: totals.rows,
      bytes: totals.bytes,
      oldestReceivedAt: totals.oldestReceivedAt,
      at: Date.now(),
    });
    this.#metrics.reportSoon((work) => this.ctx.waitUntil(work));
  }

  /** Publishes the pattern book's news; flushes running together share one publication. */
  async #publishPatterns(clickhouse: ClickHouseClient): Promise<void> {
    // Everything learnt up to now (the flush's rows were accepted before): a publication that
    // started earlier may have read less, so wait for it and start another.
    const needed = this.#patterns.learnt;
    while (this.#patterns.published < needed) {
      this.#publishing ??= this.#patterns.publish(clickhouse, this.#tenantId!).finally(() => {
        this.#publishing = null;
      });
      await this.#publishing;
    }
  }

  /** Sets the alarm for the next moment something is due (flush-scheduler.ts), only ever bringing it forward. */
  async #schedule(now: number): Promise<void> {
    const at = nextAlarmAt(
      { pending: this.#buffer.pendingFlushes(), unassigned: this.#buffer.unassigned(), rollUpAt: this.#rollUp.dueAt(now) },
      now,
      this.#policy,
    );
    await this.#alarm.bringForward(at);
  }

  /** The object is named after its tenant (and shard); a batch for anyone else is a routing bug. */
  #bindTenant(tenantId: string, shard: number | null): void {
    if (this.#tenantId !== null && this.#tenantId !== tenantId) {
      throw new Error(`tenant actor of "${this.#tenantId}" was handed a batch of "${tenantId}"`);
    }
    if (this.#tenantId === null) {
      this.#setMeta('tenant_id', tenantId);
      this.#tenantId = tenantId;
    }
    if (shard !== null && shard !== this.#shard) {
      this.#setMeta('shard', String(shard));
      this.#shard = shard;
    }
  }

  #meta(key: string): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>('SELECT value FROM actor_meta WHERE key = ?', key).toArray()[0]?.value ?? null;
  }

  #setMeta(key: string, value: string): void {
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO actor_meta (key, value) VALUES (?, ?)', key, value);
  }
}

/** A stored batch's rows as one text: the labelled chunks' and the sealed ones', decompressed. */
async function batchText(chunks: Chunk[], sealed: SealedChunk[]): Promise<string> {
  const parts = chunks.map((c) => c.text);
  for (const chunk of sealed) parts.push(await gunzip(chunk.gzip));
  return parts.join('');
}

/** The PatternIds in buffered rows: each line's last value (tenant-actor/patterns.ts). */
function* patternIdsIn(text: string): Generator<string> {
  for (const match of text.matchAll(/,"([0-9a-f]+)"\]\n/g)) yield match[1]!;
}
