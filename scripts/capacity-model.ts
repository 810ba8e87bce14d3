/**
 * The capacity model (issue 17, "Scale beyond one machine"): what ingesting N
 * logs a day takes — Workers CPU and requests, tenant actors for a hot tenant,
 * ClickHouse cores and insert parts, disk, R2 — and what it costs per GB at
 * list prices. A pure function over named inputs; every measured figure below
 * points at the docs/benchmarks.md line it comes from, every price at its
 * source and the date it was read. docs/capacity.md explains the model.
 *
 *   npm run capacity              # the table for 1 M, 100 M and 10 B logs/day
 *   npm run capacity -- --measure # one-off: on-disk and archive bytes per row (chDB, ~1 min)
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CONFIG_VARIABLES } from '../shared/config.ts';
import { PLANS } from '../shared/plans.ts';

// ---------------------------------------------------------------------------
// Measured on this repository's 2-core machine (docs/benchmarks.md).
// ---------------------------------------------------------------------------

/** Cores of the machine every figure below was measured on (docs/benchmarks.md:3). */
export const LOCAL_CORES = 2;
/** Average size of a bench record as JSON (docs/benchmarks.md:17). */
export const BYTES_PER_RECORD_JSON = 238;
/** Records per ingest request in the bench, and what shippers are told to batch (docs/benchmarks.md:17). */
export const RECORDS_PER_REQUEST = 1_000;
/** End-to-end rate of the issue 17 baseline run (docs/benchmarks.md:41). */
export const LOCAL_END_TO_END_ROWS_PER_SEC = 31_336;
/** CPU per row, workerd (gateway, ingest worker, query worker, TenantActor) (docs/benchmarks.md:46). */
export const WORKERD_CPU_US_PER_ROW = 23.3;
/** CPU per row, the embedded ClickHouse process (chDB: parse, insert, merges) (docs/benchmarks.md:46). */
export const CLICKHOUSE_CPU_US_PER_ROW = 17.7;
/** CPU per row of the local-only processes: wrangler 3.2, its dev proxy 2.8, the load generator 1.7 (docs/benchmarks.md:46). */
export const LOCAL_ONLY_CPU_US_PER_ROW = { wrangler: 3.2, devProxy: 2.8, loadGenerator: 1.7 } as const;
/** CPU of the ingest isolate (ingest worker + TenantActor) per record, sampled profile (docs/benchmarks.md:51). */
export const INGEST_ISOLATE_CPU_US_PER_RECORD = 17.6;
/**
 * The actor's share of the ingest isolate's CPU: "about half" (docs/benchmarks.md:67-69); the
 * profile's rows sum to 4.51 µs actor vs 4.49 µs worker, the rest runtime and GC (lines 55-65).
 */
export const ACTOR_SHARE_OF_ISOLATE = 0.5;
/** Share of both cores the saturated bench used: 56.5 CPU-s in 35.8 s (docs/benchmarks.md:198, a 2026-11-26 run). */
export const LOCAL_CPU_UTILISATION = 0.79;
/** Raw chDB insert rate of the same rows, same run (docs/benchmarks.md:42). */
export const RAW_CHDB_ROWS_PER_SEC = 117_289;
/** One actor, shards = 1: flushed (end to end) and acknowledged logs/s (docs/benchmarks.md:338). */
export const ACTOR_FLUSHED_ROWS_PER_SEC = 32_830;
export const ACTOR_ACK_ROWS_PER_SEC = 59_092;
/** Rows as the actor stores and sends them, JSONCompactEachRow (docs/benchmarks.md:231). */
export const STORED_BYTES_PER_ROW = 274;
/**
 * Measured by `npm run capacity -- --measure` (2026-11-30, recorded in docs/capacity.md "Bytes per row"): Loghub rows as
 * the bench builds them, PatternId mined, inserted in 10,000-row flushes into chDB with every migration, then
 * OPTIMIZE TABLE logs FINAL and system.parts. Bytes on disk (columns, marks, indexes, projection) per row over one
 * pass of the corpus (32,000 rows, no line repeated); 200,000 rows (each line 6×) gave 12.07, which flatters.
 */
