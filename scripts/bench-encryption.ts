/**
 * `npm run bench:encryption`: what client-side encryption costs the SDK per
 * record (docs/benchmarks.md, ADR 0017) in each runtime it runs in — Node
 * (this process), Deno (the `deno` package's binary), Chromium (Debian's,
 * through playwright-core, loading the SDK's browser bundle) and workerd
 * (through Miniflare) — with the same records and code path
 * (scripts/bench-encryption/cases.ts: `createEncryption(…)` and its
 * transform, one record at a time, awaited, as the shipper called it, or 16
 * at once, as it runs them now):
 * - a content key per batch (the default: one AES-GCM call a record) or per
 *   record (AES-KW wrap of a fresh key too: three WebCrypto calls);
 * - with blind tokens (a search secret) or without.
 * - a record's blind tokens alone, per keyed PRF (HMAC-SHA-256, keyed BLAKE2s,
 *   keyed BLAKE3: scripts/bench-encryption/prfs.ts) with the tokenizer's cache
 *   and without, and the words split and normalised with no PRF at all.
 * Then, in Node only: one new word's token by each PRF, as v1 made it, by
 * WebCrypto `sign` and (when installed) by SipHash-2-4/128; for scale,
 * JSON.stringify of the record and what the ingest spends checking an envelope.
 *
 * Each figure is the median of BENCH_ROUNDS rounds (5) of BENCH_RECORDS
 * records (20,000), the cases interleaved so a change of the machine's load
 * falls on all alike. CPU is the whole process's, every thread (WebCrypto
 * works on a thread pool in Node, Deno and Chromium), so records/s per
 * CPU-second is the rate one core sustains. BENCH_RUNTIMES=node,deno,chromium,workerd
 * picks the runtimes (default: all four; Chromium is skipped when it is missing);
 * BENCH_CASES=tokens,16 the cases whose names contain one of the parts (default: all).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { _HMAC } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bindClearFields } from '../sdk/src/encryption/clear-fields.ts';
import * as sdk from '../sdk/src/encryption/index.ts';
import { aadMember } from '../sdk/src/encryption/jwe.ts';
import { EncryptedRecords } from '../shared/encryption-envelope.ts';
import { normalizeRecord } from '../shared/normalize.ts';
import { PROJECT_ROOT } from './stack.ts';
import { benchRecords, drive, EncryptionCases, type Figure, selectCases } from './bench-encryption/cases.ts';
import { benchChromium } from './bench-encryption/chromium.ts';
import { PRFS } from './bench-encryption/prfs.ts';
import { benchWorkerd } from './bench-encryption/workerd.ts';
import { CHROMIUM, haveChromium } from '../test/support/browser.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RUNTIMES = (process.env.BENCH_RUNTIMES ?? 'node,deno,chromium,workerd').split(',');
const CASES = selectCases(process.env.BENCH_CASES);

const key = await sdk.generateEncryptionKey();
const benchKey = { publicKey: key.publicKey, searchSecret: key.searchSecret };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function benchNode(): Promise<{ version: string; figures: Figure[] }> {
  const cases = await EncryptionCases.create(sdk, benchKey);
  const figures = await drive(
    async (name, n) => {
      const cpu0 = cpuMs();
      const wallMs = await cases.run(name, n);
      return { name, records: n, wallMs, cpuMs: cpuMs() - cpu0 };
    },
    RECORDS,
    ROUNDS,
    CASES,
  );
  return { version: `Node ${process.version}`, figures };
}

async function benchDeno(): Promise<{ version: string; figures: Figure[] }> {
  const deno = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno');
  const run = promisify(execFile);
  const args = ['run', '--no-config', '--no-lock', '--no-prompt', '--node-modules-dir=manual', join(PROJECT_ROOT, 'scripts', 'bench-encryption', 'deno.ts')];
  const { stdout } = await run(deno, [...args, JSON.stringify(benchKey), String(RECORDS), String(ROUNDS), process.env.BENCH_CASES ?? ''], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 1 << 20,
  });
  const version = (await run(deno, ['--version'])).stdout.split('\n')[0]!.replace(/ \(.*/, '');
  return { version, figures: JSON.parse(stdout.trim().split('\n').at(-1)!) as Figure[] };
}

