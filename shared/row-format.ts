/**
 * The row format: how LogRows travel from the ingest worker, through the
 * tenant actor's buffer, into ClickHouse and the R2 archive.
 *
 * Rows are serialised exactly once, on the stateless ingest worker, as
 * ClickHouse's JSONCompactEachRow: one JSON array per line, values in
 * LOG_COLUMNS order. Rows whose PatternId the worker knows are compressed
 * there too (SealedChunk: one gzip member); the actor stores the member as it
 * is and a flush concatenates members (shared/gzip.ts) — the per-tenant actor,
 * the one place that cannot scale out, never parses, re-encodes or compresses
 * them. The rest (Chunk) the actor labels and stores as text. Arrays instead of objects make the rows a
 * third smaller (less to store, compress and send) and ClickHouse parses them
 * about twice as fast (measured: docs/benchmarks.md).
 *
 * The same text goes to ClickHouse (after an INSERT naming the columns) and to
 * R2 (after a header line naming them, which makes the object a
 * JSONCompactEachRowWithNames file that ClickHouse's s3(), clickhouse-local or
 * any JSON-lines reader takes as it is).
 */
import { EMPTY_MAP, LOG_COLUMNS, SEARCHED_COLUMNS } from './log-columns.ts';
import type { LogRow, StoredLog } from './log-record.ts';
import { formatClickHouseTime, instantFromMillis, MAX_STORABLE_SECONDS, STORABLE_RANGE } from './timestamp.ts';

/** The row's column names in serialisation order (shared/log-columns.ts: columns are only ever appended). */
export { LOG_COLUMNS };

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
  /**
   * What the actor mines each row's pattern from, in row order: service, message, service, message…
   * (the message cut at PATTERN_MESSAGE_CHARS). Set by the ingest worker, dropped by the actor once
   * the rows carry their PatternId; a chunk without it (an older worker) is mined from its text.
   */
  patternInputs?: string[];
}

/**
 * Characters of the PatternId the actor writes into each row's last value (a 64-bit hash in hex,
 * shared/patterns/pattern-id.ts): the worker reserves them in every size limit, so a row or chunk
 * that fits when serialised still fits once the actor fills them in.
 */
export const PATTERN_ID_CHARS = 16;

/** The longest prefix of a message the actor mines (the miner looks at fewer tokens still). */
export const PATTERN_MESSAGE_CHARS = 2048;

/**
 * Rows the ingest worker labelled itself (every row has its PatternId), as one
 * gzip member of their text: the actor stores it and a flush sends it as it is
 * (shared/gzip.ts) — the actor never reads a sealed row.
 */
export interface SealedChunk {
  gzip: Uint8Array;
  rows: number;
  /** Exact UTF-8 size of the rows' text (what buffer and batch limits count). */
  bytes: number;
}

export interface SerializedBatch {
  /** Rows the actor labels (their PatternId is empty): `patternInputs` says what to mine. */
  chunks: Chunk[];
  /** Rows with their PatternId written (`patternOf` knew it); the caller compresses them into SealedChunks. */
  sealed: Chunk[];
  rows: number;
  bytes: number;
}

/** Why a row will not be stored: it would be refused by ClickHouse, or vanish there, or it is past the size limit. */
export interface RowRefusal {
  /** Index of the row in the list serialised. */
  record: number;
  /** The field at fault, in the API's names (`timestamp`, `body`, `attributes.<key>`…); null for the record as a whole. */
  field: string | null;
  code: 'invalid_record' | 'record_too_large';
  /** Why, without naming the record: `field "timestamp" … is older than …`, `5000 bytes once stored; the limit is 4096`. */
  reason: string;
  /** For `record_too_large`: the limit in bytes. */
  limit?: number;
}

/** A refusal as one sentence naming the record. */
export function describeRefusal(refusal: RowRefusal, noun = 'record'): string {
  return refusal.code === 'record_too_large' ? `${noun} ${refusal.record} is ${refusal.reason}` : `${noun} ${refusal.record}: ${refusal.reason}`;
}

