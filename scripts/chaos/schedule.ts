/**
 * The fault schedule: the stack started as `npm start` starts it (ClickHouse
 * behind the fault proxy, the actors' storage on a small tmpfs when mount is
 * allowed), canary tenants (one of them sharded), the canary writer running
 * throughout, and the faults one after the other. Around each fault it
 * measures how long ingest took to resume (every tenant acknowledged again)
 * and how long the backlog took to drain (everything acknowledged so far
 * found by search), and collects what the client was answered meanwhile.
 * At the end the writer stops, the last backlog drains, and the checker reads
 * everything back (scripts/chaos/checker.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { freePort } from '../ports.ts';
import { type RunningStack, startStack } from '../stack.ts';
import { type AnswerEvent, type CanaryTenant, CanaryWriter, sleep } from './canary-writer.ts';
import { type CheckScope, check, countFound } from './checker.ts';
import { startFaultProxy } from './clickhouse-fault-proxy.ts';
import { actorStorageDir, archiveBlobsDir, canMount, mountTmpfs } from './disk-faults.ts';
import type { Fault, FaultContext } from './faults.ts';
import type { Tally } from './tally.ts';

export interface SuiteOptions {
  dataDir: string;
  faults: Fault[];
  /** Records per second, all tenants together. */
  recordsPerSecond: number;
  recordsPerBatch: number;
  /** Canary tenants with one actor; one more, sharded over `shards` actors, is added. */
  tenants: number;
  shards: number;
  /** Steady running before the first fault and between faults (s). */
  settleS: number;
  /** Size of the actors' tmpfs (bytes). */
  actorDiskBytes: number;
  /** Buffer bound per actor (NEURALLOG_BUFFER_MAX_ROWS): small enough that a long outage reaches it. */
  bufferMaxRows: number;
  /** Aborted (Ctrl-C): the stack is stopped and the mounts undone, then the process exits. */
  signal?: AbortSignal;
  log(line: string): void;
}

export interface PhaseResult {
  fault: string;
  what: string;
  skipped?: string;
  notes: string[];
  durationMs: number;
  /** From the fault's end until every tenant had a batch acknowledged again. */
  resumeMs: number | null;
  /** From the fault's end until search found every record acknowledged by the time ingest resumed. */
  drainMs: number | null;
  /** What the client was answered from the fault's start until ingest resumed: status (0 = no answer) → count. */
  answers: Record<string, number>;
  /** Refusals (429, 503, 504) without a Retry-After in that window. */
  refusalsWithoutRetryAfter: number;
}

export interface SuiteResult {
  startedAt: string;
  runId: string;
  recordsPerSecond: number;
  tenants: { id: string; shards: number }[];
  mount: boolean;
  phases: PhaseResult[];
  tallies: { tenant: string; tally: Tally }[];
  /** Batches the stack refused for good (a 4xx to a canary). */
  refused: { tenant: string; status: number; key: string }[];
  /** Batches never acknowledged when the writer was stopped. */
  unacknowledged: number;
  /** Most active parts of one partition of the log table, sampled every 5 s. */
  maxPartsPerPartition: number;
  /** Lines of the stack's output that say "too many parts". */
  tooManyParts: number;
  /** 500s the client was answered during the whole run (each a bug: a refusal must be a 503). */
  serverErrors: number;
  /** 504s: the stack could not say whether a batch was stored (the client must guess; a refusal should be a 503). */
  unknownOutcomes: number;
  /** The stack's error and warning events by name: how many, and the first one. */
  events: Record<string, { count: number; example: string }>;
  totalMs: number;
}

