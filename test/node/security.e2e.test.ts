/**
 * The security review's checks on the running stack (docs/security.md), one start:
 *
 * - the headers of the explorer's HTML and of the API's JSON as a browser gets them;
 * - hostile inputs generated from the merged `/openapi.json` — every path and
 *   method, with a valid credential of the right scope and without one — and
 *   every 4xx/5xx body: our JSON error envelope, no SQL, no stack trace, no
 *   file path, and no 500 at all;
 * - bodies past each route's limit refused with 413 before they are read;
 * - secrets never reach the logs: the stack's whole output, captured from its
 *   start, holds none of the keys, tokens, cookies or secrets this file created or used,
 *   and neither do the platform tenant's stored logs (self-logging ships that output).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { PROJECT_ROOT, type RunningStack, startStack } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};
interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

let dataDir: string;
let stack: RunningStack;
const output: string[] = [];
const tenant = `sec-${Date.now().toString(36)}`;
/** Every secret this file creates or uses: none may appear in the stack's output. */
const secrets = new Map<string, string>();
let tenantKey = '';

const HUGE = 'x'.repeat(100_000);
/** Strings a careless parser, query builder or object store trips on. */
const HOSTILE_STRINGS = [
  '__proto__',
  'constructor',
  'prototype',
  "' OR 1=1 --",
  '"); DROP TABLE logs; --',
  '\u0000',
  '%00',
  '../../etc/passwd',
  `\${7*7}{{7*7}}`,
];
const HOSTILE_PATH_SEGMENTS = [
  '..%2F..%2Fetc%2Fpasswd',
  '..',
  '%00',
  '%2e%2e%2f',
  'x'.repeat(4_000),
  '__proto__',
  'constructor',
  '%27%20OR%201%3D1',
  '%E0%A4%A',
];

