/**
 * `npm run soak` (issue 20): the stack at half load for SOAK_MINUTES (30;
 * `npm run soak -- --minutes 3` also works), sampled every minute, then
 * drained and checked.
 *
 * 1. The stack starts as `npm start` starts it, in its own process tree, data
 *    directory and free ports (scripts/bench-stack.ts).
 * 2. Half load: SOAK_RATE records/s if given, else half of the rate measured
 *    here first — SOAK_MEASURE_SECONDS of closed-loop load, the records
 *    acknowledged and stored divided by the time until they were all stored
 *    (scripts/bench.ts's "end to end"), so that the soak is at half of what
 *    this machine sustains today, shared as it is.
 * 3. Open loop (a batch every SOAK_BATCH / rate seconds, sent without waiting
 *    for earlier answers, so slowness shows as latency and is not hidden by a
 *    slower sender) over SOAK_TENANTS tenants in turn. Every minute: resident
 *    memory of each process of the stack, ack latency p50/p99 of the minute,
 *    ClickHouse active parts and parts created, records buffered in the actors.
 * 4. The drain: sending stops; the script waits until ClickHouse holds every
 *    acknowledged record, then reads the actors' SQLite files (nothing may be
 *    buffered or pending), and counts the run's records in ClickHouse by the
 *    run's tenants: each acknowledged record exactly once (each record's body
 *    is unique in the run, so duplicates show as count > distinct bodies).
 * 5. The verdict (scripts/soak/verdict.ts): no growth after the warm-up, no
 *    latency drift, parts bounded; exit code 1 when it fails.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { admin, startStackProcess } from '../bench-stack.ts';
import { actorStorage, bufferedRows, clickhouseClient, logsParts, MB, memoryByLabel, percentile, processMemory, storedRows } from '../load/stack-probe.ts';
import { createSender, type Sender } from '../load/sender.ts';
import { freePort } from '../ports.ts';
import { cpuSnapshot } from '../process-cpu.ts';
import { collectGarbageEvery, type HeapUsage, isolateHeaps, selectTargets } from '../workerd-inspector.ts';
import { formatHeaps, residentMemory } from './memory-probe.ts';
import { DEFAULT_VERDICT_OPTIONS, type MinuteSample, soakVerdict } from './verdict.ts';

const { values: flags } = parseArgs({ options: { minutes: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' } } });
const MINUTES = Number(flags.minutes ?? process.env.SOAK_MINUTES ?? 30);
const GIVEN_RATE = flags.rate ?? process.env.SOAK_RATE;
const TENANTS = Number(process.env.SOAK_TENANTS ?? 4);
const BATCH = Number(process.env.SOAK_BATCH ?? 500);
const MEASURE_SECONDS = Number(process.env.SOAK_MEASURE_SECONDS ?? 20);
const WARMUP_MINUTES = Number(process.env.SOAK_WARMUP_MINUTES ?? (MINUTES >= 10 ? 5 : 1));
const OUT = flags.out ?? process.env.SOAK_OUT;
const RUN = `soak-${Date.now().toString(36)}`;
/**
 * workerd's inspector (scripts/workerd-inspector.ts): on by default on free ports (SOAK_HEAPS=none
 * turns it off; NEURALLOG_INSPECTOR_PORT / NEURALLOG_ACTORS_INSPECTOR_PORT choose them). Our
 * workers' isolates are collected (a full GC) every SOAK_FORCE_GC_SECONDS (30), as the local
 * runtime collects Miniflare's own (scripts/workers-runtime.ts): V8 does not see the native memory
 * an isolate's garbage holds (request bodies, streams) and, with no heap limit set locally, leaves
 * it for many minutes, so workerd's RSS without these collections is mostly garbage, not what the
 * stack keeps (docs/benchmarks.md, "workerd memory in the soak"). With them, RSS is what is
 * retained, and each collection's answer is the isolate's live heap, which the verdict judges too.
 * SOAK_FORCE_GC selects other isolates (scripts/workerd-inspector.ts; `none`: no collection, RSS
 * then counts garbage); SOAK_HEAPS, the isolates whose heaps are logged as they are every minute.
 */
