/**
 * The archive read by ClickHouse itself: in production its `s3()` table
 * function over R2's S3 endpoint (`https://<ACCOUNT_ID>.r2.cloudflarestorage.com/<bucket>`,
 * an R2 API token's key id and secret), so the operator's machine needs no S3
 * client and no copy on disk. `file()` — the same globs, `_path`, formats and
 * parameters, on the server's own disk — is what the test runs it on; no R2
 * is reachable from here.
 *
 * Objects are listed with the `One` format (no data read, one row per object)
 * and fetched whole as bytes (`RawBLOB`, no decompression), so every check of
 * the restore (./restore-batch.ts) runs as for any other source. The
 * credentials travel as query parameters, not in the SQL text.
 */
import type { ClickHouseConnection } from '../../migrations/clickhouse/migrate.ts';
import { parseError } from '@clickhouse/client-web';
import { ARCHIVE_LOGS_PREFIX, parseArchiveKey } from './archive-layout.ts';
import type { ArchiveSource } from './archive-source.ts';

export type ClickHouseArchiveLocation =
  /** `baseUrl`: the bucket's URL, `https://<ACCOUNT_ID>.r2.cloudflarestorage.com/<bucket>`. */
  | { kind: 's3'; baseUrl: string; keyId: string; secret: string }
  /** A directory on the ClickHouse server laid out as the keys (tests). */
  | { kind: 'file'; root: string };

export function openClickHouseArchive(conn: ClickHouseConnection, location: ClickHouseArchiveLocation): ArchiveSource {
  const base = (location.kind === 's3' ? location.baseUrl : location.root).replace(/\/+$/, '');
  const table = (format: string, extra = '') =>
    location.kind === 's3' ? `s3({url:String}, {key:String}, {secret:String}, '${format}'${extra})` : `file({url:String}, '${format}'${extra})`;
  const credentials: Record<string, string> = location.kind === 's3' ? { key: location.keyId, secret: location.secret } : {};

  async function run(query: string, url: string): Promise<Response> {
    const params = new URLSearchParams({ database: conn.database, param_url: url });
    for (const [name, value] of Object.entries(credentials)) params.set(`param_${name}`, value);
    const response = await fetch(`${conn.url.replace(/\/+$/, '')}/?${params}`, {
      method: 'POST',
      body: query,
      headers: { 'X-ClickHouse-User': conn.username, 'X-ClickHouse-Key': conn.password },
    });
    if (!response.ok || response.headers.has('x-clickhouse-exception-code')) throw parseError(await response.text());
    return response;
  }

  /** The keys of the objects a glob matches (none when nothing matches). */
  async function keys(glob: string): Promise<string[]> {
    // Zero files is not an error for a day without flushes.
    const response = await run(
      `SELECT _path FROM ${table('One')} SETTINGS s3_throw_on_zero_files_match = 0, engine_file_empty_if_not_exists = 1 FORMAT TSVRaw`,
      glob,
    );
    const at = (path: string) => path.indexOf(`/${ARCHIVE_LOGS_PREFIX}`) + 1;
    return (await response.text())
      .split('\n')
      .filter((path) => path !== '' && at(path) > 0)
      .map((path) => path.slice(at(path)))
      .sort();
  }

  return {
    async *list(prefix) {
      yield* await keys(`${base}/${prefix}hour=*/*.ndjson.gz`);
    },
    async tenants() {
      const all = await keys(`${base}/${ARCHIVE_LOGS_PREFIX}*/dt=*/hour=*/*.ndjson.gz`);
      return [...new Set(all.map((key) => parseArchiveKey(key)?.tenant).filter((t): t is string => t !== undefined))];
    },
    async get(key) {
      if (!parseArchiveKey(key)) return null;
      const response = await run(`SELECT raw FROM ${table('RawBLOB', ", 'raw String', 'none'")} FORMAT RawBLOB`, `${base}/${key}`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}
