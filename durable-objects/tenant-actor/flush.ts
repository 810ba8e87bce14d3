/**
 * The flush itself: one recorded range of buffered rows into the R2 archive
 * and into ClickHouse, exactly once, and rows ClickHouse refuses into the
 * tenant's dead letters instead of blocking everything behind them.
 *
 * The flush never reads a row on its way: the buffered chunks are gzip
 * members (sealed by the ingest worker; the few the actor labelled are
 * compressed here), and the flush's body is their concatenation
 * (shared/gzip.ts). Rows are decompressed only on the rare paths that need
 * them: a refusal to split, a retry to check.
 *
 * 1. R2 first: the archive's header member and the body, as one gzip NDJSON
 *    object, keyed by the flush's batch id, so a retry overwrites it.
 * 2. ClickHouse: one insert of the body (`Content-Encoding: gzip`) with
 *    `insert_deduplication_token = batchId`.
 *    - A failure that is not about the data — the network, a 5xx, a timeout,
 *      too many parts — throws a FlushFailure: the rows stay buffered and the
 *      actor retries the same range, under the same id, after a backoff.
 *    - A refusal of the data (a parse or type error: shared/clickhouse.ts
 *      `isDataRefusal`) is permanent: retrying the same rows cannot succeed,
 *      and used to keep the flush slot busy for ever. The rows are split in
 *      halves, each inserted under its own deterministic token, until the rows
 *      ClickHouse refuses are found one by one; they go to the dead letters,
 *      the rest are stored.
 * 3. Exactly once beyond the deduplication window: on a retry (attempts > 0)
 *    an earlier attempt may have landed without its answer arriving, longer
 *    ago than ClickHouse's table-wide window of recent insert tokens reaches
 *    (docs/adr/0011). Every range whose outcome becomes known is written down
 *    (`RangeLog`: refused — and so split — or landed), so a retry walks the
 *    same halves and skips what is settled. A range with no record was either
 *    never sent or lost its answer, and none of its halves was ever sent (a
 *    range is split only after its refusal is recorded): so its first row
 *    alone tells whether it landed — an insert is one block, all or nothing —
 *    and the flush asks ClickHouse for that row by its primary key (tenant,
 *    service, second) and LogId, a point lookup, before sending the range.
 *
 * Positions are lines of the flush's text. An erasure (DELETE /v1/logs)
 * empties the lines it removes instead of deleting them (tenant-actor/
 * log-buffer.ts), so recorded ranges keep their meaning; empty lines are
 * never sent.
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { insertRows, isDataRefusal, LOGS_TABLE } from '../../shared/clickhouse.ts';
import { concatBytes, gunzip, gzip } from '../../shared/gzip.ts';
import { LOG_COLUMNS } from '../../shared/row-format.ts';
import { archiveKey, writeArchive } from './archive.ts';
import { isRowStored } from './row-probe.ts';
import { deadLetterKey, writeDeadLetters, type RefusedRow } from './dead-letter.ts';
import type { ChunkData, PendingFlush } from './log-buffer.ts';

/**
 * Most inserts one flush attempt may spend finding refused rows: enough for a
 * handful of bad rows in the largest batch (2 · log2(100,000) ≈ 34 each). A
 * batch ClickHouse refuses more widely than that is not bad data but a
 * mismatch between our rows and the table (a release or schema problem): it
 * stays buffered and is retried, loudly, instead of being dead-lettered whole.
 */
export const MAX_SPLIT_INSERTS = 256;

/** The known outcome of the ranges of one flush: [lo, hi) in the flush's lines. */
export interface RangeLog {
  get(lo: number, hi: number): { outcome: 'landed' | 'refused'; reason: string | null } | null;
  set(lo: number, hi: number, outcome: 'landed' | 'refused', reason: string | null): void;
}

/** A RangeLog in memory (tests). */
export function memoryRangeLog(): RangeLog {
  const ranges = new Map<string, { outcome: 'landed' | 'refused'; reason: string | null }>();
  return {
    get: (lo, hi) => ranges.get(`${lo}-${hi}`) ?? null,
    set: (lo, hi, outcome, reason) => void ranges.set(`${lo}-${hi}`, { outcome, reason }),
  };
}

