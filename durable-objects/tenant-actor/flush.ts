/**
 * The flush itself: one recorded range of buffered rows into the R2 archive
 * and into ClickHouse, exactly once, and rows ClickHouse refuses into the
 * tenant's dead letters instead of blocking everything behind them.
 *
 * 1. R2 first: the rows (all of them) as one gzip NDJSON object, keyed by the
 *    flush's batch id, so a retry overwrites it.
 * 2. ClickHouse: one insert with `insert_deduplication_token = batchId`.
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
import { ARCHIVE_HEADER, LOG_COLUMNS } from '../../shared/row-format.ts';
import { archiveKey, writeArchive } from './archive.ts';
import { deadLetterKey, writeDeadLetters, type RefusedRow } from './dead-letter.ts';
import type { PendingFlush } from './log-buffer.ts';

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
  clickhouse: ClickHouseClient;
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
  timings: { readMs: number; archiveMs: number; insertMs: number };
}

/** The flush could not complete: the rows stay buffered and the same range is retried. */
export class FlushFailure extends Error {}

export async function storeFlush(stores: FlushStores, flush: PendingFlush, text: string, readMs: number): Promise<StoredFlush> {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  // The rows as sent: without the lines an erasure emptied (the common case has none, and is sent as it is).
  const rows = text.includes('\n\n') || text.startsWith('\n') ? joinRows(lines) : text;
  const t0 = Date.now();
  const archivedBytes = await writeArchive(stores.archive, archiveKey(stores.tenantId, flush.batchId, flush.createdAt), ARCHIVE_HEADER + rows, {
    tenantId: stores.tenantId,
    batchId: flush.batchId,
    rows: flush.rows,
  });
  const t1 = Date.now();
  const insert = new RangeInserter(stores, lines, rows, flush.attempts > 0);
  const refused = await insert.range(0, lines.length, flush.batchId);
  const t2 = Date.now();
  let key: string | null = null;
  if (refused.length > 0) {
    key = deadLetterKey(stores.tenantId, flush.batchId, flush.createdAt);
    await writeDeadLetters(stores.archive, key, refused, { tenantId: stores.tenantId, batchId: flush.batchId });
  }
  return {
    archivedBytes,
    inserts: insert.inserts,
    probes: insert.probes,
    landedBefore: insert.landed,
    refused,
    deadLetterKey: key,
    timings: { readMs, archiveMs: t1 - t0, insertMs: t2 - t1 },
  };
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
    /** The whole flush's insert text. */
    private readonly all: string,
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
    const text = whole ? this.all : joinRows(this.lines.slice(lo, hi));
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
      await insertRows(this.stores.clickhouse, LOGS_TABLE, text, token);
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
      const result = await this.stores.clickhouse.query({
        query:
          `SELECT 1 FROM ${LOGS_TABLE} WHERE TenantId = {tenant:String} AND ServiceName = {service:String} ` +
          "AND TimestampTime = toDateTime({ts:DateTime64(9, 'UTC')}) AND Timestamp = {ts:DateTime64(9, 'UTC')} AND LogId = {id:String} LIMIT 1",
        query_params: { tenant: values[TENANT], service: values[SERVICE] ?? '', ts: values[TIMESTAMP], id: values[LOG_ID] },
        format: 'JSONEachRow',
      });
      return (await result.json()).length > 0;
    } catch (err) {
      throw new FlushFailure(`could not check whether an earlier attempt stored the rows: ${(err as Error).message}`);
    }
  }
}
