/**
 * What the load and soak scripts read from a running local stack, from the
 * outside, without asking the stack anything it would have to do work for:
 *
 * - resident memory of each of its processes (/proc, Linux), labelled as
 *   scripts/process-cpu.ts labels them;
 * - the tenant actors' storage: Miniflare keeps each Durable Object in its own
 *   SQLite file under the state directory, and the buffer (rows acknowledged,
 *   not yet flushed) is that file's `buffered_chunks` table;
 * - ClickHouse's side of the flush pattern: parts created so far in the logs
 *   table and active parts now. A MergeTree numbers every part an insert
 *   creates from one table-wide counter (`max_block_number`; a merged part
 *   keeps the highest of its sources), so the counter's growth over an interval
 *   is the number of insert parts created in it: with the embedded engine,
 *   which keeps no system.query_log, that is how inserts are counted.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { label, processTree } from '../process-cpu.ts';

export interface ProcessMemory {
  pid: number;
  label: string;
  rssBytes: number;
}

/** Resident memory of this process's tree (the load generator and the stack it started), per process. */
export function processMemory(): ProcessMemory[] {
  const out: ProcessMemory[] = [];
  for (const pid of processTree(process.pid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
      if (kb > 0) out.push({ pid, label: label(pid), rssBytes: kb * 1024 });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** Resident bytes summed per label (e.g. every workerd). */
export function memoryByLabel(processes: ProcessMemory[]): Map<string, number> {
  const byLabel = new Map<string, number>();
  for (const p of processes) byLabel.set(p.label, (byLabel.get(p.label) ?? 0) + p.rssBytes);
  return byLabel;
}

/** Directory of the tenant actors' SQLite files under a stack's data directory. */
export function actorStorageDir(dataDir: string): string | null {
  const doRoot = join(dataDir, 'state', 'v3', 'do');
  try {
    const dir = readdirSync(doRoot).find((d) => d.endsWith('-TenantActor'));
    return dir ? join(doRoot, dir) : null;
  } catch {
    return null;
  }
}

export interface ActorStorage {
  /** Actors that have storage (one SQLite database each). */
  actors: number;
  /** Bytes of their SQLite files, write-ahead logs included. */
  bytes: number;
  files: string[];
}

export function actorStorage(dataDir: string): ActorStorage {
  const dir = actorStorageDir(dataDir);
  if (!dir) return { actors: 0, bytes: 0, files: [] };
  let bytes = 0;
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    try {
      bytes += statSync(join(dir, name)).size;
    } catch {
      continue; // a -wal/-shm file removed meanwhile
    }
    if (name.endsWith('.sqlite')) files.push(join(dir, name));
  }
  return { actors: files.length, bytes, files };
}

/**
 * Rows still buffered (acknowledged, not flushed) and flushes pending, summed
 * over the actors' SQLite files, read with the sqlite3 command-line tool (read
 * only). Null when the tool is not installed.
 */
export function bufferedRows(files: string[]): { rows: number; pendingFlushes: number; actorsHolding: number } | null {
  let rows = 0;
  let pendingFlushes = 0;
  let actorsHolding = 0;
  for (const file of files) {
    let out: string;
    try {
      out = execFileSync(
        'sqlite3',
        ['-readonly', file, 'SELECT (SELECT coalesce(sum(rows), 0) FROM buffered_chunks), (SELECT count(*) FROM pending_flushes);'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      // An actor that never got past its schema (no such table): nothing buffered.
      continue;
    }
    const [r, p] = out.trim().split('|').map(Number);
    rows += r ?? 0;
    pendingFlushes += p ?? 0;
    if ((r ?? 0) > 0 || (p ?? 0) > 0) actorsHolding++;
  }
  return { rows, pendingFlushes, actorsHolding };
}

export type ClickHouse = ReturnType<typeof createClient>;

export function clickhouseClient(url: string): ClickHouse {
  return createClient({ url, database: 'neurallog' });
}

async function one<T>(ch: ClickHouse, query: string, params: Record<string, unknown> = {}): Promise<T> {
  const rs = await ch.query({ query, query_params: params, format: 'JSONEachRow' });
  return (await rs.json<T>())[0]!;
}

export interface LogsParts {
  /** Insert parts created in the logs table since it was made (its block counter). */
  created: number;
  /** Active parts now (what merges have not yet combined). */
  active: number;
}

export async function logsParts(ch: ClickHouse): Promise<LogsParts> {
  const row = await one<{ created: string; active: string }>(
    ch,
    "SELECT max(max_block_number) AS created, countIf(active) AS active FROM system.parts WHERE database = 'neurallog' AND table = 'logs'",
  );
  return { created: Number(row.created), active: Number(row.active) };
}

/** Rows stored for tenants whose id starts with `prefix`. */
export async function storedRows(ch: ClickHouse, prefix: string): Promise<number> {
  const row = await one<{ n: string }>(ch, 'SELECT count() AS n FROM logs WHERE startsWith(TenantId, {p:String})', { p: prefix });
  return Number(row.n);
}

export const MB = 1024 * 1024;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
