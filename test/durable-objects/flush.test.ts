/**
 * Storing one flush (durable-objects/tenant-actor/flush.ts) against a
 * ClickHouse stand-in that refuses rows as ClickHouse does (a parse error
 * fails the whole insert) and keeps no deduplication tokens at all — as if
 * every retry came after the table's deduplication window — so exactly-once
 * rests on the flush's own checks. R2 is the test's local bucket.
 */
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client-web';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ChunkData, PendingFlush } from '../../durable-objects/tenant-actor/log-buffer.ts';
import { gunzipMembers, gzip } from '../../shared/gzip.ts';
import { FlushFailure, MAX_SPLIT_INSERTS, memoryRangeLog, storeFlush, type RangeLog } from '../../durable-objects/tenant-actor/flush.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { LOG_COLUMNS, serializeRows } from '../../shared/row-format.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { uniqueTenant } from '../support/in-workerd.ts';

const LOG_ID = LOG_COLUMNS.indexOf('LogId');
const BODY = LOG_COLUMNS.indexOf('Body');

/** Refuses any insert holding a row whose body says BAD; `failAfter`: the next insert lands, then its answer is lost. */
class ClickHouseStandIn {
  readonly stored: string[] = [];
  inserts = 0;
  probes = 0;
  failNext: 'before' | 'after' | null = null;
  /** The n-th insert fails on the network before reaching ClickHouse. */
  failOnInsert = -1;
  /** The n-th insert lands, and its answer is lost. */
  loseAnswerOfInsert = -1;

  /** The flush's whole-range insert: a gzip body (as ClickHouse's HTTP interface takes it), read as the statement's rows. */
  readonly insertCompressed = async (body: Uint8Array, _token: string) => {
    await this.client.command({ query: `INSERT INTO logs FORMAT JSONCompactEachRow\n${await gunzipMembers(body)}` });
  };

