/**
 * The faults of the suite, each a function that injects it, holds it and
 * ends it (scripts/chaos/schedule.ts measures what happens around it).
 * Where each is injected:
 * - workerd killed: `kill -9` of the workers' runtime (scripts/stack.ts
 *   crashWorkers) the moment a flush's insert reaches ClickHouse, then a
 *   restart on the same state;
 * - ClickHouse gone / slow / 500s / answers lost: the fault proxy between the
 *   workers and ClickHouse (scripts/chaos/clickhouse-fault-proxy.ts);
 * - R2 failing every put, the actors' disk full: the file system under
 *   Miniflare's state (scripts/chaos/disk-faults.ts).
 */
import type { RunningStack } from '../stack.ts';
import { sleep } from './canary-writer.ts';
import type { FaultProxy } from './clickhouse-fault-proxy.ts';
import { actorStorageDir, archiveBlobsDir, fillDisk, makeReadOnly } from './disk-faults.ts';

export interface FaultContext {
  stack: RunningStack;
  proxy: FaultProxy;
  dataDir: string;
  log(line: string): void;
}

export interface FaultDurations {
  /** kill -9 of workerd, this many times in a row. */
  kills: number;
  clickhouseDownS: number;
  clickhouseSlowS: number;
  clickhouse500S: number;
  answerLostS: number;
  r2DownS: number;
  diskFullS: number;
  combinedS: number;
}

export const FULL_DURATIONS: FaultDurations = {
  kills: 10,
  clickhouseDownS: 60,
  clickhouseSlowS: 60,
  clickhouse500S: 60,
  answerLostS: 30,
  r2DownS: 30,
  diskFullS: 30,
  combinedS: 40,
};

export const QUICK_DURATIONS: FaultDurations = {
  kills: 2,
  clickhouseDownS: 10,
  clickhouseSlowS: 10,
  clickhouse500S: 10,
  answerLostS: 10,
  r2DownS: 10,
  diskFullS: 10,
  combinedS: 10,
};

export interface Fault {
  name: string;
  /** What it does, for the report. */
  what: string;
  /** Needs `mount` (the file-system faults). */
  needsMount: boolean;
  /** Injects the fault, holds it, ends it; returns notes for the report. */
  run(ctx: FaultContext): Promise<string[]>;
}

/** kill -9 of workerd while a flush's insert is on its way to ClickHouse, then a restart; `times` in a row. */
async function killMidFlush(ctx: FaultContext, times: number, gapMs: number): Promise<string[]> {
  let midInsert = 0;
  const restarts: number[] = [];
  for (let i = 0; i < times; i++) {
    // The moment an insert of the log table reaches ClickHouse: the flush is in the middle of its insert.
    const caught = await Promise.race([ctx.proxy.nextLogInsert().then(() => true), sleep(15_000).then(() => false)]);
    if (caught) midInsert++;
    ctx.log(`  kill ${i + 1}/${times}${caught ? ' (mid-insert)' : ''}`);
    await ctx.stack.crashWorkers();
    ctx.log('  killed');
    const restarting = Date.now();
    await ctx.stack.restartWorkers();
    restarts.push(Date.now() - restarting);
    ctx.log(`  restarted in ${restarts.at(-1)} ms`);
    if (i < times - 1) await sleep(gapMs);
  }
  const sorted = [...restarts].sort((a, b) => a - b);
  return [
    `${times} kills, ${midInsert} of them while a flush's insert was at ClickHouse`,
    `restart until /healthz answers: median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms`,
  ];
}

/** Holds a ClickHouse fault for `seconds`. */
async function holdClickHouseFault(ctx: FaultContext, fault: Parameters<FaultProxy['inject']>[0], seconds: number): Promise<string[]> {
  const before = ctx.proxy.stats();
  const end = ctx.proxy.inject(fault);
  await sleep(seconds * 1000);
  end();
  const after = ctx.proxy.stats();
  return [`${after.injected[fault.kind] - before.injected[fault.kind]} requests affected, ${after.logInserts - before.logInserts} log inserts attempted`];
}

