/**
 * Self-logs gathered across tail calls (workers/ingest/platform-logs/batch.ts):
 * the "ship now?" table, the batch's size and time triggers, its bounds, and
 * forty tail calls stored in the platform tenant's actor as one batch.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { SelfLogBatch, STALE_SHIPMENT_MS } from '../../workers/ingest/platform-logs/batch.ts';
import { type BatchLimits, type BatchState, SELF_LOG_BATCH_LIMITS, type ShipDecision, shipDecision } from '../../workers/ingest/platform-logs/ship-decision.ts';
import { gatherTailEvents, type PlatformLogsEnv } from '../../workers/ingest/platform-logs/ship.ts';
import type { SelfLogRecord } from '../../workers/ingest/platform-logs/tail-records.ts';
import { provisionTenant } from '../support/control-plane.ts';
import { backgroundWork } from '../support/background-work.ts';
import { actorOf, uniqueTenant } from '../support/in-workerd.ts';

const LIMITS: BatchLimits = { maxRecords: 10, maxBytes: 10_000, maxAgeMs: 1_000, maxInFlight: 2, maxHeldRecords: 30, maxHeldBytes: 1_000_000 };

describe('ship now?', () => {
  // records, bytes, age (ms), shipments in flight → decision
  const table: [string, BatchState, ShipDecision][] = [
    ['nothing gathered', { records: 0, bytes: 0, ageMs: 0, inFlight: 0 }, { action: 'idle' }],
    ['nothing gathered, shipments under way', { records: 0, bytes: 0, ageMs: 0, inFlight: 2 }, { action: 'idle' }],
    ['one fresh record: wait the whole age', { records: 1, bytes: 200, ageMs: 0, inFlight: 0 }, { action: 'wait', inMs: 1_000 }],
    ['a few records, 400 ms old: wait the rest', { records: 5, bytes: 1_000, ageMs: 400, inFlight: 1 }, { action: 'wait', inMs: 600 }],
    ['as many records as a shipment takes', { records: 10, bytes: 2_000, ageMs: 0, inFlight: 0 }, { action: 'ship' }],
    ['as many bytes as a shipment takes', { records: 2, bytes: 10_000, ageMs: 0, inFlight: 1 }, { action: 'ship' }],
    ['the oldest has waited its time', { records: 1, bytes: 200, ageMs: 1_000, inFlight: 0 }, { action: 'ship' }],
    ['due, but two shipments under way', { records: 10, bytes: 2_000, ageMs: 5_000, inFlight: 2 }, { action: 'hold' }],
    ['not due, two shipments under way', { records: 1, bytes: 200, ageMs: 0, inFlight: 2 }, { action: 'hold' }],
  ];
  it.each(table)('%s', (_, state, decision) => {
    expect(shipDecision(state, LIMITS)).toEqual(decision);
  });

  it('ships by records, bytes or a second by default, two shipments at most', () => {
    expect(SELF_LOG_BATCH_LIMITS).toMatchObject({ maxRecords: 500, maxBytes: 512 * 1024, maxAgeMs: 1_000, maxInFlight: 2 });
  });
});

function record(n: number, message = `line ${n}`): SelfLogRecord {
  return { timestamp: new Date(0).toISOString(), level: 'info', service: 'neurallog-ingest', message, attributes: { n: String(n) } };
}

/** A shipper that records each shipment's messages and, when told, keeps its shipments waiting until released. */
function shipper(held = false): { ship: (records: SelfLogRecord[]) => Promise<void>; shipped: string[][]; release: () => void } {
  const shipped: string[][] = [];
  let release: () => void = () => {};
  const gate = held
    ? new Promise<void>((resolve) => {
        release = resolve;
      })
    : Promise.resolve();
  return {
    shipped,
    release: () => release(),
    ship: async (records) => {
      shipped.push(records.map((r) => r.message));
      await gate;
    },
  };
}

