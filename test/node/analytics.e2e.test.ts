/**
 * Analytics on the stack as `npm start` starts it: records sent over HTTP come
 * back from search with their pattern; GET /v1/patterns groups them; and the
 * MCP server at /mcp, driven by the official @modelcontextprotocol/sdk client,
 * lists its tools, answers each, keeps a tenant to its own logs, and answers
 * bad input with a tool error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { startStack, type RunningStack } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';

let dataDir: string;
let stack: RunningStack;
const tag = `an${Date.now().toString(36)}`;
const BLOCKS = ['blk_38865049064139660', 'blk_-6952295868487656571', 'blk_7128370237687728475', 'blk_8229193803249955061'];
const lines = [
  ...BLOCKS.map((b, i) => `PacketResponder ${i % 3} for block ${b} terminating`),
  ...BLOCKS.map((b, i) => `Received block ${b} of size 67108864 from /10.251.${i}.7`),
  'Verification succeeded for blk_-4980916519894289629',
];

async function api<T = any>(path: string, init: RequestInit = {}, key = stack.devApiKey): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function mcpClient(key: string): Promise<Client> {
  const client = new Client({ name: 'neurallog-e2e', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.content as { type: string; text: string }[]).map((c) => c.text).join('');
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-analytics-'));
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' },
    onOutput: () => undefined,
  });
  await api('/v1/logs', { method: 'POST', body: JSON.stringify(lines.map((message) => ({ message, service: `hdfs-${tag}` }))) });
  await eventually(`the ${lines.length} records searchable`, async () => (await api(`/v1/logs?q=service:hdfs-${tag}&limit=100`)).logs.length, {
    until: (found) => found >= lines.length,
    timeoutMs: 20_000,
    intervalMs: 200,
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('patterns on the stack', () => {
  it('returns every record with its pattern, and groups them in GET /v1/patterns', async () => {
    const { logs } = await api(`/v1/logs?q=service:hdfs-${tag}&limit=100`);
    const byBody = new Map<string, { patternId: string; pattern: string }>(logs.map((l: any) => [l.body, l]));
    const responder = byBody.get(lines[0]!)!;
    expect(responder.pattern).toBe('PacketResponder <*> for block <*> terminating');
    for (const line of lines.slice(0, 4)) expect(byBody.get(line)!.patternId).toBe(responder.patternId);
    expect(byBody.get(lines[4]!)!.patternId).not.toBe(responder.patternId);

    const { patterns, total } = await api(`/v1/patterns?service=hdfs-${tag}`);
    expect(total).toBe(lines.length);
    expect(patterns[0]).toMatchObject({ patternId: expect.any(String), count: 4 });
    expect(patterns.reduce((n: number, p: any) => n + p.count, 0)).toBe(lines.length);
    const found = await api(`/v1/logs?q=${encodeURIComponent(`pattern:${responder.patternId}`)}&limit=100`);
    expect(found.logs.map((l: any) => l.body).sort()).toEqual(lines.slice(0, 4).sort());
  });
});

describe('the MCP server at /mcp', () => {
  it("lists its tools and answers each with the API's data", async () => {
    const client = await mcpClient(stack.devApiKey);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'field_values',
      'list_anomalies',
      'list_fields',
      'list_patterns',
      'log_context',
      'log_histogram',
      'search_logs',
    ]);
    const service = `hdfs-${tag}`;

    const search = JSON.parse(textOf(await client.callTool({ name: 'search_logs', arguments: { query: `service:${service} PacketResponder`, limit: 10 } })));
    expect(search.logs.map((l: any) => l.body).sort()).toEqual(lines.slice(0, 4).sort());
    const histogram = JSON.parse(textOf(await client.callTool({ name: 'log_histogram', arguments: { query: `service:${service}` } })));
    expect(histogram.total).toBe(lines.length);
    const values = JSON.parse(textOf(await client.callTool({ name: 'field_values', arguments: { field: 'service', query: `service:${service}` } })));
    expect(values.values).toEqual([{ value: service, count: lines.length }]);
    const fields = JSON.parse(textOf(await client.callTool({ name: 'list_fields', arguments: { service } })));
    expect(fields.builtin).toContain('pattern');
    const context = JSON.parse(textOf(await client.callTool({ name: 'log_context', arguments: { id: search.logs[0].id, before: 2, after: 2 } })));
    expect(context.log.id).toBe(search.logs[0].id);
    const patterns = JSON.parse(textOf(await client.callTool({ name: 'list_patterns', arguments: { service } })));
    expect(patterns.patterns.map((p: any) => p.template)).toContain('PacketResponder <*> for block <*> terminating');
    // A tenant with no history: every pattern is new, and nothing is said about volume (no baseline yet).
    const anomalies = JSON.parse(textOf(await client.callTool({ name: 'list_anomalies', arguments: { service } })));
    expect(anomalies.baselineDays).toBe(0);
    expect(anomalies.anomalies.map((a: any) => a.kind)).toEqual(anomalies.anomalies.map(() => 'new_pattern'));
    expect(anomalies.anomalies.map((a: any) => a.template)).toContain('PacketResponder <*> for block <*> terminating');
    await client.close();
  });

  it('answers bad input with a tool error naming what is wrong, and goes on answering', async () => {
    const client = await mcpClient(stack.devApiKey);
    const syntax = await client.callTool({ name: 'search_logs', arguments: { query: 'level:error AND (' } });
    expect(syntax.isError).toBe(true);
    expect(textOf(syntax)).toMatch(/HTTP 400: .*query_syntax/);
    const hostile = await client.callTool({ name: 'field_values', arguments: { field: '__proto__' } });
    expect(hostile.isError).toBe(false); // an attribute named __proto__: none
    expect(JSON.parse(textOf(hostile)).values).toEqual([]);
    // Input outside the tool's schema: refused by the server, as an error result or a protocol error, never a crash.
    const outOfRange = await client
      .callTool({ name: 'search_logs', arguments: { limit: 100_000 } })
      .catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }));
    expect(outOfRange.isError).toBe(true);
    const still = await client.callTool({ name: 'log_histogram', arguments: { service: `hdfs-${tag}` } });
    expect(still.isError).toBe(false);
    await client.close();
  });

  it('keeps a tenant to its own logs, and refuses a request without a credential', async () => {
    await api('/v1/admin/tenants', { method: 'POST', body: JSON.stringify({ id: `other-${tag}`, name: 'Other', plan: 'starter' }) }, stack.platformAdminToken);
    const { key } = await api<{ key: string }>(
      `/v1/admin/tenants/other-${tag}/keys`,
      { method: 'POST', body: JSON.stringify({ name: 'agent', scopes: ['logs:read'] }) },
      stack.platformAdminToken,
    );
    const client = await mcpClient(key);
    const search = JSON.parse(textOf(await client.callTool({ name: 'search_logs', arguments: { query: `service:hdfs-${tag}` } })));
    expect(search.logs).toEqual([]);
    const patterns = JSON.parse(textOf(await client.callTool({ name: 'list_patterns', arguments: { service: `hdfs-${tag}` } })));
    expect(patterns.total).toBe(0);
    await client.close();

    const anonymous = await fetch(`${stack.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(anonymous.status).toBe(401);
  });
});