async function r2Down(ctx: FaultContext, seconds: number): Promise<string[]> {
  const restore = await makeReadOnly(archiveBlobsDir(ctx.dataDir));
  await sleep(seconds * 1000);
  await restore();
  return ["every R2 put failed (read-only bind mount over the bucket's blobs)"];
}

async function diskFull(ctx: FaultContext, seconds: number): Promise<string[]> {
  const filled = await fillDisk(actorStorageDir(ctx.dataDir));
  await sleep(seconds * 1000);
  await filled.free();
  return [`the actors' tmpfs filled with ${(filled.filledBytes / 2 ** 20).toFixed(1)} MiB to its last byte`];
}

export function faultsFor(d: FaultDurations): Fault[] {
  return [
    {
      name: 'workerd-kill',
      what: `kill -9 of the workers' runtime (workerd) while a flush's insert is at ClickHouse, ${d.kills} times in a row, restarted each time`,
      needsMount: false,
      run: (ctx) => killMidFlush(ctx, d.kills, 2_000),
    },
    {
      name: 'clickhouse-down',
      what: `ClickHouse gone for ${d.clickhouseDownS} s: every connection to it dropped, then back`,
      needsMount: false,
      run: (ctx) => holdClickHouseFault(ctx, { kind: 'down' }, d.clickhouseDownS),
    },
    {
      name: 'clickhouse-slow',
      what: `ClickHouse slow for ${d.clickhouseSlowS} s: every answer 2 s late`,
      needsMount: false,
      run: (ctx) => holdClickHouseFault(ctx, { kind: 'slow', delayMs: 2_000 }, d.clickhouseSlowS),
    },
    {
      name: 'clickhouse-500',
      what: `ClickHouse answering 500 to one insert in three for ${d.clickhouse500S} s`,
      needsMount: false,
      run: (ctx) => holdClickHouseFault(ctx, { kind: 'fail-insert', every: 3 }, d.clickhouse500S),
    },
    {
      name: 'answer-lost',
      what: `every other insert succeeds in ClickHouse and its answer is lost (connection dropped) for ${d.answerLostS} s`,
      needsMount: false,
      run: (ctx) => holdClickHouseFault(ctx, { kind: 'lose-answer', every: 2 }, d.answerLostS),
    },
    {
      name: 'r2-down',
      what: `R2 failing every put for ${d.r2DownS} s`,
      needsMount: true,
      run: (ctx) => r2Down(ctx, d.r2DownS),
    },
    {
      name: 'disk-full',
      what: `the actors' storage disk full for ${d.diskFullS} s (a tmpfs filled to its last byte), then space back`,
      needsMount: true,
      run: (ctx) => diskFull(ctx, d.diskFullS),
    },
    {
      name: 'disk-full+clickhouse-down',
      what: `the actors' disk full while ClickHouse is gone, for ${d.diskFullS} s: the backlog has nowhere to grow`,
      needsMount: true,
      run: async (ctx) => {
        const end = ctx.proxy.inject({ kind: 'down' });
        try {
          return await diskFull(ctx, d.diskFullS);
        } finally {
          end();
        }
      },
    },
    {
      name: 'clickhouse-down+workerd-kill',
      what: `ClickHouse gone for ${d.combinedS} s and workerd killed twice meanwhile (the backlog must survive the crashes)`,
      needsMount: false,
      run: async (ctx) => {
        const end = ctx.proxy.inject({ kind: 'down' });
        const started = Date.now();
        const notes: string[] = [];
        try {
          for (let i = 0; i < 2; i++) {
            await sleep((d.combinedS * 1000) / 3);
            await ctx.stack.crashWorkers();
            await ctx.stack.restartWorkers();
          }
          await sleep(Math.max(0, started + d.combinedS * 1000 - Date.now()));
        } finally {
          end();
        }
        notes.push('2 kills while ClickHouse was away');
        return notes;
      },
    },
    {
      name: 'clickhouse-500+r2-down',
      what: `ClickHouse 500 to one insert in three and R2 failing every put, together for ${d.combinedS} s`,
      needsMount: true,
      run: async (ctx) => {
        const end = ctx.proxy.inject({ kind: 'fail-insert', every: 3 });
        try {
          return await r2Down(ctx, d.combinedS);
        } finally {
          end();
        }
      },
    },
  ];
}
