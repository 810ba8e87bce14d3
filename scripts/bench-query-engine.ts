/**
 * `npm run bench:query-engine`: what the search SQL costs the engine alone —
 * chDB in this process, no HTTP, no workers — on one tenant-day (3.3 M Loghub
 * rows over 24 hours, the per-tenant share of `npm run bench:query`, merged
 * into one part). Each query runs five times; the median is printed. Variants
 * show where the time goes (which columns a query makes ClickHouse read).
 * Every query also runs on a copy of the table with the sort key before
 * migration 0003, (TenantId, TimestampTime, Timestamp), so the two keys are
 * compared in one run.
 */
import { Session } from 'chdb';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from './stack.ts';
import { splitStatements } from '../migrations/clickhouse/migrate.ts';
import { compileSearch } from '../workers/query/compile-search.ts';
import { parseSearch } from '../workers/query/search-params.ts';

const dir = await mkdtemp(join(tmpdir(), 'neurallog-bench-engine-'));
const s = new Session(dir);
await s.queryAsync('CREATE DATABASE neurallog');
for (const f of (await readdir(join(PROJECT_ROOT, 'migrations/clickhouse'))).filter((x) => /^\d{4}_.*\.sql$/.test(x)).sort()) {
  for (const st of splitStatements(await readFile(join(PROJECT_ROOT, 'migrations/clickhouse', f), 'utf8'))) await s.queryAsync(`USE neurallog; ${st}`);
}
const L = process.env.NEURALLOG_LOGHUB_DIR ?? resolve(PROJECT_ROOT, '../shared/data/loghub');
const rows: string[] = [];
for (const f of (await readdir(L)).filter((x) => x.endsWith('.log')))
  for (const l of (await readFile(join(L, f), 'utf8')).split('\n'))
    if (l) rows.push(JSON.stringify({ line: l.slice(0, 400), service: f.replace(/_2k\.log$/, '').toLowerCase() }));
await s.queryAsync('CREATE TABLE neurallog.bl (line String, service String) ENGINE = Memory');
await s.insert({ table: 'neurallog.bl', values: Buffer.from(rows.join('\n')), format: 'JSONEachRow' });
const N = 3_300_000,
  now = Date.now();
const t0 = performance.now();
await s.queryAsync(`INSERT INTO neurallog.logs (TenantId, Timestamp, ObservedTimestamp, LogId, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes, RetentionDays)
WITH (SELECT groupArray((line, service)) FROM neurallog.bl) AS corpus, number AS k, corpus[k % length(corpus) + 1] AS entry, [9,9,9,9,5,13,17][k % 7 + 1] AS sev
SELECT 'ten', fromUnixTimestamp64Milli(${now} - intDiv(k * 86400000, ${N}), 'UTC'), fromUnixTimestamp64Milli(${now} - intDiv(k * 86400000, ${N}), 'UTC'), concat('B', toString(k)), 'x', sev, entry.2, entry.1,
 map('host', concat('node-', toString(k % 16))), map('region', ['eu-west','us-east','ap-south'][k % 3 + 1], 'status', toString([200,200,200,404,500][k % 5 + 1])), 30 FROM numbers(${N})`);
console.log('load', ((performance.now() - t0) / 1000).toFixed(1), 's');
// The same rows under the sort key before migration 0003.
const ddl = (await s.queryAsync("SELECT create_table_query FROM system.tables WHERE database = 'neurallog' AND name = 'logs'", { format: 'TSVRaw' }))
  .text()
  .trim();
const before = ddl
  .replace('neurallog.logs ', 'neurallog.logs_by_time ')
  .replace('PRIMARY KEY (TenantId, ServiceName, TimestampTime)', 'PRIMARY KEY (TenantId, TimestampTime)')
  .replace('ORDER BY (TenantId, ServiceName, TimestampTime, Timestamp)', 'ORDER BY (TenantId, TimestampTime, Timestamp)');
if (before === ddl.replace('neurallog.logs ', 'neurallog.logs_by_time ')) throw new Error('the sort key is not the one this bench compares against');
await s.queryAsync(before);
await s.queryAsync('INSERT INTO neurallog.logs_by_time SELECT * FROM neurallog.logs');
await s.queryAsync('OPTIMIZE TABLE neurallog.logs FINAL');
await s.queryAsync('OPTIMIZE TABLE neurallog.logs_by_time FINAL');
console.log(''.padEnd(58), 'service in key', '  time-only key (before 0003)');

async function median(sql: string): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await s.queryAsync(sql, { format: 'JSONEachRow' });
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[2]!;
}
async function time(name: string, sql: string) {
  const now = await median(sql);
  const then = await median(sql.replaceAll('neurallog.logs ', 'neurallog.logs_by_time '));
  console.log(name.padEnd(58), `${now.toFixed(0)} ms`.padStart(14), `${then.toFixed(0)} ms`.padStart(14));
}
/** The SQL the query worker sends, with its parameters written in (chDB's in-process API takes no HTTP parameters). */
function inline(q: string, from = 'now-24h') {
  const { sql, params } = compileSearch('ten', parseSearch(new URLSearchParams({ from, q })));
  return sql
    .replace(/\{(\w+):[^}]+\}/g, (_, n) => {
      const v = params[n];
      return typeof v === 'number'
        ? String(v)
        : Array.isArray(v)
          ? `[${v.map((x) => `'${x}'`).join(',')}]`
          : `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    })
    .replace(/ FROM logs /g, ' FROM neurallog.logs ');
}
const ff = inline('service:openssh level:error status>=500');
await time('field filter as compiled', ff);
await time('  same, attr.status (one map)', inline('service:openssh level:error attr.status>=500'));
await time('  same, no status', inline('service:openssh level:error'));
await time('  same, a resource key by bare name (host:node-3)', inline('service:openssh level:error host:node-3'));
await time('full-text 24h (authentication failure)', inline('authentication failure'));
await time('latest 100, no filter, 24 h', inline(''));
await time('  without service (level:error status>=500)', inline('level:error status>=500'));
await time('  count only (no columns)', `SELECT count() FROM neurallog.logs WHERE ${ff.slice(ff.indexOf(' WHERE ') + 7, ff.lastIndexOf(' ORDER BY '))}`);
await time('full-text 1h', inline('authentication failure', 'now-1h'));
const where = `TenantId = 'ten' AND TimestampTime >= now() - 86400`;
await time(
  'histogram',
  `SELECT toStartOfInterval(TimestampTime, toIntervalSecond(1800)) b, multiIf(SeverityNumber<=4,'t',SeverityNumber<=8,'d',SeverityNumber<=12,'i',SeverityNumber<=16,'w','e') l, count() FROM neurallog.logs WHERE ${where} AND Timestamp >= now64(9) - 86400 GROUP BY b, l`,
);
await time(
  '  histogram without exact Timestamp bound',
  `SELECT toStartOfInterval(TimestampTime, toIntervalSecond(1800)) b, multiIf(SeverityNumber<=4,'t',SeverityNumber<=8,'d',SeverityNumber<=12,'i',SeverityNumber<=16,'w','e') l, count() FROM neurallog.logs WHERE ${where} GROUP BY b, l`,
);
await time(
  'facet region',
  `SELECT LogAttributes['region'] v, count() n FROM neurallog.logs WHERE ${where} AND mapContains(LogAttributes, 'region') GROUP BY v ORDER BY n DESC LIMIT 10`,
);
await time('  facet, only keys read', `SELECT count() FROM neurallog.logs WHERE ${where} AND has(mapKeys(LogAttributes), 'region')`);
s.close();
await rm(dir, { recursive: true, force: true });