const HEAPS = process.env.SOAK_HEAPS ?? 'ours,entry,assets,r2,d1';
if (HEAPS !== 'none') {
  process.env.NEURALLOG_INSPECTOR_PORT ??= String(await freePort());
  if (process.env.NEURALLOG_ACTORS_APART === '1') process.env.NEURALLOG_ACTORS_INSPECTOR_PORT ??= String(await freePort());
}
const INSPECTORS = [process.env.NEURALLOG_INSPECTOR_PORT, process.env.NEURALLOG_ACTORS_INSPECTOR_PORT].map(Number).filter((p) => p > 0);
const FORCE_GC = HEAPS === 'none' || process.env.SOAK_FORCE_GC === 'none' ? '' : (process.env.SOAK_FORCE_GC ?? 'ours');
const FORCE_GC_MS = Number(process.env.SOAK_FORCE_GC_SECONDS ?? 30) * 1000;

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');

/** A batch whose every record body is unique in the run (`<tenant> <batch>.<i>`), so a duplicate is countable. */
function batchBody(tenant: string, seq: number): Buffer {
  const records = Array.from({ length: BATCH }, (_, i) => ({
    level: i % 20 === 0 ? 'warn' : 'info',
    service: `svc-${i % 7}`,
    message: `${tenant} ${seq}.${i} GET /api/items/${(seq * 31 + i) % 9973} 200 in ${(seq + i) % 250} ms`,
  }));
  return Buffer.from(JSON.stringify(records));
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-soak-'));
log(`stack in ${dataDir}`);
const stack = await startStackProcess(dataDir);
const ch = clickhouseClient(stack.clickhouseUrl);
const sender: Sender = createSender(stack.url, 256);
/** The live heap (right after the last forced GC) of each collected isolate of ours, by name. */
const liveHeaps = new Map<string, number>();
const inspectorName = (port: number, id: string) => (INSPECTORS.length > 1 ? `${port === INSPECTORS[0] ? 'front' : 'actors'} ${id}` : id);
const collectors = FORCE_GC
  ? INSPECTORS.map((port) =>
      collectGarbageEvery(port, FORCE_GC, FORCE_GC_MS, {
        onCollected: (id, heap) => {
          if (selectTargets([id], 'ours').length > 0) liveHeaps.set(inspectorName(port, id), heap.usedBytes);
        },
        onError: (err) => log(`forced GC (${FORCE_GC}): ${err.message}`),
      }),
    )
  : [];
let exitCode = 0;
try {
  const tenants: { id: string; auth: string; seq: number }[] = [];
  for (let t = 0; t < TENANTS; t++) {
    const id = `${RUN}-${t}`;
    await admin(stack, 'POST', '/tenants', { id, name: id, plan: 'enterprise' });
    await admin(stack, 'PATCH', `/tenants/${id}`, { shardCount: 1 });
    const { key } = (await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'soak', scopes: ['logs:write'] })) as { key: string };
    tenants.push({ id, auth: `Bearer ${key}`, seq: 0 });
  }
  let acked = 0;
  let sent = 0;
  const send = async (): Promise<{ status: number; ms: number }> => {
    const tenant = tenants[sent++ % tenants.length]!;
    const seq = tenant.seq++;
    const res = await sender.post('/v1/logs', tenant.auth, batchBody(tenant.id, seq));
    if (res.status === 202) acked += BATCH;
    return res;
  };
  const waitStored = async (expected: number, timeoutMs: number) => {
    const t0 = performance.now();
    let stored = await storedRows(ch, RUN);
    while (stored < expected && performance.now() - t0 < timeoutMs) {
      await new Promise((r) => setTimeout(r, 1000));
      stored = await storedRows(ch, RUN);
    }
    return { stored, seconds: (performance.now() - t0) / 1000 };
  };

  let rate: number;
  let measured = '';
  if (GIVEN_RATE) {
    rate = Number(GIVEN_RATE);
  } else {
    const t0 = performance.now();
    const deadline = t0 + MEASURE_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < deadline) await send();
      }),
    );
    const { stored, seconds } = await waitStored(acked, 300_000);
    const endToEnd = stored / ((performance.now() - t0) / 1000);
    rate = Math.round(endToEnd / 2);
    measured = `measured end to end ${fmt(endToEnd, 0)} records/s (${stored} records, ${fmt(seconds)} s of drain) over ${MEASURE_SECONDS} s, closed loop, 8 at a time`;
    log(measured);
  }
  log(`soak: ${MINUTES} min at ${rate} records/s over ${TENANTS} tenants, ${BATCH}-record batches, warm-up ${WARMUP_MINUTES} min`);

  const samples: (MinuteSample & {
    offered: number;
    ackedInMinute: number;
    refused: number;
    partsCreated: number;
    buffered: number | null;
    workerdAnonBytes: number;
    workerdCpuUsPerRecord: number;
  })[] = [];
  let minuteLatencies: number[] = [];
  let minuteOffered = 0;
  let minuteAcked = 0;
  let minuteRefused = 0;
  const refusedByStatus = new Map<number, number>();
  const ackedBeforeSoak = acked;
  const heapProbes: Promise<void>[] = [];
  /** The heaps of the isolates SOAK_HEAPS selects, as they are, for the log. */
  const probeHeaps = async (sample: MinuteSample) => {
    const heaps = new Map<string, HeapUsage | null>();
    for (const port of INSPECTORS) {
      try {
        for (const [id, u] of await isolateHeaps(port, HEAPS, false)) heaps.set(inspectorName(port, id), u);
      } catch (err) {
        log(`heaps from inspector ${port}: ${(err as Error).message}`);
      }
    }
    log(`  minute ${sample.minute} heaps used/total MiB, as they are: ${formatHeaps(heaps)}`);
  };
  let lastCreated = (await logsParts(ch)).created;
  const workerdCpuSeconds = () => [...cpuSnapshot()].reduce((sum, [label, seconds]) => sum + (label.startsWith('workerd') ? seconds : 0), 0);
  let lastCpu = workerdCpuSeconds();
  const intervalMs = (BATCH / rate) * 1000;
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let nextSample = started + 60_000;
  for (let i = 0; performance.now() - started < MINUTES * 60_000; i++) {
    const due = started + i * intervalMs;
    const wait = Math.min(due, nextSample) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (performance.now() >= nextSample) {
      // The minute's figures are taken before anything is awaited: answers arriving meanwhile belong to the next minute.
      const lat = minuteLatencies.sort((a, b) => a - b);
      const [p50Ms, p99Ms] = [percentile(lat, 50), percentile(lat, 99)];
      const minute = { offered: minuteOffered, acked: minuteAcked, refused: minuteRefused };
      minuteLatencies = [];
      minuteOffered = minuteAcked = minuteRefused = 0;
      const parts = await logsParts(ch);
      const buffered = bufferedRows(actorStorage(dataDir).files);
      const cpu = workerdCpuSeconds();
      const processes = processMemory();
      const workerd = processes.filter((p) => p.label.startsWith('workerd'));
      const resident = workerd.map((p) => ({ label: p.label, memory: residentMemory(p.pid) }));
      const sample: (typeof samples)[number] = {
        minute: samples.length + 1,
        rssBytes: Object.fromEntries([...memoryByLabel(processes)].filter(([l]) => !l.startsWith('load generator'))),
        p50Ms,
        p99Ms,
        activeParts: parts.active,
        offered: minute.offered,
        ackedInMinute: minute.acked,
        refused: minute.refused,
        partsCreated: parts.created - lastCreated,
        buffered: buffered?.rows ?? null,
        ...(liveHeaps.size > 0 ? { liveHeapBytes: Object.fromEntries(liveHeaps) } : {}),
        workerdAnonBytes: resident.reduce((sum, r) => sum + (r.memory?.anonBytes ?? 0), 0),
        workerdCpuUsPerRecord: ((cpu - lastCpu) * 1e6) / Math.max(1, minute.acked),
      };
      lastCpu = cpu;
      samples.push(sample);
      lastCreated = parts.created;
      for (const r of resident) if (r.memory) log(`  ${r.label}: anon ${fmt(r.memory.anonBytes / MB, 0)} MiB, file ${fmt(r.memory.fileBytes / MB, 0)} MiB`);
      if (sample.liveHeapBytes)
        log(
          `  live heaps after the last forced GC, MiB: ${Object.entries(sample.liveHeapBytes)
            .map(([id, b]) => `${id.replace('core:user:', '')} ${fmt(b / MB)}`)
            .join(', ')}`,
        );
      // Not awaited: the sending must go on meanwhile.
      if (INSPECTORS.length > 0 && HEAPS !== 'none') heapProbes.push(probeHeaps(sample));
      log(
        `minute ${sample.minute}: ${sample.ackedInMinute} acked, workerd ${fmt(sample.workerdCpuUsPerRecord)} µs CPU/record, p50 ${fmt(sample.p50Ms)} p99 ${fmt(sample.p99Ms)} ms, parts ${sample.activeParts} (+${sample.partsCreated}), buffered ${sample.buffered}, RSS ${Object.entries(
          sample.rssBytes,
        )
          .map(([l, b]) => `${l} ${fmt(b / MB, 0)}`)
          .join(', ')} MiB`,
      );
      nextSample += 60_000;
      continue;
    }
    minuteOffered += BATCH;
    const p = send().then(
      (res) => {
        if (res.status === 202) {
          minuteAcked += BATCH;
          minuteLatencies.push(res.ms);
        } else {
          minuteRefused += BATCH;
          refusedByStatus.set(res.status, (refusedByStatus.get(res.status) ?? 0) + 1);
        }
      },
      () => {
        minuteRefused += BATCH;
        refusedByStatus.set(0, (refusedByStatus.get(0) ?? 0) + 1);
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all([...inFlight, ...heapProbes]);
  const sendSeconds = (performance.now() - started) / 1000;
  log(`sending stopped after ${fmt(sendSeconds)} s; draining…`);

  const drain = await waitStored(acked, 600_000);
  // The actors' buffers: rows are deleted after their flush, a moment after they are visible in ClickHouse.
  let buffer = bufferedRows(actorStorage(dataDir).files);
  for (let tries = 0; buffer && (buffer.rows > 0 || buffer.pendingFlushes > 0) && tries < 30; tries++) {
    await new Promise((r) => setTimeout(r, 1000));
    buffer = bufferedRows(actorStorage(dataDir).files);
  }
  const rs = await ch.query({
    query: 'SELECT count() AS n, uniqExact(Body) AS distinct FROM logs WHERE startsWith(TenantId, {p:String})',
    query_params: { p: RUN },
    format: 'JSONEachRow',
  });
  const [counts] = await rs.json<{ n: string; distinct: string }>();
  const stored = Number(counts!.n);
  const distinct = Number(counts!.distinct);
  const exactlyOnce = stored === acked && distinct === stored;
  const drained = buffer !== null && buffer.rows === 0 && buffer.pendingFlushes === 0;

  const verdict = soakVerdict(samples, { ...DEFAULT_VERDICT_OPTIONS, warmupMinutes: WARMUP_MINUTES });
  const labels = [...new Set(samples.flatMap((s) => Object.keys(s.rssBytes)))].sort();
  const heapLabels = [...new Set(samples.flatMap((s) => Object.keys(s.liveHeapBytes ?? {})))].sort();
  const short = (l: string) => l.replace(/ \(.*\)$/, '').replace(/^.*\/bin\//, '');
  const report = [
    `\`npm run soak -- --minutes ${MINUTES}${GIVEN_RATE ? ` --rate ${GIVEN_RATE}` : ''}\` (${new Date().toISOString().slice(0, 10)}, machine shared with other agents' tests)`,
    '',
    measured ? `Half load: ${measured}; the soak offered half: **${rate} records/s**.` : `Rate given: ${rate} records/s.`,
    `${TENANTS} tenants (enterprise plan, one actor each), ${BATCH}-record JSON batches, open loop; warm-up ${WARMUP_MINUTES} min.`,
    '',
    `| min | acked | refused | ack p50 ms | ack p99 ms | active parts | parts created | buffered rows | ${labels.map((l) => `${short(l)} MiB`).join(' | ')} |`,
    `|---:|---:|---:|---:|---:|---:|---:|---:|${labels.map(() => '---:').join('|')}|`,
    ...samples.map(
      (s) =>
        `| ${s.minute} | ${s.ackedInMinute} | ${s.refused} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${s.activeParts} | ${s.partsCreated} | ${s.buffered ?? '–'} | ${labels
          .map((l) => fmt((s.rssBytes[l] ?? 0) / MB, 0))
          .join(' | ')} |`,
    ),
    '',
    ...(heapLabels.length > 0
      ? [
          "workerd's CPU per acknowledged record in the minute, its anonymous memory, and our isolates' live JS heap right after a full GC (MiB):",
          '',
          `| min | workerd CPU µs/record | workerd anon | ${heapLabels.map((l) => l.replace('core:user:', '')).join(' | ')} |`,
          `|---:|---:|---:|${heapLabels.map(() => '---:').join('|')}|`,
          ...samples.map(
            (s) =>
              `| ${s.minute} | ${fmt(s.workerdCpuUsPerRecord)} | ${fmt(s.workerdAnonBytes / MB, 0)} | ${heapLabels.map((l) => (s.liveHeapBytes?.[l] === undefined ? '–' : fmt(s.liveHeapBytes[l]! / MB))).join(' | ')} |`,
          ),
          '',
        ]
      : []),
    `After the drain (${fmt(drain.seconds)} s until ClickHouse held every acknowledged record):`,
    '',
    '| check | result |',
    '|---|---|',
    `| acknowledged / stored / distinct bodies | ${acked} / ${stored} / ${distinct} (${ackedBeforeSoak} of them during the rate measurement) — **${exactlyOnce ? 'each exactly once' : 'MISMATCH'}** |`,
    `| refused (by status) | ${[...refusedByStatus].map(([s, n]) => `${s}: ${n} requests`).join(', ') || 'none'} |`,
    `| actors' storage after the drain | ${buffer ? `${buffer.rows} rows buffered, ${buffer.pendingFlushes} flushes pending in ${actorStorage(dataDir).actors} actors — **${drained ? 'empty' : 'NOT EMPTY'}**` : 'not read (sqlite3 not installed)'} |`,
    '',
    verdict.judged
      ? [
          `**Verdict: ${verdict.ok ? 'no growth, no drift' : 'FAILED'}** (after minute ${WARMUP_MINUTES}):`,
          '',
          ...verdict.findings.map((f) => `- ${f.ok ? 'ok' : '**FAILED**'} — ${f.what}: ${f.detail}`),
        ].join('\n')
      : `Verdict: not judged — ${verdict.reason}.`,
  ].join('\n');
  console.log(`\n${report}\n`);
  if (OUT) await writeFile(OUT, `${report}\n`);
  if (!exactlyOnce || (buffer !== null && !drained) || (verdict.judged && !verdict.ok)) exitCode = 1;
} finally {
  for (const c of collectors) c.stop();
  sender.close();
  await ch.close();
  await stack.stop();
  if (!process.env.SOAK_KEEP_DATA) await rm(dataDir, { recursive: true, force: true });
}
process.exit(exitCode);
