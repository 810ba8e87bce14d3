/**
 * `npm run bench`: sustained end-to-end ingest throughput of the local stack,
 * against the raw engine on the same rows, in one run.
 *
 * 1. Builds realistic records from the Loghub samples (../shared/data/loghub,
 *    or NEURALLOG_LOGHUB_DIR): ~200-byte JSON records, 1,000 per request.
 * 2. Raw engine: the same rows, normalised exactly as the pipeline stores them,
 *    inserted straight into chDB (no HTTP, no workers) in inserts of the
 *    pipeline's flush size, 500,000 rows. Three runs; the median counts.
 * 3. Pipeline: starts the stack as `npm start` does (own temporary data
 *    directory), then BENCH_CONCURRENCY clients POST 1,000-record batches for
 *    BENCH_SECONDS. Measures ack latency, and the time until ClickHouse holds
 *    every acknowledged row (accepted AND flushed).
 * 4. Half load: open-loop, one batch every BATCH / (rate / 2) seconds for
 *    BENCH_HALF_LOAD_SECONDS on a tenant of its own, where `rate` is the end-to-
 *    end rate of step 3: the ack latency a tenant sees when the stack is not
 *    saturated (issue 17's goal: p99 < 50 ms).
 *
 * Prints the figures and the ratio pipeline / raw engine.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createClient } from '@clickhouse/client-web';
import { splitStatements } from '../migrations/clickhouse/migrate.ts';
import { normalizeRecord } from '../shared/normalize.ts';
import { LOG_COLUMNS, serializeRows } from '../shared/row-format.ts';
import { formatClickHouseTime, instantFromMillis } from '../shared/timestamp.ts';
import { Agent, request } from 'node:http';
import { loadLoghubRecords, type LoghubRecord } from './bench-corpus.ts';
import { PROJECT_ROOT } from './stack.ts';
import { cpuDelta, cpuSnapshot } from './process-cpu.ts';
import { admin, startStackProcess, type Stack } from './bench-stack.ts';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import snappy from 'snappyjs';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from '../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { PushRequestSchema } from '../workers/ingest/protocols/generated/loki/push_pb.ts';

const BATCH = 1000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const FLUSH_ROWS = 10_000; // the default NEURALLOG_FLUSH_MAX_ROWS
const RAW_ROWS = 500_000;
/** Shard counts of the hot-tenant runs (BENCH_SHARDS="" skips them). */
const SHARDS = (process.env.BENCH_SHARDS ?? '1,2,4')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map(Number);
const SHARD_SECONDS = Number(process.env.BENCH_SHARD_SECONDS ?? 10);
/** The half-load phase: open-loop at half the end-to-end rate just measured (0 skips it). */
const HALF_LOAD_SECONDS = Number(process.env.BENCH_HALF_LOAD_SECONDS ?? 15);