export const DISK_BYTES_PER_ROW = 22.66;
/** Same run: the gzip archive (CompressionStream, as durable-objects/tenant-actor/archive.ts), one object per flush; 26.77 at 200,000 rows. */
export const ARCHIVE_BYTES_PER_ROW = 26.64;

// ---------------------------------------------------------------------------
// Configuration and plans (the repository's own defaults).
// ---------------------------------------------------------------------------

/** The actor flushes at this many rows, bytes or age (shared/config.ts NEURALLOG_FLUSH_*). */
export const FLUSH_MAX_ROWS = Number(CONFIG_VARIABLES.NEURALLOG_FLUSH_MAX_ROWS.default);
export const FLUSH_MAX_BYTES = Number(CONFIG_VARIABLES.NEURALLOG_FLUSH_MAX_BYTES.default);
export const FLUSH_MAX_AGE_MS = Number(CONFIG_VARIABLES.NEURALLOG_FLUSH_MAX_AGE_MS.default);
/** The most a hot tenant may send: the enterprise plan's sustained rate and its shard count (shared/plans.ts). */
export const HOT_TENANT_PLAN_RECORDS_PER_SEC = PLANS.enterprise.ingestRecordsPerSecond;
export const HOT_TENANT_PLAN_SHARDS = PLANS.enterprise.shardCount;

// ---------------------------------------------------------------------------
// List prices, USD (read 2026-11-30 through the search tool's stored copies).
// ---------------------------------------------------------------------------

/** https://developers.cloudflare.com/workers/platform/pricing/ (read 2026-11-30): Standard, $0.30 per million requests beyond 10 M/month. */
export const PRICE_WORKERS_PER_MILLION_REQUESTS = 0.3;
/** Same page: $0.02 per million CPU milliseconds beyond 30 M/month. */
export const PRICE_WORKERS_PER_MILLION_CPU_MS = 0.02;
/** https://developers.cloudflare.com/durable-objects/platform/pricing (read 2026-11-30): $0.15 per million requests (RPC sessions, alarms). */
export const PRICE_DO_PER_MILLION_REQUESTS = 0.15;
/** Same page: $12.50 per million GB-s of duration; every object is billed as 128 MB while active. */
export const PRICE_DO_PER_MILLION_GB_S = 12.5;
export const DO_BILLED_GB = 0.128;
/**
 * ASSUMPTION, not a price read: the SQLite-backed Durable Object rows-written price was not in the
 * stored pages; D1's documented $1.00 per million rows written is used in its place.
 */
export const ASSUMED_PRICE_DO_PER_MILLION_ROWS_WRITTEN = 1.0;
/** https://developers.cloudflare.com/r2/pricing/ (cloudflare-docs source, read 2026-11-30): Standard storage $0.015/GB-month. */
export const PRICE_R2_PER_GB_MONTH = 0.015;
/** Same page: Class A operations (PutObject) $4.50 per million. */
export const PRICE_R2_PER_MILLION_CLASS_A = 4.5;
/**
 * Derived, not a price-list figure: https://clickhouse.com/docs/cloud/manage/billing/overview (AWS us-east-1,
 * read 2026-11-30; the page is undated) gives, for the Scale tier, 2 replicas × (8 GiB, 2 vCPU) always on = $436.95
 * a month, so $109.24 per vCPU-month; the pricing page itself was not in the stored pages.
 */
export const PRICE_CLICKHOUSE_CLOUD_PER_VCPU_MONTH = 436.95 / 4;
/** Same page: 500 GB data + 500 GB backup = $25.30, 1 TB + 1 backup = $50.60 → $0.0253 per GB-month of compressed data or backup. */
export const PRICE_CLICKHOUSE_CLOUD_PER_GB_MONTH = 25.3 / 1_000;

// ---------------------------------------------------------------------------
// Assumptions (parameters, not measurements).
// ---------------------------------------------------------------------------

