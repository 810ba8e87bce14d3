/**
 * The archive restore without the stack, against the embedded ClickHouse, on
 * an archive laid out as its keys in a directory, read two ways: by the tool
 * (production's R2 synced to a disk: scripts/restore/directory-archive.ts) and
 * by ClickHouse itself (scripts/restore/clickhouse-archive.ts, with file() —
 * production's s3() over R2 shares its globs, formats and parameters; no R2 is
 * reachable here). Each way: lost batches restored once — also when
 * ClickHouse still remembers their flush's deduplication token — a kept one
 * skipped, an object naming another tenant and one ClickHouse refuses
 * reported, not inserted; a second run restores nothing.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { type ClickHouseConnection, migrateClickHouse } from '../../migrations/clickhouse/migrate.ts';
import { freePort } from '../../scripts/ports.ts';
import { type LocalRestoreOptions, restoreLocalArchive } from '../../scripts/restore/main.ts';
import { LOG_COLUMNS } from '../../shared/row-format.ts';

let dir: string;
let engine: EmbeddedClickHouse;
let conn: ClickHouseConnection;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'neurallog-restore-dir-'));
  engine = await startEmbeddedClickHouse({ dataPath: join(dir, 'clickhouse'), port: await freePort(), username: 'default', password: '' });
  conn = { url: engine.url, username: 'default', password: '', database: 'neurallog' };
  await migrateClickHouse(conn);
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

const sources: [string, string, (archive: string) => Partial<LocalRestoreOptions>][] = [
  ['read by the tool', 'ta', (archive) => ({ archiveDir: archive })],
  ['read by ClickHouse', 'tb', (archive) => ({ clickhouseArchive: { kind: 'file', root: archive } })],
];

describe('restore from an archive laid out as its keys', () => {
  it.each(sources)('%s: restores the lost batches once, skips the kept one, reports the ones it must not insert', async (_, tenant, source) => {
    const clickhouse = createClient({ url: conn.url, database: conn.database });
    const archive = join(dir, `archive-${tenant}`);
    const hour = join(archive, 'logs', tenant, 'dt=2026-11-30', 'hour=07');
    await mkdir(hour, { recursive: true });
    // Three batches stored as a flush stores them (its batch id as the token), archived as the flush archives them.
    for (const b of [0, 1, 2]) {
      const rows = Array.from({ length: 10 }, (_, i) => ({
        TenantId: tenant,
        Timestamp: `2026-11-30 07:00:0${b}.${String(i).padStart(9, '0')}`,
        LogId: `${tenant}-B${b}-${i}`,
        ServiceName: 'api',
        Body: `batch ${b} row ${i}`,
      }));
      await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `${tenant}-B${b}` } });
      const archived = await clickhouse.query({
        query: `SELECT ${LOG_COLUMNS.join(', ')} FROM logs WHERE startsWith(LogId, {p:String}) ORDER BY LogId`,
        query_params: { p: `${tenant}-B${b}-` },
        format: 'JSONCompactEachRowWithNames',
      });
      await writeFile(join(hour, `B${b}.ndjson.gz`), gzipSync(await archived.text()));
    }
    const header = `${JSON.stringify(LOG_COLUMNS)}\n`;
    const row = (owner: string, timestamp: string) =>
      JSON.stringify(LOG_COLUMNS.map((c) => (c === 'TenantId' ? owner : c === 'Timestamp' ? timestamp : c === 'LogId' ? `X-${owner}` : undefined)));
    // Rows naming another tenant than their key: never inserted. A value ClickHouse refuses: reported.
    await writeFile(join(hour, 'STRAY.ndjson.gz'), gzipSync(`${header}${row('t2', '2026-11-30 07:00:00.000000000')}\n`));
    await writeFile(join(hour, 'BAD.ndjson.gz'), gzipSync(`${header}${row(tenant, 'not a time')}\n`));
    // The loss: batches 0 and 1 deleted (ClickHouse keeps their insert tokens), batch 2 kept.
    await clickhouse.command({
      query: 'DELETE FROM logs WHERE TenantId = {t:String} AND (startsWith(LogId, {b0:String}) OR startsWith(LogId, {b1:String}))',
      query_params: { t: tenant, b0: `${tenant}-B0-`, b1: `${tenant}-B1-` },
      clickhouse_settings: { lightweight_deletes_sync: '2' },
    });
    const count = async () => {
      const rs = await clickhouse.query({
        query: 'SELECT count() AS n, uniqExact(LogId) AS ids FROM logs WHERE TenantId = {t:String}',
        query_params: { t: tenant },
        format: 'JSONEachRow',
      });
      return (await rs.json())[0];
    };
    expect(await count()).toEqual({ n: 10, ids: 10 });

    const request: LocalRestoreOptions = { dataDir: dir, clickhouse: conn, tenant: null, from: '2026-11-29', to: '2026-11-30', ...source(archive) };
    const first = await restoreLocalArchive(request);
    expect(first).toMatchObject({ tenants: 1, batches: 5, batchesRestored: 2, batchesAlreadyStored: 1, rowsRestored: 20, rowsAlreadyStored: 10 });
    expect(first.problems.map((p) => [p.key.split('/').pop(), p.outcome])).toEqual([
      ['BAD.ndjson.gz', 'refused'],
      ['STRAY.ndjson.gz', 'unreadable'],
    ]);
    expect(await count()).toEqual({ n: 30, ids: 30 });
    const again = await restoreLocalArchive(request);
    expect(again).toMatchObject({ batchesRestored: 0, batchesAlreadyStored: 3, rowsRestored: 0 });
    expect(await count()).toEqual({ n: 30, ids: 30 });
    const strays = await clickhouse.query({ query: "SELECT count() AS n FROM logs WHERE TenantId = 't2' OR startsWith(LogId, 'X-')", format: 'JSONEachRow' });
    expect(await strays.json()).toEqual([{ n: 0 }]);
    await clickhouse.close();
  });
});