export interface FlushStores {
  tenantId: string;
  archive: R2Bucket;
  /** For the rare paths: inserts of parts of a refused flush, and the checks of a retry. */
  clickhouse: ClickHouseClient;
  /** Inserts a gzip body of rows (the whole flush) under a deduplication token (shared/clickhouse.ts insertCompressedRows). */
  insertCompressed(body: Uint8Array<ArrayBuffer>, token: string): Promise<void>;
  /** Where the flush writes down each range's known outcome (the actor's SQLite), read back by its retries. */
  ranges: RangeLog;
}

export interface StoredFlush {
  archivedBytes: number;
  /** Inserts sent (1 unless rows were refused) and rows probed before a retry. */
  inserts: number;
  probes: number;
  /** Ranges found already stored by an earlier attempt. */
  landedBefore: number;
  refused: RefusedRow[];
  deadLetterKey: string | null;
  timings: { readMs: number; compressMs: number; archiveMs: number; insertMs: number };
}

/** The flush could not complete: the rows stay buffered and the same range is retried. */
export class FlushFailure extends Error {}

export async function storeFlush(stores: FlushStores, flush: PendingFlush, parts: readonly ChunkData[], readMs: number): Promise<StoredFlush> {
  const t0 = Date.now();
  const body = await gzipBody(parts);
  const t1 = Date.now();
  const archivedBytes = await writeArchive(stores.archive, archiveKey(stores.tenantId, flush.batchId, flush.createdAt), body, {
    tenantId: stores.tenantId,
    batchId: flush.batchId,
    rows: flush.rows,
  });
  const t2 = Date.now();
  let refused: RefusedRow[] = [];
  let inserter: RangeInserter | null = null;
  if (flush.attempts === 0) {
    // The common case: the whole flush in one insert, never read.
    try {
      await stores.insertCompressed(body, flush.batchId);
    } catch (err) {
      if (!isDataRefusal(err)) throw new FlushFailure((err as Error).message);
      const lines = await linesOf(parts);
      const reason = (err as Error).message.slice(0, 500);
      stores.ranges.set(0, lines.length, 'refused', reason);
      inserter = new RangeInserter(stores, lines, body, false);
      inserter.inserts = 1; // the whole range's, which counts against the split budget
      refused = await inserter.range(0, lines.length, flush.batchId);
    }
  } else {
    // A retry: what an earlier attempt stored or found refused is looked up before anything is sent.
    const lines = await linesOf(parts);
    inserter = new RangeInserter(stores, lines, body, true);
    refused = await inserter.range(0, lines.length, flush.batchId);
  }
  const t3 = Date.now();
  let key: string | null = null;
  if (refused.length > 0) {
    key = deadLetterKey(stores.tenantId, flush.batchId, flush.createdAt);
    await writeDeadLetters(stores.archive, key, refused, { tenantId: stores.tenantId, batchId: flush.batchId });
  }
  return {
    archivedBytes,
    inserts: inserter ? inserter.inserts : 1,
    probes: inserter?.probes ?? 0,
    landedBefore: inserter?.landed ?? 0,
    refused,
    deadLetterKey: key,
    timings: { readMs, compressMs: t1 - t0, archiveMs: t2 - t1, insertMs: t3 - t2 },
  };
}

/** The flush's rows as one gzip stream: sealed chunks as they are, text chunks compressed (without the lines an erasure emptied). */
async function gzipBody(parts: readonly ChunkData[]): Promise<Uint8Array<ArrayBuffer>> {
  const members: Uint8Array[] = [];
  for (const part of parts) {
    if (typeof part !== 'string') {
      members.push(part);
      continue;
    }
    const rows = part.includes('\n\n') || part.startsWith('\n') ? joinRows(part.split('\n')) : part;
    if (rows !== '') members.push(await gzip(rows));
  }
  return concatBytes(members);
}

