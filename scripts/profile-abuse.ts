/**
 * `npm run profile:abuse` (issue 20, "Abuse"): where workerd's CPU goes for a
 * refused request. Floods the stack (as `npm start` starts it) with requests
 * that are refused — made-up keys (bad checksums), then a starter tenant far
 * over its rate — over 16 connections, closed loop, for PROFILE_SECONDS each,
 * with a sampling CPU profile of every isolate of the workerd (Miniflare's
 * entry worker, the gateway, the ingest worker and its actors, the
 * simulators). Prints, per refused request: workerd's CPU (from /proc), each
 * isolate's JavaScript time, and the functions with the most self time.
 * workerd's CPU less the isolates' JavaScript is its C++ side: HTTP parsing,
 * the service-binding hop, streams.
 *
 * No other load runs meanwhile, so every CPU second is the flood's; the CPU
 * per request is measured in a phase without the profiler, then the profile
 * is taken in a second phase (PROFILE_INSPECTOR=0 skips it). Read the
 * profiles with care: the isolates share workerd's one thread, and each
 * isolate's sampler also counts time in which another isolate runs (their
 * sums exceed workerd's CPU), so compare functions within an isolate, and
 * take the per-request CPU from /proc.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../shared/api-keys.ts';
import { admin, startStackProcess, type Stack } from './bench-stack.ts';
import { createSender, recordsBody, type Sender } from './load/sender.ts';
import { freePort } from './ports.ts';
import { cpuSnapshot } from './process-cpu.ts';
import { devtools, type Profile, selfTimes } from './cpu-profile.ts';
import { inspectorTargets } from './workerd-inspector.ts';

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const INTERVAL_US = Number(process.env.PROFILE_INTERVAL_US ?? 500);
const CONNECTIONS = 16;
/** PROFILE_INSPECTOR=0: workerd's CPU per request only, no profiles (for before/after runs). */
const PROFILE = process.env.PROFILE_INSPECTOR !== '0';
const OUT_DIR = process.env.PROFILE_OUT_DIR ?? tmpdir();

function workerdCpu(): number {
  let total = 0;
  for (const [label, seconds] of cpuSnapshot()) if (label.startsWith('workerd')) total += seconds;
  return total;
}

/** A tenant on `plan` with a write key; `shardCount` as the admin API sets it. */
async function tenantWithKey(stack: Stack, id: string, plan: string, shardCount: number): Promise<string> {
  await admin(stack, 'POST', '/tenants', { id, name: id, plan });
  await admin(stack, 'PATCH', `/tenants/${id}`, { shardCount });
  const { key } = (await admin(stack, 'POST', `/tenants/${id}/keys`, { name: 'abuse', scopes: ['logs:write'] })) as { key: string };
  return `Bearer ${key}`;
}

/** Closed loop over CONNECTIONS connections for `seconds`: answers by status. */
async function flood(sender: Sender, auth: () => string, body: Buffer, seconds: number, path = '/v1/logs'): Promise<Map<number, number>> {
  const byStatus = new Map<number, number>();
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const res = await sender.post(path, auth(), body).catch(() => ({ status: 0 }));
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      }
    }),
  );
  return byStatus;
}

/** The isolates whose JavaScript a refused request runs: Miniflare's entry and assets router (local only), the gateway, the ingest worker. */
const PROFILED = ['core:entry', 'assets:rpc-proxy:neurallog', 'assets:router:neurallog', 'core:user:neurallog', 'core:user:neurallog-ingest'];

const count = (byStatus: Map<number, number>) => [...byStatus.values()].reduce((a, b) => a + b, 0);
const statuses = (byStatus: Map<number, number>) => [...byStatus].map(([s, n]) => `${s}: ${n}`).join(', ');

