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
  // Columns are only ever appended: rows buffered by an older version have
  // fewer values, and the insert reads them with the missing columns at their
  // defaults (input_format_json_compact_allow_variable_number_of_columns).
  'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'ResourceSchemaUrl', 'ScopeSchemaUrl',
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
    row.LogAttributes ?? {}, row.RetentionDays, row.ScopeName ?? '', row.ScopeVersion ?? '', row.ScopeAttributes ?? {},
    row.ResourceSchemaUrl ?? '', row.ScopeSchemaUrl ?? '',
  ];
}

/**
 * Serialises one request's rows into chunks of at most `maxChunkChars`,
 * refusing any row larger than `maxRecordBytes`. (One JSON.stringify per row
 * measured faster than one over the whole batch cut apart afterwards, on
 * fresh data: docs/benchmarks.md.)
 */
export function serializeRows(
  rows: LogRow[],
  maxRecordBytes: number,
  maxChunkChars = MAX_CHUNK_CHARS,
  /**
   * Protocols with per-record results (OTLP partial success, Loki) pass this:
   * an oversized row is then left out and reported here instead of failing
   * the whole batch.
   */
  onTooLarge?: (error: RecordTooLargeError) => void,
): SerializedBatch {
  const chunks: Chunk[] = [];
  let bytes = 0;
  let lines: string[] = [];
  let chars = 0;
  const closeChunk = () => {
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    const size = utf8Length(text);
    chunks.push({ text, rows: lines.length, bytes: size });
    bytes += size;
    lines = [];
    chars = 0;
  };
  for (let i = 0; i < rows.length; i++) {
    const line = JSON.stringify(toValues(rows[i]!));
    // Cheap bound first; measure exactly only when the line could be too big.
    if ((line.length + 1) * 3 > maxRecordBytes || line.length + 1 > maxChunkChars) {
      const size = utf8Length(line) + 1;
      if (size > maxRecordBytes || line.length + 1 > maxChunkChars) {
        const error = new RecordTooLargeError(i, size, Math.min(maxRecordBytes, maxChunkChars));
        if (!onTooLarge) throw error;
        onTooLarge(error);
        continue;
      }
    }
    if (chars + line.length + 1 > maxChunkChars) closeChunk();
    lines.push(line);
    chars += line.length + 1;
  }
  closeChunk();
  return { chunks, rows: chunks.reduce((n, c) => n + c.rows, 0), bytes };
}