async function api(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return fetch(`${stack.url}${path}`, { ...init, headers });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One request over node:http. A route that refuses a body before reading it (401, 413) answers
 * while the client is still writing, and workerd then closes the connection: curl and browsers
 * read that answer, undici's fetch reports only the broken pipe. This reads the answer.
 */
function send(path: string, method: string, headers: Record<string, string>, body?: string, { chunked = false } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      `${stack.url}${path}`,
      { method, headers: { ...headers, ...(body === undefined || chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body !== undefined && chunked) for (let i = 0; i < body.length; i += 65_536) req.write(body.slice(i, i + 65_536));
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-security-'));
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' },
    onOutput: (line) => output.push(line),
  });
  secrets.set('dev API key', stack.devApiKey);
  secrets.set('platform admin token', stack.platformAdminToken);
  secrets.set('session secret', stack.sessionSecret);
  secrets.set('platform API key', stack.platformApiKey);
  const created = await api('/v1/admin/tenants', {
    method: 'POST',
    token: stack.platformAdminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: tenant, name: 'Security review', plan: 'enterprise' }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  for (const [name, scopes] of [
    ['all', ['logs:write', 'logs:read', 'analytics:read', 'admin', 'billing:read', 'alerts:read', 'alerts:write']],
    ['write', ['logs:write']],
    ['read', ['logs:read']],
  ] as const) {
    const res = await api(`/v1/admin/tenants/${tenant}/keys`, {
      method: 'POST',
      token: stack.platformAdminToken,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, scopes }),
    });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    secrets.set(`${name} key`, key);
  }
  tenantKey = secrets.get('all key')!;
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('security review, on the running stack', () => {
  it('answers HTML with a restrictive CSP and JSON with nosniff and no CSP; no banner, no HSTS over plain http', async () => {
    const page = await api('/');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
      expect(csp).toContain(directive);
    }
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    await page.arrayBuffer();
    for (const path of ['/healthz', '/openapi.json', '/v1/nothing', '/v1/logs?q=x']) {
      const res = await api(path);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('content-security-policy'), path).toBeNull();
      expect(res.headers.get('strict-transport-security'), path).toBeNull();
      expect(res.headers.get('server'), path).toBeNull();
      await res.arrayBuffer();
    }
  });

  it('answers hostile inputs generated from /openapi.json with the JSON error envelope, never SQL, a stack trace or a 500', async () => {
    const doc = (await (await api('/openapi.json')).json()) as OpenApi;
    const requests = hostileRequests(doc);
    expect(requests.length).toBeGreaterThan(500);
    const findings: string[] = [];
    let checked = 0;
    await runPool(requests, 6, async (r) => {
      const label = `${r.method} ${r.path.slice(0, 200)} [${r.what}${r.token ? ', authenticated' : ''}]`;
      let answer: Answer;
      try {
        answer = await send(r.path, r.method, { ...r.headers, ...(r.token ? { authorization: `Bearer ${r.token}` } : {}) }, r.body);
      } catch (err) {
        findings.push(`${label} → no answer: ${err}`);
        return;
      }
      if (answer.status < 400) return;
      // A `..` segment can lead out of the API to the explorer's paths, which Static Assets answers
      // before any worker code (a POST there: its bodiless 405); those are not this API's answers.
      if (!servedByWorker(new URL(r.path, 'http://x').pathname)) return;
      checked++;
      const problem = bodyProblem(r.path, answer);
      if (problem) findings.push(`${label} → ${answer.status}: ${problem}`);
    });
    expect(findings).toEqual([]);
    expect(checked).toBeGreaterThan(requests.length / 2);
  }, 180_000);

  it('refuses a JSON body past its route limit with 413, by its Content-Length or counted while chunked', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(2 << 20) });
    const cases: [string, string, string][] = [
      ['POST', '/v1/admin/tenants', stack.platformAdminToken],
      ['PATCH', `/v1/admin/tenants/${tenant}`, stack.platformAdminToken],
      ['POST', `/v1/admin/tenants/${tenant}/keys`, stack.platformAdminToken],
      ['POST', '/v1/session', 'none'],
      ['POST', '/v1/saved-searches', tenantKey],
      ['POST', '/v1/alerts/rules', tenantKey],
      ['POST', '/v1/alerts/targets', tenantKey],
      ['POST', '/mcp', tenantKey],
    ];
    for (const [method, path, token] of cases) {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` };
      for (const chunked of [false, true]) {
        const answer = await send(path, method, headers, big, { chunked });
        const body = JSON.parse(answer.text) as { error?: string };
        expect([answer.status, body.error], `${method} ${path}${chunked ? ', chunked' : ''}`).toEqual([413, 'request_too_large']);
      }
    }
  });

  it('never writes a key, token, cookie or secret it was given to the logs', async () => {
    const marker = `secret-scan-${Date.now()}`;
    const ingest = await api('/v1/logs', {
      method: 'POST',
      token: secrets.get('write key'),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ level: 'error', service: 'sec', message: marker }]),
    });
    expect(ingest.status).toBe(202);
    await ingest.arrayBuffer();
    // Credentials where they do not belong: a key in the query string, a bad key, a key as the body of a search.
    for (const path of [`/v1/logs?q=${secrets.get('read key')}`, `/v1/logs?api_key=${secrets.get('read key')}`]) {
      const res = await api(path, { token: secrets.get('read key') });
      await res.arrayBuffer();
    }
    const wrong = await api('/v1/logs?q=x', { token: `${secrets.get('read key')!.slice(0, -3)}abc` });
    expect(wrong.status).toBe(401);
    secrets.set('mangled read key', `${secrets.get('read key')!.slice(0, -3)}abc`);
    await wrong.arrayBuffer();

    const signIn = await api('/v1/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credential: secrets.get('read key') }),
    });
    expect(signIn.status).toBe(200);
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('nl_session='))!;
    const cookieValue = cookie.split(';')[0]!.slice('nl_session='.length);
    secrets.set('session cookie', cookieValue);
    if (csrfToken) secrets.set('CSRF token', csrfToken);
    await eventually(
      'the record, found with the session',
      async () => {
        const res = await api(`/v1/logs?q=${marker}&from=now-1h`, { headers: { cookie: `nl_session=${cookieValue}` } });
        expect(res.status).toBe(200);
        return ((await res.json()) as { logs: unknown[] }).logs.length;
      },
      { until: (found) => found === 1, timeoutMs: 20_000, intervalMs: 250 },
    );
    const signOut = await api('/v1/session', { method: 'DELETE', headers: { cookie: `nl_session=${cookieValue}`, 'x-csrf-token': csrfToken } });
    expect(signOut.status).toBeLessThan(300);
    await signOut.arrayBuffer();

    // Let the workers' last lines (flush, audit) arrive.
    await new Promise((r) => setTimeout(r, 1_000));
    const all = output.join('\n');
    expect(all.length).toBeGreaterThan(0);
    const leaked = [...secrets].filter(([, value]) => all.includes(value) || all.includes(secretPart(value)));
    expect(leaked.map(([name]) => name)).toEqual([]);

    // The same lines, shipped into the platform tenant (self-logging: their raw console output,
    // exceptions and requests too), hold none of them either. Wait for this file's requests there.
    const platformKey = stack.platformApiKey;
    let stored = '';
    const shippedBy = Date.now() + 60_000;
    while (!stored.includes(`"tenant":"${tenant}"`) && Date.now() < shippedBy) {
      await new Promise((r) => setTimeout(r, 1_000));
      const res = await api('/v1/logs/export?format=ndjson&from=now-1h', { token: platformKey });
      expect(res.status).toBe(200);
      stored = await res.text();
    }
    expect(stored).toContain(`"tenant":"${tenant}"`);
    const leakedToPlatform = [...secrets].filter(([, value]) => stored.includes(value) || stored.includes(secretPart(value)));
    expect(leakedToPlatform.map(([name]) => name)).toEqual([]);
  });
});

/** The paths the gateway's worker runs first (wrangler.toml `run_worker_first`: the one place it is written). */
const WORKER_FIRST = (() => {
  const line = /^run_worker_first\s*=\s*(\[.*\])$/m.exec(readFileSync(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8'));
  return (JSON.parse(line![1]!) as string[]).map((p) => p.replace(/\*$/, ''));
})();
function servedByWorker(pathname: string): boolean {
  return WORKER_FIRST.some((p) => (p.endsWith('/') ? pathname.startsWith(p) : pathname === p));
}

/** An API key's secret part (`nlk_<id>_<secret>`: the id is not secret); other secrets whole. */
function secretPart(value: string): string {
  const m = /^nlk_[^_]+_(.+)$/.exec(value);
  return m ? m[1]! : value;
}

const FORBIDDEN: [string, RegExp][] = [
  ['ClickHouse exception', /DB::Exception|Code: \d+\./],
  ['SQL', /SELECT |INSERT INTO|UPDATE \w+ SET|DELETE FROM|SQLITE_|D1_ERROR/i],
  ['stack frame', /\bat .*\(.*:\d+:\d+\)/],
  ['repository path', new RegExp(PROJECT_ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
  ['source path', /\b(?:workers|shared|durable-objects)\/[\w/-]+\.ts\b/],
  ['node_modules', /node_modules/],
];

/**
 * What is wrong with an error answer, or null. The shippers' protocols answer in their own shapes,
 * as their clients expect: OTLP/HTTP a Status (`{code, message}`, or protobuf for a protobuf
 * request), Loki's push API plain text, Loki's read API `{status: "error", code, message}`,
 * Elasticsearch `{error: {type, reason}, status}`, MCP a JSON-RPC error. Everything else: our
 * envelope, `{error, message, …}`.
 */
function bodyProblem(path: string, { status, headers, text }: Answer): string | null {
  if (status >= 500 && status !== 503) return `a ${status}: ${text.slice(0, 300)}`;
  for (const [what, pattern] of FORBIDDEN) if (pattern.test(text)) return `${what} in the body: ${text.slice(0, 300)}`;
  const type = headers['content-type'] ?? '';
  if (path.startsWith('/loki/api/v1/push')) return /^text\/plain/.test(type) && text.length > 0 ? null : `not Loki's plain-text error (${type})`;
  if (path.startsWith('/otlp/') && /^application\/x-protobuf/.test(type)) return null;
  if (!/^application\/json/.test(type)) return `not JSON (${type}): ${text.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `unparsable JSON: ${text.slice(0, 200)}`;
  }
  const { error, code, message, status: lokiStatus } = (body ?? {}) as { error?: unknown; code?: unknown; message?: unknown; status?: unknown };
  const nested = (error ?? {}) as { type?: unknown; reason?: unknown; code?: unknown; message?: unknown };
  // The protocols' own shapes for their clients; an answer before the protocol's routes (a path
  // that names none of them: 404) is our envelope, checked below.
  const esShaped = typeof nested.type === 'string' && typeof nested.reason === 'string' && nested.reason !== '';
  if (path.startsWith('/es') && esShaped) return null; // Elasticsearch: {error: {type, reason}, status}
  const lokiShaped = lokiStatus === 'error' && typeof code === 'number' && typeof message === 'string' && message !== '';
  if (path.startsWith('/loki/api/v1/') && lokiShaped) return null; // Loki's read API: {status: "error", code, message}
  if (path.startsWith('/mcp') && typeof nested.code === 'number' && typeof nested.message === 'string' && nested.message !== '') return null; // JSON-RPC
  const coded = path.startsWith('/otlp/') ? typeof code === 'number' : typeof error === 'string';
  if (!coded || typeof message !== 'string' || message === '') return `no error code and message: ${text.slice(0, 200)}`;
  return null;
}

interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  token?: string;
  what: string;
}

function resolve(doc: OpenApi, schema: Schema | undefined, depth = 0): Schema {
  if (!schema || depth > 8) return {};
  if (schema.$ref) return resolve(doc, doc.components?.schemas?.[schema.$ref.split('/').pop()!], depth + 1);
  if (schema.allOf) {
    const parts = schema.allOf.map((s) => resolve(doc, s, depth + 1));
    return { type: 'object', properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})) };
  }
  const first = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  return first ? resolve(doc, first, depth + 1) : schema;
}

/** Values of the wrong type for a schema, one huge, and the strings that trip parsers. */
function wrongValues(schema: Schema): unknown[] {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const common = [null, HUGE, '__proto__', { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } }];
  switch (type) {
    case 'string':
      return [...common, 12345, true, ['x'], "' OR 1=1 --"];
    case 'integer':
    case 'number':
      return [...common, '1', -1, 1.5, 1e308, 2 ** 64];
    case 'boolean':
      return [...common, 'true', 1];
    case 'array':
      return [...common, {}, 'x', [null, 1, {}], Array.from({ length: 5_000 }, () => 'x')];
    default:
      return [...common, [], 'x', 1];
  }
}

function hostileRequests(doc: OpenApi): HostileRequest[] {
  const out: HostileRequest[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const verb = method.toUpperCase();
      if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(verb)) continue;
      const token = template.startsWith('/v1/admin/') ? stack.platformAdminToken : tenantKey;
      const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const valid = (name: string) => (name === 'tenantId' ? tenant : name === 'date' ? '2026-01-01' : 'x');
      const fill = (hostile?: [string, string]) =>
        template.replace(/\{(\w+)\}/g, (_, name: string) => (hostile && hostile[0] === name ? hostile[1] : encodeURIComponent(valid(name))));
      const add = (r: Omit<HostileRequest, 'method' | 'headers'> & { headers?: Record<string, string> }) => {
        for (const t of [token, undefined]) out.push({ method: verb, headers: {}, ...r, token: t });
      };
      // Path parameters.
      for (const name of pathParams) for (const segment of HOSTILE_PATH_SEGMENTS) add({ path: fill([name, segment]), what: `path ${name}` });
      // Query parameters: wrong types, huge, hostile strings, repeated; and prototype names as keys.
      const base = fill();
      for (const p of (operation.parameters ?? []).filter((p) => p.in === 'query')) {
        const values = [...HOSTILE_STRINGS, 'abc', '-1', '1e309', 'NaN', 'x'.repeat(8_000)];
        for (const v of values) add({ path: `${base}?${p.name}=${encodeURIComponent(v)}`, what: `query ${p.name}` });
        add({ path: `${base}?${p.name}=1&${p.name}=2`, what: `query ${p.name} twice` });
      }
      add({ path: `${base}?__proto__=1&constructor=2&toString=3&hasOwnProperty=4`, what: 'prototype names as query keys' });
      // Bodies: on every method that may carry one (a GET with a body is refused by fetch).
      if (verb === 'GET') continue;
      const json = { 'content-type': 'application/json' };
      for (const [what, body, headers] of [
        ['invalid JSON', '{"a":', json],
        ['truncated JSON', '[{"message":"x"', json],
        ['JSON null', 'null', json],
        ['JSON string', '"x"', json],
        ['JSON number', '12', json],
        ['JSON array', '[[[]]]', json],
        ['prototype keys', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"toString":1}', json],
        ['deep nesting', `${'['.repeat(5_000)}${']'.repeat(5_000)}`, json],
        ['text/plain', '{}', { 'content-type': 'text/plain' }],
        ['form', 'a=1&__proto__=2', { 'content-type': 'application/x-www-form-urlencoded' }],
        ['no content type', '{}', {}],
        ['bad gzip', '{}', { ...json, 'content-encoding': 'gzip' }],
        ['unknown encoding', '{}', { ...json, 'content-encoding': 'br-zstd-nope' }],
        ['protobuf garbage', '\u0008\u00ff\u00ff\u00ff\u00ff\u000f', { 'content-type': 'application/x-protobuf' }],
      ] as [string, string, Record<string, string>][]) {
        add({ path: base, body, headers, what });
      }
      const schema = resolve(doc, Object.values(operation.requestBody?.content ?? {})[0]?.schema);
      for (const [prop, propSchema] of Object.entries(schema.properties ?? {})) {
        for (const value of wrongValues(resolve(doc, propSchema))) {
          const body = `{${JSON.stringify(prop)}:${JSON.stringify(value)}}`;
          add({ path: base, body, headers: json, what: `body ${prop}` });
        }
        // Prototype names as the keys of an object-valued field (labels, headers, attributes).
        add({ path: base, body: `{${JSON.stringify(prop)}:{"__proto__":"x","constructor":"y"}}`, headers: json, what: `body ${prop} with prototype keys` });
      }
    }
  }
  return out;
}

async function runPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