const runtimes: { version: string; figures: Figure[] }[] = [];
for (const runtime of RUNTIMES) {
  if (runtime === 'node') runtimes.push(await benchNode());
  else if (runtime === 'deno') runtimes.push(await benchDeno());
  else if (runtime === 'workerd') runtimes.push(await benchWorkerd(benchKey, RECORDS, ROUNDS, CASES));
  else if (runtime === 'chromium') {
    if (haveChromium) runtimes.push(await benchChromium(benchKey, RECORDS, ROUNDS, CASES));
    else console.warn(`Chromium skipped: ${CHROMIUM} is missing`);
  } else throw new Error(`BENCH_RUNTIMES: no runtime ${runtime}`);
}

const perSecond = (us: number | null) => (us === null ? '–' : Math.round(1e6 / us).toLocaleString('en'));
console.log(`${RECORDS} records a round, the median of ${ROUNDS} rounds; ${runtimes.map((r) => r.version).join(', ')}\n`);
console.log('CPU µs per record (records/s per CPU-second):\n');
console.log(`| case | ${runtimes.map((r) => r.version).join(' | ')} |`);
console.log(`| --- |${runtimes.map(() => ' ---: |').join('')}`);
for (const c of CASES) {
  const cells = runtimes.map((r) => {
    const f = r.figures.find((x) => x.name === c.name)!;
    return f.cpuUsPerRecord === null ? '–' : `${f.cpuUsPerRecord.toFixed(1)} (${perSecond(f.cpuUsPerRecord)})`;
  });
  console.log(`| ${c.name} | ${cells.join(' | ')} |`);
}
console.log('\nWall µs per record (one chain, or 16 records at once):\n');
console.log(`| case | ${runtimes.map((r) => r.version).join(' | ')} |`);
console.log(`| --- |${runtimes.map(() => ' ---: |').join('')}`);
for (const c of CASES) {
  const cells = runtimes.map((r) => r.figures.find((x) => x.name === c.name)!.wallUsPerRecord.toFixed(1));
  console.log(`| ${c.name} | ${cells.join(' | ')} |`);
}

interface NodeFigure {
  name: string;
  cpuUsPerRecord: number;
  perCpuSecond: number;
  wallPerSecond: number;
}

interface Scenario {
  name: string;
  /** One unit of work: `records` records. */
  work: (i: number) => Promise<unknown> | unknown;
  records?: number;
}

/** One round of a scenario: `n` units, awaited one after the other. */
async function round(scenario: Scenario, n: number): Promise<NodeFigure> {
  const per = scenario.records ?? 1;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await scenario.work(i);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / (n * per);
  return { name: scenario.name, cpuUsPerRecord: cpuUs, perCpuSecond: 1e6 / cpuUs, wallPerSecond: (n * per) / wall };
}

