/**
 * An archive copied to a directory, one file per object at its key —
 * what `aws s3 sync s3://<bucket>/logs/<tenant>/ <dir>/logs/<tenant>/
 * --endpoint-url https://<ACCOUNT_ID>.r2.cloudflarestorage.com` (or rclone)
 * leaves of production's R2. Read-only; keys outside `logs/` are never read.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ARCHIVE_LOGS_PREFIX, parseArchiveKey } from './archive-layout.ts';
import type { ArchiveSource } from './archive-source.ts';

export function openDirectoryArchive(root: string): ArchiveSource {
  const keyOf = (path: string) => relative(root, path).split(sep).join('/');
  return {
    async *list(prefix) {
      const entries = await readdir(join(root, prefix), { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      const keys = entries.filter((e) => e.isFile()).map((e) => keyOf(join(e.parentPath, e.name)));
      yield* keys.sort();
    },
    async tenants() {
      const entries = await readdir(join(root, ARCHIVE_LOGS_PREFIX), { withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isDirectory()).map((e) => e.name);
    },
    async get(key) {
      // Only keys the archive's layout allows: a tenant id, a day, an hour, a batch id — no '..', no absolute path.
      if (!parseArchiveKey(key)) return null;
      return new Uint8Array(await readFile(join(root, ...key.split('/'))));
    },
  };
}