const STEP_TIMEOUT_MS = 300_000;

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const started = Date.now();
  const { log } = options;
  await mkdir(options.dataDir, { recursive: true });
  const mount = await canMount();
  const cleanups: (() => Promise<void>)[] = [];
  let clickhouse: EmbeddedClickHouse | null = null;
  let stack: RunningStack | null = null;
  // The stack's error and warning events by name (`msg`): how many, and the first of each.
  const events = new Map<string, { count: number; example: string }>();
  let tooManyParts = 0;
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    await stack?.stop();
    await clickhouse?.close();
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => log(`cleanup: ${(err as Error).message}`));
  };
  options.signal?.addEventListener('abort', () => void teardown().finally(() => process.exit(130)), { once: true });
  try {
    if (mount) {
      cleanups.push(await mountTmpfs(actorStorageDir(options.dataDir), options.actorDiskBytes));
      // The bucket's blob directory exists before the first put, so that a bind mount can cover it.
      await mkdir(archiveBlobsDir(options.dataDir), { recursive: true });
    } else {
      log('mount is not permitted here: the disk-full and R2 faults are skipped');
    }
    clickhouse = await startEmbeddedClickHouse({ dataPath: join(options.dataDir, 'clickhouse'), port: await freePort() });
    const proxy = await startFaultProxy(clickhouse.url);
    cleanups.push(() => proxy.close());
    stack = await startStack({
      port: await freePort(),
      dataDir: options.dataDir,
      clickhouseUrl: proxy.url,
      embeddedClickHousePort: 0,
      workerEnv: { NEURALLOG_BUFFER_MAX_ROWS: String(options.bufferMaxRows) },
      onOutput: (line) => {
        if (/too many parts|TOO_MANY_PARTS/i.test(line)) tooManyParts++;
        // workerd's own account of an "internal error; reference = …" is a plain line, not an event.
        const event = /"level":"(?:error|warn)","msg":"([^"]{1,80})"/.exec(line)?.[1] ?? (/SQLITE|reference = /.test(line) ? 'workerd' : undefined);
        if (event === undefined) return;
        const seen = events.get(event);
        if (seen) seen.count++;
        else events.set(event, { count: 1, example: line.slice(0, 600) });
      },
    });
    const tenants = await createTenants(stack, options);
    log(`stack at ${stack.url}; tenants: ${tenants.map((t) => `${t.id}${t.shards > 1 ? ` (${t.shards} shards)` : ''}`).join(', ')}`);
    const runId = `cr${Date.now().toString(36)}`;
    const scope: CheckScope = { url: stack.url, runId, since: Date.now() };
    const writer = new CanaryWriter({ url: stack.url, runId, tenants, recordsPerSecond: options.recordsPerSecond, recordsPerBatch: options.recordsPerBatch });
    const partsSampler = sampleParts(clickhouse.url);
    writer.start();
    const ctx: FaultContext = { stack, proxy, dataDir: options.dataDir, log };
    const phases: PhaseResult[] = [];
    await sleep(options.settleS * 1000);
    for (const fault of options.faults) {
      if (fault.needsMount && !mount) {
        phases.push({
          fault: fault.name,
          what: fault.what,
          skipped: 'mount not permitted',
          notes: [],
          durationMs: 0,
          resumeMs: null,
          drainMs: null,
          answers: {},
          refusalsWithoutRetryAfter: 0,
        });
        continue;
      }
      log(`fault ${fault.name}: ${fault.what}`);
      const phase = await runPhase(fault, ctx, writer, scope);
      log(`  resumed ${fmt(phase.resumeMs)} after, drained ${fmt(phase.drainMs)} after; answers ${JSON.stringify(phase.answers)}`);
      phases.push(phase);
      await sleep(options.settleS * 1000);
    }
    log('stopping the writer; waiting for every batch to be acknowledged');
    const { unacknowledged } = await writer.stop(STEP_TIMEOUT_MS);
    await waitForDrain(writer, scope, writer.ackedRecords(), STEP_TIMEOUT_MS, log);
    const tallies: SuiteResult['tallies'] = [];
    for (const ledger of writer.ledgers.values()) tallies.push({ tenant: ledger.tenant.id, tally: await check(scope, ledger) });
    const maxPartsPerPartition = await partsSampler.stop();
    return {
      startedAt: new Date(started).toISOString(),
      runId,
      recordsPerSecond: options.recordsPerSecond,
      tenants: tenants.map((t) => ({ id: t.id, shards: t.shards })),
      mount,
      phases,
      tallies,
      refused: writer.refused,
      unacknowledged,
      maxPartsPerPartition,
      tooManyParts,
      serverErrors: writer.answers.filter((a) => a.status === 500).length,
      unknownOutcomes: writer.answers.filter((a) => a.status === 504).length,
      events: Object.fromEntries([...events].sort((a, b) => b[1].count - a[1].count)),
      totalMs: Date.now() - started,
    };
  } finally {
    await teardown();
  }
}

