/**
 * Rows → JSONEachRow text, cut into chunks that each fit one SQLite value of
 * the tenant actor's buffer (Durable Object storage caps a value at 2 MB).
 *
 * The rows are serialised exactly once, here, on the stateless ingest worker;
 * the actor stores the text as it is and a flush concatenates it into the
 * ClickHouse insert body and the R2 object. The per-tenant actor — the one
 * place that cannot scale out — never parses or re-encodes a row.
 */
import type { LogRow } from './log-record.ts';

/** UTF-16 code units per chunk: at most 3 UTF-8 bytes each, so ≤ 1.8 MB. */
export const MAX_CHUNK_CHARS = 600_000;

export interface Chunk {
  /** NDJSON text: rows each ending in a newline, ≤ MAX_CHUNK_CHARS in all. */
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
let scratch = new Uint8Array(0);

/** UTF-8 length without allocating per call. */
export function utf8Length(text: string): number {
  // Fast path: a string of n code units needs at most 3n bytes; most logs are ASCII.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(Math.max(text.length * 3, 1 << 16));
  return encoder.encodeInto(text, scratch).written;
}

export function serializeRows(rows: LogRow[], maxRecordBytes: number, maxChunkChars = MAX_CHUNK_CHARS): SerializedBatch {
  const chunks: Chunk[] = [];
  let bytes = 0;
  let parts: string[] = [];
  let partChars = 0;
  const close = () => {
    if (parts.length === 0) return;
    const text = parts.join('');
    const size = utf8Length(text);
    bytes += size;
    chunks.push({ text, rows: parts.length, bytes: size });
    parts = [];
    partChars = 0;
  };
  for (let i = 0; i < rows.length; i++) {
    const line = JSON.stringify(rows[i]) + '\n';
    // Cheap bound first: only measure exactly when the line could be too big.
    if (line.length * 3 > maxRecordBytes || line.length > maxChunkChars) {
      const size = utf8Length(line);
      if (size > maxRecordBytes || line.length > maxChunkChars) {
        throw new RecordTooLargeError(i, size, Math.min(maxRecordBytes, maxChunkChars));
      }
    }
    if (partChars + line.length > maxChunkChars) close();
    parts.push(line);
    partChars += line.length;
  }
  close();
  return { chunks, rows: rows.length, bytes };
}
