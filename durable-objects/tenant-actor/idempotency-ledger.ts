/**
 * IdempotencyLedger: which batches this actor has already accepted, so that a
 * batch sent again is answered as the first time — stored and counted once.
 *
 * Two kinds of entry, in one table:
 * - a client's `Idempotency-Key` (`k:<key>`), kept for a day, with the
 *   fingerprint of what was sent under it: the same key with another body is
 *   a client bug, refused as Stripe refuses it (`idempotency_key_reused`)
 *   rather than answered as a replay of something else;
 * - every batch under its own id (`b:<batchId>`), kept for five minutes: when the
 *   ingest worker loses the actor's answer (a connection reset after the
 *   write), it asks again with the same batch, and the ledger says whether the
 *   first attempt was stored.
 *
 * A key whose day has passed is free again: recording replaces the old entry
 * (the roll-up alarm also deletes expired ones, but need not have run yet).
 * Lookups and records are synchronous SQL, part of the ingest transaction.
 */

/** How long a client's key is remembered: its retries come within minutes, a day covers an outage. */
export const CLIENT_KEY_WINDOW_MS = 24 * 3_600_000;
/**
 * How long a batch id is remembered: the worker asks again within the same
 * request, seconds later. Short, because every batch is filed: at 1,000
 * batches/s an actor holds 300,000 entries.
 */
export const BATCH_ID_WINDOW_MS = 5 * 60_000;

export type LedgerAnswer = { kind: 'new' } | { kind: 'replay'; rows: number; bytes: number } | { kind: 'conflict'; acceptedAt: number };

/** The ledger entry a batch is filed under: its client's key, else its own id. */
export interface LedgerKey {
  key: string;
  fingerprint: string | null;
  windowMs: number;
}

export function ledgerKeyOf(batch: { batchId: string; idempotencyKey?: string; fingerprint?: string }): LedgerKey {
  if (batch.idempotencyKey !== undefined) return { key: `k:${batch.idempotencyKey}`, fingerprint: batch.fingerprint ?? null, windowMs: CLIENT_KEY_WINDOW_MS };
  return { key: `b:${batch.batchId}`, fingerprint: null, windowMs: BATCH_ID_WINDOW_MS };
}

export class IdempotencyLedger {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** What an earlier batch filed under this key says about this one. */
  check(entry: LedgerKey, now: number): LedgerAnswer {
    const row = this.#sql
      .exec<{ rows: number; bytes: number; fingerprint: string | null; accepted_at: number }>(
        'SELECT rows, bytes, fingerprint, accepted_at FROM accepted_batches WHERE idempotency_key = ? AND expires_at > ?',
        entry.key,
        now,
      )
      .toArray()[0];
    if (!row) return { kind: 'new' };
    // Entries from before fingerprints were kept (null) are taken at their word.
    if (row.fingerprint !== null && entry.fingerprint !== null && row.fingerprint !== entry.fingerprint)
      return { kind: 'conflict', acceptedAt: row.accepted_at };
    return { kind: 'replay', rows: row.rows, bytes: row.bytes };
  }

  /** Files an accepted batch (replacing an entry whose window has passed). */
  record(entry: LedgerKey, now: number, rows: number, bytes: number): void {
    this.#sql.exec(
      'INSERT OR REPLACE INTO accepted_batches (idempotency_key, accepted_at, rows, bytes, fingerprint, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      entry.key,
      now,
      rows,
      bytes,
      entry.fingerprint,
      now + entry.windowMs,
    );
  }

  forgetExpired(now: number): void {
    this.#sql.exec('DELETE FROM accepted_batches WHERE expires_at <= ?', now);
  }
}
