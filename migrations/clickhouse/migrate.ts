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
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client-web';

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

const MIGRATIONS_DIR = fileURLToPath(new URL('.', import.meta.url));
const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const DATABASE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `upTo`: stop after this version (tests that start from an older schema). */
export async function migrateClickHouse(conn: ClickHouseConnection, { upTo = Infinity } = {}): Promise<MigrationResult> {
  if (!DATABASE_RE.test(conn.database)) throw new Error(`invalid ClickHouse database name: ${conn.database}`);
  const server = createClient({ url: conn.url, username: conn.username, password: conn.password });
  const db = createClient({ url: conn.url, username: conn.username, password: conn.password, database: conn.database });
  try {
    // The database name is validated configuration, not request data.
    await server.command({ query: `CREATE DATABASE IF NOT EXISTS ${conn.database}` });
    await db.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migrations
              (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY version`,
    });
    await db.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migration_steps
              (version UInt32, step UInt32, applied_at DateTime('UTC') DEFAULT now())
              ENGINE = ReplacingMergeTree ORDER BY (version, step)`,
    });
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
      for (const [step, statement] of splitStatements(sql).entries()) {
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