async function runPhase(fault: Fault, ctx: FaultContext, writer: CanaryWriter, scope: CheckScope): Promise<PhaseResult> {
  const startedAt = Date.now();
  const notes = await fault.run(ctx);
  const endedAt = Date.now();
  const resumedAt = await until(
    () => [...writer.ledgers.values()].every((l) => l.lastAckAt > endedAt),
    STEP_TIMEOUT_MS,
    () => ctx.log(`  waiting for acks: ${[...writer.ledgers.values()].map((l) => `${l.tenant.id} ${l.lastAckAt > endedAt ? 'acked' : 'not yet'}`).join(', ')}`),
  );
  const drainedAt = resumedAt === null ? null : await waitForDrain(writer, scope, writer.ackedRecords(), STEP_TIMEOUT_MS, ctx.log);
  const window = writer.answers.filter((a) => a.at >= startedAt && a.at <= (resumedAt ?? Date.now()));
  return {
    fault: fault.name,
    what: fault.what,
    notes,
    durationMs: endedAt - startedAt,
    resumeMs: resumedAt === null ? null : resumedAt - endedAt,
    drainMs: drainedAt === null ? null : drainedAt - endedAt,
    answers: countStatuses(window),
    refusalsWithoutRetryAfter: window.filter((a) => (a.status === 429 || a.status === 503 || a.status === 504) && a.retryAfter === null).length,
  };
}

function countStatuses(answers: AnswerEvent[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(String(a.status), (counts.get(String(a.status)) ?? 0) + 1);
  return Object.fromEntries([...counts].sort());
}

/** Polls until search counts at least `target` of the run's records; the moment it did, or null. */
async function waitForDrain(writer: CanaryWriter, scope: CheckScope, target: number, timeoutMs: number, log: (line: string) => void): Promise<number | null> {
  let found = 0;
  return until(
    async () => {
      found = 0;
      for (const ledger of writer.ledgers.values()) found += await countFound(scope, ledger);
      return found >= target;
    },
    timeoutMs,
    () => log(`  draining: ${found} of ${target} acknowledged records found`),
  );
}

/** Polls `done` until it holds (the moment it did) or the time is up (null); `progress` every 15 s. */
async function until(done: () => boolean | Promise<boolean>, timeoutMs: number, progress?: () => void): Promise<number | null> {
  const started = Date.now();
  let reported = started;
  while (Date.now() < started + timeoutMs) {
    if (await done()) return Date.now();
    if (progress && Date.now() - reported > 15_000) {
      reported = Date.now();
      progress();
    }
    await sleep(250);
  }
  return null;
}

/** The canary tenants, each with a key that writes and reads: `tenants` with one actor, and one sharded. */
async function createTenants(stack: RunningStack, options: SuiteOptions): Promise<CanaryTenant[]> {
  const admin = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${stack.url}/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.platformAdminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const suffix = Date.now().toString(36);
  const specs = [
    ...Array.from({ length: options.tenants }, (_, i) => ({ id: `canary-${suffix}-${i}`, shards: 1 })),
    { id: `canary-${suffix}-sharded`, shards: options.shards },
  ];
  const tenants: CanaryTenant[] = [];
  for (const spec of specs) {
    await admin('POST', '/tenants', { id: spec.id, name: spec.id, plan: 'enterprise' });
    // The enterprise plan shards a tenant over 8 actors: the single-actor tenants are set to 1.
    await admin('PATCH', `/tenants/${spec.id}`, { shardCount: spec.shards });
    const { key } = (await admin('POST', `/tenants/${spec.id}/keys`, { name: 'canary', scopes: ['logs:write', 'logs:read'] })) as { key: string };
    tenants.push({ id: spec.id, key, shards: spec.shards });
  }
  return tenants;
}

/** Samples the most active parts in one partition of the log table every 5 s (straight from ClickHouse). */
function sampleParts(clickhouseUrl: string): { stop(): Promise<number> } {
  let max = 0;
  const sql =
    "SELECT max(c) FROM (SELECT partition, count() AS c FROM system.parts WHERE database = 'neurallog' AND table = 'logs' AND active GROUP BY partition) FORMAT TabSeparated";
  const sample = async () => {
    try {
      const res = await fetch(`${clickhouseUrl}/?query=${encodeURIComponent(sql)}`);
      const value = Number((await res.text()).trim());
      if (res.ok && Number.isFinite(value)) max = Math.max(max, value);
    } catch {
      // a sample missed
    }
  };
  const timer = setInterval(() => void sample(), 5_000);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      return max;
    },
  };
}

export function fmt(ms: number | null): string {
  return ms === null ? 'never (timed out)' : `${(ms / 1000).toFixed(1)} s`;
}
