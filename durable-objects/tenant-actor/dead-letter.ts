/**
 * Dead letters: the rows ClickHouse refused to store, kept in R2 with the
 * reason, so that nothing the API acknowledged is silently lost and the
 * tenant can see (GET /v1/dead-letters) and recover them.
 *
 *   deadletter/<tenant>/dt=YYYY-MM-DD/<batchId>.ndjson
 *
 * One object per flush that had refused rows: a first line naming the
 * columns, then one line per refused row, `{"reason": "…", "row": [values in
 * that column order]}`. Keyed by the flush's batch id, so a retried flush
 * overwrites its own object. (The API refuses the rows it knows ClickHouse
 * would refuse before acknowledging them — shared/row-format.ts — so a dead
 * letter means a gap between those checks and the table, worth a look.)
 */
import { LOG_COLUMNS } from '../../shared/row-format.ts';

export interface RefusedRow {
  /** The row as buffered: a JSON array in LOG_COLUMNS order. */
  line: string;
  /** ClickHouse's reason. */
  reason: string;
}

export const DEAD_LETTER_PREFIX = 'deadletter/';

export function deadLetterPrefix(tenantId: string): string {
  return `${DEAD_LETTER_PREFIX}${tenantId}/`;
}

export function deadLetterKey(tenantId: string, batchId: string, createdAt: number): string {
  return `${deadLetterPrefix(tenantId)}dt=${new Date(createdAt).toISOString().slice(0, 10)}/${batchId}.ndjson`;
}

export async function writeDeadLetters(bucket: R2Bucket, key: string, rows: RefusedRow[], metadata: { tenantId: string; batchId: string }): Promise<void> {
  const lines = [JSON.stringify({ columns: LOG_COLUMNS }), ...rows.map((r) => `{"reason":${JSON.stringify(r.reason)},"row":${r.line}}`)];
  await bucket.put(key, `${lines.join('\n')}\n`, {
    httpMetadata: { contentType: 'application/x-ndjson' },
    customMetadata: { tenant: metadata.tenantId, batchId: metadata.batchId, rows: String(rows.length), reason: rows[0]!.reason.slice(0, 256) },
  });
}
