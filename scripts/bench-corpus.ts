/**
 * The benchmarks' corpus: the Loghub samples (../shared/data/loghub, or
 * NEURALLOG_LOGHUB_DIR) loaded straight into ClickHouse's logs table.
 */
import { createClient } from '@clickhouse/client-web';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PatternMiner } from '../shared/patterns/miner.ts';
import { PROJECT_ROOT } from './stack.ts';

const LOGHUB_DIR = process.env.NEURALLOG_LOGHUB_DIR ?? resolve(PROJECT_ROOT, '../shared/data/loghub');
const INSERT_CHUNK = 1_000_000;

/** A benchmark record built from a Loghub line: the line as `message`, the system as `service`, a level and a host. */
export type LoghubRecord = Record<string, string>;

/**
 * Every Loghub line as the ingest benchmarks send it (~240 bytes as JSON): the
 * level read from the line when it says one, else cycled; the host cycled.
 */
export async function loadLoghubRecords(dir = LOGHUB_DIR): Promise<LoghubRecord[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
  } catch {
    throw new Error(`Loghub samples not found in ${dir}; set NEURALLOG_LOGHUB_DIR`);
  }
  const records: LoghubRecord[] = [];
  const levels = ['info', 'info', 'info', 'warn', 'error', 'debug'];
  for (const file of files) {
    const service = file.replace(/_2k\.log$/, '').toLowerCase();
    const lines = (await readFile(join(dir, file), 'utf8')).split('\n').filter((l) => l.trim() !== '');
    lines.forEach((line, i) => {
      records.push({
        level: /\b(ERROR|FATAL|error|failed|failure)\b/.test(line) ? 'error' : /\bWARN/.test(line) ? 'warn' : levels[i % levels.length]!,
        service,
        message: line.slice(0, 240),
        host: `node-${i % 16}`,
      });
    });
  }
  return records;
}

async function loadLines(): Promise<{ line: string; service: string }[]> {
  const files = (await readdir(LOGHUB_DIR)).filter((f) => f.endsWith('.log')).sort();
  const lines: { line: string; service: string }[] = [];
  for (const file of files) {
    const service = file.replace(/_2k\.log$/, '').toLowerCase();
    for (const line of (await readFile(join(LOGHUB_DIR, file), 'utf8')).split('\n')) if (line.trim() !== '') lines.push({ line: line.slice(0, 400), service });
  }
  return lines;
}

/**
 * Loads `rows` rows into the stack's ClickHouse, spread over `tenants` and the
 * last 24 hours (newest first): bodies are the Loghub lines, service = the
 * system they come from, levels and attributes (region, status) varied. The
 * rows are generated inside ClickHouse (INSERT … SELECT from numbers()), so
 * loading takes seconds, not the ingest path's minutes. Returns the seconds taken.
 */
export async function loadLoghubRows(clickhouseUrl: string, tenants: string[], rows: number): Promise<number> {
  const ch = createClient({ url: clickhouseUrl, database: 'neurallog' });
  const lines = await loadLines();
  // Each line's pattern as an actor would mine it, once the whole corpus is learnt (so every row has its final id).
  const miner = new PatternMiner();
  for (const { line, service } of lines) miner.assign(service, line);
  const mined = lines.map(({ line, service }) => ({ service, ...miner.assign(service, line) }));
  const templates = new Map(mined.map((m) => [m.patternId, m]));
  await ch.insert({
    table: 'log_patterns',
    values: tenants.flatMap((tenant) =>
      [...templates.values()].map((m) => ({ TenantId: tenant, PatternId: m.patternId, ServiceName: m.service, Template: m.template, FirstSeen: Date.now() })),
    ),
    format: 'JSONEachRow',
  });
  await ch.command({ query: 'CREATE TABLE IF NOT EXISTS bench_lines (i UInt32, line String, service String, pattern String) ENGINE = Memory' });
  await ch.insert({ table: 'bench_lines', values: lines.map((l, i) => ({ i, ...l, pattern: mined[i]!.patternId })), format: 'JSONEachRow' });
  const started = performance.now();
  const now = Date.now();
  for (let offset = 0; offset < rows; offset += INSERT_CHUNK) {
    const n = Math.min(INSERT_CHUNK, rows - offset);
    await ch.command({
      query: `
        INSERT INTO logs (TenantId, Timestamp, ObservedTimestamp, LogId, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes, RetentionDays, PatternId)
        WITH (SELECT groupArray((line, service, pattern)) FROM (SELECT line, service, pattern FROM bench_lines ORDER BY i)) AS corpus,
             {offset:UInt64} + number AS k,
             corpus[k % length(corpus) + 1] AS entry,
             [9, 9, 9, 9, 5, 13, 17][k % 7 + 1] AS severity
        SELECT
          {tenants:Array(String)}[k % length({tenants:Array(String)}) + 1],
          fromUnixTimestamp64Milli({now:Int64} - intDiv(k * 86400000, {rows:UInt64}), 'UTC'),
          fromUnixTimestamp64Milli({now:Int64} - intDiv(k * 86400000, {rows:UInt64}), 'UTC'),
          concat('BENCHQ-', toString(k)),
          multiIf(severity = 17, 'error', severity = 13, 'warn', severity = 5, 'debug', 'info'),
          severity,
          entry.2,
          entry.1,
          map('host', concat('node-', toString(k % 16))),
          map('region', ['eu-west', 'us-east', 'ap-south'][k % 3 + 1], 'status', toString([200, 200, 200, 404, 500][k % 5 + 1])),
          30,
          entry.3
        FROM numbers({n:UInt64})`,
      query_params: { offset, n, rows, now, tenants },
    });
    process.stdout.write(`  loaded ${(offset + n).toLocaleString('en')} rows\r`);
  }
  await ch.command({ query: 'DROP TABLE bench_lines' });
  await ch.close();
  return (performance.now() - started) / 1000;
}
