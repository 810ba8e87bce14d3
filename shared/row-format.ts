/**
 * The row format: how LogRows travel from the ingest worker, through the
 * tenant actor's buffer, into ClickHouse and the R2 archive.
 *
 * Rows are serialised exactly once, on the stateless ingest worker, as
 * ClickHouse's JSONCompactEachRow: one JSON array per line, values in
 * LOG_COLUMNS order. The actor stores the text as it is and a flush
 * concatenates it — the per-tenant actor, the one place that cannot scale out,
 * never parses or re-encodes a row. Arrays instead of objects make the rows a
 * third smaller (less to store, compress and send) and ClickHouse parses them
 * about twice as fast (measured: docs/benchmarks.md).
 *
 * The same text goes to ClickHouse (after an INSERT naming the columns) and to
 * R2 (after a header line naming them, which makes the object a
 * JSONCompactEachRowWithNames file that ClickHouse's s3(), clickhouse-local or
 * any JSON-lines reader takes as it is).
 */
import type { LogRow } from './log-record.ts';

export const LOG_COLUMNS = [
  'TenantId', 'Timestamp', 'ObservedTimestamp', 'LogId', 'TraceId', 'SpanId', 'TraceFlags', 'SeverityText',
  'SeverityNumber', 'ServiceName', 'Body', 'ResourceAttributes', 'LogAttributes', 'RetentionDays',
] as const satisfies readonly (keyof LogRow)[];

/** First line of every archive object: the column names. */
export const ARCHIVE_HEADER = `${JSON.stringify(LOG_COLUMNS)}\n`;

/** The INSERT that takes the buffered text; the rows follow it on the next line. */
export function insertStatement(table: string): string {
  return `INSERT INTO ${table} (${LOG_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`;
}

/** UTF-16 code units per chunk: at most 3 UTF-8 bytes each, so a chunk stays under 1.8 MB. */
export const MAX_CHUNK_CHARS = 600_000;

export interface Chunk {
  /** Rows, one per line, each line ending in a newline. */
  text: string;
  rows: number;
  /** Exact UTF-8 size of `text`. */
  bytes: number;
}

export interface SerializedBatch {
  chunks: Chunk[];
  rows: number;
  bytes: number;
}

export class RecordTooLargeError extends Error {
  constructor(
    readonly record: number,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`record ${record} is ${bytes} bytes once stored; the limit is ${limit}`);
  }
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(1 << 16);

/** UTF-8 length of a string, without allocating per call. */
export function utf8Length(text: string): number {
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

function toValues(row: LogRow): unknown[] {
  return [
    row.TenantId, row.Timestamp, row.ObservedTimestamp, row.LogId, row.TraceId ?? '', row.SpanId ?? '', row.TraceFlags ?? 0,
    row.SeverityText ?? '', row.SeverityNumber ?? 0, row.ServiceName ?? '', row.Body, row.ResourceAttributes ?? {},
    row.LogAttributes ?? {}, row.RetentionDays,
  ];
}

/**
 * Serialises one request's rows (all of one tenant) into chunks of at most
 * `maxChunkChars`, refusing any row larger than `maxRecordBytes`.
 *
 * One JSON.stringify over the whole batch is about three times faster than one
 * per row. The rows are then cut apart at `],["<tenant>",`: every row starts
 * with the tenant id, and inside a JSON string a quote is always escaped, so
 * that sequence occurs only between rows (rows hold no nested arrays).
 */
export function serializeRows(rows: LogRow[], maxRecordBytes: number, maxChunkChars = MAX_CHUNK_CHARS): SerializedBatch {
  if (rows.length === 0) return { chunks: [], rows: 0, bytes: 0 };
  const tenant = JSON.stringify(rows[0]!.TenantId);
  const values = new Array<unknown[]>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.TenantId !== rows[0]!.TenantId) throw new Error('serializeRows: rows of more than one tenant');
    values[i] = toValues(rows[i]!);
  }
  const json = JSON.stringify(values);
  const text = `${json.slice(1, -1).replaceAll(`],[${tenant},`, `]\n[${tenant},`)}\n`;

  const chunks: Chunk[] = [];
  let bytes = 0;
  let chunkStart = 0;
  let chunkRows = 0;
  let lineStart = 0;
  let record = 0;
  const closeChunk = (end: number) => {
    if (end === chunkStart) return;
    const chunkText = text.slice(chunkStart, end);
    const size = utf8Length(chunkText);
    chunks.push({ text: chunkText, rows: chunkRows, bytes: size });
    bytes += size;
    chunkStart = end;
    chunkRows = 0;
  };
  while (lineStart < text.length) {
    const lineEnd = text.indexOf('\n', lineStart) + 1;
    const length = lineEnd - lineStart;
    // Cheap bound first; measure exactly only when the line could be too big.
    if (length * 3 > maxRecordBytes || length > maxChunkChars) {
      const size = utf8Length(text.slice(lineStart, lineEnd));
      if (size > maxRecordBytes || length > maxChunkChars) {
        throw new RecordTooLargeError(record, size, Math.min(maxRecordBytes, maxChunkChars));
      }
    }
    if (lineEnd - chunkStart > maxChunkChars) closeChunk(lineStart);
    chunkRows++;
    record++;
    lineStart = lineEnd;
  }
  closeChunk(text.length);
  if (record !== rows.length) throw new Error(`serializeRows: cut ${record} lines from ${rows.length} rows`);
  return { chunks, rows: rows.length, bytes };
}