  readonly client = {
    command: async ({ query }: { query: string }) => {
      this.inserts++;
      const lines = query
        .slice(query.indexOf('\n') + 1)
        .trimEnd()
        .split('\n');
      if (this.failNext === 'before' || this.inserts === this.failOnInsert) {
        this.failNext = null;
        throw new Error('fetch failed: connection reset');
      }
      // The Body only: a random batch id (in LogId) may spell BAD in hex.
      if (lines.some((l) => String((JSON.parse(l) as unknown[])[BODY]).includes('BAD'))) {
        throw new ClickHouseError({ message: "Cannot parse input: expected ',' before: 'BAD'", code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
      }
      for (const line of lines) this.stored.push((JSON.parse(line) as string[])[LOG_ID]!);
      if (this.failNext === 'after' || this.inserts === this.loseAnswerOfInsert) {
        this.failNext = null;
        throw new Error('fetch failed: the answer was lost');
      }
      return { query_id: 'q' };
    },
    query: async ({ query_params }: { query_params: { id: string } }) => {
      this.probes++;
      const found = this.stored.includes(query_params.id);
      return { json: async () => (found ? [{ 1: 1 }] : []) };
    },
  };
}

function flushOf(bodies: string[], attempts = 0): { flush: PendingFlush; text: string; ids: string[] } {
  const now = Date.now();
  const batchId = `F${crypto.randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase()}`;
  const ctx = { tenantId: 't', retentionDays: 30, receivedAt: formatClickHouseTime(instantFromMillis(now)), batchId };
  const rows = bodies.map((message, i) => normalizeRecord({ message }, i, ctx));
  const text = serializeRows(rows, { maxRecordBytes: 1 << 20, now })
    .chunks.map((c) => c.text)
    .join('');
  return {
    flush: { batchId, firstSeq: 1, lastSeq: 1, rows: rows.length, bytes: text.length, createdAt: now, attempts, nextAttemptAt: null, lastError: null },
    text,
    ids: rows.map((r) => r.LogId),
  };
}

/**
 * The flush's text as the buffer holds it: in two chunks, the first sealed (a gzip member, as the
 * ingest worker sends labelled rows), the second text (rows the actor labelled, or rewritten by an
 * erasure) — so every test runs through both.
 */
async function partsOf(text: string): Promise<ChunkData[]> {
  const lines = text.split('\n').slice(0, -1);
  const half = Math.ceil(lines.length / 2);
  const sealed = `${lines.slice(0, half).join('\n')}\n`;
  const rest = lines.slice(half);
  return rest.length === 0 ? [await gzip(sealed)] : [await gzip(sealed), `${rest.join('\n')}\n`];
}

async function store(ch: ClickHouseStandIn, tenantId: string, flush: PendingFlush, text: string, ranges: RangeLog = memoryRangeLog()) {
  const stores = { tenantId, archive: env.ARCHIVE, clickhouse: ch.client as unknown as ClickHouseClient, insertCompressed: ch.insertCompressed, ranges };
  return storeFlush(stores, flush, await partsOf(text), 0);
}

describe('storing a flush', () => {
  it('inserts the whole range once when ClickHouse takes it', async () => {
    const ch = new ClickHouseStandIn();
    const { flush, text, ids } = flushOf(Array.from({ length: 50 }, (_, i) => `fine ${i}`));
    const stored = await store(ch, uniqueTenant(), flush, text);
    expect(stored).toMatchObject({ inserts: 1, probes: 0, refused: [], deadLetterKey: null });
    expect(ch.stored).toEqual(ids);
  });

  it('finds the rows ClickHouse refuses, stores the rest once, and puts the refused ones in the dead letters with the reason', async () => {
    const ch = new ClickHouseStandIn();
    const tenant = uniqueTenant();
    const bodies = Array.from({ length: 100 }, (_, i) => (i === 17 || i === 80 ? `BAD ${i}` : `fine ${i}`));
    const { flush, text, ids } = flushOf(bodies);
    const stored = await store(ch, tenant, flush, text);
    expect(stored.refused.map((r) => (JSON.parse(r.line) as string[])[LOG_ID])).toEqual([ids[17], ids[80]]);
    expect(stored.refused[0]!.reason).toMatch(/Cannot parse input/);
    expect([...ch.stored].sort()).toEqual(ids.filter((_, i) => i !== 17 && i !== 80).sort());
    expect(stored.inserts).toBeLessThanOrEqual(2 * 2 * Math.ceil(Math.log2(100)) + 1);
    // The dead letters: deadletter/<tenant>/dt=…/<batchId>.ndjson — a header, then each row with its reason.
    expect(stored.deadLetterKey).toMatch(new RegExp(`^deadletter/${tenant}/dt=\\d{4}-\\d{2}-\\d{2}/${flush.batchId}\\.ndjson$`));
    const object = await env.ARCHIVE.get(stored.deadLetterKey!);
    expect(object?.customMetadata).toMatchObject({ tenant, batchId: flush.batchId, rows: '2' });
    const [header, ...lines] = (await object!.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toEqual({ columns: [...LOG_COLUMNS] });
    expect(lines.map((l: { row: string[] }) => l.row[LOG_COLUMNS.indexOf('Body')])).toEqual(['BAD 17', 'BAD 80']);
    expect(lines[0].reason).toMatch(/Cannot parse input/);
  });

  it('keeps the range for a retry when the network fails while it splits, and the retry stores each row once, checking what landed', async () => {
    const ch = new ClickHouseStandIn();
    const tenant = uniqueTenant();
    const bodies = Array.from({ length: 64 }, (_, i) => (i === 40 ? 'BAD' : `fine ${i}`));
    const { flush, text, ids } = flushOf(bodies);
    ch.failOnInsert = 4; // the whole range refused, its left half stored, its right half refused, then the network goes
    const ranges = memoryRangeLog(); // what the actor's SQLite keeps between attempts
    await expect(store(ch, tenant, flush, text, ranges)).rejects.toThrow(FlushFailure);
    expect(ch.stored.length).toBe(32);
    const retried = await store(ch, tenant, { ...flush, attempts: 1 }, text, ranges);
    expect(retried.landedBefore).toBeGreaterThanOrEqual(1);
    expect(ch.stored.length).toBe(63);
    expect(new Set(ch.stored).size).toBe(63); // none twice, with no deduplication token honoured
    expect(retried.refused.map((r) => (JSON.parse(r.line) as string[])[LOG_ID])).toEqual([ids[40]]);
  });

  it('after a half that landed but lost its answer while splitting, the retry finds it by its first row and sends the rest', async () => {
    const ch = new ClickHouseStandIn();
    const bodies = Array.from({ length: 16 }, (_, i) => (i === 12 ? 'BAD' : `fine ${i}`));
    const { flush, text, ids } = flushOf(bodies);
    const ranges = memoryRangeLog();
    ch.loseAnswerOfInsert = 2; // the whole range refused (and recorded); its left half lands, and the answer is lost
    await expect(store(ch, uniqueTenant(), flush, text, ranges)).rejects.toThrow(FlushFailure);
    expect(ch.stored.length).toBe(8);
    const retried = await store(ch, uniqueTenant(), { ...flush, attempts: 1 }, text, ranges);
    expect(retried.landedBefore).toBe(1);
    expect([...ch.stored].sort()).toEqual(ids.filter((_, i) => i !== 12).sort());
    expect(retried.refused).toHaveLength(1);
  });

  it('skips the lines an erasure emptied, keeping the positions of the ranges recorded before it', async () => {
    const ch = new ClickHouseStandIn();
    const { flush, text, ids } = flushOf(['one', 'BAD', 'three', 'four']);
    const ranges = memoryRangeLog();
    ch.failOnInsert = 2; // refused whole (recorded); the left half's insert fails on the network
    await expect(store(ch, uniqueTenant(), flush, text, ranges)).rejects.toThrow(FlushFailure);
    const erased = text
      .split('\n')
      .map((line, i) => (i === 2 ? '' : line))
      .join('\n'); // "three" erased
    const retried = await store(ch, uniqueTenant(), { ...flush, attempts: 1 }, erased, ranges);
    expect(ch.stored).toEqual([ids[0], ids[3]]);
    expect(retried.refused).toHaveLength(1);
  });

  it('after an insert that landed but lost its answer, the retry finds it and inserts nothing', async () => {
    const ch = new ClickHouseStandIn();
    const { flush, text, ids } = flushOf(['one', 'two', 'three']);
    ch.failNext = 'after';
    await expect(store(ch, uniqueTenant(), flush, text)).rejects.toThrow(FlushFailure);
    const retried = await store(ch, uniqueTenant(), { ...flush, attempts: 1 }, text);
    expect(retried).toMatchObject({ inserts: 0, probes: 1, landedBefore: 1 });
    expect(ch.stored).toEqual(ids);
  });

  it('does not dead-letter a batch ClickHouse refuses wholesale: past the split budget it stays buffered and is retried', async () => {
    const ch = new ClickHouseStandIn();
    const { flush, text } = flushOf(Array.from({ length: MAX_SPLIT_INSERTS }, () => 'BAD'));
    await expect(store(ch, uniqueTenant(), flush, text)).rejects.toThrow(/refuses too much of this batch/);
    expect(ch.stored).toEqual([]);
    expect(ch.inserts).toBe(MAX_SPLIT_INSERTS);
  });
});
