/**
 * The stack migrates the control plane's D1 through Miniflare's binding (scripts/control-plane-d1.ts),
 * not the wrangler CLI: the state must be wrangler's, both ways — a database wrangler migrated is
 * carried on from, and wrangler sees nothing pending in one migrated here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import {
  applyD1Migrations,
  CONTROL_DB_BINDING,
  CONTROL_DB_CONFIG,
  compareMigrationNames,
  type D1Like,
  prepareControlPlane,
  readD1Migrations,
} from '../../scripts/control-plane-d1.ts';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { runWranglerCli } from '../../scripts/wrangler-cli.ts';

const dirs: string[] = [];
const migrations = readD1Migrations(PROJECT_ROOT);

/** `wrangler d1 … neurallog-control --local --persist-to <stateDir>` with the config the stack used to give it. */
async function wrangler(args: string[], stateDir: string): Promise<string> {
  return runWranglerCli(['d1', ...args, 'neurallog-control', '--local', '--persist-to', stateDir, '--config', join(PROJECT_ROOT, CONTROL_DB_CONFIG)]);
}

/**
 * The control plane's D1 as the workers' runtime binds it (the ingest worker's config, read by
 * wrangler's own config reader, persisted where scripts/workers-runtime.ts keeps it).
 */
async function withControlDb<T>(stateDir: string, use: (db: D1Like) => Promise<T>): Promise<T> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(unstable_readConfig({ config: join(PROJECT_ROOT, CONTROL_DB_CONFIG) }));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      resourcePersistencePath: join(stateDir, 'v3'),
      log: new Log(LogLevel.WARN),
      telemetry: { enabled: false },
      cf: false,
      workers: [
        {
          name: 'control-plane',
          modules: true,
          script: 'export default {}',
          compatibilityDate: '2025-01-01',
          d1Databases: workerOptions.d1Databases as V4WorkerOptions['d1Databases'],
        },
      ],
    }),
  );
  try {
    return await use((await mf.getD1Database(CONTROL_DB_BINDING, 'control-plane')) as unknown as D1Like);
  } finally {
    await mf.dispose();
  }
}

interface MigrationRow {
  id: number;
  name: string;
  applied_at: string;
}
const appliedRows = (db: D1Like) =>
  db
    .prepare('SELECT id, name, applied_at FROM d1_migrations ORDER BY id')
    .all<MigrationRow>()
    .then((r) => r.results);
const tableSql = async (db: D1Like, name: string) =>
  (await db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").bind(name).all<{ sql: string }>()).results[0]?.sql;

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neurallog-control-d1-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('the control plane D1, migrated through Miniflare as wrangler migrates it', () => {
  const files = migrations.migrations.map((m) => m.name);
  let byWrangler: string;
  let wranglerTable: string | undefined;

  beforeAll(async () => {
    byWrangler = await stateDir();
    await wrangler(['migrations', 'apply'], byWrangler);
    wranglerTable = await withControlDb(byWrangler, (db) => tableSql(db, 'd1_migrations'));
  }, 180_000);

  it('reads every file of migrations/d1 in wrangler’s order, into the table wrangler uses', () => {
    expect(migrations.table).toBe('d1_migrations');
    expect(files[0]).toBe('0000_control_plane.sql');
    expect(files).toEqual([...files].sort());
    expect(files.length).toBeGreaterThanOrEqual(10);
    // Wrangler's order is numeric, not by string: 10 after 9, unnumbered last.
    expect(['10_b.sql', 'x.sql', '9_a.sql', '0010_c.sql'].sort(compareMigrationNames)).toEqual(['9_a.sql', '0010_c.sql', '10_b.sql', 'x.sql']);
  });

  it('carries on from a database wrangler migrated: nothing applied twice, the rows stay wrangler’s, the stack’s rows written', async () => {
    await withControlDb(byWrangler, async (db) => {
      const before = await appliedRows(db);
      expect(before.map((r) => r.name)).toEqual(files);
      // 0000 creates its tables without IF NOT EXISTS: applying it again would fail.
      const applied = await prepareControlPlane(db, migrations, [
        { sql: "INSERT INTO tenants (id, name, plan_id, status, retention_days) VALUES (?, ?, ?, 'active', ?)", params: ['acme', 'Acme', 'starter', 7] },
      ]);
      expect(applied).toEqual([]);
      expect(await appliedRows(db)).toEqual(before);
      const tenant = await db.prepare('SELECT id, plan_id FROM tenants WHERE id = ?').bind('acme').all<{ id: string; plan_id: string }>();
      expect(tenant.results).toEqual([{ id: 'acme', plan_id: 'starter' }]);

      // A state from before the last migration (its table gone, its row too): only that one is applied.
      await db.batch([db.prepare('DROP TABLE encryption_keys'), db.prepare('DELETE FROM d1_migrations WHERE name = ?').bind(files.at(-1))]);
      expect(await applyD1Migrations(db, migrations)).toEqual([files.at(-1)]);
      expect((await appliedRows(db)).map((r) => r.name)).toEqual(files);
      expect(await tableSql(db, 'encryption_keys')).toContain('CREATE TABLE');
    });
  });

  it('leaves a state wrangler reads as migrated: `wrangler d1 migrations list` shows nothing pending, and the table is wrangler’s', async () => {
    const dir = await stateDir();
    const applied = await withControlDb(dir, (db) => prepareControlPlane(db, migrations, []));
    expect(applied).toEqual(files);
    const listed = await wrangler(['migrations', 'list'], dir);
    expect(listed).toContain('No migrations to apply');
    await withControlDb(dir, async (db) => {
      expect(await tableSql(db, 'd1_migrations')).toBe(wranglerTable);
      const rows = await appliedRows(db);
      expect(rows.map((r) => [r.id, r.name])).toEqual(files.map((name, i) => [i + 1, name]));
      // applied_at as wrangler's default writes it (SQLite's CURRENT_TIMESTAMP, UTC).
      expect(rows[0]!.applied_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });
  }, 180_000);

  it('applies a migration and its row together: a failing file leaves neither', async () => {
    const dir = await stateDir();
    await withControlDb(dir, async (db) => {
      const broken = {
        table: 'd1_migrations',
        migrations: [...migrations.migrations, { name: '9999_broken.sql', queries: ['CREATE TABLE t (x)', 'SELECT * FROM nowhere'] }],
      };
      await expect(applyD1Migrations(db, broken)).rejects.toThrow(/nowhere/);
      expect((await appliedRows(db)).map((r) => r.name)).toEqual(files);
      expect(await tableSql(db, 't')).toBeUndefined();
    });
  });
});
