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
 *
 * A chunk's `data` is either text (rows the actor labelled, or rewritten by
 * an erasure) or a BLOB: a sealed chunk, one gzip member exactly as the
 * ingest worker made it (shared/gzip.ts), which the actor stores, counts and
 * forwards without reading. SQLite keeps each value's own type.
 */
import { gunzip } from '../../shared/gzip.ts';
import { utf8Length, type Chunk, type SealedChunk } from '../../shared/row-format.ts';
import type { RangeLog } from './flush.ts';

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

/** A buffered chunk as stored: rows as text, or a sealed chunk's gzip member. */
export type ChunkData = string | Uint8Array;

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
    // Tables buffered_chunks and pending_flushes: the actor's schema (tenant-actor/schema.ts).
    this.#totals = this.#readTotals();
  }

  get totals(): Readonly<BufferTotals> {
    return this.#totals;
  }

  /** Stores one request's chunks, all or none. */
  append(batchId: string, chunks: readonly Chunk[], sealed: readonly SealedChunk[], receivedAt: number): void {
    this.storage.transactionSync(() => {
      for (const chunk of sealed) {
        this.#sql.exec(
          'INSERT INTO buffered_chunks (batch_id, received_at, rows, bytes, data) VALUES (?, ?, ?, ?, ?)',
          batchId,
          receivedAt,
          chunk.rows,
          chunk.bytes,
          chunk.gzip,
        );
      }
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
    for (const chunk of [...chunks, ...sealed]) {
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

  /** The chunks of a flush, in order, as stored. */
  readFlush(flush: PendingFlush): ChunkData[] {
    const parts: ChunkData[] = [];
    for (const row of this.#sql.exec<{ data: string | ArrayBuffer }>(
      'SELECT data FROM buffered_chunks WHERE seq BETWEEN ? AND ? ORDER BY seq',
      flush.firstSeq,
      flush.lastSeq,
    )) {
      parts.push(typeof row.data === 'string' ? row.data : new Uint8Array(row.data));
    }
    return parts;
  }

  /** Both stores hold the rows: they leave the buffer. */
  completeFlush(flush: PendingFlush): void {
    this.storage.transactionSync(() => {
      this.#sql.exec('DELETE FROM buffered_chunks WHERE seq BETWEEN ? AND ?', flush.firstSeq, flush.lastSeq);
      this.#sql.exec('DELETE FROM pending_flushes WHERE batch_id = ?', flush.batchId);
      this.#sql.exec('DELETE FROM flush_ranges WHERE batch_id = ?', flush.batchId);
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

  /** Every buffered chunk's sequence number, oldest first (for a pass over the buffer one chunk at a time). */
  chunkSeqs(): number[] {
    return this.#sql
      .exec<{ seq: number }>('SELECT seq FROM buffered_chunks ORDER BY seq')
      .toArray()
      .map((r) => r.seq);
  }

  /**
   * Removes the rows `matches` selects from one chunk, in one transaction. A
   * removed row leaves an empty line in its place: a pending flush may have
   * recorded outcomes for ranges of its lines (tenant-actor/flush.ts), and
   * these must keep pointing at the same rows; empty lines are never sent. The
   * chunk's count and size, and those of the pending flush covering it, are
   * updated; a chunk left empty that no flush covers is deleted. A sealed
   * chunk is read (its one decompression) and, when a row goes, kept as text.
   * Returns the rows removed.
   */
  async eraseInChunk(seq: number, matches: (line: string) => boolean): Promise<number> {
    const chunk = this.#sql.exec<{ data: string | ArrayBuffer }>('SELECT data FROM buffered_chunks WHERE seq = ?', seq).toArray()[0];
    if (!chunk) return 0;
    const sealed = typeof chunk.data !== 'string';
    const data = typeof chunk.data === 'string' ? chunk.data : await gunzip(chunk.data);
    const lines = (data.endsWith('\n') ? data.slice(0, -1) : data).split('\n');
    let erased = 0;
    let kept = 0;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') continue;
      if (matches(lines[i]!)) {
        lines[i] = '';
        erased++;
      } else {
        kept++;
      }
    }
    if (erased === 0) return 0;
    if (sealed) {
      // While a sealed chunk was read, a flush may have completed (and deleted it: it stored the
      // rows, and the caller's DELETE in ClickHouse follows) or another erasure rewritten it as text.
      const now = this.#sql.exec<{ kind: string }>('SELECT typeof(data) AS kind FROM buffered_chunks WHERE seq = ?', seq).toArray()[0];
      if (!now) return 0;
      if (now.kind !== 'blob') return this.eraseInChunk(seq, matches);
    }
    this.storage.transactionSync(() => {
      const covered = this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM pending_flushes WHERE ? BETWEEN first_seq AND last_seq', seq).one().n > 0;
      if (kept === 0 && !covered) {
        this.#sql.exec('DELETE FROM buffered_chunks WHERE seq = ?', seq);
      } else {
        const text = `${lines.join('\n')}\n`;
        this.#sql.exec('UPDATE buffered_chunks SET data = ?, rows = ?, bytes = ? WHERE seq = ?', text, kept, utf8Length(text), seq);
      }
      if (covered) {
        this.#sql.exec(
          `UPDATE pending_flushes SET
             rows  = (SELECT coalesce(sum(rows), 0)  FROM buffered_chunks WHERE seq BETWEEN pending_flushes.first_seq AND pending_flushes.last_seq),
             bytes = (SELECT coalesce(sum(bytes), 0) FROM buffered_chunks WHERE seq BETWEEN pending_flushes.first_seq AND pending_flushes.last_seq)
           WHERE ? BETWEEN first_seq AND last_seq`,
          seq,
        );
      }
    });
    this.#totals = this.#readTotals();
    return erased;
  }

  /** A flush's record of its ranges' outcomes (tenant-actor/flush.ts), kept in SQLite for its retries. */
  rangeLog(batchId: string): RangeLog {
    return {
      get: (lo, hi) => {
        const row = this.#sql
          .exec<{ outcome: 'landed' | 'refused'; reason: string | null }>(
            'SELECT outcome, reason FROM flush_ranges WHERE batch_id = ? AND lo = ? AND hi = ?',
            batchId,
            lo,
            hi,
          )
          .toArray()[0];
        return row ?? null;
      },
      set: (lo, hi, outcome, reason) => {
        this.#sql.exec('INSERT OR REPLACE INTO flush_ranges (batch_id, lo, hi, outcome, reason) VALUES (?, ?, ?, ?, ?)', batchId, lo, hi, outcome, reason);
      },
    };
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