/** SQLite rows the actor writes per ingest request: the buffered chunk, the idempotency ledger, the rate limiter's upsert, the quota's three writes (docs/benchmarks.md:324-325, ADR 0003). */
export const DO_ROWS_WRITTEN_PER_REQUEST = 6;
/** Per flush: its pending_flushes row, written then deleted with the chunks (ADR 0003). */
export const DO_ROWS_WRITTEN_PER_FLUSH = 2;

const SECONDS_PER_DAY = 86_400;
const DAYS_PER_MONTH = 30;
const GB = 1e9;

export interface CapacityInput {
  logsPerDay: number;
  /** Average record as received (JSON), bytes. */
  bytesPerRecord: number;
  /** Peak rate ÷ mean rate over the day; capacity is sized for the peak. */
  peakToMean: number;
  /** Tenants sending at least every few seconds (each keeps at least one actor awake and flushes at least once per flush age). */
  activeTenants: number;
  /** The busiest tenant's share of the peak rate (capped by its plan's rate). */
  hotTenantShare: number;
  /** Most records a shipper puts in one request, and how long it batches (s): a quiet tenant's requests are smaller. */
  recordsPerRequest: number;
  shipperBatchSeconds: number;
  /** CPU per record on Cloudflare: the ingest worker's and the actor's (µs). */
  workerCpuUsPerRecord: number;
  actorCpuUsPerRecord: number;
  /** Records/s one actor sustains (measured), and the share of it we plan to use. */
  actorRecordsPerSec: number;
  actorHeadroom: number;
  /** ClickHouse CPU per row (µs), the utilisation its cores are planned at, cores per node, replicas. */
  clickhouseCpuUsPerRow: number;
  clickhouseUtilisation: number;
  clickhouseNodeCores: number;
  replicationFactor: number;
  /** Flush policy (shared/config.ts). */
  flushMaxRows: number;
  flushMaxAgeMs: number;
  /** Bytes per row on ClickHouse's disk (compressed, after merges) and in the gzip R2 archive. */
  diskBytesPerRow: number;
  archiveBytesPerRow: number;
  retentionDays: number;
  /** How long the R2 archive is kept (days). */
  archiveRetentionDays: number;
  /** Cap for the hot tenant's rate (its plan). */
  hotTenantMaxRecordsPerSec: number;
}

export interface CapacityOutput {
  meanRecordsPerSec: number;
  peakRecordsPerSec: number;
  gbIngestedPerDay: number;
  ingestRequestsPerDay: number;
  /** Records per ingest request (smaller than the shipper's maximum for quiet tenants). */
  recordsPerRequest: number;
  workerCpuSecondsPerDay: number;
  actorCpuSecondsPerDay: number;
  hotTenantPeakRecordsPerSec: number;
  actorsPerHotTenant: number;
  /** Rows per ClickHouse insert and inserts (= new parts before merges) per second at the mean rate. */
  rowsPerInsert: number;
  insertPartsPerSec: number;
  clickhouseCoresPerReplica: number;
  clickhouseNodes: number;
  diskBytesPerDay: number;
  diskBytesRetained: number;
  r2BytesPerMonth: number;
  r2BytesStored: number;
  cost: {
    cloudflarePerDay: number;
    clickhousePerDay: number;
    cloudflarePerGb: number;
    clickhousePerGb: number;
    totalPerGb: number;
    lines: Record<string, number>;
  };
}

/** Rows/s a set of cores sustains when each row costs `cpuUsPerRow` µs in total and the cores run at `utilisation`. */
export function rowsPerSecond(cores: number, cpuUsPerRow: number, utilisation = 1): number {
  return (cores * utilisation * 1e6) / cpuUsPerRow;
}

/** Cores needed for `rowsPerSec` at `cpuUsPerRow`, planned at `utilisation`. */
export function coresFor(rowsPerSec: number, cpuUsPerRow: number, utilisation = 1): number {
  return (rowsPerSec * cpuUsPerRow) / 1e6 / utilisation;
}

