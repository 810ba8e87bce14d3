/**
 * One restore run: every archived batch of the tenants and days asked for,
 * restored one by one (./restore-batch.ts), and a summary — batches and rows
 * restored, already stored, refused by ClickHouse (reported and skipped), or
 * unreadable.
 */
import { isValidTenantId } from '../../shared/config.ts';
import { dayPrefix, daysBetween, parseArchiveKey } from './archive-layout.ts';
import type { ArchiveSource } from './archive-source.ts';
import { readArchivedBatch } from './archived-batch.ts';
import { type BatchOutcome, restoreBatch, type RestoreTarget } from './restore-batch.ts';

export interface RestoreRequest {
  /** One tenant, or null for every tenant in the archive. */
  tenant: string | null;
  /** Flush days, YYYY-MM-DD (UTC), both included. */
  from: string;
  to: string;
}

export interface RestoreProblem {
  key: string;
  outcome: 'refused' | 'not-stored' | 'unreadable';
  reason: string;
}

export interface RestoreSummary {
  tenants: number;
  batches: number;
  batchesRestored: number;
  batchesAlreadyStored: number;
  rowsRestored: number;
  rowsAlreadyStored: number;
  /** Rows of batches refused, unreadable or not stored: not restored. */
  rowsNotRestored: number;
  problems: RestoreProblem[];
}

export async function restoreArchive(
  source: ArchiveSource,
  target: RestoreTarget,
  request: RestoreRequest,
  onBatch: (key: string, outcome: BatchOutcome | RestoreProblem) => void = () => {},
): Promise<RestoreSummary> {
  if (request.tenant !== null && !isValidTenantId(request.tenant)) throw new Error(`--tenant "${request.tenant}" is not a tenant id (a-z, 0-9, -; at most 63)`);
  const days = daysBetween(request.from, request.to);
  const tenants = request.tenant !== null ? [request.tenant] : await source.tenants();
  const summary: RestoreSummary = {
    tenants: tenants.length,
    batches: 0,
    batchesRestored: 0,
    batchesAlreadyStored: 0,
    rowsRestored: 0,
    rowsAlreadyStored: 0,
    rowsNotRestored: 0,
    problems: [],
  };
  for (const tenant of tenants) {
    for (const day of days) {
      for await (const key of source.list(dayPrefix(tenant, day))) {
        const parsed = parseArchiveKey(key);
        if (!parsed || parsed.tenant !== tenant) continue; // not an archived batch of this tenant
        summary.batches++;
        const bytes = await source.get(key);
        let problem: RestoreProblem | null = null;
        let outcome: BatchOutcome | null = null;
        if (bytes === null) problem = { key, outcome: 'unreadable', reason: 'the object disappeared while the archive was listed' };
        else {
          let batch: ReturnType<typeof readArchivedBatch> | null = null;
          try {
            batch = readArchivedBatch(parsed, bytes);
          } catch (err) {
            problem = { key, outcome: 'unreadable', reason: (err as Error).message };
          }
          if (batch) {
            outcome = await restoreBatch(target, batch);
            if (outcome.outcome === 'refused' || outcome.outcome === 'not-stored') problem = { key, outcome: outcome.outcome, reason: outcome.reason };
          }
        }
        if (outcome?.outcome === 'restored') {
          summary.batchesRestored++;
          summary.rowsRestored += outcome.rows;
        } else if (outcome?.outcome === 'already-stored') {
          summary.batchesAlreadyStored++;
          summary.rowsAlreadyStored += outcome.rows;
        } else {
          summary.rowsNotRestored += outcome?.rows ?? 0;
        }
        if (problem) summary.problems.push(problem);
        onBatch(key, problem ?? outcome!);
      }
    }
  }
  return summary;
}
