/**
 * `npm run chaos`: the fault suite of docs/reliability.md.
 *
 *   npm run chaos                      # every fault, full durations (≈ 15–20 min on 2 cores)
 *   npm run chaos -- --quick           # every fault, 10 s each, 2 kills (≈ 4–5 min)
 *   npm run chaos -- --faults=workerd-kill,answer-lost --rate=400 --tenants=2
 *
 * Flags, or the environment: --faults / CHAOS_FAULTS (comma list of names,
 * default all), --rate / CHAOS_RATE (records/s, all tenants; default 1000),
 * --tenants / CHAOS_TENANTS (tenants with one actor; a sharded one is always
 * added; default 3), --shards / CHAOS_SHARDS (default 4), --settle /
 * CHAOS_SETTLE_S (steady seconds between faults), --quick / CHAOS_QUICK=1,
 * --keep (keep the data directory), --json=<file> (the result as JSON).
 * Exits 1 when the verdict fails. The disk faults need `mount` (root).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FULL_DURATIONS, faultsFor, QUICK_DURATIONS } from './faults.ts';
import { formatReport, verdict } from './report.ts';
import { runSuite } from './schedule.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.CHAOS_QUICK === '1' },
    faults: { type: 'string', default: process.env.CHAOS_FAULTS ?? '' },
    rate: { type: 'string', default: process.env.CHAOS_RATE ?? '1000' },
    tenants: { type: 'string', default: process.env.CHAOS_TENANTS ?? '3' },
    shards: { type: 'string', default: process.env.CHAOS_SHARDS ?? '4' },
    settle: { type: 'string', default: process.env.CHAOS_SETTLE_S ?? '' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string', default: '' },
  },
});

const all = faultsFor(values.quick ? QUICK_DURATIONS : FULL_DURATIONS);
const wanted = values.faults
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = wanted.filter((name) => !all.some((f) => f.name === name));
if (unknown.length > 0) {
  console.error(`unknown fault(s): ${unknown.join(', ')}; known: ${all.map((f) => f.name).join(', ')}`);
  process.exit(2);
}
const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number`);
    process.exit(2);
  }
  return n;
};

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-chaos-'));
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
log(`data directory ${dataDir}`);
// Ctrl-C: the suite's finally blocks stop the stack and unmount what it mounted.
const interrupted = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort());
try {
  const result = await runSuite({
    dataDir,
    faults: wanted.length === 0 ? all : all.filter((f) => wanted.includes(f.name)),
    recordsPerSecond: positive('rate', values.rate),
    recordsPerBatch: 50,
    tenants: Math.trunc(positive('tenants', values.tenants)),
    shards: Math.trunc(positive('shards', values.shards)),
    settleS: values.settle ? positive('settle', values.settle) : values.quick ? 3 : 10,
    actorDiskBytes: 256 * 2 ** 20,
    bufferMaxRows: 20_000,
    signal: interrupted.signal,
    log,
  });
  console.log(`\n${formatReport(result)}`);
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = verdict(result).ok ? 0 : 1;
} finally {
  if (values.keep) log(`kept ${dataDir}`);
  else await rm(dataDir, { recursive: true, force: true });
}
