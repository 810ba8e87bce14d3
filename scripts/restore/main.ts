/**
 * `npm run restore:archive -- --from YYYY-MM-DD [--to YYYY-MM-DD] [--tenant <id>] [--data-dir <dir>] [--archive-dir <dir> | --archive-r2 <bucket URL>]`
 *
 * Reloads ClickHouse from the R2 archive: every batch the actors flushed on
 * those days (UTC), for one tenant or all, each stored once — a batch still in
 * ClickHouse is skipped, a restored one is inserted under its batch id as the
 * flush did — so a run can be repeated, or stopped and run again. Prints one
 * line per batch that was not simply skipped, then the summary as JSON; exits
 * 1 when a batch could not be restored (refused by ClickHouse, unreadable).
 *
 * Reads the local stack's archive (`<data-dir>/state`, default NEURALLOG_DATA_DIR
 * or .neurallog) with the stack stopped; with `--archive-dir` a copy of an
 * archive laid out as its keys (production's R2 synced to a disk); with
 * `--archive-r2 https://<ACCOUNT_ID>.r2.cloudflarestorage.com/<bucket>` R2 itself,
 * read by ClickHouse's s3() with R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY. ClickHouse: CLICKHOUSE_URL (and
 * CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE) as for
 * migrations/clickhouse/migrate.ts; without it, the stack's embedded ClickHouse
 * (`<data-dir>/clickhouse`) is started for the run, with the schema applied.
 * Production (R2 over its S3 API): docs/operations.md "Backup and restore".
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startEmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { type ClickHouseConnection, migrateClickHouse } from '../../migrations/clickhouse/migrate.ts';
import { freePort } from '../ports.ts';
import { clickHouseTarget } from './clickhouse-target.ts';
import { type ClickHouseArchiveLocation, openClickHouseArchive } from './clickhouse-archive.ts';
import { openDirectoryArchive } from './directory-archive.ts';
import { openLocalArchive } from './local-archive.ts';
import { type RestoreRequest, type RestoreSummary, restoreArchive } from './restore-archive.ts';

export interface LocalRestoreOptions extends RestoreRequest {
  dataDir: string;
  /** Read this copy of an archive (./directory-archive.ts) instead of the stack's R2. */
  archiveDir?: string;
  /** Have ClickHouse read the archive (./clickhouse-archive.ts) instead of the stack's R2. */
  clickhouseArchive?: ClickHouseArchiveLocation;
  /** A running ClickHouse; when absent the embedded one is started on `<dataDir>/clickhouse`. */
  clickhouse?: ClickHouseConnection;
  onLine?: (line: string) => void;
}

/** The restore of the local stack's archive or of a copy (also what test/node/archive-restore*.test.ts run). */
export async function restoreLocalArchive(options: LocalRestoreOptions): Promise<RestoreSummary> {
  const dataDir = resolve(options.dataDir);
  if (options.archiveDir === undefined && options.clickhouseArchive === undefined) {
    await access(join(dataDir, 'state', 'v3')).catch(() => {
      throw new Error(`${dataDir}/state/v3 does not exist: --data-dir must be the stack's data directory (NEURALLOG_DATA_DIR)`);
    });
  }
  let conn = options.clickhouse;
  let embedded: Awaited<ReturnType<typeof startEmbeddedClickHouse>> | null = null;
  if (!conn) {
    embedded = await startEmbeddedClickHouse({ dataPath: join(dataDir, 'clickhouse'), port: await freePort(), username: 'default', password: '' });
    conn = { url: embedded.url, username: 'default', password: '', database: 'neurallog' };
    // A lost store starts empty: the schema first (idempotent, as npm start runs it).
    await migrateClickHouse(conn);
  }
  const target = clickHouseTarget(conn);
  const elsewhere =
    options.clickhouseArchive !== undefined
      ? openClickHouseArchive(conn, options.clickhouseArchive)
      : options.archiveDir !== undefined
        ? openDirectoryArchive(resolve(options.archiveDir))
        : null;
  const archive = await (elsewhere ? Promise.resolve({ ...elsewhere, dispose: async () => {} }) : openLocalArchive(dataDir)).catch(async (err: unknown) => {
    await target.close();
    await embedded?.close();
    throw err;
  });
  try {
    return await restoreArchive(archive, target, options, (key, result) => {
      if (result.outcome !== 'already-stored') options.onLine?.(`${result.outcome}\t${key}${'reason' in result ? `\t${result.reason}` : ''}`);
    });
  } finally {
    await archive.dispose();
    await target.close();
    await embedded?.close();
  }
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      tenant: { type: 'string' },
      'data-dir': { type: 'string' },
      'archive-dir': { type: 'string' },
      'archive-r2': { type: 'string' },
    },
    strict: true,
  });
  if (!values.from) throw new Error('--from YYYY-MM-DD is required: the first flush day (UTC) to restore');
  if (values['archive-r2'] !== undefined && (!env.R2_ACCESS_KEY_ID || !env.R2_SECRET_ACCESS_KEY)) {
    throw new Error('--archive-r2 needs R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY: an R2 API token that can read the bucket');
  }
  const summary = await restoreLocalArchive({
    dataDir: values['data-dir'] ?? env.NEURALLOG_DATA_DIR ?? '.neurallog',
    tenant: values.tenant ?? null,
    from: values.from,
    to: values.to ?? new Date().toISOString().slice(0, 10),
    ...(values['archive-dir'] !== undefined ? { archiveDir: values['archive-dir'] } : {}),
    ...(values['archive-r2'] !== undefined
      ? { clickhouseArchive: { kind: 's3' as const, baseUrl: values['archive-r2'], keyId: env.R2_ACCESS_KEY_ID!, secret: env.R2_SECRET_ACCESS_KEY! } }
      : {}),
    ...(env.CLICKHOUSE_URL
      ? {
          clickhouse: {
            url: env.CLICKHOUSE_URL,
            username: env.CLICKHOUSE_USER || 'default',
            password: env.CLICKHOUSE_PASSWORD ?? '',
            database: env.CLICKHOUSE_DATABASE || 'neurallog',
          },
        }
      : {}),
    onLine: (line) => console.error(line),
  });
  console.log(JSON.stringify(summary, null, 2));
  if (summary.problems.length > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), process.env).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
