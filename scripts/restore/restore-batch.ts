/**
 * Restores one archived batch into ClickHouse, at most once: the decisions
 * are scripts/restore/restore-decision.ts's; "is it stored?" is the flush's
 * own point lookup (tenant-actor/row-probe.ts), asked of the batch's first and last rows.
 *
 * Why two rows: an insert is one block, all or nothing, so any row tells
 * whether the batch landed — unless `DELETE /v1/logs` erased that row since
 * (the archive keeps erased rows). With one probe, a batch whose first row was
 * erased would look lost and be inserted again, duplicating the rest; two
 * probes make that need an erasure of both ends of the same batch.
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { isDataRefusal } from '../../shared/clickhouse.ts';
import { isRowStored } from '../../durable-objects/tenant-actor/row-probe.ts';
import { type ArchivedBatch, rowIdentity } from './archived-batch.ts';
import { nextRestoreStep } from './restore-decision.ts';

export interface RestoreTarget {
  clickhouse: ClickHouseClient;
  /** Inserts an archive object as it is (gzip, its header naming the columns) under a deduplication token. */
  insertArchiveObject(gzip: Uint8Array<ArrayBuffer>, token: string): Promise<void>;
}

export type BatchOutcome =
  | { outcome: 'already-stored' | 'restored'; rows: number; inserts: number }
  | { outcome: 'refused' | 'not-stored'; rows: number; inserts: number; reason: string };

export async function restoreBatch(target: RestoreTarget, batch: ArchivedBatch): Promise<BatchOutcome> {
  const rows = batch.rows.length;
  if (rows === 0) return { outcome: 'already-stored', rows, inserts: 0 }; // every row erased before the flush: nothing to restore
  const probes = rows === 1 ? [batch.rows[0]!] : [batch.rows[0]!, batch.rows[rows - 1]!];
  const stored = async () => {
    for (const row of probes) if (await isRowStored(target.clickhouse, rowIdentity(batch, row))) return true;
    return false;
  };
  let inserts = 0;
  for (;;) {
    let found: boolean;
    try {
      found = await stored();
    } catch (err) {
      // A value the lookup cannot even take as a parameter (a timestamp that is no time) cannot be stored either.
      if (isDataRefusal(err)) return { outcome: 'refused', rows, inserts, reason: (err as Error).message.slice(0, 500) };
      throw err;
    }
    const step = nextRestoreStep(batch.batchId, inserts, found);
    if (step.kind === 'done') return { outcome: step.outcome, rows, inserts };
    if (step.kind === 'give-up') return { outcome: 'not-stored', rows, inserts, reason: step.reason };
    try {
      await target.insertArchiveObject(batch.gzip, step.token);
    } catch (err) {
      // Bad data stays bad: report it and go on (the flush put such rows in the tenant's dead letters).
      if (isDataRefusal(err)) return { outcome: 'refused', rows, inserts: inserts + 1, reason: (err as Error).message.slice(0, 500) };
      throw err;
    }
    inserts++;
  }
}
