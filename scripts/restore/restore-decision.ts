/**
 * What the restore does next with one archived batch, from what it has
 * seen: how many inserts it has sent and whether the batch is now in
 * ClickHouse (the flush's own check: scripts/restore/restore-batch.ts).
 *
 * - Stored before anything was sent: the batch never left ClickHouse; skip.
 * - Not stored: insert it under its batch id — the flush's own token — so a
 *   flush of the same batch still being retried by its actor and this insert
 *   are stored once (ClickHouse drops the second within its window).
 * - Still not stored after that insert: ClickHouse dropped it as a duplicate
 *   of the flush's insert, whose rows are gone since — a DELETE or an ALTER …
 *   DELETE keeps the table's recent insert tokens (TRUNCATE forgets them;
 *   measured on chDB, docs/operations.md). Insert again under a token of the
 *   restore's own, derived from the batch id, so a second restore run is
 *   dropped the same way.
 * - Still not stored after both: report it; never loop.
 */
export type RestoreStep = { kind: 'insert'; token: string } | { kind: 'done'; outcome: 'already-stored' | 'restored' } | { kind: 'give-up'; reason: string };

/** The token of the restore's second insert of a batch. */
export function restoreToken(batchId: string): string {
  return `${batchId}:restore`;
}

export function nextRestoreStep(batchId: string, insertsSent: number, stored: boolean): RestoreStep {
  if (stored) return { kind: 'done', outcome: insertsSent === 0 ? 'already-stored' : 'restored' };
  if (insertsSent === 0) return { kind: 'insert', token: batchId };
  if (insertsSent === 1) return { kind: 'insert', token: restoreToken(batchId) };
  return { kind: 'give-up', reason: `ClickHouse accepted ${insertsSent} inserts of the batch but its rows are not found` };
}
