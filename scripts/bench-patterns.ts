/**
 * `npm run bench:patterns`: the pattern miner (shared/patterns) on Loghub.
 *
 * - Accuracy: for the 12 labelled Loghub-2k samples, each message's Content is
 *   fed in file order through `PatternMiner.assign` (service = the dataset),
 *   ids are followed through the `replaces` aliases, and Grouping Accuracy and
 *   Parsing Accuracy are computed against the original and the corrected
 *   ground truth — beside the published GA of Drain and Brain.
 * - Throughput: records/s of `assign`, single thread, median of several runs.
 * - Generalisation: the four unlabelled samples (HealthApp, Linux, OpenStack,
 *   Thunderbird), fed as whole raw lines (as a shipper sending unparsed lines
 *   would) and after a generic header strip; the template count and the most
 *   frequent templates, for a person to judge.
 *
 * The samples live outside the repository: ../shared/data/loghub, or
 * NEURALLOG_LOGHUB_DIR.
 */
import { parse } from 'csv-parse/sync';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { groupingAccuracy, parsingAccuracy, resolveAliases } from '../shared/patterns/accuracy.ts';
import { type MinerOptions, type PatternChange, PatternMiner } from '../shared/patterns/miner.ts';
import { tokenize, WILDCARD } from '../shared/patterns/tokens.ts';

export const LOGHUB_DIR = process.env.NEURALLOG_LOGHUB_DIR ?? resolve(import.meta.dirname, '../../shared/data/loghub');

/**
 * The 12 labelled datasets with the published Grouping Accuracy of Drain and
 * Brain (each with its dataset-specific regexes and settings):
 * Drain — Zhu et al., "Tools and Benchmarks for Automated Log Parsing",
 * ICSE-SEIP 2019, Table III (the logparser README's benchmark table);
 * Brain — logpai/logparser `logparser/Brain/Brain_bechmark_result.csv`
 * (Yu et al., "Brain: Log Parsing with Bidirectional Parallel Tree", TSC 2023).
 */
export const LABELLED: readonly { name: string; drain: number; brain: number }[] = [
  { name: 'Android', drain: 0.911, brain: 0.9605 },
  { name: 'Apache', drain: 1.0, brain: 1.0 },
  { name: 'BGL', drain: 0.963, brain: 0.986 },
  { name: 'HDFS', drain: 0.998, brain: 0.9975 },
  { name: 'HPC', drain: 0.887, brain: 0.945 },
  { name: 'Hadoop', drain: 0.948, brain: 0.949 },
  { name: 'Mac', drain: 0.787, brain: 0.942 },
  { name: 'OpenSSH', drain: 0.788, brain: 1.0 },
  { name: 'Proxifier', drain: 0.527, brain: 1.0 },
  { name: 'Spark', drain: 0.92, brain: 0.9975 },
  { name: 'Windows', drain: 0.997, brain: 0.997 },
  { name: 'Zookeeper', drain: 0.967, brain: 0.9875 },
];

export const UNLABELLED = ['HealthApp', 'Linux', 'OpenStack', 'Thunderbird'] as const;

export type Variant = 'original' | 'corrected';

export interface LabelledSample {
  contents: string[];
  eventIds: string[];
  templates: string[];
}

export function loghubPresent(): boolean {
  return existsSync(join(LOGHUB_DIR, 'groundtruth', 'HDFS_2k.corrected.csv'));
}

export async function loadLabelled(name: string, variant: Variant): Promise<LabelledSample> {
  const text = await readFile(join(LOGHUB_DIR, 'groundtruth', `${name}_2k.${variant}.csv`), 'utf8');
  const rows: { Content: string; EventId: string; EventTemplate: string }[] = parse(text, { columns: true, skip_empty_lines: true, relax_quotes: true });
  return { contents: rows.map((r) => r.Content), eventIds: rows.map((r) => r.EventId), templates: rows.map((r) => r.EventTemplate) };
}

export interface Accuracy {
  ga: number;
  pa: number;
  templates: number;
}

/** Feeds the messages in order through one miner (service = `service`) and scores the final (alias-resolved) answers. */
export function measure(service: string, sample: LabelledSample, options?: MinerOptions): Accuracy {
  const miner = new PatternMiner(options);
  const assigned = sample.contents.map((m) => miner.assign(service, m));
  const changes: PatternChange[] = miner.takeChanges();
  const aliases = resolveAliases(changes);
  const templateOf = new Map<string, string>();
  for (const a of assigned) templateOf.set(a.patternId, a.template);
  for (const c of changes) templateOf.set(c.patternId, c.template);
  const ids = assigned.map((a) => aliases.get(a.patternId) ?? a.patternId);
  const templates = ids.map((id) => templateOf.get(id)!);
  return {
    ga: groupingAccuracy(sample.eventIds, ids),
    pa: parsingAccuracy(sample.templates, templates),
    templates: new Set(ids).size,
  };
}

export async function measureAll(): Promise<{ name: string; drain: number; brain: number; original: Accuracy; corrected: Accuracy }[]> {
  const results = [];
  for (const d of LABELLED) {
    const original = measure(d.name, await loadLabelled(d.name, 'original'));
    const corrected = measure(d.name, await loadLabelled(d.name, 'corrected'));
    results.push({ ...d, original, corrected });
  }
  return results;
}

const LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'NOTICE', 'WARN', 'WARNING', 'ERROR', 'ERR', 'CRITICAL', 'CRIT', 'FATAL', 'ALERT', 'EMERG', 'SEVERE']);

/**
 * A generic header strip for raw lines, the same for every file: drop the
 * leading tokens that are values by shape (timestamps, pids, numbers) or
 * level words or a lone `-`, then, if one of the next six tokens ends with
 * `:` `]` or `|` (a `tag[pid]:` or `component:`), everything up to it.
 */
export function stripHeader(line: string): string {
  const words = line.trim().split(/[\s|]+/); // the tokenizer's separators
  let i = 0;
  while (i < words.length && (tokenize(words[i]!)[0] === WILDCARD || LEVELS.has(words[i]!.replace(/[^A-Za-z]/g, '').toUpperCase()) || words[i] === '-')) i++;
  for (let j = i; j < Math.min(words.length - 1, i + 6); j++) {
    if (/[:\]|]$/.test(words[j]!)) {
      i = j + 1;
      break;
    }
  }
  return words.slice(i).join(' ');
}

async function loadLines(name: string): Promise<string[]> {
  return (await readFile(join(LOGHUB_DIR, `${name}_2k.log`), 'utf8')).split('\n').filter((l) => l.trim() !== '');
}

function topTemplates(service: string, messages: string[], top: number): { count: number; templates: [string, number][] } {
  const miner = new PatternMiner();
  const assigned = messages.map((m) => miner.assign(service, m));
  const aliases = resolveAliases(miner.takeChanges());
  const live = new Map<string, string>();
  for (const t of miner.templates()) live.set(t.patternId, t.template);
  const counts = new Map<string, number>();
  for (const a of assigned) {
    const id = aliases.get(a.patternId) ?? a.patternId;
    const template = live.get(id) ?? a.template;
    counts.set(template, (counts.get(template) ?? 0) + 1);
  }
  return { count: counts.size, templates: [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top) };
}

/** Records/s of `assign`: fresh miner per run, all labelled messages `passes` times over; median of `runs`. */
export function throughput(messages: { service: string; message: string }[], passes: number, runs: number): number {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const miner = new PatternMiner();
    const started = performance.now();
    for (let p = 0; p < passes; p++) for (const { service, message } of messages) miner.assign(service, message);
    const seconds = (performance.now() - started) / 1000;
    rates.push((messages.length * passes) / seconds);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  if (!loghubPresent()) {
    console.error(`bench:patterns: no Loghub samples at ${LOGHUB_DIR} (set NEURALLOG_LOGHUB_DIR)`);
    process.exit(1);
  }
  const results = await measureAll();
  console.log('Accuracy on Loghub-2k (GA = grouping accuracy, PA = parsing accuracy; ours: one generic configuration)\n');
  console.log('| dataset | GA original | GA corrected | PA original | PA corrected | templates (truth) | Drain GA | Brain GA |');
  console.log('|---|---|---|---|---|---|---|---|');
  const avg = (f: (r: (typeof results)[number]) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
  for (const r of results) {
    const truth = new Set((await loadLabelled(r.name, 'corrected')).eventIds).size;
    console.log(
      `| ${r.name} | ${f3(r.original.ga)} | ${f3(r.corrected.ga)} | ${f3(r.original.pa)} | ${f3(r.corrected.pa)} | ${r.corrected.templates} (${truth}) | ${f3(r.drain)} | ${f3(r.brain)} |`,
    );
  }
  console.log(
    `| **average** | **${f3(avg((r) => r.original.ga))}** | **${f3(avg((r) => r.corrected.ga))}** | ${f3(avg((r) => r.original.pa))} | ${f3(avg((r) => r.corrected.pa))} | | ${f3(avg((r) => r.drain))} | ${f3(avg((r) => r.brain))} |`,
  );

  const messages: { service: string; message: string }[] = [];
  for (const d of LABELLED) for (const m of (await loadLabelled(d.name, 'corrected')).contents) messages.push({ service: d.name, message: m });
  const raw: { service: string; message: string }[] = [];
  for (const name of [...LABELLED.map((d) => d.name), ...UNLABELLED]) for (const line of await loadLines(name)) raw.push({ service: name, message: line });
  throughput(messages, 2, 2); // warm-up
  console.log(`\nThroughput (single thread, median of 7 runs, a fresh miner per run):`);
  console.log(
    `  one pass from an empty miner (${messages.length} labelled messages, learning as they come): ${Math.round(throughput(messages, 1, 7)).toLocaleString('en')} records/s`,
  );
  console.log(`  steady (the same messages 10 times over): ${Math.round(throughput(messages, 10, 7)).toLocaleString('en')} records/s`);
  console.log(
    `  raw lines (${raw.length} lines of all 16 samples, headers included, 10 times over): ${Math.round(throughput(raw, 10, 7)).toLocaleString('en')} records/s`,
  );

  for (const name of UNLABELLED) {
    const lines = await loadLines(name);
    for (const [label, messagesOf] of [
      ['raw lines', lines],
      ['after the generic header strip', lines.map(stripHeader)],
    ] as const) {
      const { count, templates } = topTemplates(name, [...messagesOf], 15);
      console.log(`\n${name} (${label}): ${count} templates for ${lines.length} lines; the 15 most frequent:`);
      for (const [template, n] of templates) console.log(`  ${String(n).padStart(5)}  ${template.length > 150 ? `${template.slice(0, 150)}…` : template}`);
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