export interface SerializeOptions {
  maxRecordBytes: number;
  /** The time the request was received (ms): rows older than their retention before it are refused. */
  now: number;
  maxChunkChars?: number;
  /**
   * The row's PatternId when the caller knows it without learning anything
   * (the worker's copy of the actor's templates: PatternMiner.match), or null
   * to leave the row for the actor to mine.
   */
  patternOf?: (service: string, message: string) => string | null;
}

/** The rows that passed, serialised, and the ones refused (in row order). */
export interface SerializedRows extends SerializedBatch {
  refused: RowRefusal[];
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(1 << 16);

/** UTF-8 length of a string, without allocating per call. */
export function utf8Length(text: string): number {
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

/**
 * One row's values in LOG_COLUMNS order, each optional column left out of the
 * LogRow at its empty value (shared/log-columns.ts). Written out by hand, not
 * derived by a loop over the column definitions: it runs once per ingested
 * row, and the loop (one keyed property read per column, megamorphic across
 * the columns) measured slower — docs/benchmarks.md, "The row serialiser".
 * test/shared/row-format.test.ts checks it against the definitions: every
 * column, its position and its empty value.
 */
export function toValues(row: LogRow): unknown[] {
  // biome-ignore format: LOG_COLUMNS order, as compact as the list it mirrors
  return [
    row.TenantId, row.Timestamp, row.ObservedTimestamp, row.LogId, row.TraceId ?? '', row.SpanId ?? '', row.TraceFlags ?? 0,
    row.SeverityText ?? '', row.SeverityNumber ?? 0, row.ServiceName ?? '', row.Body, row.ResourceAttributes ?? {},
    row.LogAttributes ?? {}, row.RetentionDays, row.ScopeName ?? '', row.ScopeVersion ?? '', row.ScopeAttributes ?? {},
    row.ResourceSchemaUrl ?? '', row.ScopeSchemaUrl ?? '', row.PatternId ?? '',
  ];
}

/**
 * Serialises one request's rows into chunks of at most `maxChunkChars`, and
 * checks each row against what ClickHouse will do with it, so that nothing is
 * acknowledged that the flush cannot store (one refused row fails its whole
 * insert, and with it every other tenant row of the batch):
 * - larger than `maxRecordBytes` once stored → `record_too_large`;
 * - a string with an unpaired UTF-16 surrogate (`"\ud800"` in a client's
 *   JSON): it is not UTF-8, and ClickHouse refuses the insert;
 * - an integer column outside its type (SeverityNumber and TraceFlags are
 *   UInt8, RetentionDays UInt16): ClickHouse would wrap it silently;
 * - a timestamp older than the tenant's retention, or past 2106-02-07 (which
 *   wraps the table's DateTime column into the past): the table's TTL would
 *   drop the row as it arrives, so it would be acknowledged and never found.
 * Refused rows are left out and listed; the caller decides whether one refusal
 * refuses the request (shared/… ingest pipeline). (One JSON.stringify per row
 * measured faster than one over the whole batch cut apart afterwards, on fresh
 * data: docs/benchmarks.md.)
 */
export function serializeRows(rows: LogRow[], options: SerializeOptions): SerializedRows {
  const maxChunkChars = options.maxChunkChars ?? MAX_CHUNK_CHARS;
  const limit = Math.min(options.maxRecordBytes, maxChunkChars);
  const open = new ChunkBuilder(maxChunkChars, true);
  const sealed = new ChunkBuilder(maxChunkChars, false);
  const refused: RowRefusal[] = [];
  const oldest = new RetentionCutoffs(options.now);
  const patternOf = options.patternOf;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const problem =
      numericProblem(row) ??
      (row.Timestamp < oldest.of(row.RetentionDays) ? retentionProblem(row) : row.Timestamp > LATEST_STORABLE ? futureProblem(row) : null);
    if (problem) {
      refused.push({ record: i, ...problem });
      continue;
    }
    const values = toValues(row);
    const service = row.ServiceName ?? '';
    const message = row.Body.length > PATTERN_MESSAGE_CHARS ? row.Body.slice(0, PATTERN_MESSAGE_CHARS) : row.Body;
    // A row that comes with its PatternId is sealed as it is: an encrypted record's '' (no pattern,
    // shared/encryption-envelope.ts) is never looked up nor handed to the actor to mine.
    let patternId: string | null = row.PatternId ?? null;
    if (patternId === null && patternOf) {
      try {
        patternId = patternOf(service, message);
      } catch {
        patternId = null; // the actor mines it, and reports a failure there
      }
    }
    if (patternId !== null) values[PATTERN_ID] = patternId;
    const line = JSON.stringify(values);
    // What the line will be once the actor has written its PatternId (ASCII: one byte a character).
    const storedLength = patternId === null ? line.length + PATTERN_ID_CHARS : line.length;
    // JSON.stringify writes an unpaired surrogate as a \udXXX escape (and nothing else as \ud…
    // but text that contains a backslash before "ud"): only then is the row looked at closely.
    if (line.includes('\\ud')) {
      const field = unpairedSurrogateField(row);
      if (field !== null) {
        refused.push({ record: i, field, code: 'invalid_record', reason: `field "${field}" is not valid UTF-8 text (an unpaired UTF-16 surrogate)` });
        continue;
      }
    }
    // Cheap bound first; measure exactly only when the line could be too big.
    if ((storedLength + 1) * 3 > options.maxRecordBytes || storedLength + 1 > maxChunkChars) {
      const size = utf8Length(line) + (storedLength - line.length) + 1;
      if (size > options.maxRecordBytes || storedLength + 1 > maxChunkChars) {
        refused.push({ record: i, field: null, code: 'record_too_large', reason: `${size} bytes once stored; the limit is ${limit}`, limit });
        continue;
      }
    }
    if (patternId === null) open.add(line, storedLength, service, message);
    else sealed.add(line, storedLength, service, message);
  }
  const chunks = open.finish();
  const sealedChunks = sealed.finish();
  let count = 0;
  let bytes = 0;
  for (const c of [...chunks, ...sealedChunks]) {
    count += c.rows;
    bytes += c.bytes;
  }
  return { chunks, sealed: sealedChunks, rows: count, bytes, refused };
}

const PATTERN_ID = LOG_COLUMNS.indexOf('PatternId');

/** Lines into chunks of at most `maxChunkChars` (counting each line as stored), with what the actor mines from (open rows only). */
class ChunkBuilder {
  readonly #chunks: Chunk[] = [];
  #lines: string[] = [];
  #inputs: string[] = [];
  #chars = 0;

