/**
 * Faults of the disk under the local stack's state, made with the operating
 * system's own means so that no test-only code enters the workers:
 *
 * - the actors' storage full: a small tmpfs mounted where Miniflare keeps the
 *   TenantActor objects' SQLite files, filled with a file up to its last byte
 *   (ENOSPC for every write of an actor), and the file removed to give the
 *   space back;
 * - R2 failing every put: Miniflare's R2 keeps each object's bytes as a new
 *   file under `<bucket>/blobs`; a read-only bind mount over that directory
 *   makes every put fail (EROFS) while reads still work, and unmounting ends it.
 *
 * Both need `mount` (root, or CAP_SYS_ADMIN): `canMount()` says whether this
 * machine allows it, and the suite skips these faults (and says so) when not.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Miniflare keeps the state the faults are about, under the stack's data directory (`<dataDir>/state/v3`). */
export function actorStorageDir(dataDir: string): string {
  return join(dataDir, 'state', 'v3', 'do', 'neurallog-ingest-TenantActor');
}

export function archiveBlobsDir(dataDir: string): string {
  return join(dataDir, 'state', 'v3', 'r2', 'neurallog-archive', 'blobs');
}

/** Whether `mount` works here (tries a 1 MiB tmpfs). */
export async function canMount(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'neurallog-chaos-mount-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    await run('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Mounts a tmpfs of `bytes` at `dir` (created if absent); the function returned unmounts it. */
export async function mountTmpfs(dir: string, bytes: number): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  return async () => {
    await run('umount', ['-l', dir]).catch(() => undefined);
  };
}

/** Fills the file system of `dir` to its last byte; the function returned frees the space again. */
export async function fillDisk(dir: string): Promise<{ filledBytes: number; free(): Promise<void> }> {
  const path = join(dir, 'chaos-filler');
  const file = await open(path, 'w');
  let filledBytes = 0;
  try {
    // Big writes first, then small ones for the last blocks.
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const block = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(block);
          filledBytes += bytesWritten;
          if (bytesWritten < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await file.close().catch(() => undefined);
  }
  return { filledBytes, free: () => unlink(path) };
}

/** Makes `dir` read-only (a read-only bind mount over itself); the function returned makes it writable again. */
export async function makeReadOnly(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['--bind', dir, dir]);
  try {
    await run('mount', ['-o', 'remount,bind,ro', dir]);
  } catch (err) {
    await run('umount', [dir]).catch(() => undefined);
    throw err;
  }
  return async () => {
    await run('umount', [dir]);
  };
}
