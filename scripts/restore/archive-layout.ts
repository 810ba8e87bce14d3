/**
 * The archive's layout as the restore reads it: which objects belong to a
 * tenant and a range of days. The writer is durable-objects/tenant-actor/
 * archive.ts (`archiveKey`); its keys are
 *
 *   logs/<tenant>/dt=YYYY-MM-DD/hour=HH/<batchId>.ndjson.gz
 *
 * The day is the flush's, not the records' (clients send past and future
 * timestamps): a range of days selects batches by when they were flushed.
 */
import { isValidTenantId } from '../../shared/config.ts';

export const ARCHIVE_LOGS_PREFIX = 'logs/';

/** At most this many days in one run (ten years): a typo in a date must not list for ever. */
export const MAX_RESTORE_DAYS = 3660;

export interface ArchivedBatchKey {
  key: string;
  tenant: string;
  /** YYYY-MM-DD, the flush's day (UTC). */
  date: string;
  batchId: string;
}

const KEY_RE = /^logs\/([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([0-9A-Za-z:_-]{1,128})\.ndjson\.gz$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** An archive object's key → its tenant, day and batch id; null for anything else in the bucket (dead letters, strays). */
export function parseArchiveKey(key: string): ArchivedBatchKey | null {
  const m = KEY_RE.exec(key);
  if (!m || !isValidTenantId(m[1]!)) return null;
  return { key, tenant: m[1]!, date: m[2]!, batchId: m[4]! };
}

/** Every day from `from` to `to`, both included (YYYY-MM-DD, UTC). */
export function daysBetween(from: string, to: string): string[] {
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!DATE_RE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
      throw new Error(`--${name} must be a day as YYYY-MM-DD (UTC), not "${value}"`);
    }
  }
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (end < start) throw new Error(`--to (${to}) is before --from (${from})`);
  const count = (end - start) / 86_400_000 + 1;
  if (count > MAX_RESTORE_DAYS) throw new Error(`at most ${MAX_RESTORE_DAYS} days in one run (asked: ${count})`);
  return Array.from({ length: count }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10));
}

/** The prefix that lists one tenant's batches flushed on one day. */
export function dayPrefix(tenant: string, date: string): string {
  return `${ARCHIVE_LOGS_PREFIX}${tenant}/dt=${date}/`;
}
