/**
 * GET /v1/logs/export: the records of a search's scope as NDJSON or CSV,
 * streamed, at most NEURALLOG_EXPORT_MAX_ROWS (TEST_EXPORT_MAX_ROWS in the
 * test bindings), under the plan's query limits and QueryGate.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogView } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { HOSTILE_NAMES, TEST_EXPORT_MAX_ROWS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { openSession } from '../support/sessions.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const T0 = Date.now() - 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const range = { from: iso(T0 - 60_000), to: iso(T0 + 600_000) };

const tenant = `exp-${crypto.randomUUID().slice(0, 8)}`;
const other = `exp-${crypto.randomUUID().slice(0, 8)}`;
let key: string;

/** Values a CSV must quote, and values a spreadsheet would run as formulas. */
const AWKWARD = [
  'plain words',
  'comma, inside',
  'a "quoted" word',
  'two\nlines',
  'crlf\r\nline',
  '=HYPERLINK("http://evil.example","click")',
  '+1+cmd|calc',
  '-2+3',
  '@SUM(A1)',
  '\tstarts with a tab',
  'ünïcödé ✓',
];

async function insert(tenantId: string, service: string, records: Record<string, unknown>[]): Promise<void> {
  const receivedAt = formatClickHouseTime(instantFromMillis(T0));
  await clickhouse.insert({
    table: 'logs',
    values: records.map((r, i) => normalizeRecord({ service, ...r }, i, { tenantId, retentionDays: 7, receivedAt, batchId: `E${service}` })),
    format: 'JSONEachRow',
  });
}

function request(path: string, params: Record<string, string>, headers: Record<string, string> = { authorization: `Bearer ${key}` }): Promise<Response> {
  const url = new URL(`https://neurallog.test${path}`);
  url.search = new URLSearchParams(params).toString();
  return exports.default.fetch(new Request(url, { headers }));
}

async function searchAll(params: Record<string, string>): Promise<LogView[]> {
  const res = await request('/v1/logs', { ...params, limit: '1000' });
  expect(res.status).toBe(200);
  return (await res.json<{ logs: LogView[] }>()).logs;
}

/** The body as UTF-8 text (Response.text() warns about a content type it does not know as text). */
const bodyText = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

const ndjsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks; records end with CRLF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else {
      expect(ch, `a bare ${JSON.stringify(ch)} outside quotes at ${i}`).not.toMatch(/[\r\n"]/);
      field += ch;
    }
  }
  expect(field, 'the last record ends with CRLF').toBe('');
  return records;
}

const guard = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

