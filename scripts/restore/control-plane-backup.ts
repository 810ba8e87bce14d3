/**
 * The local control plane (D1) out to a SQL file and back in, for the stack's
 * data directory (`<dataDir>/state`, where scripts/workers-runtime.ts and
 * `wrangler d1 … --local --persist-to` keep it).
 *
 * Export: `wrangler d1 export --local` reads only `<config dir>/.wrangler/state`
 * (wrangler 4.156 has no `--persist-to` for export), so this runs what it runs
 * — Miniflare on the persisted state and D1's `PRAGMA miniflare_d1_export` —
 * on the stack's directory. Import: `wrangler d1 execute --local --persist-to
 * <dataDir>/state --file <dump>`, as is, into an empty database (the dump
 * creates every table, `d1_migrations` included, so later migrations resume
 * from it). Production: `wrangler d1 export --remote` and `wrangler d1 execute
 * --remote --file` (docs/operations.md).
 *
 * Both with the stack stopped (the database is a Durable Object of Miniflare's
 * that the running workerd keeps open).
 *
 *   npx tsx scripts/restore/control-plane-backup.ts export <dataDir> <file.sql>
 *   npx tsx scripts/restore/control-plane-backup.ts import <dataDir> <file.sql>
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_readConfig } from 'wrangler';
import { PROJECT_ROOT } from '../stack.ts';
import { runWranglerCli } from '../wrangler-cli.ts';

/** The config whose CONTROL_DB binding names the database (the one npm start migrates with). */
const CONFIG = 'workers/ingest/wrangler.toml';

function controlDatabase(): { name: string; id: string } {
  const config = unstable_readConfig({ config: join(PROJECT_ROOT, CONFIG) });
  const db = config.d1_databases.find((d: { binding: string }) => d.binding === 'CONTROL_DB');
  if (!db?.database_name || !db.database_id) throw new Error(`${CONFIG} binds no D1 database as CONTROL_DB`);
  // As wrangler picks the local database: the preview id when there is one.
  return { name: db.database_name, id: db.preview_database_id ?? db.database_id };
}

/** Writes the local control plane as SQL (schema and rows); returns the number of statements. */
export async function exportControlPlane(dataDir: string, output: string): Promise<number> {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      resourcePersistencePath: join(resolve(dataDir), 'state', 'v3'),
      log: new Log(LogLevel.WARN),
      telemetry: { enabled: false },
      cf: false,
      workers: [
        { name: 'neurallog-d1-export', modules: true, script: 'export default {}', compatibilityDate: '2025-01-01', d1Databases: { DB: controlDatabase().id } },
      ],
    }),
  );
  try {
    const db = await mf.getD1Database('DB');
    // As wrangler asks it: (noSchema, noData, ...tables). Schema and rows apart, schema first: one dump of
    // both lists each table's rows right after its CREATE, so a row of api_keys comes before the table
    // its foreign key names exists, and the import fails ("no such table: main.tenants").
    const part = async (noSchema: boolean, noData: boolean) =>
      ((await db.prepare('PRAGMA miniflare_d1_export(?,?,?);').bind(noSchema, noData).raw<string[]>())[0] ?? []) as string[];
    const statements = [...(await part(false, true)), ...(await part(true, false))];
    await writeFile(output, `${statements.join('\n')}\n`);
    return statements.length;
  } finally {
    await mf.dispose();
  }
}

/** Runs the SQL file into the local control plane with wrangler (an empty database: the dump creates its tables). */
export async function importControlPlane(dataDir: string, file: string): Promise<void> {
  await runWranglerCli([
    'd1',
    'execute',
    controlDatabase().name,
    '--local',
    '--persist-to',
    join(resolve(dataDir), 'state'),
    '--config',
    join(PROJECT_ROOT, CONFIG),
    '--file',
    resolve(file),
  ]);
}

async function main([command, dataDir, file]: string[]): Promise<void> {
  if ((command !== 'export' && command !== 'import') || !dataDir || !file) {
    throw new Error('usage: control-plane-backup.ts export|import <dataDir> <file.sql>');
  }
  if (command === 'export') console.log(`exported ${await exportControlPlane(dataDir, file)} statements to ${file}`);
  else {
    await importControlPlane(dataDir, file);
    console.log(`imported ${file}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
