/**
 * The local stack's R2 archive, read through Miniflare's own API on the
 * directory the stack persists to (scripts/workers-runtime.ts:
 * `resourcePersistencePath: <dataDir>/state/v3`), with the bucket named as the
 * ingest worker's wrangler config binds it — the very store the actors wrote.
 *
 * Only while the stack is stopped: the bucket is a Durable Object of
 * Miniflare's whose SQLite files workerd keeps open, and two workerd
 * processes on the same files are not something Miniflare supports; the
 * restore opens them alone.
 */
import { join } from 'node:path';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_readConfig } from 'wrangler';
import { PROJECT_ROOT } from '../stack.ts';
import { ARCHIVE_LOGS_PREFIX } from './archive-layout.ts';
import type { ArchiveSource } from './archive-source.ts';

/** The bucket the ingest worker (which hosts the tenant actors) binds as ARCHIVE. */
export function archiveBucketName(): string {
  const config = unstable_readConfig({ config: join(PROJECT_ROOT, 'workers/ingest/wrangler.toml') });
  const bucket = config.r2_buckets.find((b: { binding: string }) => b.binding === 'ARCHIVE')?.bucket_name;
  if (!bucket) throw new Error('workers/ingest/wrangler.toml binds no R2 bucket as ARCHIVE');
  return bucket;
}

export async function openLocalArchive(dataDir: string): Promise<ArchiveSource & { dispose(): Promise<void> }> {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      resourcePersistencePath: join(dataDir, 'state', 'v3'),
      log: new Log(LogLevel.WARN),
      telemetry: { enabled: false },
      cf: false,
      workers: [
        {
          name: 'neurallog-restore',
          modules: true,
          script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
          compatibilityDate: '2025-01-01',
          r2Buckets: { ARCHIVE: archiveBucketName() },
        },
      ],
    }),
  );
  const bucket = await mf.getR2Bucket('ARCHIVE');
  return {
    async *list(prefix) {
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix, limit: 1000, ...(cursor !== undefined && { cursor }) });
        for (const object of page.objects) yield object.key;
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor !== undefined);
    },
    async tenants() {
      const tenants: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix: ARCHIVE_LOGS_PREFIX, delimiter: '/', limit: 1000, ...(cursor !== undefined && { cursor }) });
        for (const prefix of page.delimitedPrefixes) tenants.push(prefix.slice(ARCHIVE_LOGS_PREFIX.length, -1));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor !== undefined);
      return tenants;
    },
    async get(key) {
      const object = await bucket.get(key);
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    },
    dispose: () => mf.dispose(),
  };
}
