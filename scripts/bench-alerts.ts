/**
 * `npm run bench:alerts`: the cost of alerting on the local stack (issue 16).
 *
 * 1. Starts the stack as `npm start` does (own data directory, own process
 *    tree) and creates BENCH_ALERT_TENANTS tenants (default 100), each with
 *    10 rules at 1 m intervals (1,000 rules): four fast-path thresholds by
 *    service over 1 m, two ratios by service over 5 m, two absences and two
 *    thresholds over 5 m without group-by — three distinct (window, group-by)
 *    pairs per tenant, so batching makes 10 rules cost 3 queries a minute.
 *    None fires (thresholds far above the load) except the probes below.
 * 2. Ingest rate without alerting, then with the rules, then without again
 *    (rules deleted): BENCH_CONCURRENCY clients POST 1,000-record batches to
 *    random tenants for BENCH_SECONDS each phase. Ratio = with / mean(without).
 * 3. While the rules are on: fast-path fire latency — every 500 ms a probe
 *    record (a new group of a `groupBy attr.probe` rule of one of 10 probe
 *    tenants) is sent; the bench's own webhook receiver notes when its
 *    notification arrives; latency = arrival − acknowledgement.
 * 4. Evaluation cost, idle (no ingest) for BENCH_IDLE_SECONDS with the rules
 *    on: ClickHouse queries and rule evaluations per minute (summed from
 *    GET /v1/alerts of every tenant), CPU of workerd and of the embedded
 *    ClickHouse per rule evaluation (from /proc, minus an idle period without
 *    rules of the same length).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, startStackProcess, type Stack } from './bench-stack.ts';
import { cpuDelta, cpuSnapshot, type CpuByCommand } from './process-cpu.ts';

const TENANTS = Number(process.env.BENCH_ALERT_TENANTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 120);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const BATCH = 1000;
const PROBE_TENANTS = 10;
const SERVICES = ['api', 'web', 'db', 'auth', 'mail'];

const tag = Date.now().toString(36);
const tenants = Array.from({ length: TENANTS }, (_, i) => `bench-al-${tag}-${i}`);
const keys = new Map<string, string>();
const ruleIds = new Map<string, string[]>();

function rulesOf(i: number): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (let s = 0; s < 4; s++) {
    rules.push({
      name: `errors ${s}`,
      query: `level:error service:${SERVICES[s]}`,
      groupBy: ['service'],
      condition: { kind: 'threshold', op: '>', value: 1e9, window: '1m' },
    });
  }
  for (let s = 0; s < 2; s++) {
    rules.push({
      name: `ratio ${s}`,
      query: `level:error service:${SERVICES[s]}`,
      groupBy: ['service'],
      condition: { kind: 'ratio', denominator: '', op: '>', value: 0.99, window: '5m' },
    });
  }
  for (let s = 0; s < 2; s++) {
    rules.push({ name: `silence ${s}`, query: `service:${SERVICES[s]}`, condition: { kind: 'absence', below: 1, window: '5m' } });
  }
  for (let s = 0; s < 2; s++)
    rules.push({ name: `timeouts ${s}`, query: `timeout service:${SERVICES[s + 2]}`, condition: { kind: 'threshold', op: '>', value: 1e9, window: '5m' } });
  void i;
  return rules.map((r) => ({ interval: '1m', ...r }));
}

// biome-ignore lint/suspicious/noExplicitAny: the bench reads a few fields of several answers.
async function call(stack: Stack, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function batchBody(): string {
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    const service = SERVICES[i % SERVICES.length]!;
    const level = i % 10 === 0 ? 'error' : 'info';
    lines.push(
      JSON.stringify({
        timestamp: new Date(now).toISOString(),
        service,
        level,
        message: `request ${i} served in ${i % 97} ms by ${service}`,
        route: `/v1/items/${i % 50}`,
      }),
    );
  }
  return lines.join('\n');
}

/** BENCH_CONCURRENCY clients posting batches to random tenants for `seconds`; records acknowledged per second. */
async function load(stack: Stack, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(`${stack.url}/v1/logs`);
  const body = batchBody();
  const deadline = Date.now() + seconds * 1000;
  let acked = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        const tenant = tenants[Math.floor(Math.random() * tenants.length)]!;
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(
            url,
            { method: 'POST', agent, headers: { authorization: `Bearer ${keys.get(tenant)}`, 'content-type': 'application/x-ndjson' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        if (status === 202) acked += BATCH;
        else if (status !== 429 && status !== 503) throw new Error(`POST /v1/logs: ${status}`);
      }
    }),
  );
  agent.destroy();
  return acked / ((Date.now() - started) / 1000);
}

