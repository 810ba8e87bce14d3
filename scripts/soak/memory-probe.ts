/**
 * Where a workerd's resident memory is (issue 20's soak): the process's
 * anonymous and file-backed resident memory from /proc/<pid>/smaps_rollup, and
 * each isolate's V8 heap through workerd's inspector (the DevTools protocol:
 * `Runtime.getHeapUsage`, optionally after `HeapProfiler.collectGarbage`).
 *
 * workerd runs one isolate per worker, and Miniflare adds its own (the entry
 * worker, the assets router, the R2 and D1 simulators: scripts/workerd-inspector.ts
 * names them and how to select them). A heap that
 * is flat after a forced full GC holds no growing live state; RSS that grows
 * anyway is garbage not yet collected (with the native memory it keeps) or
 * native memory V8 does not see. Forcing GC in one isolate at a time tells
 * which isolate's garbage it is (`npm run soak` with SOAK_FORCE_GC).
 *
 * Used by scripts/soak/soak.ts when NEURALLOG_INSPECTOR_PORT is set, and on
 * its own against any running stack:
 *
 *   tsx scripts/soak/memory-probe.ts --inspector <port> [--pid <workerd pid>] [--every 30] [--gc ingest,entry]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type HeapUsage, isolateHeaps } from '../workerd-inspector.ts';

export interface ResidentMemory {
  rssBytes: number;
  /** Anonymous memory: heaps (V8's and malloc's), stacks — what a leak or garbage grows. */
  anonBytes: number;
  /** File-backed: the binary, shared libraries, mapped SQLite files. */
  fileBytes: number;
}

/** A process's resident memory split as the kernel accounts it; null when the process is gone. */
export function residentMemory(pid: number): ResidentMemory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  const rssBytes = kib('Rss');
  const anonBytes = kib('Anonymous');
  return { rssBytes, anonBytes, fileBytes: rssBytes - anonBytes };
}

const MIB = 1024 * 1024;

/** `name=used/total+e<embedder>+b<backing>` MiB per isolate, for a log line. */
export function formatHeaps(heaps: ReadonlyMap<string, HeapUsage | null>): string {
  const mib = (b: number) => (b / MIB).toFixed(1);
  return [...heaps]
    .map(
      ([id, u]) =>
        `${id.replace(/^core:user:/, '')}=${u ? `${mib(u.usedBytes)}/${mib(u.totalBytes)}+e${mib(u.embedderBytes)}+b${mib(u.backingStorageBytes)}` : '?'}`,
    )
    .join(' ');
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({
    options: {
      inspector: { type: 'string' },
      pid: { type: 'string' },
      every: { type: 'string', default: '30' },
      heaps: { type: 'string', default: 'all' },
      gc: { type: 'string', default: '' },
    },
  });
  if (!values.inspector) throw new Error('--inspector <port> is required (NEURALLOG_INSPECTOR_PORT of the stack)');
  const port = Number(values.inspector);
  const t0 = Date.now();
  for (;;) {
    // The GC'd isolates are read after their collection; the others as they are.
    const collected = values.gc ? await isolateHeaps(port, values.gc, true) : new Map<string, HeapUsage | null>();
    const seen = await isolateHeaps(port, values.heaps, false);
    for (const [id, u] of collected) seen.set(id, u);
    const rss = values.pid ? residentMemory(Number(values.pid)) : null;
    const mem = rss ? `rss=${(rss.rssBytes / MIB).toFixed(0)} anon=${(rss.anonBytes / MIB).toFixed(0)} file=${(rss.fileBytes / MIB).toFixed(0)} MiB | ` : '';
    console.log(`${((Date.now() - t0) / 60_000).toFixed(1)} min ${mem}heap used/total MiB: ${formatHeaps(seen)}`);
    await new Promise((r) => setTimeout(r, Number(values.every) * 1000));
  }
}