  constructor(
    private readonly maxChunkChars: number,
    private readonly withInputs: boolean,
  ) {}

  add(line: string, storedLength: number, service: string, message: string): void {
    if (this.#chars + storedLength + 1 > this.maxChunkChars) this.#close();
    this.#lines.push(line);
    if (this.withInputs) this.#inputs.push(service, message);
    this.#chars += storedLength + 1;
  }

  finish(): Chunk[] {
    this.#close();
    return this.#chunks;
  }

  #close(): void {
    if (this.#lines.length === 0) return;
    const text = `${this.#lines.join('\n')}\n`;
    const chunk: Chunk = { text, rows: this.#lines.length, bytes: utf8Length(text) };
    if (this.withInputs) chunk.patternInputs = this.#inputs;
    this.#chunks.push(chunk);
    this.#lines = [];
    this.#inputs = [];
    this.#chars = 0;
  }
}

/** The unsigned integer columns, their API names and ranges. */
const INTEGER_COLUMNS = [
  ['SeverityNumber', 'severity_number', 255],
  ['TraceFlags', 'trace_flags', 255],
  ['RetentionDays', 'retention_days', 65_535],
] as const satisfies readonly (readonly [keyof LogRow, string, number])[];

function numericProblem(row: LogRow): Omit<RowRefusal, 'record'> | null {
  for (const [column, field, max] of INTEGER_COLUMNS) {
    const value = row[column];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > max) {
      return { field, code: 'invalid_record', reason: `field "${field}" is ${JSON.stringify(value)}; it must be an integer from 0 to ${max}` };
    }
  }
  return null;
}

/** MAX_STORABLE_SECONDS in ClickHouse text form (which sorts as it reads). */
const LATEST_STORABLE = `${formatClickHouseTime({ seconds: MAX_STORABLE_SECONDS, nanos: 0 }).slice(0, 19)}.999999999`;

function futureProblem(row: LogRow): Omit<RowRefusal, 'record'> {
  return { field: 'timestamp', code: 'invalid_record', reason: `field "timestamp" (${row.Timestamp} UTC) is outside ${STORABLE_RANGE}` };
}

function retentionProblem(row: LogRow): Omit<RowRefusal, 'record'> {
  return {
    field: 'timestamp',
    code: 'invalid_record',
    reason: `field "timestamp" (${row.Timestamp} UTC) is older than the tenant's retention of ${row.RetentionDays} days: the record would be deleted as it arrives`,
  };
}

/** The oldest timestamp (ClickHouse text form, which sorts as it reads) each retention keeps at `now`. */
class RetentionCutoffs {
  readonly #cutoffs = new Map<number, string>();
  constructor(readonly now: number) {}

