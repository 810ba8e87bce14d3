/**
 * The R2 archive: one gzip NDJSON object per flush, the same rows ClickHouse
 * got, after a first line naming the columns (ClickHouse's
 * JSONCompactEachRowWithNames), laid out Hive-style so ClickHouse's s3(),
 * DuckDB or Athena can read a tenant's day or hour directly:
 *
 *   logs/<tenant>/dt=YYYY-MM-DD/hour=HH/<batchId>.ndjson.gz
 *
 * The date is the flush's creation time, which is stored with the flush, so a
 * retried flush writes the same key and R2 simply overwrites it.
 *
 * The object is a sequence of gzip members (the header's, then each buffered
 * chunk's): one valid gzip stream (RFC 1952 §2.2), which gzip(1), zlib
 * readers and ClickHouse's file()/s3() read whole (checked for chDB in
 * test/node/embedded-clickhouse.test.ts).
 */
import { concatBytes, gzip } from '../../shared/gzip.ts';
import { ARCHIVE_HEADER } from '../../shared/row-format.ts';

export function archiveKey(tenantId: string, batchId: string, createdAt: number): string {
  const iso = new Date(createdAt).toISOString();
  return `logs/${tenantId}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${batchId}.ndjson.gz`;
}

/** The header line as its own gzip member, made once per isolate. */
let header: Promise<Uint8Array> | null = null;

/** Writes the archive object: the header member, then the flush's gzip body (one gzip stream: shared/gzip.ts). Returns its size. */
export async function writeArchive(
  bucket: R2Bucket,
  key: string,
  body: Uint8Array<ArrayBuffer>,
  metadata: { tenantId: string; batchId: string; rows: number },
): Promise<number> {
  header ??= gzip(ARCHIVE_HEADER);
  const object = concatBytes([await header, body]);
  await bucket.put(key, object, {
    httpMetadata: { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
    customMetadata: { tenant: metadata.tenantId, batchId: metadata.batchId, rows: String(metadata.rows) },
  });
  return object.byteLength;
}