export function capacity(input: CapacityInput): CapacityOutput {
  const meanRecordsPerSec = input.logsPerDay / SECONDS_PER_DAY;
  const peakRecordsPerSec = meanRecordsPerSec * input.peakToMean;
  const gbIngestedPerDay = (input.logsPerDay * input.bytesPerRecord) / GB;
  const workerCpuSecondsPerDay = (input.logsPerDay * input.workerCpuUsPerRecord) / 1e6;
  const actorCpuSecondsPerDay = (input.logsPerDay * input.actorCpuUsPerRecord) / 1e6;

  const hotTenantPeakRecordsPerSec = Math.min(peakRecordsPerSec * input.hotTenantShare, input.hotTenantMaxRecordsPerSec);
  const actorsPerHotTenant = Math.max(1, Math.ceil(hotTenantPeakRecordsPerSec / (input.actorRecordsPerSec * input.actorHeadroom)));

  // A tenant's shipper sends what it gathered in shipperBatchSeconds, at most recordsPerRequest records. Each
  // actor flushes when it holds flushMaxRows rows, or flushMaxAgeMs after its oldest row arrived — so a quiet
  // actor flushes each request (or each flush age's worth) on its own, a busy one flushMaxRows at a time.
  const actors = Math.max(input.activeTenants, 1) + (actorsPerHotTenant - 1);
  const perActorRecordsPerSec = meanRecordsPerSec / actors;
  const recordsPerRequest = Math.min(input.recordsPerRequest, Math.max(1, perActorRecordsPerSec * input.shipperBatchSeconds));
  const ingestRequestsPerDay = input.logsPerDay / recordsPerRequest;
  const perActorRequestsPerSec = perActorRecordsPerSec / recordsPerRequest;
  const perActorFlushesPerSec = Math.max(perActorRecordsPerSec / input.flushMaxRows, Math.min(perActorRequestsPerSec, 1000 / input.flushMaxAgeMs));
  const rowsPerInsert = perActorRecordsPerSec / perActorFlushesPerSec;
  const insertPartsPerSec = meanRecordsPerSec / rowsPerInsert;
  const flushesPerDay = insertPartsPerSec * SECONDS_PER_DAY;

  const clickhouseCoresPerReplica = coresFor(peakRecordsPerSec, input.clickhouseCpuUsPerRow, input.clickhouseUtilisation);
  const clickhouseNodes = Math.max(1, Math.ceil(clickhouseCoresPerReplica / input.clickhouseNodeCores)) * input.replicationFactor;

  const diskBytesPerDay = input.logsPerDay * input.diskBytesPerRow;
  const diskBytesRetained = diskBytesPerDay * input.retentionDays;
  const r2BytesPerDay = input.logsPerDay * input.archiveBytesPerRow;
  const r2BytesPerMonth = r2BytesPerDay * DAYS_PER_MONTH;
  const r2BytesStored = r2BytesPerDay * input.archiveRetentionDays;

  // Cost per day at list prices, free allowances ignored (they are per account and vanish at scale).
  const doRequestsPerDay = ingestRequestsPerDay + flushesPerDay; // one RPC per ingest request, one alarm per flush
  const lines: Record<string, number> = {
    workersRequests: (ingestRequestsPerDay / 1e6) * PRICE_WORKERS_PER_MILLION_REQUESTS,
    workersCpu: ((workerCpuSecondsPerDay * 1000) / 1e6) * PRICE_WORKERS_PER_MILLION_CPU_MS,
    doRequests: (doRequestsPerDay / 1e6) * PRICE_DO_PER_MILLION_REQUESTS,
    // Every actor that receives rows stays in memory all day (it always has a flush alarm or a request pending).
    doDuration: ((actors * SECONDS_PER_DAY * DO_BILLED_GB) / 1e6) * PRICE_DO_PER_MILLION_GB_S,
    doRowsWritten:
      ((ingestRequestsPerDay * DO_ROWS_WRITTEN_PER_REQUEST + flushesPerDay * DO_ROWS_WRITTEN_PER_FLUSH) / 1e6) * ASSUMED_PRICE_DO_PER_MILLION_ROWS_WRITTEN,
    r2Storage: (r2BytesStored / GB) * (PRICE_R2_PER_GB_MONTH / DAYS_PER_MONTH),
    r2Puts: (flushesPerDay / 1e6) * PRICE_R2_PER_MILLION_CLASS_A,
    // ClickHouse Cloud meters compute in units of 8 GiB and 2 vCPU per replica: at least one unit each.
    clickhouseCompute:
      Math.max(2, 2 * Math.ceil(clickhouseCoresPerReplica / 2)) * input.replicationFactor * (PRICE_CLICKHOUSE_CLOUD_PER_VCPU_MONTH / DAYS_PER_MONTH),
    // Compressed data plus the one default backup; ClickHouse Cloud includes replication in this price.
    clickhouseStorage: ((diskBytesRetained * 2) / GB) * (PRICE_CLICKHOUSE_CLOUD_PER_GB_MONTH / DAYS_PER_MONTH),
  };
  const cloudflarePerDay =
    lines.workersRequests! + lines.workersCpu! + lines.doRequests! + lines.doDuration! + lines.doRowsWritten! + lines.r2Storage! + lines.r2Puts!;
  const clickhousePerDay = lines.clickhouseCompute! + lines.clickhouseStorage!;
  return {
    meanRecordsPerSec,
    peakRecordsPerSec,
    gbIngestedPerDay,
    ingestRequestsPerDay,
    workerCpuSecondsPerDay,
    actorCpuSecondsPerDay,
    hotTenantPeakRecordsPerSec,
    actorsPerHotTenant,
    recordsPerRequest,
    rowsPerInsert,
    insertPartsPerSec,
    clickhouseCoresPerReplica,
    clickhouseNodes,
    diskBytesPerDay,
    diskBytesRetained,
    r2BytesPerMonth,
    r2BytesStored,
    cost: {
      cloudflarePerDay,
      clickhousePerDay,
      cloudflarePerGb: cloudflarePerDay / gbIngestedPerDay,
      clickhousePerGb: clickhousePerDay / gbIngestedPerDay,
      totalPerGb: (cloudflarePerDay + clickhousePerDay) / gbIngestedPerDay,
      lines,
    },
  };
}

