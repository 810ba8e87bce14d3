/**
 * TenantActor: one SQLite-backed Durable Object per tenant, the single place
 * where a tenant's writes are serialised.
 *
 * - `ingest()` (RPC from the ingest worker) appends the batch to the durable
 *   buffer and returns. The runtime's output gate holds that return until the
 *   write is durable, so the worker's 202 is a durable acknowledgement.
 * - `alarm()` flushes: the oldest buffered rows go to R2 (gzip NDJSON) and to
 *   ClickHouse (one insert, deduplicated by batch id). Only when both succeed do
 *   the rows leave the buffer; on failure they stay and the alarm retries with
 *   capped exponential backoff.
 *
 * Flushing happens only in the alarm: alarms never overlap, so at most one
 * flush is in flight, and while it awaits the network new batches can still
 * be appended — the flush covers a fixed range of chunks, recorded before the
 * first attempt.
 */
import { DurableObject } from 'cloudflare:workers';
import { clickHouseClient, insertRows, LOGS_TABLE } from '../shared/clickhouse.ts';
import { loadConfig, type ConfigBindings, type FlushPolicy } from '../shared/config.ts';
import { newBatchId } from '../shared/ids.ts';
import { logEvent } from '../shared/logger.ts';
import { ARCHIVE_HEADER, type Chunk } from '../shared/row-format.ts';
import { archiveKey, writeArchive } from './archive.ts';
import { retryDelay } from './backoff.ts';
import { LogBuffer, type BufferTotals, type PendingFlush } from './log-buffer.ts';

export interface TenantActorEnv extends ConfigBindings {
  ARCHIVE: R2Bucket;
}

/** What the ingest worker hands over: normalised rows, already serialised (shared/row-format.ts). */
export interface ActorBatch {
  tenantId: string;
  batchId: string;
  requestId: string;
  receivedAt: number;
  chunks: Chunk[];
}

export interface IngestReceipt {
  accepted: number;
  bytes: number;
  buffered: { rows: number; bytes: number };
}

interface FlushTimings {
  readMs: number;
  archiveMs: number;
  insertMs: number;
  archivedBytes: number;
}

export interface ActorStats {
  tenantId: string | null;
  buffered: BufferTotals;
  pendingFlush: PendingFlush | null;
  alarmAt: number | null;
}

export class TenantActor extends DurableObject<TenantActorEnv> {
  readonly #buffer: LogBuffer;
  readonly #policy: FlushPolicy;
  #tenantId: string | null = null;
  /** When the alarm is set for (ms), mirrored here so ingest need not read it back. */
  #alarmAt: number | null = null;
  #flushing = false;

  constructor(ctx: DurableObjectState, env: TenantActorEnv) {
    super(ctx, env);
    this.#policy = loadConfig(env).flush;
    this.#buffer = new LogBuffer(ctx.storage);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS actor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.#tenantId =
      ctx.storage.sql.exec<{ value: string }>("SELECT value FROM actor_meta WHERE key = 'tenant_id'").toArray()[0]?.value ?? null;
    ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  async ingest(batch: ActorBatch): Promise<IngestReceipt> {
    this.#bindTenant(batch.tenantId);
    let rows = 0;
    let bytes = 0;
    for (const chunk of batch.chunks) {
      rows += chunk.rows;
      bytes += chunk.bytes;
    }
    this.#buffer.append(batch.batchId, batch.chunks, batch.receivedAt);
    await this.#scheduleFlush(Date.now());
    const totals = this.#buffer.totals;
    return { accepted: rows, bytes, buffered: { rows: totals.rows, bytes: totals.bytes } };
  }

  async stats(): Promise<ActorStats> {
    return {
      tenantId: this.#tenantId,
      buffered: { ...this.#buffer.totals },
      pendingFlush: this.#buffer.pendingFlush(),
      alarmAt: this.#alarmAt,
    };
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    // A pending flush is retried whenever the alarm runs: the alarm is only
    // ever set for its retry time, so running means the time has come.
    let flush = this.#buffer.pendingFlush();
    if (!flush) {
      if (!this.#flushDue(now)) {
        await this.#scheduleFlush(now);
        return;
      }
      flush = this.#buffer.startFlush(newBatchId(now), now, this.#policy);
      if (!flush) return;
    }

    this.#flushing = true;
    const started = Date.now();
    let timings: FlushTimings;
    try {
      timings = await this.#writeStores(flush);
    } catch (err) {
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
      await this.#setAlarm(failed.nextAttemptAt!);
      return;
    } finally {
      this.#flushing = false;
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
    await this.#scheduleFlush(Date.now());
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
    const config = loadConfig(this.env).clickhouse;
    await insertRows(clickHouseClient(config), LOGS_TABLE, rows, flush.batchId);
    return { readMs: t1 - t0, archiveMs: t2 - t1, insertMs: Date.now() - t2, archivedBytes };
  }

  #flushDue(now: number): boolean {
    const totals = this.#buffer.totals;
    if (totals.rows === 0) return false;
    return (
      totals.rows >= this.#policy.maxRows ||
      totals.bytes >= this.#policy.maxBytes ||
      now - (totals.oldestReceivedAt ?? now) >= this.#policy.maxAgeMs
    );
  }

  /** Brings the alarm forward to when the next flush is due; never pushes it back. */
  async #scheduleFlush(now: number): Promise<void> {
    if (this.#flushing) return; // the running flush schedules the next one when it ends
    const pending = this.#buffer.pendingFlush();
    let due: number | null;
    if (pending) due = pending.nextAttemptAt ?? now;
    else if (this.#buffer.totals.rows === 0) due = null;
    else if (this.#flushDue(now)) due = now;
    else due = this.#buffer.totals.oldestReceivedAt! + this.#policy.maxAgeMs;
    if (due !== null && (this.#alarmAt === null || due < this.#alarmAt)) await this.#setAlarm(due);
  }

  async #setAlarm(at: number): Promise<void> {
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** The object is named after its tenant; a batch for anyone else is a routing bug. */
  #bindTenant(tenantId: string): void {
    if (this.#tenantId === tenantId) return;
    if (this.#tenantId !== null) {
      throw new Error(`tenant actor of "${this.#tenantId}" was handed a batch of "${tenantId}"`);
    }
    this.ctx.storage.sql.exec("INSERT INTO actor_meta (key, value) VALUES ('tenant_id', ?)", tenantId);
    this.#tenantId = tenantId;
  }
}
