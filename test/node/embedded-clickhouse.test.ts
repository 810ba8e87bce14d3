/**
 * The embedded ClickHouse endpoint, driven by the official Node client: if
 * @clickhouse/client works against it, so does the web client the workers use.
 */
import { createClient, type ClickHouseClient, ClickHouseError } from '@clickhouse/client';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { migrateClickHouse } from '../../migrations/clickhouse/migrate.ts';
import { LOG_TABLE_COLUMNS } from '../../shared/log-columns.ts';
import { concatBytes, gzip } from '../../shared/gzip.ts';
import { insertStatement, serializeRows } from '../../shared/row-format.ts';

const PASSWORD = 's3cret-pw';
let dir: string;
let server: EmbeddedClickHouse;
let client: ClickHouseClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'neurallog-chtest-'));
  server = await startEmbeddedClickHouse({ dataPath: dir, port: 0, password: PASSWORD });
  client = createClient({ url: server.url, password: PASSWORD, log: { level: 127 as never } });
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS t' });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS t.events (id UInt32, name String, at DateTime64(3, 'UTC'))
            ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`,
  });
});

let closed = false;
afterAll(async () => {
  await client?.close();
  if (!closed) await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded ClickHouse HTTP interface', () => {
  it('answers /ping without credentials, like a server', async () => {
    const res = await fetch(`${server.url}/ping`);
    expect(await res.text()).toBe('Ok.\n');
    expect(await client.ping()).toMatchObject({ success: true });
  });

  it('inserts JSONEachRow from the body and reports written rows in X-ClickHouse-Summary', async () => {
    const result = await client.insert({
      table: 't.events',
      values: [
        { id: 1, name: 'a', at: '2026-01-01 00:00:00.001' },
        { id: 2, name: "it's", at: '2026-01-01 00:00:00.002' },
      ],
      format: 'JSONEachRow',
    });
    expect(result.summary?.written_rows).toBe('2');
    const rows = await (await client.query({ query: 'SELECT id, name FROM t.events ORDER BY id', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: "it's" },
    ]);
  });

  it('drops a repeated insert with the same insert_deduplication_token', async () => {
    const values = [{ id: 10, name: 'dedup', at: '2026-01-01 00:00:00' }];
    const settings = { insert_deduplication_token: 'token-10' };
    await client.insert({ table: 't.events', values, format: 'JSONEachRow', clickhouse_settings: settings });
    await client.insert({ table: 't.events', values, format: 'JSONEachRow', clickhouse_settings: settings });
    const [row] = await (await client.query({ query: 'SELECT count() AS n FROM t.events WHERE id = 10', format: 'JSONEachRow' })).json<{ n: string }>();
    expect(Number(row!.n)).toBe(1);
  });

  it('binds param_* values exactly, whatever they contain', async () => {
    const tricky = "a'b\\c\td\n{x:String}";
    const rs = await client.query({
      query: 'SELECT {s:String} AS s, {n:UInt64} AS n, {arr:Array(String)} AS arr, {t:DateTime64(3)} AS t',
      query_params: { s: tricky, n: 42, arr: ["it's", 'b\\c'], t: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)) },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ s: string; n: string; arr: string[]; t: string }>();
    expect(row).toMatchObject({ s: tricky, arr: ["it's", 'b\\c'] });
    expect(Number(row!.n)).toBe(42);
  });

  it('forgets parameters and settings after each request', async () => {
    await client.query({ query: 'SELECT {p:String}', query_params: { p: 'x' }, clickhouse_settings: { max_threads: 1 } });
    await expect(client.query({ query: 'SELECT {p:String}', format: 'JSONEachRow' })).rejects.toMatchObject({ type: 'UNKNOWN_QUERY_PARAMETER' });
    const [row] = await (await client.query({ query: "SELECT getSetting('max_threads') AS m", format: 'JSONEachRow' })).json<{ m: number }>();
    expect(Number(row!.m)).not.toBe(1);
  });

  it('applies settings from the URL to the query', async () => {
    const rs = await client.query({
      query: "SELECT getSetting('max_block_size') AS v",
      format: 'JSONEachRow',
      clickhouse_settings: { max_block_size: '1234' },
    });
    expect(Number((await rs.json<{ v: number }>())[0]!.v)).toBe(1234);
  });

  it('uses the database parameter for unqualified names', async () => {
    const scoped = createClient({ url: server.url, password: PASSWORD, database: 't' });
    const rs = await scoped.query({ query: 'SELECT currentDatabase() AS db, count() > 0 AS any FROM events', format: 'JSON' });
    const json = await rs.json<{ db: string; any: number }>();
    expect(json.data[0]).toMatchObject({ db: 't', any: 1 });
    expect(json.meta?.map((m) => m.name)).toEqual(['db', 'any']);
    await scoped.close();
    // …and only for that request.
    const [row] = await (await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' })).json<{ db: string }>();
    expect(row!.db).toBe('default');
  });

  it('answers errors as ClickHouse does: status, X-ClickHouse-Exception-Code, "Code: N. DB::Exception" body', async () => {
    const err = await client.query({ query: 'SELECT no_such_column FROM t.events' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseError);
    expect(err).toMatchObject({ code: '47', type: 'UNKNOWN_IDENTIFIER' });

    const res = await fetch(`${server.url}/?query=${encodeURIComponent('SELEC 1')}`, { headers: { 'X-ClickHouse-Key': PASSWORD } });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('62');
    expect(await res.text()).toMatch(/^Code: 62\. DB::Exception: .*\(SYNTAX_ERROR\) \(version [\d.]+\)\n$/s);

    const missing = await fetch(`${server.url}/?query=${encodeURIComponent('SELECT * FROM t.nope')}`, { headers: { 'X-ClickHouse-Key': PASSWORD } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-clickhouse-exception-code')).toBe('60');
  });

  it('refuses INSERT data in a binary format by name (chDB takes text formats only), and still takes Values in the statement', async () => {
    const rowBinary = new Uint8Array([1, 0, 0, 0, 1, 0x61]); // (id UInt32 1, name String 'a')
    const res = await fetch(`${server.url}/?query=${encodeURIComponent('INSERT INTO t.events (id, name) FORMAT RowBinary')}`, {
      method: 'POST',
      headers: { 'X-ClickHouse-Key': PASSWORD },
      body: rowBinary,
    });
    expect(res.status).toBe(501);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('48');
    expect(await res.text()).toMatch(
      /takes INSERT rows only in JSONEachRow, .*; RowBinary needs a ClickHouse server \(set CLICKHOUSE_URL\).*\(NOT_IMPLEMENTED\)/s,
    );

    await client.command({ query: "INSERT INTO t.events (id, name) FORMAT Values (250, 'values-row')" });
    const rs = await client.query({ query: 'SELECT name FROM t.events WHERE id = 250', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ name: 'values-row' }]);
  });

  it('requires the password (basic auth or X-ClickHouse-User/Key)', async () => {
    const wrong = createClient({ url: server.url, password: 'nope', log: { level: 127 as never } });
    await expect(wrong.query({ query: 'SELECT 1' })).rejects.toMatchObject({ code: '516', type: 'AUTHENTICATION_FAILED' });
    await wrong.close();
    const res = await fetch(`${server.url}/?query=SELECT%201`, {
      headers: { Authorization: `Basic ${Buffer.from(`default:${PASSWORD}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('1\n'); // TabSeparated is the default format
  });

  it('takes the query from the body, and INSERT data following the statement in the body', async () => {
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'X-ClickHouse-Key': PASSWORD },
      body: 'INSERT INTO t.events FORMAT JSONEachRow\n{"id":20,"name":"body","at":"2026-01-01 00:00:00"}\n',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.headers.get('x-clickhouse-summary')!)).toMatchObject({ written_rows: '1' });
    const [row] = await (await client.query({ query: 'SELECT name FROM t.events WHERE id = 20', format: 'JSONEachRow' })).json<{ name: string }>();
    expect(row!.name).toBe('body');
  });

  it('treats GET as read-only', async () => {
    const res = await fetch(`${server.url}/?query=${encodeURIComponent('DROP TABLE t.events')}`, { headers: { 'X-ClickHouse-Key': PASSWORD } });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('164');
  });

  it('decompresses gzip request bodies and compresses responses when asked', async () => {
    const res = await fetch(`${server.url}/?enable_http_compression=1&default_format=JSONEachRow`, {
      method: 'POST',
      headers: { 'X-ClickHouse-Key': PASSWORD, 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' },
      body: gzipSync('SELECT 7 AS seven'),
      // Node's fetch would transparently inflate; read the raw bytes instead.
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(await res.text()).toBe('{"seven":7}\n');
    const compressed = createClient({ url: server.url, password: PASSWORD, compression: { request: true, response: true } });
    await compressed.insert({ table: 't.events', values: [{ id: 30, name: 'gz', at: '2026-01-01 00:00:00' }], format: 'JSONEachRow' });
    const rows = await (await compressed.query({ query: 'SELECT name FROM t.events WHERE id = 30', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ name: 'gz' }]);
    await compressed.close();
    expect(gunzipSync(gzipSync('x')).toString()).toBe('x');
  });

  it('accepts parameters in a multipart body (what clients send when they outgrow the URL)', async () => {
    const big = 'x'.repeat(100_000);
    const rs = await client.query({
      query: 'SELECT length({s:String}) AS n',
      query_params: { s: big },
      format: 'JSONEachRow',
      use_multipart_params: true,
    } as never);
    expect(Number(((await rs.json()) as unknown as { n: string }[])[0]!.n)).toBe(100_000);
  });

  it('applies the NeuralLog schema idempotently, recording the version', async () => {
    const conn = { url: server.url, username: 'default', password: PASSWORD, database: 'nl_schema_test' };
    expect((await migrateClickHouse(conn)).applied).toEqual([
      '0001_logs.sql',
      '0002_log_id_index.sql',
      '0003_service_in_sort_key.sql',
      '0004_histogram_projection.sql',
      '0005_patterns.sql',
      '0006_minute_edge_projection.sql',
    ]);
    expect((await migrateClickHouse(conn)).applied).toEqual([]);
    const ddl = await (await client.query({ query: 'SHOW CREATE TABLE nl_schema_test.logs', format: 'TabSeparatedRaw' })).text();
    expect(ddl).toMatch(/ORDER BY \(TenantId, ServiceName, TimestampTime, Timestamp\)/);
    expect(ddl).toMatch(/TTL TimestampTime \+ toIntervalDay\(RetentionDays\)/);
    expect(ddl).toMatch(/ttl_only_drop_parts = 1/);
    expect(ddl).toMatch(/INDEX idx_body lower\(Body\) TYPE tokenbf_v1/);
    expect(ddl).toMatch(/INDEX idx_trace_id TraceId TYPE bloom_filter/);
    expect(ddl).toMatch(/INDEX idx_log_id LogId TYPE bloom_filter/);
    expect(ddl).toMatch(/PARTITION BY \(RetentionDays, toDate\(TimestampTime\)\)/);
    const versions = await (
      await client.query({ query: 'SELECT version FROM nl_schema_test.schema_migrations ORDER BY version', format: 'JSONEachRow' })
    ).json();
    expect(versions).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }]);
    // One aggregate projection serves both histograms (0006 replaced 0004's per_minute).
    expect(ddl).not.toMatch(/PROJECTION per_minute\b/);
    expect(ddl).toMatch(/PROJECTION per_minute_edge/);
  });

  it('rebuilds the table with the new sort key keeping every row exactly once, resuming after a run that died part-way', async () => {
    const conn = { url: server.url, username: 'default', password: PASSWORD, database: 'nl_rebuild_test' };
    const db = createClient({ url: server.url, password: PASSWORD, database: conn.database });
    const count = async (table: string) =>
      Number(((await (await db.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json()) as { n: string }[])[0]!.n);
    try {
      expect((await migrateClickHouse(conn, { upTo: 2 })).applied).toEqual(['0001_logs.sql', '0002_log_id_index.sql']);
      await db.command({
        query: `INSERT INTO logs (TenantId, Timestamp, ObservedTimestamp, LogId, ServiceName, Body)
                SELECT 't', now64(9), now64(9), concat('L', toString(number)), ['api', 'db', 'web'][number % 3 + 1], 'line' FROM numbers(5000)`,
      });
      // The run dies in the copy: the new table has the name `logs` and holds part of the rows.
      const migration = readFileSync(new URL('../../migrations/clickhouse/0003_service_in_sort_key.sql', import.meta.url), 'utf8');
      await db.command({ query: migration.match(/CREATE TABLE IF NOT EXISTS logs_by_service[\s\S]*?;\n/)![0]!.slice(0, -2) });
      await db.command({ query: 'RENAME TABLE logs TO logs_before_0003, logs_by_service TO logs' });
      await db.insert({
        table: 'schema_migration_steps',
        values: [
          { version: 3, step: 0 },
          { version: 3, step: 1 },
        ],
        format: 'JSONEachRow',
      });
      await db.command({ query: "INSERT INTO logs SELECT * FROM logs_before_0003 WHERE LogId < 'L2'" });
      const partial = await count('logs');
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(5000);

      expect((await migrateClickHouse(conn)).applied).toEqual([
        '0003_service_in_sort_key.sql',
        '0004_histogram_projection.sql',
        '0005_patterns.sql',
        '0006_minute_edge_projection.sql',
      ]);
      expect(await count('logs')).toBe(5000);
      expect(await count('(SELECT DISTINCT LogId FROM logs)')).toBe(5000);
      const tables = await (
        await db.query({ query: "SELECT name FROM system.tables WHERE database = 'nl_rebuild_test' AND name LIKE 'logs%'", format: 'JSONEachRow' })
      ).json();
      expect(tables).toEqual([{ name: 'logs' }]);
    } finally {
      await db.close();
    }
  });

  it('makes the logs table shared/log-columns.ts defines: every column, its type and its DEFAULT; and it takes rows as serialised', async () => {
    // A migration that adds or retypes a column fails here until the definition follows (and the other way round).
    const conn = { url: server.url, username: 'default', password: PASSWORD, database: 'nl_columns_test' };
    await migrateClickHouse(conn);
    const db = createClient({ url: server.url, password: PASSWORD, database: conn.database });
    try {
      const described = await (await db.query({ query: 'DESCRIBE TABLE logs', format: 'JSONEachRow' })).json<{
        name: string;
        type: string;
        default_type: string;
        default_expression: string;
      }>();
      // name → `type`, or `type DEFAULT expression` (a MATERIALIZED or ALIAS column would not match: the definition has only DEFAULT).
      const table = Object.fromEntries(described.map((c) => [c.name, [c.type, c.default_type, c.default_expression].filter((x) => x !== '').join(' ')]));
      const defined = Object.fromEntries(LOG_TABLE_COLUMNS.map((c) => [c.name, c.default === undefined ? c.type : `${c.type} DEFAULT ${c.default}`]));
      expect(table, 'DESCRIBE TABLE logs (received) against shared/log-columns.ts (expected)').toEqual(defined);

      const now = Date.now();
      const at = new Date(now).toISOString().replace('T', ' ').replace('Z', '000000');
      const row = { TenantId: 't', Timestamp: at, ObservedTimestamp: at, LogId: 'L1', Body: 'b', RetentionDays: 30, ScopeName: 's', LogAttributes: { k: 'v' } };
      const [chunk] = serializeRows([row], { maxRecordBytes: 1 << 20, now }).chunks;
      await db.command({ query: `${insertStatement('logs')}\n${chunk!.text}` });
      const [stored] = await (
        await db.query({ query: 'SELECT Body, ScopeName, LogAttributes, TimestampTime = toDateTime(Timestamp) AS t FROM logs', format: 'JSONEachRow' })
      ).json();
      expect(stored).toEqual({ Body: 'b', ScopeName: 's', LogAttributes: { k: 'v' }, t: 1 });
    } finally {
      await db.close();
    }
  });

  it("takes a flush's body — gzip members one after another, each naming its size — and the engine reads such an archive whole", async () => {
    const members = await Promise.all(
      ['{"id":301,"name":"first member","at":"2026-01-01 00:00:00"}\n', '{"id":302,"name":"second","at":"2026-01-01 00:00:00"}\n'].map(gzip),
    );
    const body = concatBytes(members);
    const res = await fetch(`${server.url}/?query=${encodeURIComponent('INSERT INTO t.events FORMAT JSONEachRow')}`, {
      method: 'POST',
      body,
      headers: { 'Content-Encoding': 'gzip', 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': PASSWORD },
    });
    expect(res.status, await res.text()).toBe(200);
    const rows = await (await client.query({ query: 'SELECT id, name FROM t.events WHERE id > 300 ORDER BY id', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([
      { id: 301, name: 'first member' },
      { id: 302, name: 'second' },
    ]);
    // The R2 archive is the same kind of stream: ClickHouse's file()/s3() read every member.
    const path = join(dir, 'archive.ndjson.gz');
    writeFileSync(path, body);
    const read = await (await client.query({ query: `SELECT id FROM file('${path}', 'JSONEachRow', 'id UInt32') ORDER BY id`, format: 'JSONEachRow' })).json();
    expect(read).toEqual([{ id: 301 }, { id: 302 }]);
  });

  // Last: it closes the server. Closing chDB under a running query crashes the
  // process, so close() lets running requests finish first.
  it('finishes the queries it is running before it closes (a shutdown never crashes or cuts an insert)', async () => {
    const running = fetch(`${server.url}/?query=${encodeURIComponent('SELECT sleep(1) AS s, 42 AS answer FORMAT JSONEachRow')}`, {
      headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': PASSWORD },
    });
    await new Promise((r) => setTimeout(r, 200)); // the query is running now
    closed = true;
    const closing = server.close();
    const res = await running;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ s: 0, answer: 42 });
    await closing;
    await expect(fetch(`${server.url}/ping`)).rejects.toThrow(); // and then nothing listens
  });
});
