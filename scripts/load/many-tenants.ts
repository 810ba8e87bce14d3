/**
 * `npm run load:tenants`: many tenants on one local stack (issue 20, "Load and
 * soak"). It starts the stack as `npm start` does, in its own process tree,
 * data directory and free ports (scripts/bench-stack.ts), provisions
 * LOAD_TENANTS tenants through the admin API, and measures:
 *
 * 1. the cost of an actor: resident memory of the stack's processes and the
 *    actors' SQLite storage before any actor exists, with every tenant's actor
 *    awake, and after the tenants have been idle (LOAD_IDLE_SECONDS);
 * 2. the cost of waking an actor: a tenant's first request ever (a new actor),
 *    a request to an actor that just answered (warm), and one after the idle
 *    period — sequential requests, so nothing queues behind them;
 * 3. the flush pattern with every tenant busy: each sends LOAD_BATCH records
 *    every LOAD_INTERVAL_MS (staggered, open loop) for LOAD_BUSY_SECONDS;
 *    ClickHouse insert parts per second (scripts/load/stack-probe.ts), rows per
 *    insert, ack latency, and that every acknowledged record was stored.
 *
 * The output is a Markdown report for docs/benchmarks.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, startStackProcess, type Stack } from '../bench-stack.ts';
import { cpuDelta, cpuSnapshot } from '../process-cpu.ts';
import { createSender, recordsBody, type Sender } from './sender.ts';
import {
  actorStorage,
  bufferedRows,
  clickhouseClient,
  logsParts,
  MB,
  memoryByLabel,
  percentile,
  processMemory,
  storedRows,
  type ClickHouse,
} from './stack-probe.ts';

const TENANTS = Number(process.env.LOAD_TENANTS ?? 1000);
const BATCH = Number(process.env.LOAD_BATCH ?? 10);
const INTERVAL_MS = Number(process.env.LOAD_INTERVAL_MS ?? 5000);
const BUSY_SECONDS = Number(process.env.LOAD_BUSY_SECONDS ?? 120);
const IDLE_SECONDS = Number(process.env.LOAD_IDLE_SECONDS ?? 90);
/** Tenants sampled one at a time for the wake-up latencies. */
const WAKE_SAMPLE = Math.min(TENANTS, Number(process.env.LOAD_WAKE_SAMPLE ?? 100));
const PROVISION_CONCURRENCY = 8;
const RUN = `load-${Date.now().toString(36)}`;

const tenantId = (i: number) => `${RUN}-${String(i).padStart(5, '0')}`;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Snapshot {
  memory: Map<string, number>;
  storage: { actors: number; bytes: number };
}

function snapshot(dataDir: string): Snapshot {
  const { actors, bytes } = actorStorage(dataDir);
  return { memory: memoryByLabel(processMemory()), storage: { actors, bytes } };
}

async function provision(stack: Stack): Promise<string[]> {
  const keys: string[] = new Array(TENANTS);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < TENANTS; i = next++) {
      const id = tenantId(i);
      await admin(stack, 'POST', '/tenants', { id, name: id, plan: 'starter' });
      keys[i] = `Bearer ${((await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'load', scopes: ['logs:write'] })) as { key: string }).key}`;
    }
  };
  await Promise.all(Array.from({ length: PROVISION_CONCURRENCY }, worker));
  return keys;
}

let sequentialFailures = 0;

