/**
 * `npm run profile:ingest`: a CPU profile of the ingest worker's isolate — the
 * ingest worker and the TenantActor it hosts — under the bench's kind of load
 * (8 clients POSTing 1,000-record JSON batches to /v1/logs for
 * PROFILE_SECONDS, then 3 s for the flushes), through workerd's own
 * inspector (wrangler's inspector shows only the first worker). Prints self
 * time per function in µs per record, and writes the profile to
 * PROFILE_OUT (default /tmp/ingest.cpuprofile) for Chrome DevTools.
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
import WebSocket from 'ws';
import { startStackProcess } from './bench-stack.ts';
import { freePort } from './ports.ts';

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 15);
const OUT = process.env.PROFILE_OUT ?? '/tmp/ingest.cpuprofile';
const BATCH = 1000;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The ws:// address of a worker's isolate in the stack's workerd (started with an inspector on NEURALLOG_INSPECTOR_PORT). */
async function isolateUrl(name: string): Promise<string> {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  const pid = ps
    .find((l) => l.includes('workerd') && l.includes('--inspector-addr'))
    ?.trim()
    .split(/\s+/)[0];
  if (!pid) throw new Error('no workerd with an inspector is running');
  const ports = [...execFileSync('ss', ['-ltnp'], { encoding: 'utf8' }).matchAll(new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${pid},`, 'g'))].map((m) => m[1]!);
  for (const port of ports) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { title: string; id: string }[];
      const found = list.find((t) => t.title === `workerd: worker ${name}`);
      if (found) return `ws://127.0.0.1:${port}/${found.id}`;
    } catch {
      // not the inspector
    }
  }
  throw new Error(`no inspector target for ${name}`);
}

function devtools(url: string): Promise<{ send: (method: string, params?: object) => Promise<unknown>; close: () => void }> {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map<number, (value: unknown) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result ?? msg.error);
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        send: (method, params = {}) =>
          new Promise((done) => {
            const n = ++id;
            pending.set(n, done);
            ws.send(JSON.stringify({ id: n, method, params }));
          }),
        close: () => ws.close(),
      }),
    );
  });
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

  const inspector = await devtools(await isolateUrl('core:user:neurallog-ingest'));
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.send('Profiler.start');
  const deadline = Date.now() + SECONDS * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < deadline) {
        await post();
        requests++;
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 3_000)); // the flushes of the last batches
  const { profile } = (await inspector.send('Profiler.stop')) as { profile: Profile };
  inspector.close();
  agent.destroy();
  await writeFile(OUT, JSON.stringify(profile));

  const records = requests * BATCH;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((nodeId, i) => {
    const frame = nodes.get(nodeId)!.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    const name = frame.functionName || '(anonymous)';
    if (name !== '(idle)') busy += us;
    const where = frame.url ? `${frame.url.replace(/^.*\//, '')}:${frame.lineNumber + 1}` : 'native';
    self.set(`${name}  ${where}`, (self.get(`${name}  ${where}`) ?? 0) + us);
  });
  console.log(
    `${requests} requests, ${records.toLocaleString('en')} records in ${SECONDS} s; ingest isolate busy ${(busy / 1e6).toFixed(1)} s = ${(busy / records).toFixed(1)} µs/record`,
  );
  console.log(`profile: ${OUT}\n\nself time, µs per record (top 30):`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(us / records).toFixed(2).padStart(6)}  ${k}`);
} finally {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
