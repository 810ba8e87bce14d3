/**
 * `npm run bench:engine`: what the engine costs per row, by input format,
 * compression and insert size — straight into chDB, and through the embedded
 * ClickHouse endpoint (embedded-clickhouse/server.ts) — and what each format
 * costs to produce in JavaScript (issue 17).
 *
 * 1. Rows: the Loghub records (scripts/bench-corpus.ts) normalised as the
 *    ingest worker does, each with its PatternId (the worker labels them),
 *    cut into 1,000-row batches — one ingest request each.
 * 2. JS encode: each batch as JSONCompactEachRow (serializeRows, the
 *    production encoder, with its row checks), RowBinary and Native
 *    (scripts/bench-engine-formats.ts, prototypes), then one gzip member per
 *    batch with CompressionStream, as the worker seals it. Median of 3 passes.
 * 3. Direct: insert bodies of 1k / 10k / 50k rows — batches concatenated, as a
 *    flush concatenates what the actor stored — into chDB in this process, two
 *    in flight (the actor's flush limit), a fresh `logs` table (every
 *    migration) per run. gzip bodies are inflated with Node's zlib first (what
 *    the endpoint does). CPU: this process (all threads), from /proc.
 * 4. Endpoint: the same JSONCompactEachRow bodies POSTed to the embedded
 *    endpoint in a child process, as the actor's flush sends them
 *    (shared/clickhouse.ts insertCompressedRows). CPU: the child, from /proc,
 *    split by thread (main = JS and HTTP; libuv = chDB calls and zlib;
 *    ClickHouse's pools; merges). The endpoint takes text formats only.
 *
 * Each run's CPU is counted twice: while the inserts run, and until the
 * table's background merges have stopped (capped) — parts written by small
 * inserts are merged later, and that is part of their cost.
 *
 * Env: BENCH_ENGINE_ROWS (rows per run, default 200,000), BENCH_ENGINE_SIZES
 * (rows per insert, default 1000,10000,50000), BENCH_ENGINE_IN_FLIGHT (2),
 * BENCH_ENGINE_PROFILE=<dir> (a --cpu-prof of the endpoint process there),
 * BENCH_ENGINE_ENDPOINT_ONLY=1 (skip the direct runs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { Session } from 'chdb';
import { startEmbeddedClickHouse } from '../embedded-clickhouse/server.ts';
import { migrateClickHouse, splitStatements } from '../migrations/clickhouse/migrate.ts';
import type { LogRow } from '../shared/log-record.ts';
import { normalizeRecord } from '../shared/normalize.ts';
import { PatternMiner } from '../shared/patterns/miner.ts';
import { insertStatement, LOG_COLUMNS, serializeRows } from '../shared/row-format.ts';
import { formatClickHouseTime, instantFromMillis } from '../shared/timestamp.ts';
import { loadLoghubRecords } from './bench-corpus.ts';
import { encodeNative, encodeRowBinary } from './bench-engine-formats.ts';

/** Not scripts/stack.ts's: importing it loads wrangler into the endpoint's process too. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BATCH = 1000;
const ROWS = Number(process.env.BENCH_ENGINE_ROWS ?? 200_000);
const SIZES = (process.env.BENCH_ENGINE_SIZES ?? '1000,10000,50000').split(',').map(Number);
const IN_FLIGHT = Number(process.env.BENCH_ENGINE_IN_FLIGHT ?? 2);
const PROFILE_DIR = process.env.BENCH_ENGINE_PROFILE ?? '';
const ENDPOINT_ONLY = process.env.BENCH_ENGINE_ENDPOINT_ONLY === '1';
/** Longest wait for the merges after a run. */
const SETTLE_MS = 15_000;
/** Where `infile` runs put their bodies: memory, so the engine reads them without disk I/O. */
const SCRATCH_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const PASSWORD = 'bench';

const FORMATS = (process.env.BENCH_ENGINE_FORMATS ?? 'JSONCompactEachRow,RowBinary,Native').split(',') as ('JSONCompactEachRow' | 'RowBinary' | 'Native')[];
type Format = (typeof FORMATS)[number];
type Compression = 'none' | 'gzip';

const gunzip = promisify(gunzipCallback);

// ---------------------------------------------------------------- CPU from /proc

const TICKS = 100; // USER_HZ
const SECONDS_PER_TICK = 1 / TICKS;

interface CpuSample {
  total: number;
  /** CPU seconds by thread group, over the threads alive at the sample. */
  threads: Map<string, number>;
  /** Per thread id, to diff threads that lived through both samples. */
  byTid: Map<string, [string, number]>;
}

function ticksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** The thread's group: Node's main thread (JS, HTTP), Node's other threads (libuv pool: chDB calls, zlib; V8), or ClickHouse's pool by name. */
function threadGroup(pid: number, tid: string, comm: string): string {
  if (comm === 'node') return tid === String(pid) ? 'node main (JS, HTTP)' : 'node pool (chDB calls, zlib, V8)';
  if (comm === 'MergeMutate') return 'MergeMutate (merges)';
  return comm;
}

function cpuSample(pid: number): CpuSample {
  const total = ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')) * SECONDS_PER_TICK;
  const threads = new Map<string, number>();
  const byTid = new Map<string, [string, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const seconds = ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')) * SECONDS_PER_TICK;
      const group = threadGroup(pid, tid, comm);
      byTid.set(tid, [group, seconds]);
      threads.set(group, (threads.get(group) ?? 0) + seconds);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { total, threads, byTid };
}

/** CPU seconds between two samples, by thread group; threads that ended meanwhile are in `total` only. */
function cpuBetween(before: CpuSample, after: CpuSample): { total: number; threads: Map<string, number> } {
  const threads = new Map<string, number>();
  for (const [tid, [group, seconds]] of after.byTid) {
    const delta = seconds - (before.byTid.get(tid)?.[1] ?? 0);
    if (delta > 0) threads.set(group, (threads.get(group) ?? 0) + delta);
  }
  return { total: after.total - before.total, threads };
}

// ---------------------------------------------------------------- rows and encodings

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function buildRows(): Promise<LogRow[][]> {
  const records = await loadLoghubRecords();
  // Every record's PatternId, as the worker's copy of the actor's templates would label it.
  const miner = new PatternMiner();
  for (const r of records) miner.assign(r.service!, r.message!);
  const patternIds = records.map((r) => miner.assign(r.service!, r.message!).patternId);
  const now = Date.now();
  const receivedAt = formatClickHouseTime(instantFromMillis(now));
  const batches: LogRow[][] = [];
  for (let b = 0; b < ROWS / BATCH; b++) {
    const batch: LogRow[] = [];
    for (let i = 0; i < BATCH; i++) {
      const n = b * BATCH + i;
      const k = n % records.length;
      const row = normalizeRecord({ ...records[k]!, timestamp: new Date(now - n).toISOString() }, i, {
        tenantId: `tenant-${n % 4}`,
        retentionDays: 30,
        receivedAt,
        batchId: `B${b}`,
      });
      row.PatternId = patternIds[k]!;
      batch.push(row);
    }
    batches.push(batch);
  }
  return batches;
}

const textEncoder = new TextEncoder();

function encodeJson(rows: LogRow[]): Uint8Array {
  const serialized = serializeRows(rows, { maxRecordBytes: 1 << 20, now: Date.now() });
  return textEncoder.encode([...serialized.chunks, ...serialized.sealed].map((c) => c.text).join(''));
}

const ENCODERS: Record<Format, (rows: LogRow[]) => Uint8Array> = {
  JSONCompactEachRow: encodeJson,
  RowBinary: encodeRowBinary,
  Native: encodeNative,
};

/** One gzip member, with the platform's CompressionStream (what workerd has). */
async function gzipMember(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface Encoded {
  batches: Record<Compression, Uint8Array[]>;
  encodeUs: number;
  gzipUs: number;
}

async function encodeAll(rows: LogRow[][]): Promise<Record<Format, Encoded>> {
  const result = {} as Record<Format, Encoded>;
  for (const format of FORMATS) {
    const encode = ENCODERS[format];
    const times: number[] = [];
    let plain: Uint8Array[] = [];
    for (let pass = 0; pass < 3; pass++) {
      const started = performance.now();
      plain = rows.map(encode);
      times.push(performance.now() - started);
    }
    const gzipTimes: number[] = [];
    let gzipped: Uint8Array[] = [];
    for (let pass = 0; pass < 3; pass++) {
      const started = performance.now();
      gzipped = [];
      for (const batch of plain) gzipped.push(await gzipMember(batch));
      gzipTimes.push(performance.now() - started);
    }
    result[format] = {
      batches: { none: plain, gzip: gzipped },
      encodeUs: (median(times) * 1000) / ROWS,
      gzipUs: (median(gzipTimes) * 1000) / ROWS,
    };
  }
  return result;
}

/** Insert bodies of `size` rows: the batches concatenated (as a flush concatenates what the actor stored). */
function bodies(batches: Uint8Array[], size: number): Buffer[] {
  const per = Math.max(1, size / BATCH);
  const out: Buffer[] = [];
  for (let i = 0; i < batches.length; i += per) out.push(Buffer.concat(batches.slice(i, i + per)));
  return out;
}

// ---------------------------------------------------------------- runs

interface RunResult {
  format: Format;
  compression: Compression;
  size: number;
  path: DirectPath | 'endpoint';
  seconds: number;
  cpu: { total: number; threads: Map<string, number> };
  cpuSettled: { total: number; threads: Map<string, number> };
  settleSeconds: number;
  parts: number;
  /** sum(cityHash64(*)) of the stored rows: the same for every format and path. */
  checksum: string;
}

/** Runs `work` over `items`, `inFlight` at a time. */
async function pool<T>(items: T[], inFlight: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

async function waitForMerges(count: () => Promise<number>): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while (performance.now() - started < SETTLE_MS) {
    if ((await count()) === 0) {
      if (++quiet >= 3) break;
    } else quiet = 0;
    await new Promise((r) => setTimeout(r, 200));
  }
  return (performance.now() - started) / 1000;
}

type DirectPath = 'chdb.insert' | 'infile';

/**
 * One run straight into chDB, in this process:
 * - `chdb.insert`: the body as a buffer through chDB's raw insert — what the
 *   endpoint does — text formats only (chDB 3.4 mangles some binary payloads
 *   on this path: its whitelist names text formats only); gzip inflated by
 *   Node's zlib first, as the endpoint does;
 * - `infile`: `INSERT … FROM INFILE` of the body written to tmpfs beforehand
 *   (every format; gzip inflated by the engine itself: `COMPRESSION 'gzip'`).
 */
async function directRun(
  session: Session,
  statements: string[],
  database: string,
  path: DirectPath,
  format: Format,
  compression: Compression,
  size: number,
  inserts: Buffer[],
): Promise<RunResult> {
  await session.queryAsync(`CREATE DATABASE ${database}`);
  for (const statement of statements) await session.queryAsync(`USE ${database}; ${statement}`);
  await session.queryAsync('USE default');
  const table = `${database}.logs (${LOG_COLUMNS.join(', ')})`;
  const files: string[] = [];
  if (path === 'infile') {
    const dir = await mkdtemp(join(SCRATCH_DIR, 'neurallog-bench-engine-'));
    for (const [i, body] of inserts.entries()) {
      files.push(join(dir, `${i}.${compression === 'gzip' ? 'gz' : 'bin'}`));
      await writeFile(files[i]!, body);
    }
  }
  const before = cpuSample(process.pid);
  const started = performance.now();
  await pool(inserts, IN_FLIGHT, async (body, i) => {
    const settings = `SETTINGS insert_deduplication_token = '${database}-${i}'`;
    if (path === 'infile') {
      const compressed = compression === 'gzip' ? " COMPRESSION 'gzip'" : '';
      await session.queryAsync(`INSERT INTO ${table} FROM INFILE '${files[i]}'${compressed} ${settings} FORMAT ${format}`);
    } else {
      const data = compression === 'gzip' ? await gunzip(body) : body;
      await session.insert({
        table: `${database}.logs`,
        columns: LOG_COLUMNS,
        values: data,
        format: format as 'JSONCompactEachRow',
        settings: { insert_deduplication_token: `${database}-${i}` },
      });
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const after = cpuSample(process.pid);
  const settleSeconds = await waitForMerges(async () =>
    Number((await session.queryAsync(`SELECT count() FROM system.merges WHERE database = '${database}'`, { format: 'TSV' })).text()),
  );
  const settled = cpuSample(process.pid);
  const [count, parts, checksum] = (
    await session.queryAsync(
      `SELECT (SELECT count() FROM ${database}.logs), (SELECT count() FROM system.parts WHERE database = '${database}' AND table = 'logs' AND active), (SELECT sum(cityHash64(*)) FROM ${database}.logs)`,
      { format: 'TSV' },
    )
  )
    .text()
    .trim()
    .split('\t');
  if (Number(count) !== ROWS) throw new Error(`${path} ${format} ${compression} ${size}: ${count} rows stored, ${ROWS} sent`);
  await session.queryAsync(`DROP DATABASE ${database} SYNC`);
  if (files.length > 0) await rm(dirname(files[0]!), { recursive: true, force: true });
  return {
    format,
    compression,
    size,
    path,
    seconds,
    cpu: cpuBetween(before, after),
    cpuSettled: cpuBetween(before, settled),
    settleSeconds,
    parts: Number(parts),
    checksum: checksum!,
  };
}

async function directRuns(encoded: Record<Format, Encoded>): Promise<RunResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'neurallog-bench-engine-'));
  const session = new Session(dir);
  const migrations = join(PROJECT_ROOT, 'migrations/clickhouse');
  const files = (await readdir(migrations)).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();
  const statements: string[] = [];
  for (const file of files) statements.push(...splitStatements(await readFile(join(migrations, file), 'utf8')));
  const results: RunResult[] = [];
  let run = 0;
  try {
    for (const path of ['chdb.insert', 'infile'] as const) {
      for (const format of FORMATS) {
        if (path === 'chdb.insert' && format !== 'JSONCompactEachRow') continue;
        for (const compression of ['none', 'gzip'] as const) {
          for (const size of SIZES) {
            const inserts = bodies(encoded[format].batches[compression], size);
            const result = await directRun(session, statements, `bench_${run++}`, path, format, compression, size, inserts);
            results.push(result);
            printRun(result);
          }
        }
      }
    }
  } finally {
    session.close();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** The embedded endpoint in a child process (the `--serve` mode of this script). */
async function startEndpointProcess(dataPath: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    '--import',
    'tsx',
    join(PROJECT_ROOT, 'scripts/bench-engine.ts'),
    '--serve',
    dataPath,
  ];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /^listening (\S+)$/m.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the endpoint process exited (${code}) before listening`)));
  });
  return { child, url };
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function post(url: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': PASSWORD, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${res.statusCode}: ${text}`));
        else resolve(text);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function endpointRuns(encoded: Record<Format, Encoded>): Promise<RunResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'neurallog-bench-endpoint-'));
  const { child, url } = await startEndpointProcess(dir);
  const pid = child.pid!;
  const query = (sql: string) => post(`${url}/?${new URLSearchParams({ query: sql })}`, '');
  const results: RunResult[] = [];
  let run = 0;
  try {
    const format = 'JSONCompactEachRow';
    for (const compression of ['none', 'gzip'] as const) {
      for (const size of SIZES) {
        const database = `bench_endpoint_${run++}`;
        await migrateClickHouse({ url, username: 'default', password: PASSWORD, database });
        const inserts = bodies(encoded[format].batches[compression], size);
        const before = cpuSample(pid);
        const started = performance.now();
        await pool(inserts, IN_FLIGHT, async (body, i) => {
          // As shared/clickhouse.ts insertCompressedRows sends a flush.
          const params = new URLSearchParams({
            query: insertStatement('logs'),
            insert_deduplication_token: `${database}-${i}`,
            input_format_json_compact_allow_variable_number_of_columns: '1',
            database,
          });
          await post(`${url}/?${params}`, body, {
            'Content-Type': 'application/octet-stream',
            ...(compression === 'gzip' && { 'Content-Encoding': 'gzip' }),
          });
        });
        const seconds = (performance.now() - started) / 1000;
        const after = cpuSample(pid);
        const settleSeconds = await waitForMerges(async () => Number(await query(`SELECT count() FROM system.merges WHERE database = '${database}'`)));
        const settled = cpuSample(pid);
        const [count, parts, checksum] = (
          await query(
            `SELECT (SELECT count() FROM ${database}.logs), (SELECT count() FROM system.parts WHERE database = '${database}' AND table = 'logs' AND active), (SELECT sum(cityHash64(*)) FROM ${database}.logs)`,
          )
        )
          .trim()
          .split('\t');
        if (Number(count) !== ROWS) throw new Error(`endpoint ${compression} ${size}: ${count} rows stored, ${ROWS} sent`);
        await query(`DROP DATABASE ${database} SYNC`);
        const result: RunResult = {
          format,
          compression,
          size,
          path: 'endpoint',
          seconds,
          cpu: cpuBetween(before, after),
          cpuSettled: cpuBetween(before, settled),
          settleSeconds,
          parts: Number(parts),
          checksum: checksum!,
        };
        results.push(result);
        printRun(result);
      }
    }
  } finally {
    child.stdin!.end(); // the child closes the endpoint and exits (writing its profile)
    await new Promise((r) => child.once('exit', r));
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

// ---------------------------------------------------------------- output

const us = (seconds: number) => ((seconds * 1e6) / ROWS).toFixed(1);

function printRun(r: RunResult): void {
  const groups = [...r.cpuSettled.threads]
    .filter(([, s]) => s >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([g, s]) => `${g} ${us(s)}`)
    .join(', ');
  console.log(
    `  ${r.path.padEnd(11)} ${r.format.padEnd(18)} ${r.compression.padEnd(4)} ${String(r.size).padStart(6)} rows/insert: ` +
      `${Math.round(ROWS / r.seconds).toLocaleString('en')} rows/s, CPU ${us(r.cpu.total)} µs/row (${us(r.cpuSettled.total)} with merges, ` +
      `${r.settleSeconds.toFixed(1)} s after; ${r.parts} parts) — ${groups}`,
  );
}

function printTables(encoded: Record<Format, Encoded>, results: RunResult[]): void {
  console.log('\nJS: producing each format (µs/row, median of 3 passes over 1,000-row batches)\n');
  console.log('| format | bytes/row | gzip bytes/row | encode µs/row | gzip µs/row (CompressionStream) | encode + gzip |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const format of FORMATS) {
    const e = encoded[format];
    const bytes = (list: Uint8Array[]) => (list.reduce((n, b) => n + b.byteLength, 0) / ROWS).toFixed(1);
    console.log(
      `| ${format} | ${bytes(e.batches.none)} | ${bytes(e.batches.gzip)} | ${e.encodeUs.toFixed(2)} | ${e.gzipUs.toFixed(2)} | ${(e.encodeUs + e.gzipUs).toFixed(2)} |`,
    );
  }
  console.log(`\nEngine: ${ROWS.toLocaleString('en')} rows per run, ${IN_FLIGHT} inserts in flight; CPU µs/row while inserting (and until merges stop)\n`);
  console.log('| path | format | compression | rows/insert | rows/s | CPU µs/row | with merges |');
  console.log('|---|---|---|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.path} | ${r.format} | ${r.compression} | ${r.size.toLocaleString('en')} | ${Math.round(ROWS / r.seconds).toLocaleString('en')} | ${us(r.cpu.total)} | ${us(r.cpuSettled.total)} |`,
    );
  }
  const endpoint = results.filter((r) => r.path === 'endpoint');
  if (endpoint.length > 0) {
    const groups = [...new Set(endpoint.flatMap((r) => [...r.cpuSettled.threads.keys()]))].filter((g) =>
      endpoint.some((r) => (r.cpuSettled.threads.get(g) ?? 0) >= 0.01),
    );
    console.log('\nEndpoint process, CPU µs/row by thread (until merges stop; "ended" = threads that exited meanwhile)\n');
    console.log(`| compression | rows/insert | ${groups.join(' | ')} | ended |`);
    console.log(`|---|---:|${groups.map(() => '---:').join('|')}|---:|`);
    for (const r of endpoint) {
      const listed = groups.reduce((n, g) => n + (r.cpuSettled.threads.get(g) ?? 0), 0);
      const other = [...r.cpuSettled.threads].filter(([g]) => !groups.includes(g)).reduce((n, [, s]) => n + s, 0);
      console.log(
        `| ${r.compression} | ${r.size.toLocaleString('en')} | ${groups.map((g) => us(r.cpuSettled.threads.get(g) ?? 0)).join(' | ')} | ${us(r.cpuSettled.total - listed - other)} |`,
      );
    }
  }
}

// ---------------------------------------------------------------- main

async function serve(dataPath: string): Promise<void> {
  const server = await startEmbeddedClickHouse({ dataPath, port: 0, password: PASSWORD });
  console.log(`listening ${server.url}`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void server.close().then(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  console.log(`bench:engine — ${ROWS.toLocaleString('en')} rows per run, inserts of ${SIZES.join(' / ')} rows, ${IN_FLIGHT} in flight`);
  const rows = await buildRows();
  console.log(`${rows.length} batches of ${BATCH} rows built; encoding…`);
  const encoded = await encodeAll(rows);
  const results: RunResult[] = [];
  if (!ENDPOINT_ONLY) results.push(...(await directRuns(encoded)));
  results.push(...(await endpointRuns(encoded)));
  printTables(encoded, results);
  const checksums = new Set(results.map((r) => r.checksum));
  console.log(
    checksums.size === 1 ? '\nEvery run stored the same rows (one checksum).' : `\nWARNING: the runs stored different rows: ${[...checksums].join(', ')}`,
  );
}

if (process.argv[2] === '--serve') await serve(process.argv[3]!);
else await main();