describe('the batch', () => {
  it('ships a full batch at once and the rest when its time is up, and the work lives until it is shipped', async () => {
    const batch = new SelfLogBatch({ ...LIMITS, maxAgeMs: 30 });
    const { ship, shipped } = shipper();
    const call = backgroundWork();
    for (let i = 0; i < 25; i++) batch.add([record(i)], ship, call.background);
    // Two full batches went at once; five wait for their time.
    expect(shipped.map((s) => s.length)).toEqual([10, 10]);
    expect(batch.state.records).toBe(5);
    await call.settled();
    expect(shipped.map((s) => s.length)).toEqual([10, 10, 5]);
    expect(shipped.flat()).toEqual(Array.from({ length: 25 }, (_, i) => `line ${i}`));
    expect(batch.state).toMatchObject({ records: 0, inFlight: 0 });
  });

  it('ships by bytes when a few records are large', async () => {
    const batch = new SelfLogBatch({ ...LIMITS, maxAgeMs: 60_000 });
    const { ship, shipped } = shipper();
    const call = backgroundWork();
    batch.add([record(1, 'x'.repeat(6_000))], ship, call.background);
    expect(shipped).toEqual([]);
    batch.add([record(2, 'y'.repeat(6_000))], ship, call.background);
    expect(shipped.map((s) => s.length)).toEqual([2]);
  });

  it('holds a due batch while two shipments are under way, and ships it when one ends', async () => {
    const batch = new SelfLogBatch(LIMITS);
    const slow = shipper(true);
    const call = backgroundWork();
    for (let i = 0; i < 25; i++) batch.add([record(i)], slow.ship, call.background);
    expect(slow.shipped.map((s) => s.length)).toEqual([10, 10]);
    expect(batch.state).toMatchObject({ records: 5, inFlight: 2 });
    for (let i = 25; i < 30; i++) batch.add([record(i)], slow.ship, call.background);
    // Due (10 gathered), held back.
    expect(slow.shipped.length).toBe(2);
    slow.release();
    await call.settled();
    expect(slow.shipped.map((s) => s.length)).toEqual([10, 10, 10]);
  });

  it('drops what is past its bound while shipping is behind, and says how many in the next shipment', async () => {
    const batch = new SelfLogBatch(LIMITS);
    const slow = shipper(true);
    const call = backgroundWork();
    // 20 in flight, 10 gathered: the bound (30) is reached; 15 more are dropped.
    const kept = Array.from({ length: 45 }, (_, i) => batch.add([record(i)], slow.ship, call.background));
    expect(kept.filter((k) => k === 1).length).toBe(30);
    expect(batch.state).toMatchObject({ records: 10, inFlight: 2, dropped: 15 });
    slow.release();
    await call.settled();
    const last = slow.shipped.at(-1)!;
    expect(last.length).toBe(11);
    expect(last.at(-1)).toContain('self_logs.dropped: 15 records were left out');
    expect(batch.state.dropped).toBe(0);
  });

  it('forgets a shipment that never ended (its invocation cancelled) after a minute, so the batch is not held for good', async () => {
    let now = 1_000_000;
    const batch = new SelfLogBatch(LIMITS, () => now);
    const stuck = shipper(true);
    const call = backgroundWork();
    for (let i = 0; i < 20; i++) batch.add([record(i)], stuck.ship, call.background);
    expect(batch.state.inFlight).toBe(2);
    now += STALE_SHIPMENT_MS + 1;
    const fresh = shipper();
    for (let i = 20; i < 30; i++) batch.add([record(i)], fresh.ship, call.background);
    expect(fresh.shipped.map((s) => s.length)).toEqual([10]);
  });
});

describe('gathered into the platform tenant', () => {
  it("stores forty tail calls' lines in the platform tenant's actor as one batch, once its time is up", async () => {
    const tenant = uniqueTenant('platform');
    await provisionTenant(tenant, { plan: 'starter' });
    const shipEnv = { ...env, NEURALLOG_SELF_LOGS: '1', NEURALLOG_PLATFORM_TENANT: tenant } as PlatformLogsEnv;
    // The batch's clock stands still while the calls come in (a loaded machine must not make the batch due between two of them).
    let now = Date.now();
    const batch = new SelfLogBatch({ ...SELF_LOG_BATCH_LIMITS, maxAgeMs: 200 }, () => now);
    // Forty: under the tests' flush threshold (TEST_FLUSH.maxRows, 50), so the rows stay buffered where stats() sees them.
    const calls = Array.from({ length: 40 }, () => backgroundWork());
    for (const [i, call] of calls.entries()) {
      const item = {
        event: { request: { url: 'https://neurallog.test/v1/logs', method: 'POST', headers: { 'x-request-id': `req-${i}` } }, response: { status: 202 } },
        eventTimestamp: Date.now(),
        scriptName: null,
        outcome: 'ok',
        logs: [
          { timestamp: Date.now(), level: 'log', message: [JSON.stringify({ level: 'info', msg: 'ingest.accepted', requestId: `req-${i}`, tenant: 'dev' })] },
        ],
        exceptions: [],
      } as unknown as TraceItem;
      expect(await gatherTailEvents([item], shipEnv, call.background, { batch, producer: 'neurallog-ingest' })).toEqual({ gathered: 1, dropped: 0 });
    }
    expect((await actorOf(tenant).stats()).buffered.rows).toBe(0);
    now += 200;
    // The first call holds the batch's timer: its waitUntil ends once the batch is stored.
    await calls[0]!.settled();
    const stats = await actorOf(tenant).stats();
    expect(stats.buffered).toMatchObject({ rows: 40, chunks: 1 });
  });
});
