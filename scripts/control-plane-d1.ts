/**
 * The control plane's local D1, prepared through a D1 binding of the running Miniflare
 * (scripts/workers-runtime.ts) instead of the wrangler CLI: the migrations of the database's
 * `migrations_dir`, applied and recorded exactly as `wrangler d1 migrations apply` does, then
 * the stack's own rows (the dev and platform tenants and their keys).
 *
 * Why not wrangler: `wrangler d1 migrations apply --local` starts a Miniflare (a workerd) for
 * every statement batch — the table, the list, then one per migration — and `d1 execute` one
 * more; that was most of a stack start (docs/benchmarks.md, "Stack start"). Here they run on the
 * workerd that serves the stack anyway.
 *
 * Same state as wrangler's, both ways: the same files in the same order, each split by wrangler's
 * own splitter and run in one batch (one transaction) with its row in the same table, created
 * with the same DDL under the name the config gives (`migrations_table`, default `d1_migrations`).
 * So `wrangler d1 migrations list --local --persist-to <dir>` sees them applied, and a state
 * wrangler migrated is carried on from (test/node/control-plane-d1.test.ts). Production stays
 * `wrangler d1 migrations apply --remote` (docs/deploy.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { unstable_readConfig, unstable_splitSqlQuery } from 'wrangler';

/** The control plane's binding, in the ingest worker's config (the config `wrangler d1 … -c` is given). */
export const CONTROL_DB_BINDING = 'CONTROL_DB';
export const CONTROL_DB_CONFIG = 'workers/ingest/wrangler.toml';

/** Wrangler's name for the table of applied migrations when the config names none. */
const DEFAULT_MIGRATIONS_TABLE = 'd1_migrations';

export interface D1Migration {
  /** The file's name, as wrangler records it in the migrations table. */
  name: string;
  /** Its statements, split as wrangler splits them. */
  queries: string[];
}

export interface D1Migrations {
  table: string;
  migrations: D1Migration[];
}

/** What of a D1 binding this needs: Miniflare's `getD1Database()` and workerd's binding both have it. */
export interface D1Like {
  prepare(query: string): D1StatementLike;
  batch(statements: D1StatementLike[]): Promise<unknown>;
}
interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  run(): Promise<unknown>;
  all<T>(): Promise<{ results: T[] }>;
}

/** What of a `[[d1_databases]]` entry of a wrangler config this reads. */
interface D1DatabaseConfig {
  binding: string;
  migrations_dir?: string;
  migrations_table?: string;
  migrations_pattern?: string;
}

/** A statement with its values bound (never spliced into the text). */
export interface BoundStatement {
  sql: string;
  params: (string | number | null)[];
}

/** The migrations of `binding` in the wrangler config at `configPath` (relative to the project or absolute). */
export function readD1Migrations(projectRoot: string, configPath = CONTROL_DB_CONFIG, binding = CONTROL_DB_BINDING): D1Migrations {
  const config = unstable_readConfig({ config: resolve(projectRoot, configPath) });
  const databases: D1DatabaseConfig[] = config.d1_databases;
  const database = databases.find((d) => d.binding === binding);
  if (!database) throw new Error(`${configPath} declares no D1 database bound as ${binding}`);
  if (database.migrations_pattern) throw new Error(`${configPath}: migrations_pattern is not supported here (the stack applies <migrations_dir>/*.sql)`);
  const dir = resolve(dirname(resolve(projectRoot, configPath)), database.migrations_dir ?? 'migrations');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.sql') && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort(compareMigrationNames);
  return {
    table: database.migrations_table ?? DEFAULT_MIGRATIONS_TABLE,
    migrations: names.map((name) => ({ name, queries: unstable_splitSqlQuery(readFileSync(join(dir, name), 'utf8')) })),
  };
}

/**
 * Wrangler's order of migration files: by leading number (numbered before unnumbered), then by
 * name — `10_x.sql` after `9_x.sql`, which a plain string sort gets wrong.
 */
export function compareMigrationNames(a: string, b: string): number {
  const number = (name: string) => Number.parseInt(name.split('_')[0]!, 10);
  const [na, nb] = [number(a), number(b)];
  if (na !== nb) {
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    if (Number.isFinite(na)) return -1;
    if (Number.isFinite(nb)) return 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

const quoteIdentifier = (id: string) => `"${id.replace(/"/g, '""')}"`;

/** Applies the migrations not yet in the table, each in one batch with its row; the names it applied. */
export async function applyD1Migrations(db: D1Like, { table, migrations }: D1Migrations): Promise<string[]> {
  const quoted = quoteIdentifier(table);
  // Wrangler's DDL, to the letter: a table it created and one created here are the same table.
  await db
    .prepare(`CREATE TABLE IF NOT EXISTS ${quoted}(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`)
    .run();
  const applied = new Set((await db.prepare(`SELECT name FROM ${quoted} ORDER BY id`).all<{ name: string }>()).results.map((row) => row.name));
  const record = db.prepare(`INSERT INTO ${quoted} (name) VALUES (?)`);
  const done: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.name)) continue;
    await db.batch([...migration.queries.map((query) => db.prepare(query)), record.bind(migration.name)]);
    done.push(migration.name);
  }
  return done;
}

/** The migrations, then `statements` in one batch (all or nothing). */
export async function prepareControlPlane(db: D1Like, migrations: D1Migrations, statements: BoundStatement[]): Promise<string[]> {
  const applied = await applyD1Migrations(db, migrations);
  if (statements.length > 0) await db.batch(statements.map(({ sql, params }) => db.prepare(sql).bind(...params)));
  return applied;
}
