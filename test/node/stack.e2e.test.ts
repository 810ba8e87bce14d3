/**
 * End to end, on the real parts, started the way `npm start` starts them:
 * embedded ClickHouse + wrangler (gateway, ingest, query, TenantActor, R2).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT, startStack, type RunningStack } from '../../scripts/stack.ts';
import { generateApiKey } from '../../shared/api-keys.ts';
import { freePort } from '../../scripts/ports.ts';
import { eventually } from '../support/eventually.ts';

const execFileAsync = promisify(execFile);
let dataDir: string;
let stack: RunningStack | null = null;
const output: string[] = [];

async function start(devApiKey?: string): Promise<RunningStack> {
  return startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    devApiKey,
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' },
    onOutput: (line) => output.push(line),
  });
}

async function searchUntil(
  s: RunningStack,
  query: string,
  count: number,
): Promise<{ logs: { body: string; service: string; severityNumber: number; attributes: Record<string, string> }[] }> {
  return eventually(
    `${count} records for ${query}`,
    async () => {
      const res = await fetch(`${s.url}/v1/logs?${query}`, { headers: { authorization: `Bearer ${s.devApiKey}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { logs: { body: string; service: string; severityNumber: number; attributes: Record<string, string> }[] };
    },
    { until: (body) => body.logs.length >= count, timeoutMs: 20_000, intervalMs: 200, describe: (body) => `${body.logs.length} found` },
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-e2e-'));
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the stack, end to end', () => {
  it('starts healthy, generates and keeps a dev key, ingests, flushes and finds the rows', async () => {
    stack = await start();
    const health = await fetch(`${stack.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', ingest: 'ok', query: 'ok', admin: 'ok' });
    // One OpenAPI document for the whole origin, merged from every worker's route definitions.
    const doc = await (await fetch(`${stack.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths['/v1/logs']).sort()).toEqual(['delete', 'get', 'post']);
    for (const path of ['/v1/logs/histogram', '/v1/logs/fields', '/v1/logs/fields/{name}/values', '/v1/logs/context/{id}', '/v1/tail'])
      expect(Object.keys(doc.paths[path] ?? {}), path).toEqual(['get']);
    expect(doc.paths['/v1/admin/tenants/{tenantId}/keys']).toBeDefined();
    for (const path of ['/otlp/v1/logs', '/loki/api/v1/push', '/v1/syslog']) expect(Object.keys(doc.paths[path] ?? {}), path).toEqual(['post']);
    // The gateway knows the route, not the method: 405 with Allow, as JSON.
    const wrongMethod = await fetch(`${stack.url}/v1/logs`, { method: 'PUT' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, DELETE, GET, HEAD');
    expect(await wrongMethod.json()).toMatchObject({ error: 'method_not_allowed' });
    expect(stack.devApiKeyGenerated).toBe(true);
    expect((await readFile(join(dataDir, 'dev-api-key'), 'utf8')).trim()).toBe(stack.devApiKey);

    const marker = `e2e${Date.now()}`;
    const records = Array.from({ length: 250 }, (_, i) => ({
      timestamp: new Date(Date.now() - i).toISOString(),
      level: i % 10 === 0 ? 'error' : 'info',
      service: 'sshd',
      message: `Failed password for invalid user admin${i} from 10.0.0.${i % 255} port 22 ssh2 ${marker}`,
      host: 'LabSZ',
    }));
    const res = await fetch(`${stack.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 250 });

    const found = await searchUntil(stack, `q=${marker}&limit=1000`, 250);
    expect(found.logs).toHaveLength(250);
    const errors = await searchUntil(stack, `q=${marker}+failed&level=error&service=sshd&limit=1000`, 25);
    expect(errors.logs).toHaveLength(25);
    expect(errors.logs[0]).toMatchObject({ service: 'sshd', severityNumber: 17, attributes: { host: 'LabSZ' } });
    // The two commands of issue 13: a level named after Object.prototype's member is stored as sent and
    // found (it used to be acknowledged and then poison every flush); a query field so named is a 200 (it was a 500).
    const proto = await fetch(`${stack.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: `[{"level":"__proto__","message":"hello ${marker}"}]`,
    });
    expect(proto.status).toBe(202);
    const hello = await searchUntil(stack, `q=hello+${marker}`, 1);
    expect(hello.logs[0]).toMatchObject({ severityText: '__proto__', severityNumber: 0, body: `hello ${marker}` });
    const constructorField = await fetch(`${stack.url}/v1/logs?q=${encodeURIComponent('constructor:x')}`, {
      headers: { authorization: `Bearer ${stack.devApiKey}` },
    });
    expect(constructorField.status).toBe(200);
    expect(await constructorField.json()).toMatchObject({ logs: [] });
    // The workers' structured logs reach the output, without the key.
    expect(output.some((l) => l.includes('"msg":"ingest.accepted"'))).toBe(true);
    expect(output.some((l) => l.includes('"msg":"flush.done"'))).toBe(true);
    expect(output.some((l) => l.includes(stack!.devApiKey))).toBe(false);
    // A newcomer's start is clean: wrangler printed no warning and no error.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
    const plain = output.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain.filter((l) => /\[WARNING\]|\[ERROR\]/.test(l))).toEqual([]);
  });

  it('keeps its state across a restart, and takes NEURALLOG_DEV_API_KEY when given', async () => {
    const before = stack!;
    await before.stop();
    const given = generateApiKey().key;
    stack = await start(given);
    expect(stack.devApiKey).toBe(given);
    const found = await searchUntil(stack, 'q=failed+password&limit=1000', 250);
    expect(found.logs.length).toBeGreaterThanOrEqual(250);
    const old = await fetch(`${stack.url}/v1/logs`, { headers: { authorization: `Bearer ${before.devApiKey}` } });
    expect(old.status).toBe(401);
  });

  it('runs the admin CLI against the stack: a tenant, a write key that ingests, a read key that finds it', async () => {
    const s = stack!;
    const env = { ...process.env, NEURALLOG_URL: s.url, NEURALLOG_PLATFORM_ADMIN_TOKEN: s.platformAdminToken };
    const cli = (...args: string[]) => execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { env, cwd: PROJECT_ROOT });
    const tenant = `cli-${Date.now()}`;
    expect((await cli('tenant', 'create', tenant, '--plan', 'professional')).stdout).toContain(`"id": "${tenant}"`);
    const writeKey = /nlk_[0-9A-Za-z_]+/.exec((await cli('key', 'create', tenant, '--scopes', 'logs:write', '--name', 'shipper')).stdout)![0];
    const readKey = /nlk_[0-9A-Za-z_]+/.exec((await cli('key', 'create', tenant, '--scopes', 'logs:read')).stdout)![0];
    const sent = await fetch(`${s.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: `hello from ${tenant}` }),
    });
    expect(sent.status).toBe(202);
    const found = await searchUntil({ ...s, devApiKey: readKey }, `q=${tenant}`, 1);
    expect(found.logs.map((l) => l.body)).toEqual([`hello from ${tenant}`]);
    expect((await cli('tenant', 'get', tenant)).stdout).toContain('"plan": "professional"');
    await expect(cli('tenant', 'create', 'Bad_Id', '--plan', 'starter')).rejects.toMatchObject({ stderr: expect.stringContaining('invalid_request') });
  });

  it('stops cleanly: nothing listens afterwards', async () => {
    const url = stack!.url;
    await stack!.stop();
    stack = null;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
