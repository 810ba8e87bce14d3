/**
 * `npm run bench:encryption`: what client-side encryption costs the SDK per
 * record (docs/benchmarks.md, ADR 0017), in this Node process, through the
 * transform the logger runs — one record at a time, awaited, as the shipper
 * calls it:
 * - a content key per batch (the default: one AES-GCM call a record) or per
 *   record (AES-KW wrap of a fresh key too: three WebCrypto calls);
 * - with blind tokens (a search secret) or without;
 * and, for the choice of HMAC, one word's token by WebCrypto `sign` and by
 * @noble/hashes with the keyed state cloned; and, for scale, what the ingest
 * spends checking an envelope.
 *
 * Each figure is the best of BENCH_ROUNDS rounds (5) of BENCH_RECORDS records
 * (20,000). CPU is process.cpuUsage (every thread: WebCrypto's work runs on libuv's
 * pool), so records/s per CPU-second is the rate one core sustains; wall
 * records/s is what one awaited chain achieves. Records look like
 * application logs: 8–14 words with ids and numbers that change, and three
 * attributes of which two are encrypted.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createEncryption, generateEncryptionKey } from '../sdk/src/encryption/index.ts';
import type { LogRecord } from '../sdk/src/record.ts';
import { EncryptedRecords } from '../shared/encryption-envelope.ts';
import { normalizeRecord } from '../shared/normalize.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const TEMPLATES = [
  (i: number) => `user u${i % 5000} logged in from 10.0.${i % 256}.${(i * 7) % 256} after ${i % 4} attempts`,
  (i: number) => `payment ${i} declined by issuer: insufficient funds (card ending ${1000 + (i % 9000)})`,
  (i: number) => `GET /api/orders/${i} 200 ${i % 900} ms`,
  (i: number) => `connection reset by peer while reading response from upstream 10.1.${i % 256}.3:8080`,
];

function records(n: number): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: new Date(1_780_000_000_000 + i).toISOString(),
    level: 'info',
    message: TEMPLATES[i % TEMPLATES.length]!(i),
    service: 'checkout',
    attributes: { user: `u${i % 5000}`, order: `A-${i}`, region: i % 2 ? 'eu' : 'us' },
  }));
}

interface Figure {
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
async function round(scenario: Scenario, n: number): Promise<Figure> {
  const per = scenario.records ?? 1;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await scenario.work(i);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / (n * per);
  return { name: scenario.name, cpuUsPerRecord: cpuUs, perCpuSecond: 1e6 / cpuUs, wallPerSecond: (n * per) / wall };
}

const key = await generateEncryptionKey();
const sample = records(RECORDS);
const scenarios: Scenario[] = [];
for (const contentKeyPerRecord of [false, true]) {
  for (const tokens of [false, true]) {
    const encryption = await createEncryption({
      publicKey: key.publicKey,
      encryptAttributes: ['user', 'order'],
      contentKeyPerRecord,
      ...(tokens && { searchSecret: key.searchSecret }),
    });
    const name = `content key per ${contentKeyPerRecord ? 'record' : 'batch'}, ${tokens ? 'with' : 'without'} blind tokens`;
    scenarios.push({ name, work: (i) => encryption.encryptRecord(sample[i % sample.length]!) });
  }
}
// If the shipper ran several records' transforms at once (it awaits one at a time), the WebCrypto calls would overlap.
const IN_FLIGHT = 16;
const overlapping = await createEncryption({ publicKey: key.publicKey, encryptAttributes: ['user', 'order'], searchSecret: key.searchSecret });
scenarios.push({
  name: `content key per batch, with blind tokens, ${IN_FLIGHT} records in flight`,
  records: IN_FLIGHT,
  work: (i) => Promise.all(Array.from({ length: IN_FLIGHT }, (_, j) => overlapping.encryptRecord(sample[(i * IN_FLIGHT + j) % sample.length]!))),
});
// The logger's own per-record work for scale: serialising the record as the shipper does.
scenarios.push({ name: '(for scale) JSON.stringify of the clear record', work: (i) => JSON.stringify(sample[i % sample.length]!) });
const word = new TextEncoder().encode('declined');
const hmacKey = crypto.getRandomValues(new Uint8Array(32));
const subtleKey = await crypto.subtle.importKey('raw', hmacKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const keyed = hmac.create(sha256, hmacKey);
scenarios.push({ name: 'one word: HMAC-SHA-256 by WebCrypto sign (awaited)', work: () => crypto.subtle.sign('HMAC', subtleKey, word) });
scenarios.push({
  name: 'one word: HMAC-SHA-256 by @noble/hashes, keyed state cloned',
  work: () => {
    const mac = keyed.clone();
    mac.update(word);
    return mac.digest();
  },
});

// The ingest's side, for scale: a record normalised in clear, and one checked and normalised with its envelope
// (shared/encryption-envelope.ts; the protected header is parsed once per request, as there).
{
  const sealer = await createEncryption({ publicKey: key.publicKey, encryptAttributes: ['user', 'order'], searchSecret: key.searchSecret });
  const sealed = await Promise.all(sample.slice(0, 1000).map((r) => sealer.encryptRecord(r)));
  const wire = sealed.map((r) => JSON.parse(JSON.stringify(r)) as object);
  const clear = sample.slice(0, 1000).map((r) => JSON.parse(JSON.stringify(r)) as object);
  const ctx = { tenantId: 'bench', retentionDays: 30, receivedAt: '2026-11-30 00:00:00.000000000', batchId: 'B' };
  const envelopes = new EncryptedRecords(256 * 1024);
  scenarios.push({ name: '(ingest) normalising a clear record', work: (i) => normalizeRecord(clear[i % clear.length], i, ctx) });
  scenarios.push({ name: '(ingest) checking and normalising an encrypted record', work: (i) => envelopes.normalize(wire[i % wire.length]!, i, ctx) });
}

// Rounds interleave the scenarios, so a change in the machine's load falls on all of them alike;
// each figure is a scenario's least disturbed round.
const best = new Map<string, Figure>();
for (const s of scenarios) await round(s, Math.min(2000, RECORDS)); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const s of scenarios) {
    const f = await round(s, Math.ceil(RECORDS / (s.records ?? 1)));
    const seen = best.get(s.name);
    if (!seen || f.cpuUsPerRecord < seen.cpuUsPerRecord) best.set(s.name, f);
  }
}
const figures = scenarios.map((s) => best.get(s.name)!);

console.log(`Node ${process.version}, ${RECORDS} records a round, the best of ${ROUNDS} rounds\n`);
console.log('| what | CPU µs per record | records/s per CPU-second | records/s wall (one awaited chain) |');
console.log('| --- | ---: | ---: | ---: |');
for (const f of figures) {
  console.log(
    `| ${f.name} | ${f.cpuUsPerRecord.toFixed(1)} | ${Math.round(f.perCpuSecond).toLocaleString('en')} | ${Math.round(f.wallPerSecond).toLocaleString('en')} |`,
  );
}