type LogRecord = LoghubRecord;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The same rows, as the pipeline stores them, into chDB directly. */
async function rawEngineRate(records: LogRecord[], totalRows: number): Promise<{ rowsPerSec: number; runs: number[] }> {
  const receivedAt = formatClickHouseTime(instantFromMillis(Date.now()));
  const rows = [];
  for (let i = 0; i < totalRows; i++) {
    rows.push(
      normalizeRecord({ ...records[i % records.length]!, timestamp: new Date(Date.now() - i).toISOString() }, i % BATCH, {
        tenantId: 'bench',
        retentionDays: 30,
        receivedAt,
        batchId: `RAW${Math.floor(i / BATCH)}`,
      }),
    );
  }
  const inserts: Buffer[] = [];
  for (let i = 0; i < rows.length; i += FLUSH_ROWS) {
    inserts.push(
      Buffer.from(
        serializeRows(rows.slice(i, i + FLUSH_ROWS), { maxRecordBytes: 1 << 20, now: Date.now() })
          .chunks.map((c) => c.text)
          .join(''),
      ),
    );
  }
  const runs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const dir = await mkdtemp(join(tmpdir(), 'neurallog-bench-raw-'));
    const session = new Session(dir);
    try {
      await session.queryAsync('CREATE DATABASE neurallog');
      // The table as production has it: every migration, in order (sort key, projection, PatternId…).
      const migrations = join(PROJECT_ROOT, 'migrations/clickhouse');
      for (const file of (await readdir(migrations)).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort()) {
        for (const statement of splitStatements(await readFile(join(migrations, file), 'utf8'))) await session.queryAsync(`USE neurallog; ${statement}`);
      }
      const started = performance.now();
      let n = 0;
      for (const body of inserts) {
        // The rows the actor sends, by chDB's fastest path (the one the embedded endpoint uses).
        await session.insert({
          table: 'neurallog.logs',
          columns: LOG_COLUMNS,
          values: body,
          format: 'JSONCompactEachRow',
          settings: { insert_deduplication_token: `raw-${run}-${n++}` },
        });
      }
      runs.push(totalRows / ((performance.now() - started) / 1000));
    } finally {
      session.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { rowsPerSec: median(runs), runs };
}

interface LoadResult {
  accepted: number;
  failed: number;
  stored: number;
  requests: number;
  sendSeconds: number;
  endToEndSeconds: number;
  drainSeconds: number;
  p50: number;
  p99: number;
  cpu: [string, number][];
}

/** CONCURRENCY clients POST for `seconds`, then wait until ClickHouse holds every acknowledged row of `tenant`. */
/** How a protocol's requests are sent and how its answers count accepted records. */
interface Protocol {
  path: string;
  contentType: string;
  accepted(status: number, body: string): number;
}

const JSON_LOGS: Protocol = {
  path: '/v1/logs',
  contentType: 'application/json',
  accepted: (status, body) => (status === 202 ? (JSON.parse(body) as { accepted: number }).accepted : 0),
};

const ES_BULK: Protocol = {
  path: '/es/_bulk',
  contentType: 'application/x-ndjson',
  accepted: (status, body) =>
    status === 200 ? (JSON.parse(body) as { items: { index: { status: number } }[] }).items.filter((i) => i.index.status === 201).length : 0,
};

const OTLP_PROTOBUF: Protocol = {
  path: '/otlp/v1/logs',
  contentType: 'application/x-protobuf',
  accepted: (status, body) =>
    status === 200 ? BATCH - Number(fromBinary(ExportLogsServiceResponseSchema, Buffer.from(body, 'latin1')).partialSuccess?.rejectedLogRecords ?? 0) : 0,
};

const OTLP_JSON: Protocol = {
  path: '/otlp/v1/logs',
  contentType: 'application/json',
  accepted: (status, body) =>
    status === 200 ? BATCH - Number((JSON.parse(body) as { partialSuccess?: { rejectedLogRecords?: string } }).partialSuccess?.rejectedLogRecords ?? 0) : 0,
};

const LOKI_PROTOBUF: Protocol = { path: '/loki/api/v1/push', contentType: 'application/x-protobuf', accepted: (status) => (status === 204 ? BATCH : 0) };
const LOKI_JSON: Protocol = { path: '/loki/api/v1/push', contentType: 'application/json', accepted: (status) => (status === 204 ? BATCH : 0) };
const SYSLOG: Protocol = {
  path: '/v1/syslog',
  contentType: 'text/plain',
  accepted: (status, body) => (status === 202 ? (JSON.parse(body) as { accepted: number }).accepted : 0),
};

const SYSLOG_SEVERITY: Record<string, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/** Map.groupBy (Node 21+), for Node 20. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** One batch of records in each protocol's own encoding (what its shippers would send). */
function encodeBatch(batch: LogRecord[], protocol: 'otlp-protobuf' | 'otlp-json' | 'loki-protobuf' | 'loki-json' | 'syslog'): Buffer {
  switch (protocol) {
    case 'otlp-protobuf':
    case 'otlp-json': {
      // Grouped by service, as an SDK per service (or a Collector) sends them.
      const byService = groupBy(batch, (r) => r.service!);
      const request = create(ExportLogsServiceRequestSchema, {
        resourceLogs: [...byService].map(([service, records]) => ({
          resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue' as const, value: service } } }] },
          scopeLogs: [
            {
              scope: { name: 'bench' },
              logRecords: records.map((r) => ({
                timeUnixNano: BigInt(Date.parse(r.timestamp!)) * 1_000_000n,
                severityText: r.level!,
                body: { value: { case: 'stringValue' as const, value: r.message! } },
                attributes: [{ key: 'host', value: { value: { case: 'stringValue' as const, value: r.host! } } }],
              })),
            },
          ],
        })),
      });
      if (protocol === 'otlp-protobuf') return Buffer.from(toBinary(ExportLogsServiceRequestSchema, request));
      return Buffer.from(
        JSON.stringify({
          resourceLogs: [...byService].map(([service, records]) => ({
            resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
            scopeLogs: [
              {
                scope: { name: 'bench' },
                logRecords: records.map((r) => ({
                  timeUnixNano: String(BigInt(Date.parse(r.timestamp!)) * 1_000_000n),
                  severityText: r.level,
                  body: { stringValue: r.message },
                  attributes: [{ key: 'host', value: { stringValue: r.host } }],
                })),
              },
            ],
          })),
        }),
      );
    }
    case 'loki-protobuf':
    case 'loki-json': {
      // A Loki stream per service and level (labels), the host as structured metadata.
      const streams = groupBy(batch, (r) => `${r.service}|${r.level}`);
      if (protocol === 'loki-json') {
        return Buffer.from(
          JSON.stringify({
            streams: [...streams.values()].map((records) => ({
              stream: { service_name: records[0]!.service, level: records[0]!.level },
              values: records.map((r) => [`${Date.parse(r.timestamp!)}000000`, r.message, { host: r.host }]),
            })),
          }),
        );
      }
      const request = create(PushRequestSchema, {
        streams: [...streams.values()].map((records) => ({
          labels: `{service_name="${records[0]!.service}", level="${records[0]!.level}"}`,
          entries: records.map((r) => ({
            timestamp: timestampFromMs(Date.parse(r.timestamp!)),
            line: r.message!,
            structuredMetadata: [{ name: 'host', value: r.host! }],
          })),
        })),
      });
      return Buffer.from(snappy.compress(toBinary(PushRequestSchema, request)));
    }
    case 'syslog':
      return Buffer.from(batch.map((r) => `<${8 + SYSLOG_SEVERITY[r.level!]!}>1 ${r.timestamp} ${r.host} ${r.service} - - - ${r.message}`).join('\n'));
  }
}

/** Waits (up to 2 min) until ClickHouse holds `accepted` rows of the tenant; returns how many it holds. */
async function waitUntilStored(stack: Stack, tenant: string, accepted: number): Promise<number> {
  const ch = createClient({ url: stack.clickhouseUrl, database: 'neurallog' });
  let stored = 0;
  const waitDeadline = Date.now() + 120_000;
  while (Date.now() < waitDeadline) {
    const [row] = await (
      await ch.query({ query: 'SELECT count() AS n FROM logs WHERE TenantId = {t:String}', query_params: { t: tenant }, format: 'JSONEachRow' })
    ).json<{ n: string }>();
    stored = Number(row!.n);
    if (stored >= accepted) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await ch.close();
  return stored;
}

async function runLoad(stack: Stack, key: string, tenant: string, seconds: number, encoded: Buffer[], protocol: Protocol = JSON_LOGS): Promise<LoadResult> {
  const latencies: number[] = [];
  const cpuBefore = cpuSnapshot();
  let accepted = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let next = 0;
  // node:http with keep-alive and pre-encoded bodies: the load generator
  // shares the two cores with the stack, so it should cost as little as it can.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${stack.url}${protocol.path}`);
  const post = (body: Buffer) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': protocol.contentType, 'content-length': body.length },
        },
        (res) => {
          let text = '';
          // latin1 keeps every byte (a protobuf answer) one char; JSON answers are ASCII.
          res.setEncoding('latin1');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const client = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const res = await post(encoded[next++ % encoded.length]!);
      latencies.push(performance.now() - t0);
      const n = protocol.accepted(res.status, res.text);
      if (n > 0) accepted += n;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const sendDone = performance.now();
  agent.destroy();

  const stored = await waitUntilStored(stack, tenant, accepted);
  const allStored = performance.now();
  const cpu = cpuDelta(cpuBefore, cpuSnapshot());
  latencies.sort((a, b) => a - b);
  return {
    accepted,
    failed,
    stored,
    requests: latencies.length,
    sendSeconds: (sendDone - started) / 1000,
    endToEndSeconds: (allStored - started) / 1000,
    drainSeconds: (allStored - sendDone) / 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu,
  };
}

/**
 * Open-loop load at a fixed rate (issue 17's ack-latency goal is at half the sustainable rate):
 * one batch every BATCH / rate seconds, each sent without waiting for the ones before, so a slow
 * answer cannot slow the offered load down (a closed loop would hide queueing). Ack latency per
 * request, and whether every acknowledged row reached ClickHouse.
 */
async function runPaced(stack: Stack, key: string, tenant: string, seconds: number, encoded: Buffer[], recordsPerSecond: number): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(`${stack.url}${JSON_LOGS.path}`);
  const latencies: number[] = [];
  let accepted = 0;
  let failed = 0;
  const intervalMs = (BATCH / recordsPerSecond) * 1000;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; performance.now() - started < seconds * 1000; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = encoded[i % encoded.length]!;
    const t0 = performance.now();
    inFlight.push(
      new Promise<void>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': JSON_LOGS.contentType, 'content-length': body.length },
          },
          (res) => {
            let text = '';
            res.setEncoding('latin1');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => {
              latencies.push(performance.now() - t0);
              const n = JSON_LOGS.accepted(res.statusCode ?? 0, text);
              if (n > 0) accepted += n;
              else failed++;
              resolve();
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    );
  }
  await Promise.all(inFlight);
  const sendSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  const stored = await waitUntilStored(stack, tenant, accepted);
  latencies.sort((a, b) => a - b);
  return {
    offered: recordsPerSecond,
    accepted,
    failed,
    stored,
    sendSeconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
  };
}

interface PacedResult {
  offered: number;
  accepted: number;
  failed: number;
  stored: number;
  sendSeconds: number;
  p50: number;
  p99: number;
  max: number;
}

async function pipeline(records: LogRecord[]) {
  const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-'));
  const stack = await startStackProcess(dataDir);
  try {
    // Pre-built bodies, so the load generator spends its CPU on sending, not on JSON.
    const bodies: string[] = [];
    for (let b = 0; b < 64; b++) {
      const batch = [];
      for (let i = 0; i < BATCH; i++) batch.push({ ...records[(b * BATCH + i) % records.length]!, timestamp: new Date(Date.now() - i).toISOString() });
      bodies.push(JSON.stringify(batch));
    }
    const avgRecordBytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0) / (bodies.length * BATCH);

    const encoded = bodies.map((b) => Buffer.from(b));
    const main = await runLoad(stack, stack.devApiKey, 'dev', SECONDS, encoded);

    // Ack latency at half the sustainable (end-to-end) rate just measured, on a tenant of its own.
    let halfLoad: PacedResult | null = null;
    if (HALF_LOAD_SECONDS > 0) {
      const tenant = 'bench-half';
      await admin(stack, 'POST', '/tenants', { id: tenant, name: tenant, plan: 'enterprise' });
      await admin(stack, 'PATCH', `/tenants/${tenant}`, { shardCount: 1 });
      const { key } = (await admin(stack, 'POST', `/tenants/${tenant}/keys`, { name: 'bench', scopes: ['logs:write'] })) as { key: string };
      halfLoad = await runPaced(stack, key, tenant, HALF_LOAD_SECONDS, encoded, main.accepted / main.endToEndSeconds / 2);
    }

    // Hot tenants: the same load on tenants spread over N actors, in the same stack.
    const sharded: { shards: number; result: LoadResult }[] = [];
    for (const shards of SHARDS) {
      const tenant = `bench-n${shards}`;
      await admin(stack, 'POST', '/tenants', { id: tenant, name: tenant, plan: 'enterprise' });
      await admin(stack, 'PATCH', `/tenants/${tenant}`, { shardCount: shards });
      const { key } = (await admin(stack, 'POST', `/tenants/${tenant}/keys`, { name: 'bench', scopes: ['logs:write'] })) as { key: string };
      sharded.push({ shards, result: await runLoad(stack, key, tenant, SHARD_SECONDS, encoded) });
    }

    // The same records through every protocol, each on a tenant (one actor) of its own.
    const protocols: { name: string; result: LoadResult }[] = [];
    if (SHARD_SECONDS > 0) {
      const tenantFor = async (id: string) => {
        await admin(stack, 'POST', '/tenants', { id, name: id, plan: 'enterprise' });
        await admin(stack, 'PATCH', `/tenants/${id}`, { shardCount: 1 });
        return ((await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'bench', scopes: ['logs:write'] })) as { key: string }).key;
      };
      const batches = bodies.map((b) => JSON.parse(b) as LogRecord[]);
      const runs: [string, string, Protocol, Buffer[]][] = [
        [
          'Elasticsearch bulk (POST /es/_bulk)',
          'bench-es',
          ES_BULK,
          batches.map((batch) => Buffer.from(batch.map((doc) => `{"index":{"_index":"bench"}}\n${JSON.stringify(doc)}\n`).join(''))),
        ],
        ['OTLP/HTTP protobuf (/otlp/v1/logs)', 'bench-otlp-pb', OTLP_PROTOBUF, batches.map((batch) => encodeBatch(batch, 'otlp-protobuf'))],
        ['OTLP/HTTP JSON (/otlp/v1/logs)', 'bench-otlp-json', OTLP_JSON, batches.map((batch) => encodeBatch(batch, 'otlp-json'))],
        ['Loki protobuf+snappy (/loki/api/v1/push)', 'bench-loki-pb', LOKI_PROTOBUF, batches.map((batch) => encodeBatch(batch, 'loki-protobuf'))],
        ['Loki JSON (/loki/api/v1/push)', 'bench-loki-json', LOKI_JSON, batches.map((batch) => encodeBatch(batch, 'loki-json'))],
        ['syslog RFC 5424 (POST /v1/syslog)', 'bench-syslog', SYSLOG, batches.map((batch) => encodeBatch(batch, 'syslog'))],
      ];
      protocols.push({ name: 'JSON (POST /v1/logs)', result: sharded.find((r) => r.shards === 1)?.result ?? main });
      for (const [name, tenant, protocol, encodedBodies] of runs) {
        protocols.push({ name, result: await runLoad(stack, await tenantFor(tenant), tenant, SHARD_SECONDS, encodedBodies, protocol) });
      }
    }
    return { ...main, avgRecordBytes, sharded, protocols, halfLoad };
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const records = await loadLoghubRecords();
console.log(`NeuralLog bench: ${records.length} Loghub lines, ${CONCURRENCY} clients × ${BATCH}-record batches for ${SECONDS} s, ${cpus().length} CPUs`);

