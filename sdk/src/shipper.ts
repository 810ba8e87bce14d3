/**
 * The shipper under every logger of one createLogger: a bounded queue of
 * serialised records, cut into batches by count, bytes and age, sent one
 * at a time in order (retries included), paced by the ingest's RateLimit
 * headers. Batches cut when a browser page is hidden are sent at once with
 * `keepalive` and, when asked, kept in IndexedDB until acknowledged.
 *
 * `flush()` resolves when every record logged before it was acknowledged or
 * dropped: records are numbered, and a waiter is released when no unsettled
 * record has a number at or below its target.
 */
import { type Answer, type DropReason, decide, paceDelay, type RateState, type RetryPolicy } from './decide.ts';
import type { DropEvent, RecordTransform, ShipperStats } from './options.ts';
import type { BatchStore, StoredBatch } from './persistence.ts';
import type { LogRecord } from './record.ts';
import { canGzip, newBatchKey, post } from './transport.ts';
import { utf8Length } from './record.ts';

export interface ShipperConfig {
  url: string;
  apiKey: string;
  maxBatchRecords: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  maxQueueRecords: number;
  maxQueueBytes: number;
  dropPolicy: 'drop-oldest' | 'drop-newest';
  maxRecordBytes: number;
  gzip: boolean;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  onDrop?: (event: DropEvent) => void;
  transform?: RecordTransform;
  /** Calls of `transform` running at once (≥ 1). */
  transformConcurrency: number;
  fetch: typeof fetch;
}

interface Queued {
  json: string;
  bytes: number;
  seq: number;
  at: number;
}

interface Batch {
  key: string;
  lines: string[];
  records: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  persisted: boolean;
  /** Dropped by close()'s deadline while its request was still out: its answer is ignored. */
  abandoned: boolean;
}

/** Chromium, Firefox and Safari allow 64 KiB of keepalive request bodies in flight per page; a little is left for headers. */
const KEEPALIVE_MAX_BYTES = 60 * 1024;

const NO_DROPS = (): Record<DropReason, number> => ({
  rejected: 0,
  retries_exhausted: 0,
  retry_after_too_long: 0,
  closed: 0,
  queue_full: 0,
  record_too_large: 0,
  transform_failed: 0,
});

export class Shipper {
  private readonly queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Batches cut but not yet sent (on page hide, or restored from IndexedDB), sent before the queue. */
  private readonly ready: Batch[] = [];
  private readonly inFlight = new Set<Batch>();
  private seq = 0;
  /** Records numbered at or below this are sent without waiting for their age (flush/close asked). */
  private flushThrough = 0;
  private rate: RateState | undefined;
  private running = false;
  private again = false;
  private intervalTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly sleeps = new Set<{ timer: ReturnType<typeof setTimeout>; wake: () => void }>();
  private readonly waiters: { target: number; resolve: (settled: boolean) => void }[] = [];
  /** Records between log() and the queue: the transform hook's work, a restore from IndexedDB. */
  private intake: Promise<void> = Promise.resolve();
  /** Records waiting for (or in) the transform hook: bounded like the queue, or a hook slower than the logging grows it without end. */
  private transforming = 0;
  /** Transform calls running, and those waiting for one of them to settle (first logged, first started). */
  private transformsRunning = 0;
  private readonly transformsWaiting: (() => void)[] = [];
  private closed = false;
  private deadline: number | undefined;
  private pendingQueueFull = 0;
  private readonly counters: Omit<ShipperStats, 'queued' | 'inFlight' | 'droppedByReason'> = {
    logged: 0,
    acknowledged: 0,
    dropped: 0,
    batches: 0,
    retries: 0,
    rateLimited: 0,
    pacedMs: 0,
  };
  private readonly droppedByReason = NO_DROPS();
  store: BatchStore | undefined;

  constructor(private readonly config: ShipperConfig) {}

  /** A record from a logger (synchronous; never throws). */
  accept(record: LogRecord): void {
    if (this.closed) {
      this.report({ reason: 'closed', records: 1, message: 'logged after close()' });
      return;
    }
    this.counters.logged++;
    const transform = this.config.transform;
    if (!transform) {
      this.enqueue(record);
      return;
    }
    // The records already waiting are older, and in a chain that cannot give one back: this one goes, whatever the policy.
    if (this.transforming + this.queueLength() >= this.config.maxQueueRecords) {
      this.queueFull(1);
      return;
    }
    this.transforming++;
    // The call starts now, or when one of the running calls settles (overlapping theirs); the record is queued after the
    // ones logged before it, whichever call finishes first.
    const output = this.startTransform(transform, record);
    // Handled below, when the records before it are queued: until then a rejection must not count as unhandled.
    output.catch(() => {});
    this.intake = this.intake.then(async () => {
      let out: LogRecord | null;
      try {
        out = await output;
      } catch (err) {
        this.report({ reason: 'transform_failed', records: 1, message: `the transform hook failed: ${describe(err)}` });
        return;
      } finally {
        this.transforming--;
      }
      if (out) this.enqueue(out);
    });
  }

