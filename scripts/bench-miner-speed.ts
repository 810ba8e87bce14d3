/**
 * µs per record of PatternMiner.assign — the miner runs in the tenant's
 * actor for every accepted record, so its per-record cost is ingest cost.
 *
 *   node --import tsx scripts/bench-miner-speed.ts [path/to/miner.ts]
 *
 * Three workloads over the Loghub samples (../shared/data/loghub, or
 * NEURALLOG_LOGHUB_DIR), each the median of several runs with a fresh miner:
 * - raw240: every raw line of the 16 samples (headers included) cut to 240
 *   characters, service = sample, 20 passes;
 * - content: the `Content` column of the 12 labelled samples, one pass from
 *   an empty miner (learning as records come);
 * - steady: the same messages 10 times over (mostly known templates).
 * An optional argument benchmarks another copy of the miner (e.g. the
 * previous version) for comparison.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PatternMiner as Miner } from '../shared/patterns/miner.ts';
import { LABELLED, LOGHUB_DIR, loadLabelled, loghubPresent, UNLABELLED } from './bench-patterns.ts';

type Record = { service: string; message: string };

const RUNS = Number(process.env.RUNS ?? 9);

function usPerRecord(PatternMiner: typeof Miner, records: Record[], passes: number, runs: number): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const miner = new PatternMiner();
    const started = performance.now();
    for (let p = 0; p < passes; p++) for (const { service, message } of records) miner.assign(service, message);
    times.push(((performance.now() - started) * 1000) / (records.length * passes));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  if (!loghubPresent()) {
    console.error(`bench-miner-speed: no Loghub samples at ${LOGHUB_DIR} (set NEURALLOG_LOGHUB_DIR)`);
    process.exit(1);
  }
  const module = process.argv[2] ? pathToFileURL(resolve(process.argv[2])).href : '../shared/patterns/miner.ts';
  const { PatternMiner } = (await import(module)) as { PatternMiner: typeof Miner };

  const raw240: Record[] = [];
  for (const name of [...LABELLED.map((d) => d.name), ...UNLABELLED]) {
    const text = await readFile(join(LOGHUB_DIR, `${name}_2k.log`), 'utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') raw240.push({ service: name, message: line.slice(0, 240) });
  }
  const content: Record[] = [];
  for (const { name } of LABELLED) for (const m of (await loadLabelled(name, 'original')).contents) content.push({ service: name, message: m });

  // Warm-up: let the JIT settle before anything is timed.
  usPerRecord(PatternMiner, raw240, 5, 3);
  usPerRecord(PatternMiner, content, 5, 3);

  const f = (x: number) => x.toFixed(3);
  console.log(`miner: ${process.argv[2] ?? 'shared/patterns/miner.ts'} — µs/record, median of ${RUNS} runs`);
  console.log(`  raw240  (${raw240.length} lines cut to 240 chars, 20 passes): ${f(usPerRecord(PatternMiner, raw240, 20, RUNS))}`);
  console.log(`  content (${content.length} messages, one pass from empty):   ${f(usPerRecord(PatternMiner, content, 1, RUNS * 3))}`);
  console.log(`  steady  (the same messages, 10 passes):         ${f(usPerRecord(PatternMiner, content, 10, RUNS))}`);
}

await main();