async function profiled(name: string, sender: Sender, auth: () => string, body: Buffer, path = '/v1/logs'): Promise<void> {
  await flood(sender, auth, body, 2, path); // warm-up: JIT, key caches, the memo's first refusal
  // First without the profiler: workerd's CPU per request from /proc.
  const cpu0 = workerdCpu();
  const plain = await flood(sender, auth, body, SECONDS, path);
  const cpu = workerdCpu() - cpu0;
  const plainRequests = count(plain);
  console.log(`\n== ${name} (${path}): ${plainRequests} requests in ${SECONDS} s (${(plainRequests / SECONDS).toFixed(0)}/s; ${statuses(plain)})`);
  console.log(`workerd CPU (all threads, /proc, no profiler): ${((cpu * 1e6) / plainRequests).toFixed(0)} µs per request`);

  if (!PROFILE) return;
  // Then with the profiler in our isolates: where the JavaScript time goes.
  const targets = (await inspectorTargets(inspectorPort)).filter((t) => PROFILED.includes(t.id));
  const sessions = await Promise.all(targets.map(async (t) => ({ target: t, tools: await devtools(t.webSocketDebuggerUrl) })));
  for (const { tools } of sessions) {
    await tools.send('Profiler.enable');
    await tools.send('Profiler.setSamplingInterval', { interval: INTERVAL_US });
    await tools.send('Profiler.start');
  }
  const byStatus = await flood(sender, auth, body, SECONDS, path);
  const profiles = await Promise.all(
    sessions.map(async ({ target, tools }) => ({ target, profile: ((await tools.send('Profiler.stop')) as { profile: Profile }).profile })),
  );
  for (const { tools } of sessions) tools.close();
  const requests = count(byStatus);
  const per = (us: number) => (us / requests).toFixed(1).padStart(7);
  console.log(
    `profiled: ${requests} requests (${statuses(byStatus)}); JavaScript self time per request, '(program)' (the isolate's native and unattributed time) apart:`,
  );
  const rows = profiles.map(({ target, profile }) => ({ target, ...selfTimes(profile) })).sort((a, b) => b.busy - a.busy);
  for (const row of rows) {
    const program = [...row.self].filter(([k]) => k.startsWith('(program)')).reduce((a, [, us]) => a + us, 0);
    console.log(`  ${row.target.id.padEnd(30)} ${per(row.busy - program)} µs (+ program ${per(program).trim()}, GC ${per(row.gc).trim()})`);
  }
  for (const row of rows) {
    const file = join(OUT_DIR, `abuse-${name.replace(/\W+/g, '-')}-${row.target.id.replace(/\W+/g, '-')}.cpuprofile`);
    await writeFile(file, JSON.stringify(profiles.find((p) => p.target === row.target)!.profile));
    console.log(`\n  ${row.target.id}: self time, µs per request (top 12; ${file})`);
    for (const [k, us] of [...row.self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${per(us)}  ${k}`);
  }
}

const inspectorPort = await freePort();
process.env.NEURALLOG_INSPECTOR_PORT = String(inspectorPort);
const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-profile-abuse-'));
const stack = await startStackProcess(dataDir);
const sender = createSender(stack.url, CONNECTIONS * 2);
try {
  const run = `profile-${Date.now().toString(36)}`;
  const badKey = () => {
    const { key } = generateApiKey();
    return `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
  };
  // The reference: a path the gateway itself answers (404), without the service-binding hop.
  await profiled('gateway 404', sender, badKey, Buffer.from('[{"message":"flood"}]'), '/v1/no-such-path');
  await profiled('bad keys', sender, badKey, Buffer.from('[{"message":"flood"}]'));
  const flooder = await tenantWithKey(stack, `${run}-flooder`, 'starter', 1);
  await profiled('tenant flood', sender, () => flooder, recordsBody(1000, 'flood', 0));
  if (process.env.PROFILE_SHARDED !== '0') {
    const sharded = await tenantWithKey(stack, `${run}-sharded`, 'starter', 4);
    await profiled('sharded tenant flood', sender, () => sharded, recordsBody(1000, 'flood', 0));
  }
} finally {
  sender.close();
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
