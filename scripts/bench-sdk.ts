/**
 * `npm run bench:sdk`: records per second the client SDK (sdk/) batches,
 * gzips and sends from one Node process — against a minimal local sink (a
 * worker thread that gunzips, counts the records and answers 202, as the
 * ingest would) and, with `--stack`, against the whole stack started as
 * `npm start` starts it. Also the synchronous cost of one `log.info()` call.
 *
 *   npm run bench:sdk [-- --records 200000] [-- --stack]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createLogger } from '../sdk/src/index.ts';
import { freePort } from './ports.ts';
import { startStack } from './stack.ts';

const args = process.argv.slice(2);
const RECORDS = Number(args[args.indexOf('--records') + 1] ?? 0) || 200_000;
const WITH_STACK = args.includes('--stack');

const SINK = `
const { createServer } = require('node:http');
const { gunzipSync } = require('node:zlib');
const { parentPort } = require('node:worker_threads');
let records = 0, requests = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    let n = 1; for (let i = 0; i < text.length; i++) if (text[i] === 10) n++;
    records += n; requests++;
    res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":' + n + '}');
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => parentPort.postMessage({ records, requests }));
`;

async function startSink(): Promise<{ url: string; counts(): Promise<{ records: number; requests: number }>; stop(): Promise<number> }> {
  const worker = new Worker(SINK, { eval: true });
  const { port } = await new Promise<{ port: number }>((resolve) => worker.once('message', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () =>
      new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage('counts');
      }),
    stop: () => worker.terminate(),
  };
}

interface Run {
  label: string;
  records: number;
  seconds: number;
  logMicros: number;
  batches: number;
  dropped: number;
}

async function run(label: string, endpoint: string, apiKey: string, compression: 'gzip' | 'none'): Promise<Run> {
  const log = createLogger({ endpoint, apiKey, service: 'bench', compression, maxQueueRecords: RECORDS, maxQueueBytes: 1 << 30 });
  const child = log.child({ region: 'eu-west-1', pod: 'api-7f9c' });
  const start = performance.now();
  for (let i = 0; i < RECORDS; i++) child.info(`GET /api/orders/${i} 200`, { status: 200, ms: i % 97, user: `u${i % 1000}` });
  const logged = performance.now();
  await log.close();
  const seconds = (performance.now() - start) / 1000;
  const stats = log.stats();
  return { label, records: stats.acknowledged, seconds, logMicros: ((logged - start) * 1000) / RECORDS, batches: stats.batches, dropped: stats.dropped };
}

function report(r: Run): void {
  console.log(
    `${r.label.padEnd(34)} ${String(r.records).padStart(8)} records in ${r.seconds.toFixed(2)} s = ${Math.round(r.records / r.seconds).toLocaleString('en')} records/s` +
      `  (log() ${r.logMicros.toFixed(2)} µs/record, ${r.batches} batches, ${r.dropped} dropped)`,
  );
}

const sink = await startSink();
console.log(`@neurallog/sdk, one Node ${process.version} process; ${RECORDS} records of ~280 bytes (NDJSON); batches of 1,000`);
for (const compression of ['gzip', 'none'] as const) {
  const before = await sink.counts();
  const r = await run(`local sink, ${compression}`, sink.url, 'nlk_bench', compression);
  const after = await sink.counts();
  if (after.records - before.records !== r.records) throw new Error(`the sink counted ${after.records - before.records} records, the SDK ${r.records}`);
  report(r);
}
await sink.stop();

if (WITH_STACK) {
  const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-sdk-'));
  const stack = await startStack({ port: await freePort(), dataDir, embeddedClickHousePort: await freePort(), onOutput: () => undefined });
  try {
    report(await run('the stack (dev tenant, enterprise), gzip', stack.url, stack.devApiKey, 'gzip'));
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
