/**
 * CPU seconds used by this process and its descendants, per command, read
 * from /proc (Linux). The benchmark prints the split so that "what bounds the
 * throughput" is a measurement, not a guess. Elsewhere it returns nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type CpuByCommand = Map<string, number>;

export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

/** Label of a process: its command, refined for the stack's parts. */
export function label(pid: number): string {
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  if (pid === process.pid) return 'load generator (bench, node)';
  if (cmdline.includes('scripts/start.ts')) return 'npm start: embedded ClickHouse (node, chDB)';
  if (cmdline.includes('scripts/workers-runtime.ts')) return 'workers runtime (node, Miniflare)';
  if (cmdline.includes('wrangler-dist/cli.js')) return 'wrangler (node)';
  // NEURALLOG_ACTORS_APART=1: the Durable Objects' own workerd listens on no fixed port.
  if (cmdline.includes('workerd') && cmdline.includes('--socket-addr=entry=127.0.0.1:0 ')) return 'workerd: actors (apart)';
  if (cmdline.includes('workerd')) return 'workerd: workers + actors';
  return cmdline.split(' ')[0] ?? String(pid);
}

export function cpuSnapshot(): CpuByCommand {
  const result: CpuByCommand = new Map();
  const ticks = 100; // USER_HZ on Linux
  try {
    for (const pid of processTree(process.pid)) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime
      const name = label(pid);
      result.set(name, (result.get(name) ?? 0) + seconds);
    }
  } catch {
    return new Map();
  }
  return result;
}

export function cpuDelta(before: CpuByCommand, after: CpuByCommand): [string, number][] {
  return [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number]).sort((a, b) => b[1] - a[1]);
}
