/**
 * `npm run bench:encryption`: what client-side encryption costs the SDK per
 * record (docs/benchmarks.md, ADR 0017), in this Node process, through the
 * transform the logger runs — one record at a time, awaited, as the shipper
 * calls it:
 * - a content key per batch (the default: one AES-GCM call a record) or per
 *   record (AES-KW wrap of a fresh key too: three WebCrypto calls);
 * - with blind tokens (a search secret) or without;
 * and, for the choice of HMAC, one word's token by WebCrypto `sign` and by
 * @noble/hashes with the keyed state cloned.
 *
 * CPU is process.cpuUsage (every thread: WebCrypto's work runs on libuv's
 * pool), so records/s per CPU-second is the rate one core sustains; wall
 * records/s is what one awaited chain achieves. Records look like
 * application logs: 8–14 words with ids and numbers that change, and three
 * attributes of which two are encrypted.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createEncryption, generateEncryptionKey } from '../sdk/src/encryption/index.ts';
import type { LogRecord } from '../sdk/src/record.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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

async function measure(name: string, work: (i: number) => Promise<unknown> | unknown, n = RECORDS): Promise<Figure> {
  for (let i = 0; i < Math.min(2000, n); i++) await work(i); // warm up
  const runs: Figure[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await work(i);
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = (cpu.user + cpu.system) / n;
    runs.push({ name, cpuUsPerRecord: cpuUs, perCpuSecond: 1e6 / cpuUs, wallPerSecond: n / wall });
  }
  runs.sort((a, b) => a.cpuUsPerRecord - b.cpuUsPerRecord);
  return runs[Math.floor(runs.length / 2)]!; // the median round
}

const key = await generateEncryptionKey();
const sample = records(RECORDS);
const figures: Figure[] = [];
for (const contentKeyPerRecord of [false, true]) {
  for (const tokens of [false, true]) {
    const encryption = await createEncryption({
      publicKey: key.publicKey,
      encryptAttributes: ['user', 'order'],
      contentKeyPerRecord,
      ...(tokens && { searchSecret: key.searchSecret }),
    });
    const name = `content key per ${contentKeyPerRecord ? 'record' : 'batch'}, ${tokens ? 'with' : 'without'} blind tokens`;
    figures.push(await measure(name, (i) => encryption.encryptRecord(sample[i % sample.length]!)));
  }
}
// If the shipper ran several records' transforms at once (it awaits one at a time), the WebCrypto calls would overlap.
{
  const encryption = await createEncryption({ publicKey: key.publicKey, encryptAttributes: ['user', 'order'], searchSecret: key.searchSecret });
  const inFlight = 16;
  const batch = (i: number) => Promise.all(Array.from({ length: inFlight }, (_, j) => encryption.encryptRecord(sample[(i * inFlight + j) % sample.length]!)));
  const f = await measure(`content key per batch, with blind tokens, ${inFlight} records in flight`, batch, Math.ceil(RECORDS / inFlight));
  figures.push({ ...f, cpuUsPerRecord: f.cpuUsPerRecord / inFlight, perCpuSecond: f.perCpuSecond * inFlight, wallPerSecond: f.wallPerSecond * inFlight });
}
// The logger's own per-record work for scale: serialising the record as the shipper does.
figures.push(await measure('(for scale) JSON.stringify of the clear record', (i) => JSON.stringify(sample[i % sample.length]!)));

const word = new TextEncoder().encode('declined');
const hmacKey = crypto.getRandomValues(new Uint8Array(32));
const subtleKey = await crypto.subtle.importKey('raw', hmacKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const keyed = hmac.create(sha256, hmacKey);
figures.push(await measure('one word: HMAC-SHA-256 by WebCrypto sign (awaited)', () => crypto.subtle.sign('HMAC', subtleKey, word)));
figures.push(
  await measure('one word: HMAC-SHA-256 by @noble/hashes, keyed state cloned', () => {
    const mac = keyed.clone();
    mac.update(word);
    return mac.digest();
  }),
);

console.log(`Node ${process.version}, ${RECORDS} records a round, median of ${ROUNDS} rounds\n`);
console.log('| what | CPU µs per record | records/s per CPU-second | records/s wall (one awaited chain) |');
console.log('| --- | ---: | ---: | ---: |');
for (const f of figures) {
  console.log(
    `| ${f.name} | ${f.cpuUsPerRecord.toFixed(1)} | ${Math.round(f.perCpuSecond).toLocaleString('en')} | ${Math.round(f.wallPerSecond).toLocaleString('en')} |`,
  );
}