const sample = benchRecords(RECORDS);
{
  // For reading the token rows per term: the distinct terms a record's tokens are made of (its words, two attributes).
  const terms = sample.reduce((n, r) => n + new Set([...sdk.wordsOf(r.message), 'user=', 'order=']).size, 0) / sample.length;
  console.log(`\nTerms per record (distinct words of the body and the two encrypted attributes): ${terms.toFixed(1)}`);
}
const scenarios: Scenario[] = [];
// The logger's own per-record work for scale: serialising the record as the shipper does.
scenarios.push({ name: '(for scale) JSON.stringify of the clear record', work: (i) => JSON.stringify(sample[i % sample.length]!) });
// One new word's token (distinct words, no cache), for the choice of PRF: as v1 made it (HMAC-SHA-256, the word
// UTF-8-encoded by TextEncoder.encode), by WebCrypto, and through the SDK's tokenizer with each PRF; SipHash-2-4/128
// (`siphash`, not a dependency) when installed: npm install --no-save siphash@1.2.0.
const words = Array.from({ length: RECORDS }, (_, i) => `declined${i}`);
const hmacKey = crypto.getRandomValues(new Uint8Array(32));
const subtleKey = await crypto.subtle.importKey('raw', hmacKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const utf8 = new TextEncoder();
scenarios.push({ name: 'one word: HMAC-SHA-256 by WebCrypto sign (awaited)', work: (i) => crypto.subtle.sign('HMAC', subtleKey, utf8.encode(words[i]!)) });
{
  const keyed = new _HMAC(sha256, hmacKey);
  const digest = new Uint8Array(32);
  let scratch: typeof keyed | undefined;
  scenarios.push({
    name: 'one word: v1 as it was (HMAC-SHA-256, TextEncoder.encode per word)',
    work: (i) => {
      const mac = keyed._cloneInto(scratch);
      scratch = mac;
      mac.update(utf8.encode(words[i]!));
      mac.digestInto(digest);
      return digest;
    },
  });
}
for (const { name, factory } of PRFS) {
  const tokenizer = await sdk.BlindTokenizer.fromSecret(key.searchSecret, { prf: factory, cacheEntries: 0 });
  scenarios.push({ name: `one word: ${name} through the tokenizer`, work: (i) => tokenizer.token(words[i]!) });
}
try {
  const sip = createRequire(import.meta.url)('siphash/lib/siphash-double') as { hash_hex: (key: Uint32Array, m: Uint8Array) => string };
  const sipKey = new Uint32Array(hmacKey.buffer, 0, 4);
  const buffer = new Uint8Array(256);
  scenarios.push({
    name: 'one word: SipHash-2-4/128 (siphash 1.2.0), UTF-8 into a reused buffer',
    work: (i) => sip.hash_hex(sipKey, buffer.subarray(0, utf8.encodeInto(words[i]!, buffer).written)),
  });
} catch {
  console.warn('SipHash skipped: the siphash package is not installed (npm install --no-save siphash@1.2.0)');
}

// What binding the clear fields adds to a record (sdk/src/encryption/clear-fields.ts): the fields in the form the
// ingest stores, their canonical encoding, and its base64url — the aad (AES-GCM's share of it is inside WebCrypto).
scenarios.push({
  name: '(SDK) binding the clear fields: canonical encoding and base64url of the aad',
  work: (i) => {
    const r = sample[i % sample.length]!;
    return aadMember(bindClearFields(r, { region: r.attributes!.region }).canonical);
  },
});

// The ingest's side, for scale: a record normalised in clear, and one checked and normalised with its envelope
// (shared/encryption-envelope.ts; the protected header is parsed once per request, as there).
{
  const sealer = await sdk.createEncryption({ publicKey: key.publicKey, encryptAttributes: ['user', 'order'], searchSecret: key.searchSecret });
  const sealed = await Promise.all(sample.slice(0, 1000).map((r) => sealer.encryptRecord(r)));
  const wire = sealed.map((r) => JSON.parse(JSON.stringify(r)) as object);
  const clear = sample.slice(0, 1000).map((r) => JSON.parse(JSON.stringify(r)) as object);
  const ctx = { tenantId: 'bench', retentionDays: 30, receivedAt: '2026-11-30 00:00:00.000000000', batchId: 'B' };
  const envelopes = new EncryptedRecords(256 * 1024);
  scenarios.push({ name: '(ingest) normalising a clear record', work: (i) => normalizeRecord(clear[i % clear.length], i, ctx) });
  scenarios.push({ name: '(ingest) checking and normalising an encrypted record', work: (i) => envelopes.normalize(wire[i % wire.length]!, i, ctx) });
}

// Rounds interleave the scenarios, so a change in the machine's load falls on all of them alike; each figure is
// the round of median CPU.
const seen = new Map<string, NodeFigure[]>(scenarios.map((s) => [s.name, []]));
for (const s of scenarios) await round(s, Math.min(2000, RECORDS)); // warm up
for (let r = 0; r < ROUNDS; r++) for (const s of scenarios) seen.get(s.name)!.push(await round(s, Math.ceil(RECORDS / (s.records ?? 1))));
const best = new Map([...seen].map(([name, fs]) => [name, fs.sort((a, b) => a.cpuUsPerRecord - b.cpuUsPerRecord)[fs.length >> 1]!]));
const figures = scenarios.map((s) => best.get(s.name)!);

console.log(`\nIn Node only (${process.version}), the median of ${ROUNDS} rounds:\n`);
console.log('| what | CPU µs per record | records/s per CPU-second | records/s wall |');
console.log('| --- | ---: | ---: | ---: |');
for (const f of figures) {
  console.log(
    `| ${f.name} | ${f.cpuUsPerRecord.toFixed(1)} | ${Math.round(f.perCpuSecond).toLocaleString('en')} | ${Math.round(f.wallPerSecond).toLocaleString('en')} |`,
  );
}
