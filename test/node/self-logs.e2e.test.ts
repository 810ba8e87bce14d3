/**
 * Self-logging on the stack as `npm start` starts it: the workers' and the
 * actors' own logs are found in the platform tenant with the platform key
 * (GET /v1/logs), the dev tenant sees none of them, and with
 * NEURALLOG_SELF_LOGS=0 nothing is shipped.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { startStack, type RunningStack } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';

interface Found {
  logs: { body: string; service: string; severityText: string; attributes: Record<string, string> }[];
}

const dirs: string[] = [];
let stack: RunningStack;

async function start(workerEnv: Record<string, string> = {}): Promise<RunningStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-self-logs-'));
  dirs.push(dataDir);
  return startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300', ...workerEnv },
    onOutput: () => undefined,
  });
}

async function search(on: RunningStack, key: string, q: string): Promise<Found> {
  const res = await fetch(`${on.url}/v1/logs?from=now-1h&limit=100&q=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Found;
}

/** A dev-tenant batch under a request id of our own (the gateway keeps a valid X-Request-Id). */
async function ingest(on: RunningStack, requestId: string): Promise<void> {
  const res = await fetch(`${on.url}/v1/logs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${on.devApiKey}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify([{ level: 'info', service: 'self-logs-test', message: `dev record ${requestId}` }]),
  });
  expect(res.status).toBe(202);
  await res.arrayBuffer();
}

beforeAll(async () => {
  stack = await start();
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('self-logging (NeuralLog observes NeuralLog)', () => {
  it('provisions the platform tenant and keeps its key in the data directory', async () => {
    expect(stack.platformTenant).toBe('platform');
    expect((await readFile(join(dirs[0]!, 'platform-api-key'), 'utf8')).trim()).toBe(stack.platformApiKey);
  });

  it("finds the ingest worker's line about a request, and the dev actor's flush, in the platform tenant", async () => {
    const requestId = `selflog-${crypto.randomUUID()}`;
    await ingest(stack, requestId);
    const accepted = await eventually(
      'the ingest worker’s line about the request, in the platform tenant',
      () => search(stack, stack.platformApiKey, `requestId:${requestId}`),
      { until: (f) => f.logs.length > 0, timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(accepted.logs).toHaveLength(1);
    expect(accepted.logs[0]).toMatchObject({
      body: 'ingest.accepted',
      service: 'neurallog-ingest',
      severityText: 'info',
      attributes: { tenant: 'dev', protocol: 'logs', records: '1', 'request.path': '/v1/logs', 'request.method': 'POST', invocation: 'fetch' },
    });
    const batchId = accepted.logs[0]!.attributes.batchId!;
    expect(batchId).toMatch(/^[0-9A-Z]{26}$/);

    // The dev record is stored (found by the dev key), and the actor's flush of it is logged and shipped.
    const dev = await eventually('the dev record, found by the dev key', () => search(stack, stack.devApiKey, `"dev record ${requestId}"`), {
      until: (f) => f.logs.length === 1,
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    expect(dev.logs).toHaveLength(1);
    // workerd hands a Durable Object alarm's tail event over when the alarm's context closes, tens of seconds later.
    const flushed = await eventually('the dev actor’s flush, in the platform tenant', () => search(stack, stack.platformApiKey, 'flush.done tenant:dev'), {
      until: (f) => f.logs.length > 0,
      timeoutMs: 150_000,
      intervalMs: 500,
    });
    expect(flushed.logs.length).toBeGreaterThan(0);
    expect(flushed.logs[0]).toMatchObject({
      service: 'TenantActor',
      body: 'flush.done',
      attributes: { tenant: 'dev', invocation: 'alarm', worker: 'neurallog-ingest' },
    });
  }, 240_000);

  it("keeps the platform's logs out of the dev tenant, and its own flushes out of the platform tenant", async () => {
    const dev = await search(stack, stack.devApiKey, 'ingest.accepted OR flush.done');
    expect(dev.logs).toEqual([]);
    // The platform tenant's actor flushes what it is sent: none of those flushes is shipped (the loop guard).
    const own = await search(stack, stack.platformApiKey, `flush.done tenant:${stack.platformTenant}`);
    expect(own.logs).toEqual([]);
  });

  it('ships nothing with NEURALLOG_SELF_LOGS=0', async () => {
    // One embedded ClickHouse per process: the stack with the switch on makes way for the one without.
    await stack.stop();
    stack = await start({ NEURALLOG_SELF_LOGS: '0' });
    const requestId = `selflog-off-${crypto.randomUUID()}`;
    await ingest(stack, requestId);
    const dev = await eventually('the dev record, found by the dev key', () => search(stack, stack.devApiKey, `"dev record ${requestId}"`), {
      until: (f) => f.logs.length === 1,
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    expect(dev.logs).toHaveLength(1);
    // Long enough for the request's line (seconds with the switch on) to have arrived if it were shipped.
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await search(stack, stack.platformApiKey, '*')).logs).toEqual([]);
  }, 180_000);
});
