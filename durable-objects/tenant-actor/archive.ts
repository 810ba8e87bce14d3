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
 */

export function archiveKey(tenantId: string, batchId: string, createdAt: number): string {
  const iso = new Date(createdAt).toISOString();
  return `logs/${tenantId}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${batchId}.ndjson.gz`;
}

export async function gzipText(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

export async function writeArchive(
  bucket: R2Bucket,
  key: string,
  ndjson: string,
  metadata: { tenantId: string; batchId: string; rows: number },
): Promise<number> {
  const body = await gzipText(ndjson);
  await bucket.put(key, body, {
    httpMetadata: { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
    customMetadata: { tenant: metadata.tenantId, batchId: metadata.batchId, rows: String(metadata.rows) },
  });
  return body.byteLength;
}