/** One request to each of the sampled tenants, one at a time: the latencies (ms) of those acknowledged. */
async function sequentialRound(sender: Sender, keys: string[], sample: number[], seq: number): Promise<number[]> {
  const out: number[] = [];
  for (const i of sample) {
    const res = await sender.post('/v1/logs', keys[i]!, recordsBody(BATCH, RUN, seq)).catch((err: Error) => ({ status: 0, text: err.message, ms: 0 }));
    if (res.status === 202) out.push(res.ms);
    else {
      sequentialFailures++;
      log(`tenant ${tenantId(i)}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  }
  return out.sort((a, b) => a - b);
}

/** workerd's process ids now: a change between snapshots means it was restarted (a crash), which the report must say. */
function workerdPids(): string {
  return processMemory()
    .filter((p) => p.label.startsWith('workerd'))
    .map((p) => p.pid)
    .sort()
    .join(',');
}

interface BusyResult {
  offeredRequests: number;
  acked: number;
  refused: Map<number, number>;
  latencies: number[];
  partsPerSecond: number[];
  insertParts: number;
  activePartsMax: number;
  seconds: number;
}

/** A probe of the embedded ClickHouse, asked again while the engine is too busy to answer within the client's timeout (a starved, shared machine). */
async function patiently<T>(what: string, probe: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await probe();
    } catch (err) {
      if (attempt >= attempts) throw err;
      log(`${what}: ${(err as Error).message}; asking again (${attempt}/${attempts - 1})`);
    }
  }
}

/** Every tenant sends a batch every INTERVAL_MS, staggered over the interval, without waiting for answers. */
async function busy(sender: Sender, keys: string[], ch: ClickHouse): Promise<BusyResult> {
  const latencies: number[] = [];
  const refused = new Map<number, number>();
  let acked = 0;
  let offeredRequests = 0;
  const inFlight = new Set<Promise<void>>();
  const partsPerSecond: number[] = [];
  let activePartsMax = 0;
  const partsAtStart = await patiently('parts at the start', () => logsParts(ch));
  let lastParts = partsAtStart.created;
  const started = performance.now();
  const sampler = setInterval(() => {
    void logsParts(ch).then(
      (p) => {
        partsPerSecond.push((p.created - lastParts) / 5);
        lastParts = p.created;
        activePartsMax = Math.max(activePartsMax, p.active);
      },
      // The engine too busy to answer within the client's timeout: a gap in the series, said as such.
      () => void partsPerSecond.push(Number.NaN),
    );
  }, 5000);
  const slot = INTERVAL_MS / TENANTS;
  for (let n = 0; performance.now() - started < BUSY_SECONDS * 1000; n++) {
    const due = started + n * slot;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const i = n % TENANTS;
    offeredRequests++;
    const p = sender.post('/v1/logs', keys[i]!, recordsBody(BATCH, RUN, n)).then(
      (res) => {
        if (res.status === 202) {
          acked += BATCH;
          latencies.push(res.ms);
        } else refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
      },
      () => void refused.set(0, (refused.get(0) ?? 0) + 1),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const partsAtEnd = await patiently('parts at the end', () => logsParts(ch));
  return {
    offeredRequests,
    acked,
    refused,
    latencies: latencies.sort((a, b) => a - b),
    partsPerSecond,
    insertParts: partsAtEnd.created - partsAtStart.created,
    activePartsMax: Math.max(activePartsMax, partsAtEnd.active),
    seconds,
  };
}

async function waitStored(ch: ClickHouse, expected: number, timeoutMs = 300_000): Promise<{ stored: number; seconds: number }> {
  const t0 = performance.now();
  let stored = 0;
  while (performance.now() - t0 < timeoutMs) {
    stored = await patiently('rows stored', () => storedRows(ch, RUN));
    if (stored >= expected) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { stored, seconds: (performance.now() - t0) / 1000 };
}

function memoryRows(label: string, before: Snapshot, after: Snapshot): string[] {
  const labels = [...new Set([...before.memory.keys(), ...after.memory.keys()])].filter((l) => !l.startsWith('load generator'));
  return labels.map((l) => {
    const delta = (after.memory.get(l) ?? 0) - (before.memory.get(l) ?? 0);
    return `| ${label} | ${l} | ${fmt((after.memory.get(l) ?? 0) / MB)} | ${fmt(delta / MB)} | ${fmt(delta / 1024 / TENANTS, 2)} |`;
  });
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-load-'));
log(`stack in ${dataDir}; ${TENANTS} tenants, ${BATCH} records every ${INTERVAL_MS} ms each, busy ${BUSY_SECONDS} s, idle ${IDLE_SECONDS} s`);
const stack = await startStackProcess(dataDir);
const ch = clickhouseClient(stack.clickhouseUrl);
const sender = createSender(stack.url, 256);
try {
  const empty = snapshot(dataDir);
  let t0 = performance.now();
  const keys = await provision(stack);
  const provisionSeconds = (performance.now() - t0) / 1000;
  log(`provisioned ${TENANTS} tenants + keys in ${fmt(provisionSeconds)} s`);
  const provisioned = snapshot(dataDir);

  const sample = Array.from({ length: WAKE_SAMPLE }, (_, k) => Math.floor((k * TENANTS) / WAKE_SAMPLE));
  const firstEver = await sequentialRound(sender, keys, sample, 0);
  const warm = await sequentialRound(sender, keys, sample, 1);
  log(`first request ever p50 ${fmt(percentile(firstEver, 50))} ms, warm p50 ${fmt(percentile(warm, 50))} ms`);
  // Every other tenant's actor awake too.
  t0 = performance.now();
  const rest = Array.from({ length: TENANTS }, (_, i) => i).filter((i) => !sample.includes(i));
  let wokenAcked = 0;
  for (let k = 0; k < rest.length; k += 64) {
    await Promise.all(
      rest.slice(k, k + 64).map(async (i) => {
        const res = await sender.post('/v1/logs', keys[i]!, recordsBody(BATCH, RUN, 0)).catch((err: Error) => ({ status: 0, text: err.message }));
        if (res.status === 202) wokenAcked++;
        else {
          sequentialFailures++;
          log(`tenant ${tenantId(i)}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      }),
    );
  }
  log(`woke the other ${rest.length} actors in ${fmt((performance.now() - t0) / 1000)} s`);
  const awake = snapshot(dataDir);
  const ackedBeforeBusy = (firstEver.length + warm.length + wokenAcked) * BATCH;
  const pidsBefore = workerdPids();

  log('busy phase…');
  const cpuBefore = cpuSnapshot();
  const busyStarted = performance.now();
  const result = await busy(sender, keys, ch);
  // Which process had the cores while the acks were slow: on one machine the engine and workerd share them.
  const busyCpu = cpuDelta(cpuBefore, cpuSnapshot()).filter(([, seconds]) => seconds > 0.05);
  const busyWallSeconds = (performance.now() - busyStarted) / 1000;
  const busyCpuSeconds = busyCpu.reduce((sum, [, seconds]) => sum + seconds, 0);
  const busySnap = snapshot(dataDir);
  const expected = ackedBeforeBusy + result.acked;
  const drained = await waitStored(ch, expected);
  log(`busy: ${result.acked} acked, ${drained.stored} stored (${fmt(drained.seconds)} s to drain)`);

  log(`idle ${IDLE_SECONDS} s…`);
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const idle = snapshot(dataDir);
  const buffer = bufferedRows(actorStorage(dataDir).files);
  const afterIdle = await sequentialRound(sender, keys, sample, 2);
  const warmAgain = await sequentialRound(sender, keys, sample, 3);
  const expectedAll = expected + (afterIdle.length + warmAgain.length) * BATCH;
  const finalStored = await waitStored(ch, expectedAll);
  const restarted = workerdPids() !== pidsBefore;

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const lat = (xs: number[]) => `${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 99))} / ${fmt(xs[xs.length - 1] ?? 0)}`;
  const offeredPerSecond = (TENANTS * 1000) / INTERVAL_MS;
  const insertsPerSecond = result.insertParts / result.seconds;
  const report = [
    `LOAD_TENANTS=${TENANTS} LOAD_BATCH=${BATCH} LOAD_INTERVAL_MS=${INTERVAL_MS} LOAD_BUSY_SECONDS=${BUSY_SECONDS} LOAD_IDLE_SECONDS=${IDLE_SECONDS} npm run load:tenants`,
    `(${new Date().toISOString().slice(0, 10)}; flush at ${process.env.NEURALLOG_FLUSH_MAX_AGE_MS ?? '1000'} ms max age; machine shared)`,
    '',
    `Provisioning ${TENANTS} tenants and their keys through the admin API: ${fmt(provisionSeconds)} s (${fmt((provisionSeconds * 1000) / TENANTS)} ms per tenant, ${PROVISION_CONCURRENCY} at a time).`,
    '',
    '| state | process | RSS (MiB) | Δ from before (MiB) | Δ per tenant (KiB) |',
    '|---|---|---:|---:|---:|',
    ...memoryRows('provisioned, no actor yet (Δ from empty)', empty, provisioned),
    ...memoryRows('every actor awake (Δ from provisioned)', provisioned, awake),
    ...memoryRows(`busy for ${BUSY_SECONDS} s (Δ from awake)`, awake, busySnap),
    ...memoryRows(`idle ${IDLE_SECONDS} s (Δ from busy)`, busySnap, idle),
    '',
    '| state | actors with storage | SQLite bytes | per actor |',
    '|---|---:|---:|---:|',
    ...[
      ['provisioned', provisioned],
      ['awake (one batch each)', awake],
      ['after the busy phase', busySnap],
      [`idle ${IDLE_SECONDS} s`, idle],
    ].map(([name, s]) => {
      const { actors, bytes } = (s as Snapshot).storage;
      return `| ${name as string} | ${actors} | ${fmt(bytes / MB)} MiB | ${actors ? fmt(bytes / 1024 / actors) : '–'} KiB |`;
    }),
    '',
    buffer
      ? `After the idle period: ${buffer.rows} rows buffered, ${buffer.pendingFlushes} flushes pending across ${actorStorage(dataDir).actors} actors.`
      : 'sqlite3 is not installed: the buffers were not read.',
    '',
    `Ack latency of one request at a time to ${WAKE_SAMPLE} tenants, p50 / p99 / max (ms):`,
    '',
    '| request | p50 / p99 / max ms |',
    '|---|---:|',
    `| the tenant's first ever (new actor, key read from D1) | ${lat(firstEver)} |`,
    `| right after (warm actor, key cached) | ${lat(warm)} |`,
    `| after ${IDLE_SECONDS} s idle | ${lat(afterIdle)} |`,
    `| right after that | ${lat(warmAgain)} |`,
    '',
    `Busy: ${TENANTS} tenants × ${BATCH} records every ${INTERVAL_MS} ms = ${fmt(offeredPerSecond, 0)} requests/s and ${fmt(offeredPerSecond * BATCH, 0)} records/s offered for ${fmt(result.seconds)} s.`,
    '',
    '| measure | figure |',
    '|---|---|',
    `| requests sent / acknowledged | ${result.offeredRequests} / ${result.acked / BATCH} |`,
    `| refused (by status) | ${[...result.refused].map(([s, n]) => `${s}: ${n}`).join(', ') || 'none'} |`,
    `| ack latency p50 / p99 / max | ${lat(result.latencies)} ms |`,
    `| ClickHouse insert parts | ${result.insertParts} in ${fmt(result.seconds)} s = **${fmt(insertsPerSecond)} /s** (per 5 s: ${result.partsPerSecond.map((x) => fmt(x, 0)).join(', ')}) |`,
    `| rows per insert (mean) | ${fmt(result.acked / Math.max(1, result.insertParts))} |`,
    `| inserts per tenant per second | ${fmt(insertsPerSecond / TENANTS, 3)} |`,
    `| active parts, most seen | ${result.activePartsMax} |`,
    `| acknowledged / stored (whole run) | ${expectedAll} / ${finalStored.stored} |`,
    `| requests not acknowledged outside the busy phase | ${sequentialFailures} |`,
    `| workerd restarted during the run | ${restarted ? '**yes** (its process id changed: the figures after it are not comparable)' : 'no'} |`,
    `| memory, mean of the busy snapshot | ${fmt(mean([...busySnap.memory.values()]) / MB)} MiB per process |`,
    '',
    `CPU used by the stack's processes from the start of the busy phase until its last answer (${fmt(busyCpuSeconds)} CPU-seconds in ${fmt(busyWallSeconds)} s; ${availableParallelism()} cores give ${fmt(availableParallelism() * busyWallSeconds)}):`,
    '',
    '| process | CPU-seconds | share |',
    '|---|---:|---:|',
    ...busyCpu.map(([name, seconds]) => `| ${name} | ${fmt(seconds)} | ${fmt((100 * seconds) / busyCpuSeconds, 0)} % |`),
  ].join('\n');
  console.log(`\n${report}\n`);
} finally {
  sender.close();
  await ch.close();
  await stack.stop();
  if (!process.env.LOAD_KEEP_DATA) await rm(dataDir, { recursive: true, force: true });
}