  private startTransform(transform: RecordTransform, record: LogRecord): Promise<LogRecord | null> {
    return new Promise((resolve, reject) => {
      const run = () => {
        this.transformsRunning++;
        const settled = () => {
          this.transformsRunning--;
          this.transformsWaiting.shift()?.();
        };
        (async () => transform(record))().then(
          (out) => {
            settled();
            resolve(out);
          },
          (err: unknown) => {
            settled();
            reject(err);
          },
        );
      };
      if (this.transformsRunning < this.config.transformConcurrency) run();
      else this.transformsWaiting.push(run);
    });
  }

  private enqueue(record: LogRecord): void {
    let json: string;
    try {
      json = JSON.stringify(record);
    } catch (err) {
      // Only a hostile transform's output gets here: the logger made the record JSON-safe.
      json = JSON.stringify({ timestamp: record.timestamp, level: record.level, message: `[unserializable record: ${describe(err)}]` });
    }
    const bytes = utf8Length(json);
    if (bytes > this.config.maxRecordBytes) {
      this.report({ reason: 'record_too_large', records: 1, message: `a record of ${bytes} bytes is over maxRecordBytes (${this.config.maxRecordBytes})` });
      return;
    }
    if (this.queueLength() + 1 > this.config.maxQueueRecords || this.queuedBytes + bytes > this.config.maxQueueBytes) {
      if (this.config.dropPolicy === 'drop-newest') {
        this.queueFull(1);
        return;
      }
      let dropped = 0;
      while (this.queueLength() > 0 && (this.queueLength() + 1 > this.config.maxQueueRecords || this.queuedBytes + bytes > this.config.maxQueueBytes)) {
        const oldest = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as Queued;
        this.queuedBytes -= oldest.bytes;
        dropped++;
      }
      this.compact();
      this.queueFull(dropped);
    }
    const entry: Queued = { json, bytes, seq: ++this.seq, at: Date.now() };
    this.queue.push(entry);
    this.queuedBytes += bytes;
    if (this.queueLength() >= this.config.maxBatchRecords || this.queuedBytes >= this.config.maxBatchBytes) this.kick();
    else if (this.intervalTimer === undefined && !this.running) this.armInterval(this.config.flushIntervalMs);
  }

