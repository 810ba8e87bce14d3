/**
 * Applies migrations/clickhouse/NNNN_name.sql in order, once each, and records
 * them in `schema_migrations`. Runs from Node (npm start, the tests, a deploy
 * step) against the embedded endpoint or a real server alike.
 *
 * Each statement of a migration is recorded as it completes
 * (`schema_migration_steps`), so a run that dies part-way resumes at the
 * statement it was on: a migration that rebuilds a table (0003) is a sequence
 * of steps that cannot all be repeated. Statements are also written to be
 * repeatable where SQL allows (IF NOT EXISTS), which covers the moment
 * between a statement and its record.
 *
 * `cluster` (CLICKHOUSE_CLUSTER when run as a script) selects cluster mode: the
 * same migrations rendered for a self-hosted cluster (./cluster.ts,
 * docs/deploy.md). Without it every request is what it always was.
 *
 * As a deploy step: `npx tsx migrations/clickhouse/migrate.ts` with
 * CLICKHOUSE_URL (required), CLICKHOUSE_USER, CLICKHOUSE_PASSWORD,
 * CLICKHOUSE_DATABASE and CLICKHOUSE_CLUSTER in the environment.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient } from '@clickhouse/client-web';
import {
  type ClusterTarget,
  clusterCreateDatabase,
  clusterSyncReplica,
  renderClusterBookkeeping,
  renderClusterStatements,
  validateClusterName,
} from './cluster.ts';

export interface ClickHouseConnection {
  url: string;
  username: string;
  password: string;
  database: string;
}

export interface MigrationResult {
  applied: string[];
  current: number;
}

export interface MigrationOptions {
  /** Stop after this version (tests that start from an older schema). */
  upTo?: number;
  /** A cluster of the servers' `remote_servers`: cluster mode. Empty: one server. */
  cluster?: string;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('.', import.meta.url));
const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const DATABASE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The bookkeeping tables, as one server has them (cluster mode renders them: ./cluster.ts). */
const BOOKKEEPING_TABLES = [
  `CREATE TABLE IF NOT EXISTS schema_migrations
              (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY version`,
  `CREATE TABLE IF NOT EXISTS schema_migration_steps
              (version UInt32, step UInt32, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY (version, step)`,
];

/**
 * ON CLUSTER statements wait for every node (the server's distributed_ddl_task_timeout, 180 s by
 * default), and a rebuild's copy runs on every shard: longer than the client's default 30 s. The
 * progress headers keep a load balancer from closing the idle connection meanwhile.
 */
const CLUSTER_CLIENT = {
  request_timeout: 15 * 60_000,
  clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' },
} as const;

export async function migrateClickHouse(conn: ClickHouseConnection, { upTo = Infinity, cluster = '' }: MigrationOptions = {}): Promise<MigrationResult> {
  if (!DATABASE_RE.test(conn.database)) throw new Error(`invalid ClickHouse database name: ${conn.database}`);
  if (cluster !== '') validateClusterName(cluster);
  const target: ClusterTarget | null = cluster === '' ? null : { cluster, database: conn.database };
  const clusterClient = target ? CLUSTER_CLIENT : {};
  const server = createClient({ url: conn.url, username: conn.username, password: conn.password, ...clusterClient });
  const db = createClient({ url: conn.url, username: conn.username, password: conn.password, database: conn.database, ...clusterClient });
  try {
    // The database name is validated configuration, not request data.
    await server.command({ query: target ? clusterCreateDatabase(target) : `CREATE DATABASE IF NOT EXISTS ${conn.database}` });
    for (const statement of BOOKKEEPING_TABLES) await db.command({ query: target ? renderClusterBookkeeping(statement, target) : statement });
    // Replicated to every node: catch up with what a run through another node recorded.
    if (target) for (const table of ['schema_migrations', 'schema_migration_steps']) await db.command({ query: clusterSyncReplica(table) });
    const done = new Set(
      (await (await db.query({ query: 'SELECT version FROM schema_migrations FINAL', format: 'JSONEachRow' })).json<{ version: number }>()).map(
        (r) => r.version,
      ),
    );

    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => FILE_RE.test(f)).sort();
    const applied: string[] = [];
    let current = 0;
    for (const file of files) {
      const [, num, name] = FILE_RE.exec(file)!;
      const version = Number(num);
      if (version > upTo) break;
      current = Math.max(current, version);
      if (done.has(version)) continue;
      const sql = await readFile(new URL(file, `file://${MIGRATIONS_DIR}/`), 'utf8');
      const stepsDone = new Set(
        (
          await (
            await db.query({
              query: 'SELECT step FROM schema_migration_steps FINAL WHERE version = {version:UInt32}',
              query_params: { version },
              format: 'JSONEachRow',
            })
          ).json<{ step: number }>()
        ).map((r) => r.step),
      );
      for (const [step, statement] of migrationStatements(sql, target).entries()) {
        if (stepsDone.has(step)) continue;
        await db.command({ query: statement });
        await db.insert({ table: 'schema_migration_steps', values: [{ version, step }], format: 'JSONEachRow' });
      }
      await db.insert({ table: 'schema_migrations', values: [{ version, name }], format: 'JSONEachRow' });
      applied.push(file);
    }
    return { applied, current };
  } finally {
    await Promise.all([server.close(), db.close()]);
  }
}

/**
 * The statements a migration runs, in order: its own on one server, their cluster rendering in
 * cluster mode. A step recorded in `schema_migration_steps` is an index into this list.
 */
export function migrationStatements(sql: string, target: ClusterTarget | null = null): string[] {
  const statements = splitStatements(sql);
  return target ? renderClusterStatements(statements, target) : statements;
}

/** The bookkeeping tables' statements, for one server or rendered for a cluster. */
export function bookkeepingStatements(target: ClusterTarget | null = null): string[] {
  return target ? BOOKKEEPING_TABLES.map((statement) => renderClusterBookkeeping(statement, target)) : [...BOOKKEEPING_TABLES];
}

/** Statements end with `;` at the end of a line; `--` comments are dropped. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `npx tsx migrations/clickhouse/migrate.ts`: migrate the server the environment names, print the result. */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.CLICKHOUSE_URL) throw new Error('CLICKHOUSE_URL is required: the ClickHouse HTTP endpoint to migrate');
  const result = await migrateClickHouse(
    {
      url: env.CLICKHOUSE_URL,
      username: env.CLICKHOUSE_USER || 'default',
      password: env.CLICKHOUSE_PASSWORD ?? '',
      database: env.CLICKHOUSE_DATABASE || 'neurallog',
    },
    { cluster: env.CLICKHOUSE_CLUSTER ?? '' },
  );
  console.log(JSON.stringify(result));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.env).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