async function stats(stack: Stack): Promise<{ queries: number; ruleEvaluations: number; queryMs: number }> {
  const total = { queries: 0, ruleEvaluations: 0, queryMs: 0 };
  await pool(tenants, 8, async (t) => {
    const { evaluation } = await call(stack, keys.get(t)!, 'GET', '/v1/alerts');
    total.queries += evaluation.queries;
    total.ruleEvaluations += evaluation.ruleEvaluations;
    total.queryMs += evaluation.queryMs;
  });
  return total;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

function cpuOf(delta: [string, number][], prefix: string): number {
  return delta.filter(([name]) => name.startsWith(prefix)).reduce((n, [, s]) => n + s, 0);
}

async function idleCpu(seconds: number): Promise<[string, number][]> {
  const before: CpuByCommand = cpuSnapshot();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return cpuDelta(before, cpuSnapshot());
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-alerts-'));
  // The probes' receiver: when each probe's notification arrived.
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status: string; group: Record<string, string> };
        const probe = body.group['attr.probe'];
        if (body.status === 'firing' && probe && !arrivals.has(probe)) arrivals.set(probe, Date.now());
      } catch {
        // not ours
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

  const stack = await startStackProcess(dataDir);
  try {
    console.log(`NeuralLog alerts bench: ${TENANTS} tenants × 10 rules, ${SECONDS} s load phases, ${IDLE_SECONDS} s idle phases, ${CONCURRENCY} clients`);
    await pool(tenants, 8, async (t) => {
      await admin(stack, 'POST', '/tenants', { id: t, name: t, plan: 'enterprise' });
      const { key } = (await admin(stack, 'POST', `/tenants/${t}/keys`, { name: 'bench', scopes: ['logs:write', 'logs:read', 'alerts:write'] })) as {
        key: string;
      };
      keys.set(t, key);
    });

    const idleWithout = await idleCpu(IDLE_SECONDS);
    const rateWithout1 = await load(stack, SECONDS);
    console.log(`ingest without alerting: ${Math.round(rateWithout1).toLocaleString('en')} records/s`);

    const createStarted = Date.now();
    await pool(tenants, 8, async (t) => {
      const ids: string[] = [];
      for (const rule of rulesOf(0)) ids.push((await call(stack, keys.get(t)!, 'POST', '/v1/alerts/rules', rule)).id);
      ruleIds.set(t, ids);
    });
    const probeTenants = tenants.slice(0, PROBE_TENANTS);
    for (const t of probeTenants) {
      const target = await call(stack, keys.get(t)!, 'POST', '/v1/alerts/targets', { name: 'bench receiver', kind: 'webhook', url: receiverUrl });
      const probe = await call(stack, keys.get(t)!, 'POST', '/v1/alerts/rules', {
        name: 'probe',
        query: 'service:probe',
        groupBy: ['attr.probe'],
        condition: { kind: 'threshold', op: '>=', value: 1, window: '1m' },
        interval: '1m',
        targets: [target.id],
      });
      ruleIds.get(t)!.push(probe.id);
    }
    console.log(`created ${TENANTS * 10 + PROBE_TENANTS} rules in ${((Date.now() - createStarted) / 1000).toFixed(1)} s`);

    // Load with the rules on, probes alongside.
    const acks = new Map<string, number>();
    const sends = new Map<string, number>();
    let probing = true;
    const probes = (async () => {
      let n = 0;
      while (probing) {
        const t = probeTenants[n % probeTenants.length]!;
        const id = `p${n++}`;
        sends.set(id, Date.now());
        await call(stack, keys.get(t)!, 'POST', '/v1/logs', [{ service: 'probe', level: 'error', message: 'probe', probe: id }]);
        acks.set(id, Date.now());
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const rateWith = await load(stack, SECONDS);
    probing = false;
    await probes;
    await new Promise((r) => setTimeout(r, 5_000));
    // From the acknowledgement (negative: the notification beat the answer to the client) and from the send.
    const latencies = [...acks].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id)! - at);
    const fromSend = [...sends].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id)! - at);
    console.log(`ingest with alerting:    ${Math.round(rateWith).toLocaleString('en')} records/s`);

    // Evaluation cost at rest.
    const before = await stats(stack);
    const idleWith = await idleCpu(IDLE_SECONDS);
    const after = await stats(stack);

    await pool(tenants, 8, async (t) => {
      for (const id of ruleIds.get(t) ?? []) await call(stack, keys.get(t)!, 'DELETE', `/v1/alerts/rules/${id}`);
    });
    const rateWithout2 = await load(stack, SECONDS);
    console.log(`ingest without alerting: ${Math.round(rateWithout2).toLocaleString('en')} records/s (rules deleted)`);

    const minutes = IDLE_SECONDS / 60;
    const evaluations = after.ruleEvaluations - before.ruleEvaluations;
    const queries = after.queries - before.queries;
    const workerdCpu = cpuOf(idleWith, 'workerd') - cpuOf(idleWithout, 'workerd');
    const engineCpu = cpuOf(idleWith, 'npm start') - cpuOf(idleWithout, 'npm start');
    const rateWithout = (rateWithout1 + rateWithout2) / 2;
    console.log('\nResults');
    console.log(`  rules: ${TENANTS * 10 + PROBE_TENANTS} over ${TENANTS} tenants, 1 m intervals`);
    console.log(
      `  rule evaluations per minute: ${Math.round(evaluations / minutes)}; ClickHouse queries per minute: ${Math.round(queries / minutes)} (${(evaluations / Math.max(1, queries)).toFixed(2)} rules per query)`,
    );
    console.log(`  mean query time: ${((after.queryMs - before.queryMs) / Math.max(1, queries)).toFixed(1)} ms`);
    console.log(
      `  CPU per rule evaluation: workerd ${((workerdCpu * 1e3) / Math.max(1, evaluations)).toFixed(2)} ms, embedded ClickHouse ${((engineCpu * 1e3) / Math.max(1, evaluations)).toFixed(2)} ms (idle with rules − idle without, ${IDLE_SECONDS} s each)`,
    );
    console.log(
      `  ingest: ${Math.round(rateWith).toLocaleString('en')} records/s with alerting vs ${Math.round(rateWithout).toLocaleString('en')} without (ratio ${(rateWith / rateWithout).toFixed(2)})`,
    );
    console.log(
      `  fast-path fire latency (acknowledged → webhook received): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms over ${latencies.length}/${acks.size} probes; from the send: p50 ${percentile(fromSend, 50)} ms, p99 ${percentile(fromSend, 99)} ms`,
    );
  } finally {
    await stack.stop();
    receiver.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