  of(retentionDays: number): string {
    let cutoff = this.#cutoffs.get(retentionDays);
    if (cutoff === undefined) {
      // The TTL is `TimestampTime + toIntervalDay(RetentionDays)`, on whole seconds.
      cutoff = formatClickHouseTime(instantFromMillis(Math.floor(this.now / 1000) * 1000 - retentionDays * 86_400_000));
      this.#cutoffs.set(retentionDays, cutoff);
    }
    return cutoff;
  }
}

const UNPAIRED_SURROGATE = /\p{Surrogate}/u;

/** The first field holding text with an unpaired surrogate (in the API's names), or null. */
function unpairedSurrogateField(row: LogRow): string | null {
  const texts: [string, string | undefined][] = [
    ['body', row.Body],
    ['level', row.SeverityText],
    ['service', row.ServiceName],
    ['trace_id', row.TraceId],
    ['span_id', row.SpanId],
    ['scope.name', row.ScopeName],
    ['scope.version', row.ScopeVersion],
    ['resource.schema_url', row.ResourceSchemaUrl],
    ['scope.schema_url', row.ScopeSchemaUrl],
  ];
  for (const [field, text] of texts) if (text !== undefined && UNPAIRED_SURROGATE.test(text)) return field;
  const maps: [string, Record<string, string> | undefined][] = [
    ['attributes', row.LogAttributes],
    ['resource', row.ResourceAttributes],
    ['scope.attributes', row.ScopeAttributes],
  ];
  for (const [prefix, map] of maps) {
    if (map === undefined) continue;
    for (const key of Object.keys(map)) {
      if (UNPAIRED_SURROGATE.test(key) || UNPAIRED_SURROGATE.test(map[key]!)) return `${prefix}.${key}`;
    }
  }
  return null;
}

/** Each column search reads back: its name, its place in a buffered row, its empty value (shared/log-columns.ts). */
const COLUMN_INDEX = SEARCHED_COLUMNS.map((c) => [c.name, LOG_COLUMNS.indexOf(c.name), c.empty] as const);
const OBSERVED_TIMESTAMP = LOG_COLUMNS.indexOf('ObservedTimestamp');

/**
 * One buffered row (a JSONCompactEachRow line, values in LOG_COLUMNS order) as
 * the columns search reads back; a value the line lacks is the column's empty
 * value (a map a new one), and a missing observed time the record's time.
 */
export function decodeStoredRow(line: string): StoredLog {
  const values = JSON.parse(line) as unknown[];
  const row: Record<string, unknown> = {};
  for (const [name, index, empty] of COLUMN_INDEX) row[name] = values[index] ?? (empty === EMPTY_MAP ? {} : empty);
  row.ObservedTimestamp = values[OBSERVED_TIMESTAMP] ?? row.Timestamp;
  return row as unknown as StoredLog;
}