  private queueLength(): number {
    return this.queue.length - this.head;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Drops for a full queue come one record at a time under pressure: reported together, once per tick. */
  private queueFull(records: number): void {
    if (records === 0) return;
    if (this.pendingQueueFull === 0) {
      queueMicrotask(() => {
        const n = this.pendingQueueFull;
        this.pendingQueueFull = 0;
        this.report({ reason: 'queue_full', records: n, message: `the queue was full (${this.config.dropPolicy})` });
        this.settle();
      });
    }
    this.pendingQueueFull += records;
  }

  /** The next batch: the first `ready` one, else one cut from the queue when it is due (full, old enough, or flushed). */
  private nextBatch(): Batch | undefined {
    const ready = this.ready.shift();
    if (ready) return ready;
    const front = this.queue[this.head];
    if (!front) return undefined;
    const due =
      this.queueLength() >= this.config.maxBatchRecords ||
      this.queuedBytes >= this.config.maxBatchBytes ||
      front.seq <= this.flushThrough ||
      this.deadline !== undefined ||
      Date.now() - front.at >= this.config.flushIntervalMs;
    if (!due) {
      this.armInterval(front.at + this.config.flushIntervalMs - Date.now());
      return undefined;
    }
    return this.cut(this.config.maxBatchBytes);
  }

  private cut(maxBytes: number): Batch | undefined {
    const lines: string[] = [];
    let bytes = 0;
    let firstSeq = 0;
    let lastSeq = 0;
    while (this.head < this.queue.length && lines.length < this.config.maxBatchRecords) {
      const entry = this.queue[this.head]!;
      // +1 for the newline; a batch always takes at least one record (none is over maxRecordBytes).
      if (lines.length > 0 && bytes + entry.bytes + 1 > maxBytes) break;
      this.queue[this.head++] = undefined as unknown as Queued;
      this.queuedBytes -= entry.bytes;
      if (lines.length === 0) firstSeq = entry.seq;
      lastSeq = entry.seq;
      lines.push(entry.json);
      bytes += entry.bytes + 1;
    }
    this.compact();
    if (lines.length === 0) return undefined;
    return { key: newBatchKey(), lines, records: lines.length, bytes, firstSeq, lastSeq, persisted: false, abandoned: false };
  }

  private armInterval(ms: number): void {
    if (this.intervalTimer !== undefined) clearTimeout(this.intervalTimer);
    this.intervalTimer = setTimeout(
      () => {
        this.intervalTimer = undefined;
        this.kick();
      },
      Math.max(0, ms),
    );
    // An idle logger must not keep a Node process alive; flush()/close() hold it while they wait.
    if (this.waiters.length === 0) unref(this.intervalTimer);
  }

  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.intervalTimer !== undefined) {
      clearTimeout(this.intervalTimer);
      this.intervalTimer = undefined;
    }
    this.running = true;
    this.again = false;
    void this.run()
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        if (this.again) this.kick();
      });
  }

  private async run(): Promise<void> {
    for (;;) {
      this.again = false;
      const batch = this.nextBatch();
      if (!batch) return;
      this.inFlight.add(batch);
      // Kept from the moment it is cut, so a page that goes away without warning loses no batch it had started.
      if (this.store && !batch.persisted) {
        batch.persisted = true;
        this.store.save([{ key: batch.key, lines: batch.lines, bytes: batch.bytes, savedAt: Date.now() }]);
      }
      await this.ship(batch, false);
    }
  }

  /** Sends one batch until it is acknowledged or dropped. */
  private async ship(batch: Batch, keepalive: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!keepalive) {
        const wait = paceDelay(this.rate, batch, Date.now());
        if (wait > 0) {
          this.counters.pacedMs += wait;
          await this.sleep(wait);
        }
      }
      if (batch.abandoned) return;
      const result = await post({
        url: this.config.url,
        apiKey: this.config.apiKey,
        body: batch.lines.join('\n'),
        idempotencyKey: batch.key,
        // keepalive bodies go out from the event handler itself: compressing would wait for the event loop, which a closing page may not give.
        gzip: this.config.gzip && !keepalive,
        timeoutMs: this.config.requestTimeoutMs,
        keepalive,
        fetch: this.config.fetch,
      });
      keepalive = false; // a retry is an ordinary request
      if (batch.abandoned) return;
      if (result.rate) this.rate = result.rate;
      if (result.answer.kind === 'response' && result.answer.status === 429) this.counters.rateLimited++;
      const step = decide({
        answer: result.answer,
        attempt,
        policy: this.config.retry,
        random: Math.random(),
        ...(this.deadline !== undefined && { remainingMs: this.deadline - Date.now() }),
      });
      if (step.action === 'ack') {
        this.counters.acknowledged += batch.records;
        this.counters.batches++;
        this.finish(batch);
        return;
      }
      if (step.action === 'drop') {
        this.report({
          reason: step.reason,
          records: batch.records,
          ...(result.answer.kind === 'response' && { status: result.answer.status }),
          ...(result.error && { error: result.error }),
          message: dropMessage(step.reason, result.answer, result.failure, attempt),
        });
        this.finish(batch);
        return;
      }
      this.counters.retries++;
      await this.sleep(step.delayMs);
    }
  }

  private finish(batch: Batch): void {
    this.inFlight.delete(batch);
    if (batch.persisted) this.store?.remove(batch.key);
    this.settle();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      if (this.waiters.length === 0) unref(entry.timer);
      this.sleeps.add(entry);
    });
  }

  /** Releases the flush waiters whose records are all settled. */
  private settle(): void {
    if (this.waiters.length === 0) return;
    let lowest = Number.POSITIVE_INFINITY;
    for (const batch of this.inFlight) lowest = Math.min(lowest, batch.firstSeq);
    for (const batch of this.ready) lowest = Math.min(lowest, batch.firstSeq);
    const front = this.queue[this.head];
    if (front) lowest = Math.min(lowest, front.seq);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.target < lowest) {
        this.waiters.splice(i, 1);
        waiter.resolve(true);
      }
    }
  }

  /** Resolves true when every record logged before the call is acknowledged or dropped; false after `timeoutMs`. */
  async flush(timeoutMs?: number): Promise<boolean> {
    await this.intake;
    const target = this.seq;
    const settled = new Promise<boolean>((resolve) => this.waiters.push({ target, resolve }));
    // Timers now hold a Node process open: the caller is waiting for them.
    if (this.intervalTimer !== undefined) ref(this.intervalTimer);
    for (const s of this.sleeps) ref(s.timer);
    this.flushThrough = Math.max(this.flushThrough, target);
    this.settle();
    this.kick();
    if (timeoutMs === undefined) return settled;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([settled, timeout]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * Stops taking records and sends what is left; resolves when everything was
   * acknowledged or dropped. With `timeoutMs`, what is still unacknowledged then
   * is dropped (reason `closed`, reported) and it resolves false.
   */
  async close(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined) this.deadline = Date.now() + timeoutMs;
    const done = this.flush(timeoutMs);
    this.closed = true;
    const settled = await done;
    if (!settled) this.abandonAll();
    if (this.intervalTimer !== undefined) clearTimeout(this.intervalTimer);
    return settled;
  }

  private abandonAll(): void {
    let records = this.queueLength();
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
    for (const batch of [...this.ready.splice(0), ...this.inFlight]) {
      batch.abandoned = true;
      records += batch.records;
    }
    this.inFlight.clear();
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleeps.clear();
    if (records > 0) this.report({ reason: 'closed', records, message: `close() timed out with ${records} records unacknowledged` });
    this.settle();
  }

  /**
   * The page is being hidden (maybe for good): everything queued is cut into
   * batches now, so their Idempotency-Keys are fixed; the first goes at once with
   * `keepalive`; with persistence all unacknowledged batches are saved, to be sent
   * again on the next load under the same keys (the ingest stores each once).
   */
  pageHidden(): void {
    try {
      for (let batch = this.cut(KEEPALIVE_MAX_BYTES); batch; batch = this.cut(KEEPALIVE_MAX_BYTES)) this.ready.push(batch);
      if (this.store) {
        const unsaved = [...this.inFlight, ...this.ready].filter((b) => !b.persisted);
        for (const b of unsaved) b.persisted = true;
        if (unsaved.length > 0) this.store.save(unsaved.map((b) => ({ key: b.key, lines: b.lines, bytes: b.bytes, savedAt: Date.now() })));
      }
      const first = this.ready.shift();
      if (first) {
        this.inFlight.add(first);
        void this.ship(first, true).catch(() => undefined);
      }
      if (this.ready.length > 0) this.kick();
    } catch {
      // never into the page's event handler
    }
  }

  /** Batches saved by an earlier page: sent first, under their own keys. */
  restore(load: () => Promise<StoredBatch[]>): void {
    this.intake = this.intake.then(async () => {
      let batches: StoredBatch[];
      try {
        batches = await load();
      } catch {
        return;
      }
      for (const stored of batches) {
        const firstSeq = this.seq + 1;
        this.seq += stored.lines.length;
        this.ready.push({
          key: stored.key,
          lines: stored.lines,
          records: stored.lines.length,
          bytes: stored.bytes,
          firstSeq,
          lastSeq: this.seq,
          persisted: true,
          abandoned: false,
        });
      }
      if (batches.length > 0) this.kick();
    });
  }

  stats(): ShipperStats {
    let inFlight = 0;
    for (const b of this.inFlight) inFlight += b.records;
    for (const b of this.ready) inFlight += b.records;
    return { ...this.counters, queued: this.queueLength() + this.transforming, inFlight, droppedByReason: { ...this.droppedByReason } };
  }

  private report(event: DropEvent): void {
    this.counters.dropped += event.records;
    this.droppedByReason[event.reason] += event.records;
    try {
      this.config.onDrop?.(event);
    } catch {
      // the application's callback must not break the shipper
    }
  }
}

function dropMessage(reason: DropReason, answer: Answer, failure: string | undefined, attempts: number): string {
  const what = answer.kind === 'response' ? `HTTP ${answer.status}` : answer.kind === 'timeout' ? 'a timeout' : `a network error (${failure ?? 'unknown'})`;
  switch (reason) {
    case 'rejected':
      return `the ingest refused the batch with ${what}; sending it again cannot succeed`;
    case 'retries_exhausted':
      return `gave up after ${attempts} attempts; the last ended with ${what}`;
    case 'retry_after_too_long':
      return `the ingest asked to wait longer than retry.maxRetryAfterMs (${what})`;
    default:
      return `close() ran out of time after ${what}`;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Node's timers can be unreferenced; browsers', Deno's and workerd's are numbers. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

function ref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { ref?: () => void }).ref?.();
}

export { canGzip };