// The raw engine first, on an idle machine; the pipeline after, in its own processes.
console.log('\n1/2 raw engine (the rows as the actor sends them, chDB insert, no HTTP, no workers)…');
const raw = await rawEngineRate(records, RAW_ROWS);
console.log('2/2 pipeline (gateway → ingest worker → TenantActor → ClickHouse + R2)…');
const p = await pipeline(records);

const endToEnd = p.accepted / p.endToEndSeconds;
const ackRate = p.accepted / p.sendSeconds;
console.log(`
records/request          ${BATCH} (avg ${p.avgRecordBytes.toFixed(0)} bytes/record as JSON)
requests                 ${p.requests} (${p.failed} not accepted)
accepted                 ${p.accepted} rows; in ClickHouse: ${p.stored}
ack rate                 ${Math.round(ackRate)} logs/s over ${p.sendSeconds.toFixed(1)} s
end to end (in ClickHouse) ${Math.round(endToEnd)} logs/s (drain after last ack ${p.drainSeconds.toFixed(2)} s)
ack latency              p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms
${
  p.halfLoad
    ? `ack latency, half load   p50 ${p.halfLoad.p50.toFixed(1)} ms, p99 ${p.halfLoad.p99.toFixed(1)} ms, max ${p.halfLoad.max.toFixed(0)} ms at ${Math.round(p.halfLoad.offered)} logs/s offered open-loop for ${p.halfLoad.sendSeconds.toFixed(1)} s (${p.halfLoad.accepted} accepted, ${p.halfLoad.stored} in ClickHouse, ${p.halfLoad.failed} not accepted)\n`
    : ''
}raw chDB insert          ${Math.round(raw.rowsPerSec)} rows/s (median of ${raw.runs.map((r) => Math.round(r)).join(', ')})
ratio end-to-end / raw   ${(endToEnd / raw.rowsPerSec).toFixed(3)}

CPU seconds from the first request until every row was in ClickHouse (${p.endToEndSeconds.toFixed(1)} s wall):
${p.cpu.map(([name, s]) => `  ${s.toFixed(1).padStart(6)} s  ${((s / p.accepted) * 1e6).toFixed(1).padStart(5)} µs/row  ${name}`).join('\n')}
${
  p.sharded.length === 0
    ? ''
    : `
Hot tenant (enterprise plan, shard count overridden), ${SHARD_SECONDS} s each, same stack:
  shards   ack logs/s   end to end logs/s   p50 ms   p99 ms   not accepted
${p.sharded
  .map(
    ({ shards, result: r }) =>
      `  ${String(shards).padStart(6)}   ${String(Math.round(r.accepted / r.sendSeconds)).padStart(10)}   ${String(Math.round(r.accepted / r.endToEndSeconds)).padStart(17)}   ${r.p50.toFixed(0).padStart(6)}   ${r.p99.toFixed(0).padStart(6)}   ${r.failed}`,
  )
  .join('\n')}
`
}${
  p.protocols.length === 0
    ? ''
    : `
Per protocol, the same records, one actor, ${SHARD_SECONDS} s each:
  protocol                                  ack logs/s   end to end logs/s   requests not accepted
${p.protocols
  .map(
    ({ name, result: r }) =>
      `  ${name.padEnd(40)}  ${String(Math.round(r.accepted / r.sendSeconds)).padStart(10)}   ${String(Math.round(r.accepted / r.endToEndSeconds)).padStart(17)}   ${String(r.failed).padStart(21)}`,
  )
  .join('\n')}
`
}`);