/** Every line of the flush, in order — the empty lines of erased rows included, so positions stay those of its first attempt. */
async function linesOf(parts: readonly ChunkData[]): Promise<string[]> {
  const lines: string[] = [];
  for (const part of parts) {
    const text = typeof part === 'string' ? part : await gunzip(part);
    const own = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    for (const line of own) lines.push(line);
  }
  return lines;
}

/** Lines → insert text: the non-empty ones, each ending in a newline ('' when none). */
function joinRows(lines: readonly string[]): string {
  const kept = lines.filter((line) => line !== '');
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

const TENANT = LOG_COLUMNS.indexOf('TenantId');
const TIMESTAMP = LOG_COLUMNS.indexOf('Timestamp');
const LOG_ID = LOG_COLUMNS.indexOf('LogId');
const SERVICE = LOG_COLUMNS.indexOf('ServiceName');

class RangeInserter {
  inserts = 0;
  probes = 0;
  landed = 0;

  constructor(
    private readonly stores: FlushStores,
    private readonly lines: readonly string[],
    /** The whole flush's rows, as the gzip body sent for the whole range. */
    private readonly all: Uint8Array<ArrayBuffer>,
    /** A retry: an earlier attempt may have stored some ranges. */
    private readonly probe: boolean,
  ) {}

  /** Inserts lines [lo, hi) under `token`; returns the rows ClickHouse refused. */
  async range(lo: number, hi: number, token: string): Promise<RefusedRow[]> {
    const known = this.stores.ranges.get(lo, hi);
    if (known?.outcome === 'landed') {
      this.landed++;
      return [];
    }
    if (known?.outcome === 'refused') return this.#split(lo, hi, token, known.reason ?? 'refused by ClickHouse');
    const whole = lo === 0 && hi === this.lines.length;
    const text = joinRows(this.lines.slice(lo, hi));
    if (text === '') return []; // every line of it erased
    if (this.probe && (await this.#landed(text.slice(0, text.indexOf('\n'))))) {
      this.landed++;
      this.stores.ranges.set(lo, hi, 'landed', null);
      return [];
    }
    if (this.inserts >= MAX_SPLIT_INSERTS) {
      throw new FlushFailure(
        `ClickHouse refuses too much of this batch to find the refused rows within ${MAX_SPLIT_INSERTS} inserts; kept and retried (a table or release mismatch?)`,
      );
    }
    this.inserts++;
    try {
      if (whole) await this.stores.insertCompressed(this.all, token);
      else await insertRows(this.stores.clickhouse, LOGS_TABLE, text, token);
    } catch (err) {
      if (!isDataRefusal(err)) throw new FlushFailure((err as Error).message);
      const reason = (err as Error).message.slice(0, 500);
      this.stores.ranges.set(lo, hi, 'refused', reason);
      return this.#split(lo, hi, token, reason);
    }
    // The whole flush landing completes it; only its parts need a record for a retry.
    if (!whole) this.stores.ranges.set(lo, hi, 'landed', null);
    return [];
  }

  /** A refused range: a single row is the culprit; more are split in halves, each under its own deterministic token. */
  async #split(lo: number, hi: number, token: string, reason: string): Promise<RefusedRow[]> {
    if (hi - lo === 1) return this.lines[lo] === '' ? [] : [{ line: this.lines[lo]!, reason }];
    const mid = lo + Math.floor((hi - lo) / 2);
    const left = await this.range(lo, mid, `${token}:${lo}-${mid}`);
    const right = await this.range(mid, hi, `${token}:${mid}-${hi}`);
    return [...left, ...right];
  }

  /** Whether this row is in ClickHouse: a point lookup by primary key and LogId. */
  async #landed(line: string): Promise<boolean> {
    let values: unknown[];
    try {
      values = JSON.parse(line) as unknown[];
    } catch {
      return false; // a row that does not parse never landed
    }
    this.probes++;
    try {
      return await isRowStored(this.stores.clickhouse, {
        tenant: values[TENANT],
        service: values[SERVICE] ?? '',
        timestamp: values[TIMESTAMP],
        logId: values[LOG_ID],
      });
    } catch (err) {
      throw new FlushFailure(`could not check whether an earlier attempt stored the rows: ${(err as Error).message}`);
    }
  }
}
