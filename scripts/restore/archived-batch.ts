/**
 * One archive object read back: its column names (the header line) and its
 * rows, checked against the key it was found under. The object is a gzip
 * stream of several members (durable-objects/tenant-actor/archive.ts); Node's
 * zlib reads every member.
 */
import { gunzipSync } from 'node:zlib';
import type { ArchivedBatchKey } from './archive-layout.ts';

export interface ArchivedBatch extends ArchivedBatchKey {
  /** The object as stored: sent to ClickHouse as it is. */
  gzip: Uint8Array<ArrayBuffer>;
  columns: string[];
  /** The rows, each a JSON array in `columns` order. */
  rows: unknown[][];
}

/** The columns the restore reads from a row to find it in ClickHouse. */
const NEEDED = ['TenantId', 'ServiceName', 'Timestamp', 'LogId'] as const;

/** Reads and checks an archive object; throws with the reason when it is not one the restore can trust. */
export function readArchivedBatch(key: ArchivedBatchKey, gzip: Uint8Array<ArrayBuffer>): ArchivedBatch {
  const text = gunzipSync(gzip).toString('utf8');
  const lines = text.split('\n').filter((line) => line !== '');
  const columns = JSON.parse(lines[0] ?? 'null') as unknown;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')) throw new Error('its first line is not the column names');
  for (const name of NEEDED) if (!columns.includes(name)) throw new Error(`its header has no ${name} column`);
  const tenantAt = columns.indexOf('TenantId');
  const rows = lines.slice(1).map((line, i) => {
    const row = JSON.parse(line) as unknown;
    if (!Array.isArray(row)) throw new Error(`row ${i + 1} is not a JSON array`);
    // The rows name their tenant themselves: an object under another tenant's key would be restored into that other tenant.
    if (row[tenantAt] !== key.tenant) throw new Error(`row ${i + 1} belongs to tenant ${JSON.stringify(row[tenantAt])}, not ${key.tenant}`);
    return row;
  });
  return { ...key, gzip, columns: columns as string[], rows };
}

/** The values of a row the point lookup needs (durable-objects/tenant-actor/flush.ts isRowStored). */
export function rowIdentity(batch: ArchivedBatch, row: unknown[]): { tenant: unknown; service: unknown; timestamp: unknown; logId: unknown } {
  const at = (name: string) => row[batch.columns.indexOf(name)];
  return { tenant: at('TenantId'), service: at('ServiceName') ?? '', timestamp: at('Timestamp'), logId: at('LogId') };
}
