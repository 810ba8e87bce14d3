/**
 * `npm run profile:ingest`: a CPU profile of the ingest worker's isolate — the
 * ingest worker and the TenantActor it hosts — under the bench's kind of load
 * (8 clients POSTing 1,000-record JSON batches to /v1/logs for
 * PROFILE_SECONDS, then 3 s for the flushes), through workerd's own
 * inspector (wrangler's inspector shows only the first worker). Prints self
 * time per function in µs per record, and writes the profile to
 * PROFILE_OUT (default /tmp/ingest.cpuprofile) for Chrome DevTools.
 *
 * PROFILE_RATE (requests/s) sends open-loop at that rate instead of 8 clients
 * as fast as they can: on a shared machine the closed-loop rate swings from
 * run to run, and with it the share of per-second work (flushes, alarms,
 * timers) in each record's CPU; at a fixed rate two runs' CPU per request
 * compare.
 *
 * PROFILE_WORKERS (default `neurallog-ingest`) names the workers whose
 * isolates are profiled, comma-separated — `neurallog-ingest,neurallog-platform-logs,neurallog-gateway`
 * splits the self-logging's cost between the tail worker and the rest; each
 * profile goes to PROFILE_OUT with the worker's name before the extension. It
 * also prints workerd's whole CPU per record (/proc): what the isolates' JS
 * does not account for is the runtime's own (I/O, RPC, tail events, GC threads).
 *
 * A sampling profile (200 µs): a function that runs once per request shows
 * about 0.2 µs/record per sample it catches, so per-request costs below that
 * are noise; per-record costs are what it measures well.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStackProcess } from './bench-stack.ts';
import { devtools, type Profile, selfTimes } from './cpu-profile.ts';
import { freePort } from './ports.ts';
import { cpuDelta, cpuSnapshot, processTree } from './process-cpu.ts';

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 15);
const RATE = Number(process.env.PROFILE_RATE ?? 0);
const OUT = process.env.PROFILE_OUT ?? '/tmp/ingest.cpuprofile';
const BATCH = 1000;
const WORKERS = (process.env.PROFILE_WORKERS ?? 'neurallog-ingest')
  .split(',')
  .map((w) => w.trim())
  .filter((w) => w !== '');

/** The ws:// address of a worker's isolate in this stack's workerd (started with an inspector on NEURALLOG_INSPECTOR_PORT; other stacks on the machine may have theirs). */
async function isolateUrl(name: string): Promise<string> {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  const ours = new Set(processTree(process.pid));
  const pid = ps
    .map((l) => l.trim().split(/\s+/))
    .find(([p, ...args]) => ours.has(Number(p)) && args.join(' ').includes('workerd') && args.join(' ').includes('--inspector-addr'))?.[0];
  if (!pid) throw new Error('no workerd with an inspector is running');
  const ports = [...execFileSync('ss', ['-ltnp'], { encoding: 'utf8' }).matchAll(new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${pid},`, 'g'))].map((m) => m[1]!);
  const titles: string[] = [];
  for (const port of ports) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { title: string; id: string }[];
      const found = list.find((t) => t.title === `workerd: worker ${name}`);
      if (found) return `ws://127.0.0.1:${port}/${found.id}`;
      titles.push(...list.map((t) => t.title));
    } catch {
      // not the inspector
    }
  }
  throw new Error(`no inspector target for ${name} (there are: ${titles.join(', ')})`);
}

process.env.NEURALLOG_INSPECTOR_PORT = String(await freePort());
const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-profile-'));
const stack = await startStackProcess(dataDir);
try {
  const body = Buffer.from(
    JSON.stringify(
      Array.from({ length: BATCH }, (_, i) => ({
        timestamp: new Date().toISOString(),
        level: i % 10 === 0 ? 'error' : 'info',
        service: `svc-${i % 7}`,
        message: `PacketResponder ${i % 3} for block blk_${1000000 + i} terminating after ${i % 97} ms on host 10.0.${i % 255}.${i % 13}`,
        host: `node-${i % 50}`,
      })),
    ),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${stack.url}/v1/logs`,
        { method: 'POST', agent, headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  for (let i = 0; i < 20; i++) await post(); // warm-up: JIT, actor, first flushes

  const inspectors = await Promise.all(WORKERS.map(async (worker) => devtools(await isolateUrl(`core:user:${worker}`))));
  for (const inspector of inspectors) {
    await inspector.send('Profiler.enable');
    await inspector.send('Profiler.setSamplingInterval', { interval: 200 });
    await inspector.send('Profiler.start');
  }
  const cpuBefore = cpuSnapshot();
  const deadline = Date.now() + SECONDS * 1000;
  let requests = 0;
  if (RATE > 0) {
    const sent: Promise<void>[] = [];
    for (let i = 0; Date.now() < deadline; i++) {
      sent.push(post().then(() => void requests++));
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - SECONDS * 1000 + ((i + 1) * 1000) / RATE - Date.now())));
    }
    await Promise.all(sent);
  } else {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < deadline) {
          await post();
          requests++;
        }
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 3_000)); // the flushes of the last batches
  const cpu = cpuDelta(cpuBefore, cpuSnapshot());
  const profiles = await Promise.all(inspectors.map(async (inspector) => ((await inspector.send('Profiler.stop')) as { profile: Profile }).profile));
  for (const inspector of inspectors) inspector.close();
  agent.destroy();

  const records = requests * BATCH;
  console.log(`${requests} requests, ${records.toLocaleString('en')} records in ${SECONDS} s (+3 s for the flushes)`);
  for (const [name, seconds] of cpu) {
    console.log(
      `  process CPU ${seconds.toFixed(2).padStart(6)} s  ${((seconds / records) * 1e6).toFixed(1).padStart(5)} µs/record  ${((seconds / requests) * 1e3).toFixed(2).padStart(6)} ms/request  ${name}`,
    );
  }
  for (const [i, worker] of WORKERS.entries()) {
    const profile = profiles[i]!;
    const out = WORKERS.length === 1 ? OUT : OUT.replace(/(\.cpuprofile)?$/, `.${worker}$1`);
    await writeFile(out, JSON.stringify(profile));
    const { busy, self } = selfTimes(profile);
    console.log(`\n${worker} isolate busy ${(busy / 1e6).toFixed(1)} s = ${(busy / records).toFixed(1)} µs/record; profile: ${out}`);
    console.log('self time, µs per record (top 30):');
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(us / records).toFixed(2).padStart(6)}  ${k}`);
  }
} finally {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