/** The measured figures as model inputs; the scale-dependent ones (tenants) come from the caller. */
export const MEASURED_INPUT: Omit<CapacityInput, 'logsPerDay' | 'activeTenants'> = {
  bytesPerRecord: BYTES_PER_RECORD_JSON,
  peakToMean: 3,
  hotTenantShare: 0.2,
  recordsPerRequest: RECORDS_PER_REQUEST,
  shipperBatchSeconds: 1,
  workerCpuUsPerRecord: WORKERD_CPU_US_PER_ROW - INGEST_ISOLATE_CPU_US_PER_RECORD * ACTOR_SHARE_OF_ISOLATE,
  actorCpuUsPerRecord: INGEST_ISOLATE_CPU_US_PER_RECORD * ACTOR_SHARE_OF_ISOLATE,
  actorRecordsPerSec: ACTOR_FLUSHED_ROWS_PER_SEC,
  actorHeadroom: 0.5,
  clickhouseCpuUsPerRow: CLICKHOUSE_CPU_US_PER_ROW,
  clickhouseUtilisation: 0.5,
  clickhouseNodeCores: 16,
  replicationFactor: 2,
  flushMaxRows: FLUSH_MAX_ROWS,
  flushMaxAgeMs: FLUSH_MAX_AGE_MS,
  diskBytesPerRow: DISK_BYTES_PER_ROW,
  archiveBytesPerRow: ARCHIVE_BYTES_PER_ROW,
  retentionDays: 30,
  archiveRetentionDays: 365,
  hotTenantMaxRecordsPerSec: HOT_TENANT_PLAN_RECORDS_PER_SEC,
};

