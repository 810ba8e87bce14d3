/**
 * Versioned schema migrations for a Durable Object's SQLite database, as the
 * ClickHouse migrator does for the log table (migrations/clickhouse/migrate.ts):
 * each object applies, once and in order, the migrations it has not applied
 * yet, and records each in `_schema_migrations`. A deploy that changes a
 * schema adds a migration; objects holding state (buffered rows, pending
 * flushes, counters) are upgraded in place the first time the new code
 * constructs them — nothing is dropped and recreated.
 *
 * Runs synchronously in the constructor (SQLite calls are synchronous), each
 * migration in its own storage transaction together with its record: a crash
 * leaves an object either before or after a migration, never half-way.
 * Migrations are frozen once released — their SQL is never edited, only
 * followed by new ones — so each is written out in full where it is listed.
 */

export interface SchemaMigration {
  version: number;
  name: string;
  /** One or more statements. */
  sql: string;
}

export interface MigrationResult {
  from: number;
  to: number;
}

export function migrateSchema(storage: DurableObjectStorage, migrations: readonly SchemaMigration[]): MigrationResult {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS _schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const from = sql.exec<{ v: number | null }>('SELECT max(version) AS v FROM _schema_migrations').one().v ?? 0;
  let to = from;
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= from) continue;
    storage.transactionSync(() => {
      sql.exec(migration.sql);
      sql.exec('INSERT INTO _schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', migration.version, migration.name, Date.now());
    });
    to = migration.version;
  }
  return { from, to };
}

/** The version an object's database is at (0: never migrated). */
export function schemaVersion(sql: SqlStorage): number {
  const exists = sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_schema_migrations'").one().n;
  if (exists === 0) return 0;
  return sql.exec<{ v: number | null }>('SELECT max(version) AS v FROM _schema_migrations').one().v ?? 0;
}