beforeAll(async () => {
  await provisionTenant(tenant);
  await provisionTenant(other);
  key = await provisionKey(tenant, ['logs:read']);
  await insert(
    tenant,
    'awkward',
    AWKWARD.map((message, i) => ({
      timestamp: iso(T0 + i * 1000),
      level: ['info', 'error', 'warn'][i % 3],
      message,
      ...(i === 0 ? { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' } : {}),
      attributes: { note: message, [HOSTILE_NAMES[i % HOSTILE_NAMES.length]!]: 'hostile' },
      resource: { host: `h,"${i}"` },
    })),
  );
  // More than the cap, a few sharing a timestamp (the order ties on the id, as search's does).
  await insert(
    tenant,
    'many',
    Array.from({ length: TEST_EXPORT_MAX_ROWS + 5 }, (_, i) => ({ timestamp: iso(T0 + Math.floor(i / 3) * 1000), message: `row ${i}` })),
  );
  await insert(
    tenant,
    'exact',
    Array.from({ length: TEST_EXPORT_MAX_ROWS }, (_, i) => ({ timestamp: iso(T0 + i * 1000), message: `exact ${i}` })),
  );
  await insert(other, 'awkward', [{ timestamp: iso(T0), message: 'plain words of another tenant' }]);
});

describe('GET /v1/logs/export', () => {
  it('streams NDJSON: the records search returns for the same scope, in its order and shape', async () => {
    const scope = { ...range, service: 'awkward' };
    const res = await request('/v1/logs/export', { ...scope, format: 'ndjson' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="neurallog-${tenant}-${range.from.slice(0, 19).replace(/[-:]/g, '')}Z.ndjson"`);
    expect(res.headers.get('x-neurallog-export-limit')).toBe(String(TEST_EXPORT_MAX_ROWS));
    expect(res.headers.get('cache-control')).toBe('no-store');
    const exported = ndjsonLines(await bodyText(res));
    expect(exported).toEqual(await searchAll(scope));
    expect(exported).toHaveLength(AWKWARD.length);
    // Narrowed as search narrows: q and level.
    const narrowed = { ...scope, q: 'words OR quoted', level: 'info,error' };
    expect(ndjsonLines(await bodyText(await request('/v1/logs/export', narrowed)))).toEqual(await searchAll(narrowed));
  });

  it('writes CSV by RFC 4180 with the fields search returns, and no cell a spreadsheet would run', async () => {
    const scope = { ...range, service: 'awkward' };
    const res = await request('/v1/logs/export', { ...scope, format: 'csv' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(res.headers.get('content-disposition')).toMatch(/filename="neurallog-exp-[a-z0-9-]+-\d{8}T\d{6}Z\.csv"$/);
    const text = await bodyText(res);
    expect(text.startsWith('timestamp,level,service,body,trace_id,span_id,id,attributes,resource\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(['timestamp', 'level', 'service', 'body', 'trace_id', 'span_id', 'id', 'attributes', 'resource']);
    const logs = await searchAll(scope);
    expect(rows).toEqual(
      logs.map((l) =>
        [l.timestamp, l.severityText, l.service, l.body, l.traceId, l.spanId, l.id, JSON.stringify(l.attributes), JSON.stringify(l.resource)].map(guard),
      ),
    );
    const bodies = rows.map((r) => r[3]!);
    expect(bodies).toContain('\'=HYPERLINK("http://evil.example","click")');
    expect(bodies).toContain("'+1+cmd|calc");
    expect(bodies).toContain("'-2+3");
    expect(bodies).toContain("'@SUM(A1)");
    expect(bodies).toContain("'\tstarts with a tab");
    expect(bodies).toContain('two\nlines');
    expect(bodies).toContain('a "quoted" word');
    for (const row of rows) for (const cell of row) expect(cell, cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(text).not.toContain('another tenant');
  });

  it('stops at NEURALLOG_EXPORT_MAX_ROWS and says so: a last NDJSON line, the CSV limit header', async () => {
    const scope = { ...range, service: 'many' };
    const all = await searchAll(scope);
    expect(all).toHaveLength(TEST_EXPORT_MAX_ROWS + 5);
    const lines = ndjsonLines(await bodyText(await request('/v1/logs/export', { ...scope, format: 'ndjson' })));
    expect(lines).toHaveLength(TEST_EXPORT_MAX_ROWS + 1);
    expect(lines.slice(0, -1)).toEqual(all.slice(0, TEST_EXPORT_MAX_ROWS));
    expect(lines[TEST_EXPORT_MAX_ROWS]).toEqual({ truncated: true, reason: 'rows', limit: TEST_EXPORT_MAX_ROWS });

    const csv = await request('/v1/logs/export', { ...scope, format: 'csv' });
    expect(csv.headers.get('x-neurallog-export-limit')).toBe(String(TEST_EXPORT_MAX_ROWS));
    const rows = parseCsv(await bodyText(csv)).slice(1);
    expect(rows.map((r) => r[6])).toEqual(all.slice(0, TEST_EXPORT_MAX_ROWS).map((l) => l.id));

    // Exactly the cap: every row, and no truncation line.
    const exact = ndjsonLines(await bodyText(await request('/v1/logs/export', { ...range, service: 'exact' })));
    expect(exact).toHaveLength(TEST_EXPORT_MAX_ROWS);
    expect(exact.every((l) => typeof l.id === 'string')).toBe(true);
  });

  it('answers bad parameters as search does', async () => {
    for (const [params, error, parameter] of [
      [{ format: 'xml' }, 'invalid_parameter', 'format'],
      [{ format: '__proto__' }, 'invalid_parameter', 'format'],
      [{ level: 'loud' }, 'invalid_parameter', 'level'],
      [{ from: 'tomorrow' }, 'invalid_parameter', 'from'],
      [{ from: iso(T0 - 400 * 86_400_000), to: iso(T0) }, 'invalid_parameter', 'from'],
      [{ q: 'level:error AND (' }, 'query_syntax', 'q'],
    ] as const) {
      const res = await request('/v1/logs/export', params);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(await res.json(), JSON.stringify(params)).toMatchObject({ error, parameter });
    }
    const syntax = await (await request('/v1/logs/export', { q: 'a AND (' })).json<{ position: number }>();
    const search = await (await request('/v1/logs', { q: 'a AND (' })).json<{ position: number }>();
    expect(syntax.position).toBe(search.position);
  });

  it("takes Object.prototype's member names as query fields and values", async () => {
    for (const name of HOSTILE_NAMES) {
      for (const q of [`${name}:x`, `attr.${name}:hostile`, name]) {
        const params = { ...range, service: 'awkward', q };
        const res = await request('/v1/logs/export', params);
        expect(res.status, q).toBe(200);
        expect(ndjsonLines(await bodyText(res)), q).toEqual(await searchAll(params));
      }
    }
  });

  it("exports the credential's tenant only, and needs logs:read", async () => {
    const otherKey = await provisionKey(other, ['logs:read']);
    const res = await request('/v1/logs/export', { ...range, service: 'awkward' }, { authorization: `Bearer ${otherKey}` });
    expect(ndjsonLines(await bodyText(res)).map((l) => l.body)).toEqual(['plain words of another tenant']);
    expect(res.headers.get('content-disposition')).toContain(`neurallog-${other}-`);
    const writer = await provisionKey(tenant, ['logs:write']);
    const refused = await request('/v1/logs/export', range, { authorization: `Bearer ${writer}` });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:read' });
    expect((await request('/v1/logs/export', range, {})).status).toBe(401);
  });

  it('works with the session cookie alone (a GET needs no CSRF token)', async () => {
    const session = await openSession(key);
    const scope = { ...range, service: 'awkward' };
    const res = await request('/v1/logs/export', scope, { cookie: session.cookie });
    expect(res.status).toBe(200);
    expect(ndjsonLines(await bodyText(res))).toEqual(await searchAll(scope));
  });

  it("runs under the tenant's QueryGate, holding a slot until the download ends or is cancelled", async () => {
    // A starter tenant runs 2 queries at once.
    const busy = `exp-${crypto.randomUUID().slice(0, 8)}`;
    await provisionTenant(busy);
    const busyKey = await provisionKey(busy, ['logs:read']);
    const headers = { authorization: `Bearer ${busyKey}` };
    // Rows far larger than any buffer between the worker and this test: an unread download stops ClickHouse's answer mid-way.
    await insert(
      busy,
      'svc',
      Array.from({ length: TEST_EXPORT_MAX_ROWS }, (_, i) => ({ timestamp: iso(T0 + i), message: `${i} ${'x'.repeat(200_000)}` })),
    );
    const gate = env.QUERY_GATE.get(env.QUERY_GATE.idFromName(busy));
    const held = [await gate.acquire(busy, 2, 60_000), await gate.acquire(busy, 2, 60_000)];
    const refused = await request('/v1/logs/export', range, headers);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: 'too_many_queries' });
    for (const lease of held) if (lease.ok) await gate.release(lease.lease);

    // Read to the end: the slot is back.
    const read = await request('/v1/logs/export', range, headers);
    expect(ndjsonLines(await bodyText(read))).toHaveLength(TEST_EXPORT_MAX_ROWS);
    // Two downloads not read: both slots held, so a search waits.
    const unread = [await request('/v1/logs/export', range, headers), await request('/v1/logs/export', { ...range, format: 'csv' }, headers)];
    expect(unread.map((d) => d.status)).toEqual([200, 200]);
    expect((await request('/v1/logs', { ...range, limit: '1' }, headers)).status).toBe(429);
    // Cancelled: the slot is back.
    await unread[0]!.body!.cancel();
    await unread[1]!.body!.cancel();
    expect((await request('/v1/logs', { ...range, limit: '1' }, headers)).status).toBe(200);
  });
});