/** The architecture's scale table (../shared/reference/neurallog-architecture.md, "Resource Requirements by Scale"): logs/day and tenants (upper bound of its range). */
export const SCALES = [
  { name: 'Small', logsPerDay: 1e6, activeTenants: 100 },
  { name: 'Medium', logsPerDay: 1e8, activeTenants: 1_000 },
  { name: 'Large', logsPerDay: 1e10, activeTenants: 10_000 },
] as const;

export function scaleTable(base: Omit<CapacityInput, 'logsPerDay' | 'activeTenants'> = MEASURED_INPUT) {
  return SCALES.map((s) => ({ ...s, out: capacity({ ...base, logsPerDay: s.logsPerDay, activeTenants: s.activeTenants }) }));
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

function num(n: number, digits = 0): string {
  return n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatTable(rows = scaleTable()): string {
  const head = ['', ...rows.map((r) => `${r.name} (${num(r.logsPerDay)}/day, ${num(r.activeTenants)} tenants)`)];
  const line = (label: string, f: (o: CapacityOutput) => string) => [label, ...rows.map((r) => f(r.out))];
  const table = [
    head,
    line('mean / peak logs/s', (o) => `${num(o.meanRecordsPerSec)} / ${num(o.peakRecordsPerSec)}`),
    line('GB ingested/day (JSON)', (o) => num(o.gbIngestedPerDay, 2)),
    line('records per request', (o) => num(o.recordsPerRequest, 1)),
    line('ingest requests/day', (o) => num(o.ingestRequestsPerDay)),
    line('ingest worker CPU-s/day', (o) => num(o.workerCpuSecondsPerDay, 1)),
    line('actor CPU-s/day', (o) => num(o.actorCpuSecondsPerDay, 1)),
    line('hot tenant peak logs/s', (o) => num(o.hotTenantPeakRecordsPerSec)),
    line('actors per hot tenant', (o) => String(o.actorsPerHotTenant)),
    line('rows per insert (mean)', (o) => num(o.rowsPerInsert, 1)),
    line('insert parts/s (mean)', (o) => num(o.insertPartsPerSec, 1)),
    line('ClickHouse cores/replica (peak)', (o) => num(o.clickhouseCoresPerReplica, 2)),
    line(`ClickHouse nodes (${MEASURED_INPUT.clickhouseNodeCores} cores × ${MEASURED_INPUT.replicationFactor} replicas)`, (o) => String(o.clickhouseNodes)),
    line('disk/day (one replica)', (o) => bytes(o.diskBytesPerDay)),
    line(`disk at ${MEASURED_INPUT.retentionDays}-day retention`, (o) => bytes(o.diskBytesRetained)),
    line('R2 written/month', (o) => bytes(o.r2BytesPerMonth)),
    line(`R2 stored (${MEASURED_INPUT.archiveRetentionDays} days)`, (o) => bytes(o.r2BytesStored)),
    line('Cloudflare $/day', (o) => num(o.cost.cloudflarePerDay, 2)),
    line('ClickHouse Cloud $/day', (o) => num(o.cost.clickhousePerDay, 2)),
    line('Cloudflare $/GB ingested', (o) => num(o.cost.cloudflarePerGb, 3)),
    line('ClickHouse Cloud $/GB ingested', (o) => num(o.cost.clickhousePerGb, 3)),
    line('total $/GB ingested', (o) => num(o.cost.totalPerGb, 3)),
  ];
  const widths = head.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  return table.map((r) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`).join('\n');
}

// ---------------------------------------------------------------------------
// The one-off measurement of bytes per row (`--measure`).
// ---------------------------------------------------------------------------

export async function measureBytesPerRow(totalRows = 200_000) {
  const { Session } = await import('chdb');
  const { normalizeRecord } = await import('../shared/normalize.ts');
  const { ARCHIVE_HEADER, LOG_COLUMNS, serializeRows } = await import('../shared/row-format.ts');
  const { formatClickHouseTime, instantFromMillis } = await import('../shared/timestamp.ts');
  const { PatternMiner } = await import('../shared/patterns/miner.ts');
  const { splitStatements } = await import('../migrations/clickhouse/migrate.ts');
  const root = resolve(import.meta.dirname, '..');
  // Records exactly as scripts/bench.ts builds them.
  const { loadLoghubRecords } = await import('./bench-corpus.ts');
  const records = await loadLoghubRecords();
  const miner = new PatternMiner();
  const now = Date.now();
  const receivedAt = formatClickHouseTime(instantFromMillis(now));
  const flushes: string[] = [];
  let jsonBytes = 0;
  for (let start = 0; start < totalRows; start += FLUSH_MAX_ROWS) {
    const rows = [];
    for (let i = start; i < Math.min(totalRows, start + FLUSH_MAX_ROWS); i++) {
      const raw = { ...records[i % records.length]!, timestamp: new Date(now - i).toISOString() };
      jsonBytes += Buffer.byteLength(JSON.stringify(raw));
      const row = normalizeRecord(raw, i % RECORDS_PER_REQUEST, {
        tenantId: 'capacity',
        retentionDays: 30,
        receivedAt,
        batchId: `CAP${Math.floor(i / RECORDS_PER_REQUEST)}`,
      });
      row.PatternId = miner.assign(row.ServiceName ?? '', row.Body).patternId;
      rows.push(row);
    }
    flushes.push(
      serializeRows(rows, { maxRecordBytes: 1 << 20, now })
        .chunks.map((c) => c.text)
        .join(''),
    );
  }
  // The archive as the actor writes it: one gzip object per flush, a header line naming the columns.
  // CompressionStream('gzip') is what archive.ts uses; node:zlib at its default level 6 is measured beside it.
  let archiveStream = 0;
  let archiveZlib = 0;
  let storedBytes = 0;
  for (const text of flushes) {
    const body = ARCHIVE_HEADER + text;
    storedBytes += Buffer.byteLength(text);
    const gz = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
    archiveStream += (await new Response(gz).arrayBuffer()).byteLength;
    archiveZlib += gzipSync(body).byteLength;
  }

  const dir = await mkdtemp(join(tmpdir(), 'neurallog-capacity-'));
  const session = new Session(dir);
  try {
    await session.queryAsync('CREATE DATABASE neurallog');
    const migrations = join(root, 'migrations/clickhouse');
    for (const file of (await readdir(migrations)).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort()) {
      for (const statement of splitStatements(await readFile(join(migrations, file), 'utf8'))) await session.queryAsync(`USE neurallog; ${statement}`);
    }
    let n = 0;
    for (const body of flushes) {
      await session.insert({
        table: 'neurallog.logs',
        columns: LOG_COLUMNS,
        values: Buffer.from(body),
        format: 'JSONCompactEachRow',
        settings: { insert_deduplication_token: `capacity-${n++}` },
      });
    }
    await session.queryAsync('OPTIMIZE TABLE neurallog.logs FINAL');
    const parts = JSON.parse(
      session.query(
        `SELECT sum(rows) AS rows, sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed, sum(bytes_on_disk) AS on_disk, count() AS parts
         FROM system.parts WHERE database = 'neurallog' AND table = 'logs' AND active`,
        'JSONEachRow',
      ),
    ) as Record<string, string>;
    const rows = Number(parts.rows);
    return {
      rows,
      parts: Number(parts.parts),
      jsonBytesPerRecord: jsonBytes / totalRows,
      storedBytesPerRow: storedBytes / totalRows,
      compressedBytesPerRow: Number(parts.compressed) / rows,
      uncompressedBytesPerRow: Number(parts.uncompressed) / rows,
      onDiskBytesPerRow: Number(parts.on_disk) / rows,
      archiveBytesPerRow: archiveStream / totalRows,
      archiveZlibLevel6BytesPerRow: archiveZlib / totalRows,
    };
  } finally {
    session.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--measure')) {
    const rows = Number(process.env.CAPACITY_MEASURE_ROWS ?? 200_000);
    console.log(JSON.stringify(await measureBytesPerRow(rows), null, 2));
  } else {
    console.log(formatTable());
  }
}
