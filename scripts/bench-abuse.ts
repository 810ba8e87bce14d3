/**
 * `npm run bench:abuse` (issue 20, "Abuse"): the timing half of two abuse
 * cases, on the stack as `npm start` starts it (own process tree, data
 * directory and free ports). The deterministic half — no look-up for a bad
 * checksum, 429 + Retry-After for the flooder and every neighbour record
 * stored — is in `npm test` (test/ingest/bad-key-lookups.test.ts,
 * test/ingest/tenant-flood.test.ts).
 *
 * (a) A flood of unauthenticated requests with made-up keys (bad checksums),
 *     closed loop over ABUSE_FLOOD_CONNECTIONS connections: requests/s
 *     refused, and workerd's CPU per refused request (its CPU during the flood
 *     phase minus the same phase's length of its CPU without the flood,
 *     divided by the refusals).
 * (b) A tenant on the starter plan (1,000 records/s) offering 100× its rate.
 * (c) The same with the tenant's ingest sharded over SHARDED_FLOODER_SHARDS
 *     actors (each holds 1/N of the rate; the requests carry no
 *     Idempotency-Key, so each goes to a shard at random).
 *
 * In both, authenticated "victim" tenants send at a steady paced rate the
 * whole time, and their ack latency is compared between phases with and
 * without the abuse, alternated ABUSE_ROUNDS times within one run; the figures
 * are the medians over rounds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../shared/api-keys.ts';
import { admin, startStackProcess, type Stack } from './bench-stack.ts';
import { createSender, recordsBody, type Sender } from './load/sender.ts';
import { median, percentile } from './load/stack-probe.ts';
import { cpuSnapshot } from './process-cpu.ts';

const ROUNDS = Number(process.env.ABUSE_ROUNDS ?? 3);
const PHASE_SECONDS = Number(process.env.ABUSE_PHASE_SECONDS ?? 15);
const VICTIMS = 2;
/** Each victim: a batch of VICTIM_BATCH records every VICTIM_INTERVAL_MS. */
const VICTIM_BATCH = 100;
const VICTIM_INTERVAL_MS = Number(process.env.ABUSE_VICTIM_INTERVAL_MS ?? 100);
const FLOOD_CONNECTIONS = Number(process.env.ABUSE_FLOOD_CONNECTIONS ?? 16);
const FLOOD_BATCH = 1000;
const FLOOD_FACTOR = 100;
const SHARDED_FLOODER_SHARDS = 4;

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

function workerdCpu(): number {
  let total = 0;
  for (const [label, seconds] of cpuSnapshot()) if (label.startsWith('workerd')) total += seconds;
  return total;
}

async function tenantWithKey(stack: Stack, id: string, plan: string, shardCount = 1): Promise<string> {
  await admin(stack, 'POST', '/tenants', { id, name: id, plan });
  await admin(stack, 'PATCH', `/tenants/${id}`, { shardCount });
  const { key } = (await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'abuse', scopes: ['logs:write'] })) as { key: string };
  return `Bearer ${key}`;
}

/** The victims' paced load for `seconds`: their ack latencies (sorted) and anything not acknowledged. */
async function victimsFor(sender: Sender, auths: string[], seconds: number): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; performance.now() - started < seconds * 1000; i++) {
    const wait = started + i * (VICTIM_INTERVAL_MS / auths.length) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      sender.post('/v1/logs', auths[i % auths.length]!, recordsBody(VICTIM_BATCH, 'victim', i)).then(
        (res) => {
          if (res.status === 202) latencies.push(res.ms);
          else failed++;
        },
        () => void failed++,
      ),
    );
  }
  await Promise.all(pending);
  return { latencies: latencies.sort((a, b) => a - b), failed };
}

interface Abuse {
  start(): void;
  stop(): Promise<{ requests: number; byStatus: Map<number, number>; retryAfterSeen: number }>;
}

