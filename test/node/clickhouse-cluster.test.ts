/**
 * Cluster mode of the ClickHouse migrations (migrations/clickhouse/cluster.ts,
 * docs/deploy.md): the rendering of every migration, checked as text; every
 * rendered statement parsed by the engine; the replicated and Distributed
 * tables created as rendered; and the migrator run in cluster mode end to end.
 *
 * No cluster runs here. The engine is chDB (ClickHouse in process) started
 * with a configuration that gives it what a cluster node has and chDB can
 * offer: the `{shard}`/`{replica}` macros, a cluster `nl` of one shard whose
 * one replica is this process (a Distributed table then writes and reads it
 * locally, no network), and ClickHouse's in-memory Keeper stand-in
 * (`testkeeper`). What that cannot do, and this file therefore does not claim:
 * - ON CLUSTER does not execute (chDB refuses distributed DDL: "Replicated DDL
 *   queries are disabled"), so it is parsed, and removed before executing;
 * - a Replicated table is created (engine arguments, macros and settings are
 *   checked) but stays read-only (no replication threads), so ALTERs and
 *   INSERTs into it do not run: the end-to-end run uses the plain engine;
 * - one shard: routing between shards, shard pruning and cross-replica
 *   deduplication through Keeper are not exercised.
 */
import { createClient } from '@clickhouse/client-web';
import { Session } from 'chdb';
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import {
  BOOKKEEPING_REPLICA_NAME,
  BOOKKEEPING_REPLICA_PATH,
  ClusterRenderError,
  type ClusterTarget,
  clusterCreateDatabase,
  REPLICA_NAME,
  REPLICA_PATH,
  renderClusterStatement,
  renderClusterStatements,
  SHARDING_KEY,
} from '../../migrations/clickhouse/cluster.ts';
import { bookkeepingStatements, migrateClickHouse, migrationStatements, splitStatements } from '../../migrations/clickhouse/migrate.ts';
import { clickHouseClient, insertRows, LOGS_TABLE } from '../../shared/clickhouse.ts';
import { LOG_TABLE_COLUMNS } from '../../shared/log-columns.ts';
import { serializeRows } from '../../shared/row-format.ts';

const CLUSTER = 'nl';
const MIGRATIONS = new URL('../../migrations/clickhouse/', import.meta.url);
const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The bookkeeping DDL exactly as migrate.ts sent it before cluster mode existed. */
const SINGLE_NODE_BOOKKEEPING = [
  `CREATE TABLE IF NOT EXISTS schema_migrations
              (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY version`,
  `CREATE TABLE IF NOT EXISTS schema_migration_steps
              (version UInt32, step UInt32, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY (version, step)`,
];

/** The tables the workers write and read. */
const WORKER_TABLES = ['logs', 'log_patterns', 'log_pattern_aliases'];

async function migrationFiles(): Promise<{ file: string; sql: string }[]> {
  const files = (await readdir(MIGRATIONS)).filter((f) => FILE_RE.test(f)).sort();
  return Promise.all(files.map(async (file) => ({ file, sql: await readFile(new URL(file, MIGRATIONS), 'utf8') })));
}

/** Everything cluster mode sends that is not bookkeeping reads and writes, in order. */
async function clusterRendering(target: ClusterTarget): Promise<string[]> {
  const statements = (await migrationFiles()).flatMap(({ sql }) => migrationStatements(sql, target));
  return [
    clusterCreateDatabase(target),
    ...bookkeepingStatements(target),
    'SYSTEM SYNC REPLICA schema_migrations',
    'SYSTEM SYNC REPLICA schema_migration_steps',
    ...statements,
  ];
}

const ON_CLUSTER_RE = new RegExp(` ON CLUSTER '${CLUSTER}'`, 'g');

/**
 * What this file does to execute a cluster statement on one chDB: drop ON CLUSTER (chDB refuses
 * distributed DDL). With `plain`, also the Replicated engines (their tables would be read-only
 * here) and the one statement that needs Keeper for nothing but replication.
 */
