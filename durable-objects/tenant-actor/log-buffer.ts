/**
 * The tenant actor's durable buffer: accepted rows, as serialised chunks, in
 * the object's own SQLite database, from the moment they are acknowledged until
 * ClickHouse and R2 both hold them.
 *
 * A flush is recorded before it is attempted (`pending_flushes`: its batch id
 * and the exact range of chunks), so a retry — after a failure, a crash or an
 * eviction — sends the same rows under the same batch id, and ClickHouse's
 * insert deduplication and R2's overwrite-by-key make the retry harmless.
 * Flushes cover disjoint, consecutive ranges, so several can be in flight.
 */
import type { Chunk } from '../../shared/row-format.ts';

export interface PendingFlush {
  batchId: string;
  firstSeq: number;
  lastSeq: number;
  rows: number;
  bytes: number;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
}

export interface BufferTotals {
  chunks: number;
  rows: number;
  bytes: number;
  /** Receive time (ms) of the oldest buffered chunk, or null when empty. */
  oldestReceivedAt: number | null;
}

export interface FlushLimits {
  batchMaxRows: number;
  batchMaxBytes: number;
}

type PendingFlushRow = {
  batch_id: string;
  first_seq: number;
  last_seq: number;
  rows: number;
  bytes: number;
  created_at: number;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
};

export class LogBuffer {
  #totals: BufferTotals;
  readonly #sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.#sql = storage.sql;
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS buffered_chunks (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id    TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        rows        INTEGER NOT NULL,
        bytes       INTEGER NOT NULL,
        data        TEXT    NOT NULL
      );
      CREATE TABLE IF NOT EXISTS pending_flushes (
        batch_id        TEXT    PRIMARY KEY,
        first_seq       INTEGER NOT NULL,
        last_seq        INTEGER NOT NULL,
        rows            INTEGER NOT NULL,
        bytes           INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error      TEXT
      );
    `);
    this.#totals = this.#readTotals();
  }

  get totals(): Readonly<BufferTotals> {
    return this.#totals;
  }

  /** Stores one request's chunks, all or none. */
  append(batchId: string, chunks: readonly Chunk[], receivedAt: number): void {
    this.storage.transactionSync(() => {
      for (const chunk of chunks) {
        this.#sql.exec(
          'INSERT INTO buffered_chunks (batch_id, received_at, rows, bytes, data) VALUES (?, ?, ?, ?, ?)',
          batchId,
          receivedAt,
          chunk.rows,
          chunk.bytes,
          chunk.text,
        );
      }
    });
    for (const chunk of chunks) {
      this.#totals.chunks += 1;
      this.#totals.rows += chunk.rows;
      this.#totals.bytes += chunk.bytes;
    }
    this.#totals.oldestReceivedAt ??= receivedAt;
  }

  /** Flushes recorded and not yet completed, oldest first. */
  pendingFlushes(): PendingFlush[] {
    return this.#sql.exec<PendingFlushRow>('SELECT * FROM pending_flushes ORDER BY first_seq').toArray().map(toPendingFlush);
  }

  /** Buffered rows and bytes that no pending flush covers yet, and the receive time of the oldest of them. */
  unassigned(): { rows: number; bytes: number; oldestReceivedAt: number | null } {
    const row = this.#sql
      .exec<{ rows: number | null; bytes: number | null; oldest: number | null }>(
        `SELECT sum(rows) AS rows, sum(bytes) AS bytes, min(received_at) AS oldest FROM buffered_chunks
         WHERE seq > (SELECT coalesce(max(last_seq), 0) FROM pending_flushes)`,
      )
      .one();
    return { rows: row.rows ?? 0, bytes: row.bytes ?? 0, oldestReceivedAt: row.oldest };
  }

  /**
   * Fixes the next flush: the oldest chunks no pending flush covers, up to the
   * batch limits (at least one chunk, however large), under a new batch id.
   */
  startFlush(batchId: string, now: number, limits: FlushLimits): PendingFlush | null {
    let firstSeq = -1;
    let lastSeq = -1;
    let rows = 0;
    let bytes = 0;
    for (const chunk of this.#sql.exec<{ seq: number; rows: number; bytes: number }>(
      'SELECT seq, rows, bytes FROM buffered_chunks WHERE seq > (SELECT coalesce(max(last_seq), 0) FROM pending_flushes) ORDER BY seq',
    )) {
      if (firstSeq !== -1 && (rows + chunk.rows > limits.batchMaxRows || bytes + chunk.bytes > limits.batchMaxBytes)) break;
      if (firstSeq === -1) firstSeq = chunk.seq;
      lastSeq = chunk.seq;
      rows += chunk.rows;
      bytes += chunk.bytes;
    }
    if (firstSeq === -1) return null;
    this.#sql.exec(
      'INSERT INTO pending_flushes (batch_id, first_seq, last_seq, rows, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      batchId,
      firstSeq,
      lastSeq,
      rows,
      bytes,
      now,
    );
    return { batchId, firstSeq, lastSeq, rows, bytes, createdAt: now, attempts: 0, nextAttemptAt: null, lastError: null };
  }

  /** The rows of a flush, as one text. */
  readFlush(flush: PendingFlush): string {
    const parts: string[] = [];
    for (const row of this.#sql.exec<{ data: string }>(
      'SELECT data FROM buffered_chunks WHERE seq BETWEEN ? AND ? ORDER BY seq',
      flush.firstSeq,
      flush.lastSeq,
    )) {
      parts.push(row.data);
    }
    return parts.join('');
  }

  /** Both stores hold the rows: they leave the buffer. */
  completeFlush(flush: PendingFlush): void {
    this.storage.transactionSync(() => {
      this.#sql.exec('DELETE FROM buffered_chunks WHERE seq BETWEEN ? AND ?', flush.firstSeq, flush.lastSeq);
      this.#sql.exec('DELETE FROM pending_flushes WHERE batch_id = ?', flush.batchId);
    });
    this.#totals = this.#readTotals();
  }

  failFlush(flush: PendingFlush, nextAttemptAt: number, error: string): PendingFlush {
    const attempts = flush.attempts + 1;
    this.#sql.exec(
      'UPDATE pending_flushes SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE batch_id = ?',
      attempts,
      nextAttemptAt,
      error.slice(0, 1000),
      flush.batchId,
    );
    return { ...flush, attempts, nextAttemptAt, lastError: error };
  }

  #readTotals(): BufferTotals {
    const row = this.#sql
      .exec<{ chunks: number; rows: number | null; bytes: number | null; oldest: number | null }>(
        'SELECT count(*) AS chunks, sum(rows) AS rows, sum(bytes) AS bytes, min(received_at) AS oldest FROM buffered_chunks',
      )
      .one();
    return { chunks: row.chunks, rows: row.rows ?? 0, bytes: row.bytes ?? 0, oldestReceivedAt: row.oldest };
  }
}

function toPendingFlush(row: PendingFlushRow): PendingFlush {
  return {
    batchId: row.batch_id,
    firstSeq: row.first_seq,
    lastSeq: row.last_seq,
    rows: row.rows,
    bytes: row.bytes,
    createdAt: row.created_at,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
  };
}