/** Closed-loop sender of `body` with `auth` over FLOOD_CONNECTIONS connections, until stopped; `paceMs` spaces requests per connection. */
function flood(sender: Sender, auth: () => string, body: Buffer, paceMs = 0): Abuse {
  let running = false;
  let loops: Promise<void>[] = [];
  let requests = 0;
  let retryAfterSeen = 0;
  const byStatus = new Map<number, number>();
  return {
    start() {
      running = true;
      loops = Array.from({ length: FLOOD_CONNECTIONS }, async () => {
        while (running) {
          const t0 = performance.now();
          const res = await sender.post('/v1/logs', auth(), body).catch(() => ({ status: 0, retryAfter: null }));
          requests++;
          byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
          if (res.retryAfter !== null) retryAfterSeen++;
          const rest = paceMs - (performance.now() - t0);
          if (rest > 0) await new Promise((r) => setTimeout(r, rest));
        }
      });
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { requests, byStatus, retryAfterSeen };
    },
  };
}

interface PhaseFigures {
  p50: number;
  p99: number;
  failed: number;
  abuseRequests: number;
  byStatus: Map<number, number>;
  retryAfterSeen: number;
  workerdCpu: number;
  seconds: number;
}

async function phase(sender: Sender, victims: string[], abuse: Abuse | null): Promise<PhaseFigures> {
  const cpu0 = workerdCpu();
  const t0 = performance.now();
  abuse?.start();
  const { latencies, failed } = await victimsFor(sender, victims, PHASE_SECONDS);
  const a = (await abuse?.stop()) ?? { requests: 0, byStatus: new Map(), retryAfterSeen: 0 };
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failed,
    abuseRequests: a.requests,
    byStatus: a.byStatus,
    retryAfterSeen: a.retryAfterSeen,
    workerdCpu: workerdCpu() - cpu0,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function compare(name: string, sender: Sender, victims: string[], makeAbuse: () => Abuse) {
  const rounds: { without: PhaseFigures; with: PhaseFigures }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const without = await phase(sender, victims, null);
    const withAbuse = await phase(sender, victims, makeAbuse());
    rounds.push({ without, with: withAbuse });
    log(
      `${name} round ${r + 1}: victims p99 ${fmt(without.p99)} → ${fmt(withAbuse.p99)} ms; abuse ${fmt(withAbuse.abuseRequests / withAbuse.seconds, 0)} req/s (${[...withAbuse.byStatus].map(([s, n]) => `${s}: ${n}`).join(', ')})`,
    );
  }
  return rounds;
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-abuse-'));
const stack = await startStackProcess(dataDir);
const sender = createSender(stack.url, 512);
try {
  const run = `abuse-${Date.now().toString(36)}`;
  const victims = await Promise.all(Array.from({ length: VICTIMS }, (_, i) => tenantWithKey(stack, `${run}-victim-${i}`, 'enterprise')));
  const flooder = await tenantWithKey(stack, `${run}-flooder`, 'starter');
  const shardedFlooder = await tenantWithKey(stack, `${run}-sharded-flooder`, 'starter', SHARDED_FLOODER_SHARDS);
  // Warm the victims' actors and key caches.
  await victimsFor(sender, victims, 3);

  // (a) Made-up keys: a fresh random id and secret each time, with the checksum's last character changed.
  const badKey = () => {
    const { key } = generateApiKey();
    return `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
  };
  const badKeys = await compare('bad keys', sender, victims, () => flood(sender, badKey, Buffer.from('[{"message":"flood"}]')));

  // (b) The starter plan's 1,000 records/s × 100: 100 requests of 1,000 records a second over the connections, paced.
  const flooderRate = 1000 * FLOOD_FACTOR;
  const paceMs = (FLOOD_CONNECTIONS * FLOOD_BATCH * 1000) / flooderRate;
  const tenantFlood = await compare('tenant flood', sender, victims, () => flood(sender, () => flooder, recordsBody(FLOOD_BATCH, 'flood', 0), paceMs));
  const shardedFlood = await compare('sharded tenant flood', sender, victims, () =>
    flood(sender, () => shardedFlooder, recordsBody(FLOOD_BATCH, 'flood', 0), paceMs),
  );

  const med = (xs: number[]) => median(xs);
  const section = (rounds: typeof badKeys, what: 'bad keys' | 'tenant flood') => {
    const rows = rounds.map(
      (r, i) =>
        `| ${i + 1} | ${fmt(r.without.p50)} / ${fmt(r.without.p99)} | ${fmt(r.with.p50)} / ${fmt(r.with.p99)} | ${fmt(r.with.abuseRequests / r.with.seconds, 0)} | ${[...r.with.byStatus].map(([s, n]) => `${s}: ${n}`).join(', ')} | ${r.without.failed + r.with.failed} |`,
    );
    const p99Without = med(rounds.map((r) => r.without.p99));
    const p99With = med(rounds.map((r) => r.with.p99));
    const p50Without = med(rounds.map((r) => r.without.p50));
    const p50With = med(rounds.map((r) => r.with.p50));
    const lines = [
      `| round | victims p50 / p99 ms without | with ${what} | ${what} requests/s | their answers | victim batches not acked |`,
      '|---:|---:|---:|---:|---|---:|',
      ...rows,
      '',
      `Median over rounds: victims' p99 ${fmt(p99Without)} ms without, ${fmt(p99With)} ms with (${fmt(((p99With - p99Without) / p99Without) * 100)} %); p50 ${fmt(p50Without)} → ${fmt(p50With)} ms (×${fmt(p50With / p50Without, 2)}); p99 ×${fmt(p99With / p99Without, 2)}.`,
    ];
    // workerd's CPU per abusive request: its CPU in the phase with the abuse, less the victims' own (the phase without, scaled to the same length).
    const cpuPer = rounds.map((r) => {
      const extra = r.with.workerdCpu - (r.without.workerdCpu * r.with.seconds) / r.without.seconds;
      return (extra / Math.max(1, r.with.abuseRequests)) * 1e6;
    });
    const cpuLine = `workerd CPU per ${what === 'bad keys' ? 'refused' : 'flood'} request (above the victims' own): median ${fmt(med(cpuPer), 0)} µs (rounds: ${cpuPer.map((x) => fmt(x, 0)).join(', ')}).`;
    if (what === 'bad keys') {
      lines.push(`Refused: median ${fmt(med(rounds.map((r) => (r.with.byStatus.get(401) ?? 0) / r.with.seconds)), 0)} requests/s with 401; ${cpuLine}`);
    } else {
      lines.push(cpuLine);
      lines.push(
        `The flooder offered ${fmt(flooderRate, 0)} records/s (${FLOOD_FACTOR}× its plan's 1,000/s); answers with Retry-After: ${rounds.map((r) => r.with.retryAfterSeen).join(', ')} (of ${rounds.map((r) => r.with.byStatus.get(429) ?? 0).join(', ')} 429s).`,
      );
    }
    return lines.join('\n');
  };
  console.log(
    [
      '',
      `ABUSE_ROUNDS=${ROUNDS} ABUSE_PHASE_SECONDS=${PHASE_SECONDS} npm run bench:abuse (${new Date().toISOString().slice(0, 10)}, machine shared with other agents' tests)`,
      `Victims: ${VICTIMS} enterprise tenants, ${VICTIM_BATCH} records every ${VICTIM_INTERVAL_MS} ms in all (${fmt((VICTIM_BATCH * 1000) / VICTIM_INTERVAL_MS, 0)} records/s), open loop; abuse over ${FLOOD_CONNECTIONS} connections; phases of ${PHASE_SECONDS} s alternated.`,
      '',
      '(a) Bad keys',
      '',
      section(badKeys, 'bad keys'),
      '',
      '(b) A tenant flooding 100× its rate',
      '',
      section(tenantFlood, 'tenant flood'),
      '',
      `(c) The same tenant's ingest over ${SHARDED_FLOODER_SHARDS} shards, flooding 100× its rate`,
      '',
      section(shardedFlood, 'tenant flood'),
      '',
    ].join('\n'),
  );
} finally {
  sender.close();
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