function forChdb(sql: string, { plain }: { plain: boolean }): string {
  let out = sql.replace(ON_CLUSTER_RE, '');
  if (plain) {
    out = out
      .replace(/\bReplicated([A-Za-z]*MergeTree)\('[^']*', '[^']*'(?:, )?/g, '$1(')
      .replace(/\breplicated_deduplication_window\b/g, 'non_replicated_deduplication_window')
      .replace(/^SYSTEM SYNC REPLICA \w+$/, 'SELECT 1');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// An HTTP proxy in front of the embedded endpoint: records every statement a client sends and
// (for cluster mode) rewrites it with forChdb before the engine sees it.

interface RecordingProxy {
  url: string;
  sent: string[];
  /** Runs before a statement is forwarded; a string it returns is answered as a server error instead. */
  intercept: ((sql: string) => Promise<string | undefined>) | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function startProxy(upstream: string, { plain }: { plain: boolean | null }): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const proxy: RecordingProxy = { url: '', sent: [], intercept: undefined, close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', upstream);
      let body = await readBody(req);
      // The web client sends a statement in the body, an INSERT's rows in the body and its statement in `query`.
      const inUrl = url.searchParams.get('query');
      const sql = inUrl ?? body.toString('utf8');
      if (url.pathname === '/' && sql.trim() !== '') proxy.sent.push(sql);
      const refusal = await proxy.intercept?.(sql);
      if (refusal !== undefined) {
        res.writeHead(500, { 'Content-Type': 'text/plain', 'X-ClickHouse-Exception-Code': '999' });
        res.end(`Code: 999. DB::Exception: ${refusal}. (KEEPER_EXCEPTION)`);
        return;
      }
      if (plain !== null) {
        if (inUrl !== null) url.searchParams.set('query', forChdb(inUrl, { plain }));
        else body = Buffer.from(forChdb(sql, { plain }), 'utf8');
      }
      const { 'transfer-encoding': _chunked, ...rest } = req.headers;
      const headers = { ...rest, host: target.host, 'content-length': String(body.length) };
      const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      forward.end(body);
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  proxy.url = `http://127.0.0.1:${address.port}`;
  proxy.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return proxy;
}

/** The statements that change the schema, without the bookkeeping's own reads and writes. */
function schemaStatements(sent: readonly string[]): string[] {
  return sent.filter((sql) => !/^\s*SELECT\b/i.test(sql) && !/^INSERT INTO schema_migration/.test(sql));
}

// ---------------------------------------------------------------------------------------------

describe('cluster rendering of the migrations', () => {
  const target: ClusterTarget = { cluster: CLUSTER, database: 'neurallog' };

  it('leaves one server exactly as it was: the statements of each migration and the bookkeeping DDL', async () => {
    for (const { file, sql } of await migrationFiles()) expect(migrationStatements(sql), file).toEqual(splitStatements(sql));
    expect(bookkeepingStatements()).toEqual(SINGLE_NODE_BOOKKEEPING);
  });

  it('runs every statement ON CLUSTER, except the copy of a rebuild and the replica sync', async () => {
    const rendered = await clusterRendering(target);
    const without = rendered.filter((sql) => !sql.includes(` ON CLUSTER '${CLUSTER}'`));
    expect(without).toEqual([
      'SYSTEM SYNC REPLICA schema_migrations',
      'SYSTEM SYNC REPLICA schema_migration_steps',
      'INSERT INTO logs SELECT * FROM logs_before_0003 WHERE LogId NOT IN (SELECT LogId FROM logs_local) SETTINGS parallel_distributed_insert_select = 2',
    ]);
    for (const sql of rendered) expect(sql.match(/ON CLUSTER/g)?.length ?? 0, sql).toBeLessThanOrEqual(1);
  });

  it('creates every table with its Replicated engine and the standard macros, and the same deduplication window', async () => {
    const creates = (await clusterRendering(target)).filter((sql) => /^CREATE TABLE (IF NOT EXISTS )?\w+ ON CLUSTER '\w+'\n/.test(sql));
    expect(creates.map((sql) => /^CREATE TABLE (?:IF NOT EXISTS )?(\w+)/.exec(sql)![1])).toEqual([
      'schema_migrations',
      'schema_migration_steps',
      'logs_local',
      'logs_by_service_local',
      'log_patterns_local',
      'log_pattern_aliases_local',
    ]);
    for (const sql of creates) {
      const engine = /\bENGINE = (\w+)\('([^']*)', '([^']*)'\)/.exec(sql);
      expect(engine, sql).not.toBeNull();
      const [, name, path, replica] = engine!;
      expect(name).toMatch(/^Replicated(Replacing)?MergeTree$/);
      if (sql.includes('schema_migration')) expect([path, replica]).toEqual([BOOKKEEPING_REPLICA_PATH, BOOKKEEPING_REPLICA_NAME]);
      else expect([path, replica]).toEqual([REPLICA_PATH, REPLICA_NAME]);
    }
    expect(REPLICA_PATH).toBe('/clickhouse/tables/{shard}/{database}/{table}');
    expect(REPLICA_NAME).toBe('{replica}');
    const all = (await clusterRendering(target)).join('\n');
    expect(all).not.toMatch(/ENGINE = (?!Replicated|Distributed)/);
    expect(all).not.toMatch(/non_replicated_deduplication_window/);
    for (const table of ['logs_local', 'logs_by_service_local']) {
      expect(creates.find((sql) => sql.includes(` ${table} `))).toMatch(
        /SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000$/,
      );
    }
  });

  it('puts a Distributed table sharded by tenant in front of each local table, under the name the workers use', async () => {
    const rendered = await clusterRendering(target);
    const front = (table: string) =>
      `CREATE TABLE IF NOT EXISTS ${table} ON CLUSTER '${CLUSTER}' AS ${table}_local ENGINE = Distributed('${CLUSTER}', 'neurallog', '${table}_local', ${SHARDING_KEY})`;
    expect(SHARDING_KEY).toBe('cityHash64(TenantId)');
    for (const [i, sql] of rendered.entries()) {
      const local = /^CREATE TABLE IF NOT EXISTS (\w+)_local ON CLUSTER/.exec(sql);
      if (local) expect(rendered[i + 1], `after ${local[1]}_local`).toBe(front(local[1]!));
    }
    for (const table of WORKER_TABLES)
      expect(rendered.some((sql) => sql.includes(`Distributed('${CLUSTER}', 'neurallog', '${table}_local', ${SHARDING_KEY})`))).toBe(true);
    // The bookkeeping tables are on every node: no Distributed table in front of them.
    expect(rendered.some((sql) => /Distributed\([^)]*schema_migration/.test(sql))).toBe(false);
  });

  it('sends ALTERs to the local tables; an ALTER of columns to the Distributed table too', async () => {
    const alters = (await clusterRendering(target)).filter((sql) => sql.startsWith('ALTER TABLE'));
    expect(alters.map((sql) => sql.split('\n')[0])).toEqual([
      "ALTER TABLE logs_local ON CLUSTER 'nl' ADD INDEX IF NOT EXISTS idx_log_id LogId TYPE bloom_filter(0.001) GRANULARITY 1",
      "ALTER TABLE logs_local ON CLUSTER 'nl' MATERIALIZE INDEX idx_log_id",
      "ALTER TABLE logs_local ON CLUSTER 'nl' MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild'",
      "ALTER TABLE logs_local ON CLUSTER 'nl' ADD PROJECTION IF NOT EXISTS per_minute",
      "ALTER TABLE logs_local ON CLUSTER 'nl' MATERIALIZE PROJECTION per_minute",
      "ALTER TABLE logs_local ON CLUSTER 'nl' ADD COLUMN IF NOT EXISTS PatternId LowCardinality(String) DEFAULT '' CODEC(ZSTD(1))",
      "ALTER TABLE logs ON CLUSTER 'nl' ADD COLUMN IF NOT EXISTS PatternId LowCardinality(String) DEFAULT '' CODEC(ZSTD(1))",
      "ALTER TABLE logs_local ON CLUSTER 'nl' ADD PROJECTION IF NOT EXISTS per_minute_edge",
      "ALTER TABLE logs_local ON CLUSTER 'nl' MATERIALIZE PROJECTION per_minute_edge",
      "ALTER TABLE logs_local ON CLUSTER 'nl' DROP PROJECTION IF EXISTS per_minute",
    ]);
  });

  it('rebuilds the table (0003) shard by shard: local tables renamed, Distributed tables re-pointed, the copy local to each shard', async () => {
    const sql = await readFile(new URL('0003_service_in_sort_key.sql', MIGRATIONS), 'utf8');
    const rendered = migrationStatements(sql, target);
    expect(rendered.slice(2)).toEqual([
      "RENAME TABLE logs_local TO logs_before_0003_local, logs_by_service_local TO logs_local ON CLUSTER 'nl'",
      "CREATE OR REPLACE TABLE logs_before_0003 ON CLUSTER 'nl' AS logs_before_0003_local ENGINE = Distributed('nl', 'neurallog', 'logs_before_0003_local', cityHash64(TenantId))",
      "CREATE OR REPLACE TABLE logs ON CLUSTER 'nl' AS logs_local ENGINE = Distributed('nl', 'neurallog', 'logs_local', cityHash64(TenantId))",
      "DROP TABLE IF EXISTS logs_by_service ON CLUSTER 'nl' SYNC",
      'INSERT INTO logs SELECT * FROM logs_before_0003 WHERE LogId NOT IN (SELECT LogId FROM logs_local) SETTINGS parallel_distributed_insert_select = 2',
      "DROP TABLE IF EXISTS logs_before_0003 ON CLUSTER 'nl' SYNC",
      "DROP TABLE IF EXISTS logs_before_0003_local ON CLUSTER 'nl' SYNC",
    ]);
  });

  it('refuses what it has no rule for, instead of guessing', () => {
    const refused = [
      'CREATE TABLE t (TenantId String) ENGINE = Memory',
      'CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a',
      'CREATE TABLE t (TenantId String) ENGINE = ReplicatedMergeTree ORDER BY TenantId',
      'CREATE TABLE db.t (TenantId String) ENGINE = MergeTree ORDER BY TenantId',
      'CREATE TABLE t AS logs',
      "CREATE TABLE t ON CLUSTER 'x' (TenantId String) ENGINE = MergeTree ORDER BY TenantId",
      'CREATE VIEW v AS SELECT 1',
      'INSERT INTO logs VALUES (1)',
      'INSERT INTO logs SELECT * FROM old WHERE LogId NOT IN (SELECT LogId FROM other)',
      'OPTIMIZE TABLE logs FINAL',
      'TRUNCATE TABLE logs',
      'ALTER TABLE logs ADD COLUMN x UInt8, ADD INDEX i x TYPE minmax GRANULARITY 1',
      'ALTER TABLE db.logs DROP COLUMN x',
      'RENAME TABLE db.a TO b',
      'DROP TABLE a, b',
      'DELETE FROM logs WHERE 1',
    ];
    for (const sql of refused) expect(() => renderClusterStatement(sql, target), sql).toThrow(ClusterRenderError);
    for (const cluster of ['', "a'b", 'a b', '{cluster}']) {
      expect(() => renderClusterStatements(['DROP TABLE x'], { cluster, database: 'neurallog' }), cluster).toThrow(ClusterRenderError);
    }
  });

  it('refuses an invalid cluster name before it connects to anything', async () => {
    const conn = { url: 'http://127.0.0.1:9', username: 'default', password: '', database: 'neurallog' };
    await expect(migrateClickHouse(conn, { cluster: "x' ON CLUSTER y" })).rejects.toThrow(/invalid ClickHouse cluster name/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('cluster rendering against the engine (chDB with macros, a one-shard cluster and a Keeper stand-in)', () => {
  let dir: string;
  let session: Session;
  let server: EmbeddedClickHouse;

  const chdb = async (sql: string) => (await session.queryAsync(sql, { format: 'JSONEachRow' })).text();
  const rows = async <T>(sql: string): Promise<T[]> =>
    (await chdb(sql))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as T);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'neurallog-cluster-'));
    const config = join(dir, 'cluster-node.xml');
    // A node of shard 01, replica r1, of the cluster `nl` (its one replica is this process: tcp_port
    // marks it local, nothing listens). `testkeeper` is ClickHouse's in-memory ZooKeeper stand-in.
    await writeFile(
      config,
      `<clickhouse>
  <tcp_port>9000</tcp_port>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><shard>01</shard><replica>r1</replica></macros>
  <remote_servers>
    <${CLUSTER}><shard><internal_replication>true</internal_replication><replica><host>localhost</host><port>9000</port></replica></shard></${CLUSTER}>
  </remote_servers>
</clickhouse>
`,
    );
    const data = join(dir, 'data');
    session = new Session(data, { connectionArgs: [`--config-file=${config}`] });
    // The HTTP endpoint the workers and the migrator use, on the same engine (one data directory per process).
    server = await startEmbeddedClickHouse({ dataPath: data, port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    session?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('has what a cluster node has: the macros and the cluster', async () => {
    expect(await rows('SELECT macro, substitution FROM system.macros ORDER BY macro')).toEqual([
      { macro: 'replica', substitution: 'r1' },
      { macro: 'shard', substitution: '01' },
    ]);
    expect(await rows(`SELECT shard_num, is_local FROM system.clusters WHERE cluster = '${CLUSTER}'`)).toEqual([{ shard_num: 1, is_local: 1 }]);
  });

  it('parses every statement of the cluster rendering as it is sent (formatQuery, ON CLUSTER included)', async () => {
    const rendered = await clusterRendering({ cluster: CLUSTER, database: 'neurallog' });
    expect(rendered.length).toBeGreaterThan(25);
    for (const sql of rendered) {
      const result = await session.queryBindAsync('SELECT formatQuery({sql:String}) AS f', { sql }, { format: 'JSONEachRow' });
      const f = (JSON.parse(result.text()) as { f: string }).f;
      if (sql.includes('ON CLUSTER')) expect(f, sql).toContain(`ON CLUSTER ${CLUSTER}`);
      expect(f.split(/\s+/)[0], sql).toBe(sql.split(/\s+/)[0]);
    }
  });

  it('creates the Replicated and Distributed tables as rendered (ON CLUSTER removed; ALTERs and INSERTs of a read-only replica not run)', async () => {
    const database = 'nl_replicated';
    const target = { cluster: CLUSTER, database };
    await chdb(`CREATE DATABASE ${database}`);
    await chdb(`USE ${database}`);
    const skipped: string[] = [];
    try {
      for (const sql of [...bookkeepingStatements(target), ...(await migrationFiles()).flatMap(({ sql }) => migrationStatements(sql, target))]) {
        // A Replicated table here has no replication threads and stays read-only: an ALTER of it is
        // refused (TABLE_IS_READ_ONLY) and an INSERT into it waits forever.
        if (/^ALTER TABLE \w+_local\b/.test(sql) || sql.startsWith('INSERT')) {
          skipped.push(sql.split('\n')[0]!);
          continue;
        }
        await chdb(forChdb(sql, { plain: false }));
      }
      expect(skipped).toHaveLength(10);

      const tables = await rows<{ name: string; engine: string }>(`SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`);
      expect(tables).toEqual([
        { name: 'log_pattern_aliases', engine: 'Distributed' },
        { name: 'log_pattern_aliases_local', engine: 'ReplicatedReplacingMergeTree' },
        { name: 'log_patterns', engine: 'Distributed' },
        { name: 'log_patterns_local', engine: 'ReplicatedReplacingMergeTree' },
        { name: 'logs', engine: 'Distributed' },
        { name: 'logs_local', engine: 'ReplicatedMergeTree' },
        { name: 'schema_migration_steps', engine: 'ReplicatedReplacingMergeTree' },
        { name: 'schema_migrations', engine: 'ReplicatedReplacingMergeTree' },
      ]);
      // The macros are expanded when a table is created, so 0003's rename kept the Keeper path of the table it built.
      const replicas = await rows<{ table: string; zookeeper_path: string; replica_name: string }>(
        `SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = '${database}' ORDER BY table`,
      );
      expect(replicas).toEqual([
        { table: 'log_pattern_aliases_local', zookeeper_path: `/clickhouse/tables/01/${database}/log_pattern_aliases_local`, replica_name: 'r1' },
        { table: 'log_patterns_local', zookeeper_path: `/clickhouse/tables/01/${database}/log_patterns_local`, replica_name: 'r1' },
        { table: 'logs_local', zookeeper_path: `/clickhouse/tables/01/${database}/logs_by_service_local`, replica_name: 'r1' },
        { table: 'schema_migration_steps', zookeeper_path: `/clickhouse/tables/all/${database}/schema_migration_steps`, replica_name: '01-r1' },
        { table: 'schema_migrations', zookeeper_path: `/clickhouse/tables/all/${database}/schema_migrations`, replica_name: '01-r1' },
      ]);
      const [logs] = await rows<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = '${database}' AND name = 'logs'`);
      expect(logs!.engine_full).toBe(`Distributed('${CLUSTER}', '${database}', 'logs_local', cityHash64(TenantId))`);
      const [local] = await rows<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = '${database}' AND name = 'logs_local'`);
      expect(local!.engine_full).toMatch(/ORDER BY \(TenantId, ServiceName, TimestampTime, Timestamp\)/);
      expect(local!.engine_full).toMatch(/replicated_deduplication_window = 10000/);
    } finally {
      await chdb(`DROP DATABASE IF EXISTS ${database} SYNC`);
      await chdb('USE default');
    }
  });

  it('sends exactly the single-node statements when no cluster is named', async () => {
    const proxy = await startProxy(server.url, { plain: null });
    try {
      const result = await migrateClickHouse({ url: proxy.url, username: 'default', password: '', database: 'nl_single' });
      expect(result.current).toBeGreaterThanOrEqual(5);
      const expected = [
        'CREATE DATABASE IF NOT EXISTS nl_single',
        ...SINGLE_NODE_BOOKKEEPING,
        ...(await migrationFiles()).flatMap(({ sql }) => splitStatements(sql)),
      ];
      expect(schemaStatements(proxy.sent)).toEqual(expected);
      expect(proxy.sent.join('\n')).not.toMatch(/ON CLUSTER|Replicated|Distributed|_local\b/);
    } finally {
      await proxy.close();
    }
  });

  it('migrates in cluster mode end to end (plain engines): what it sends, the tables it leaves, idempotent', async () => {
    const database = 'nl_cluster_fresh';
    const proxy = await startProxy(server.url, { plain: true });
    try {
      const conn = { url: proxy.url, username: 'default', password: '', database };
      expect((await migrateClickHouse(conn, { cluster: CLUSTER })).applied).toHaveLength((await migrationFiles()).length);
      expect(schemaStatements(proxy.sent)).toEqual(await clusterRendering({ cluster: CLUSTER, database }));
      proxy.sent.length = 0;
      expect((await migrateClickHouse(conn, { cluster: CLUSTER })).applied).toEqual([]);
      expect(schemaStatements(proxy.sent)).toEqual((await clusterRendering({ cluster: CLUSTER, database })).slice(0, 5));

      const tables = await rows<{ name: string; engine: string }>(`SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`);
      expect(tables.map((t) => `${t.name}:${t.engine}`)).toEqual([
        'log_pattern_aliases:Distributed',
        'log_pattern_aliases_local:ReplacingMergeTree',
        'log_patterns:Distributed',
        'log_patterns_local:ReplacingMergeTree',
        'logs:Distributed',
        'logs_local:MergeTree',
        'schema_migration_steps:ReplacingMergeTree',
        'schema_migrations:ReplacingMergeTree',
      ]);
      // The Distributed `logs` has the columns shared/log-columns.ts defines (0005's column reached it too).
      const described = await rows<{ name: string; type: string }>(`DESCRIBE TABLE ${database}.logs`);
      expect(described.map((c) => `${c.name} ${c.type}`).sort()).toEqual(LOG_TABLE_COLUMNS.map((c) => `${c.name} ${c.type}`).sort());
      const describedLocal = await rows<{ name: string; type: string }>(`DESCRIBE TABLE ${database}.logs_local`);
      expect(describedLocal.map((c) => `${c.name} ${c.type}`)).toEqual(described.map((c) => `${c.name} ${c.type}`));
    } finally {
      await proxy.close();
    }
  });

  it('rebuilds with rows in cluster mode, resuming after a run that died in the copy; rows stored once', async () => {
    const database = 'nl_cluster_rebuild';
    const proxy = await startProxy(server.url, { plain: true });
    const direct = createClient({ url: server.url, database, keep_alive: { enabled: false } });
    const count = async (table: string) =>
      Number(((await (await direct.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json()) as { n: string }[])[0]!.n);
    try {
      const conn = { url: proxy.url, username: 'default', password: '', database };
      expect((await migrateClickHouse(conn, { upTo: 2, cluster: CLUSTER })).applied).toEqual(['0001_logs.sql', '0002_log_id_index.sql']);
      // Through the Distributed table, as the workers write.
      await direct.command({
        query: `INSERT INTO logs (TenantId, Timestamp, ObservedTimestamp, LogId, ServiceName, Body)
                SELECT 't', now64(9), now64(9), concat('L', toString(number)), ['api', 'db', 'web'][number % 3 + 1], 'line' FROM numbers(5000)`,
      });
      expect(await count('logs_local')).toBe(5000);

      // The run dies in the copy, after part of it landed.
      let died = false;
      proxy.intercept = async (sql) => {
        if (died || !sql.startsWith('INSERT INTO logs SELECT')) return undefined;
        died = true;
        await direct.command({ query: "INSERT INTO logs SELECT * FROM logs_before_0003 WHERE LogId < 'L2'" });
        return 'the connection to the shard was lost';
      };
      await expect(migrateClickHouse(conn, { cluster: CLUSTER })).rejects.toThrow(/connection to the shard was lost/);
      const partial = await count('logs');
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(5000);

      expect((await migrateClickHouse(conn, { cluster: CLUSTER })).applied).toEqual([
        '0003_service_in_sort_key.sql',
        '0004_histogram_projection.sql',
        '0005_patterns.sql',
        '0006_minute_edge_projection.sql',
      ]);
      expect(await count('logs')).toBe(5000);
      expect(await count('(SELECT DISTINCT LogId FROM logs)')).toBe(5000);
      const left = await rows<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' AND name LIKE 'logs%' ORDER BY name`);
      expect(left).toEqual([{ name: 'logs' }, { name: 'logs_local' }]);
    } finally {
      proxy.intercept = undefined;
      await direct.close();
      await proxy.close();
    }
  });

  it("takes the workers' insert unchanged through the Distributed table, and a retried batch with the same token once", async () => {
    const database = 'nl_cluster_fresh';
    const client = clickHouseClient({ url: server.url, username: 'default', password: '', database });
    const now = Date.now();
    const at = new Date(now).toISOString().replace('T', ' ').replace('Z', '000000');
    const batch = Array.from({ length: 3 }, (_, i) => ({
      TenantId: 'acme',
      Timestamp: at,
      ObservedTimestamp: at,
      LogId: `B1-${i}`,
      Body: `line ${i}`,
      RetentionDays: 30,
    }));
    const [chunk] = serializeRows(batch, { maxRecordBytes: 1 << 20, now }).chunks;
    await insertRows(client, LOGS_TABLE, chunk!.text, 'batch-B1');
    await insertRows(client, LOGS_TABLE, chunk!.text, 'batch-B1');
    const counted = await client.query({
      query: 'SELECT count() AS n FROM logs WHERE TenantId = {tenant:String}',
      query_params: { tenant: 'acme' },
      format: 'JSONEachRow',
    });
    expect(((await counted.json()) as { n: string | number }[]).map((r) => Number(r.n))).toEqual([3]);
    expect(await rows(`SELECT count() AS n FROM ${database}.logs_local WHERE TenantId = 'acme'`)).toEqual([{ n: 3 }]);
  });
});
