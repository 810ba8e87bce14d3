/**
 * The query language (docs/query-language.md): grammar and precedence, errors
 * that name the position, the SQL it compiles to (tenant first, parameters
 * only — for any input), its meaning on real rows in ClickHouse, and the
 * in-memory evaluator agreeing with ClickHouse on random queries.
 */
import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api-error.ts';
import type { LogRow } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import { compileQuery, SqlParams } from '../../shared/query-language/compile-sql.ts';
import { compileMatcher, type MatchableRecord } from '../../shared/query-language/evaluate.ts';
import { parseQuery, QuerySyntaxError } from '../../shared/query-language/parse.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { compileSearch } from '../../workers/query/compile-search.ts';
import { parseSearch } from '../../workers/query/search-params.ts';
import { TEST_API_KEY, TEST_TENANT } from '../support/constants.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });
const T0 = Date.UTC(2026, 10, 21, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** The shape of a tree without value positions, for readable expectations. */
function shape(node: QueryNode): unknown {
  switch (node.type) {
    case 'and':
    case 'or':
      return { [node.type]: node.children.map(shape) };
    case 'not':
      return { not: shape(node.child) };
    case 'text':
      return `${node.phrase ? `"${node.value}"` : node.value}${node.prefix ? '*' : ''}`;
    case 'field':
      return `${node.field}${node.op}${node.phrase ? `"${node.value}"` : node.value}${node.prefix ? '*' : ''}`;
    default:
      return '*';
  }
}

describe('grammar', () => {
  it('parses the example of the issue, with NOT tighter than AND tighter than OR', () => {
    expect(
      shape(parseQuery('level:error service:checkout "connection reset" -healthcheck status>=500 attr.region:eu-* trace_id:4bf92f35 (a OR b) NOT c')),
    ).toEqual({
      and: [
        'level:error',
        'service:checkout',
        '"connection reset"',
        { not: 'healthcheck' },
        'status>=500',
        'attr.region:eu-*',
        'trace_id:4bf92f35',
        { or: ['a', 'b'] },
        { not: 'c' },
      ],
    });
    expect(shape(parseQuery('a OR b c'))).toEqual({ or: ['a', { and: ['b', 'c'] }] });
    expect(shape(parseQuery('a b OR c AND NOT d'))).toEqual({ or: [{ and: ['a', 'b'] }, { and: ['c', { not: 'd' }] }] });
    expect(shape(parseQuery('service:(cart OR checkout)'))).toEqual({ or: ['service:cart', 'service:checkout'] });
    expect(shape(parseQuery('or and not'))).toEqual({ and: ['or', 'and', 'not'] }); // lower case: words
    expect(shape(parseQuery('"say \\"hi\\"" a\\:b'))).toEqual({ and: ['"say "hi""', 'a:b'] });
    expect(shape(parseQuery('  '))).toEqual('*');
  });

  it('names the position and what was expected', () => {
    const cases: [string, number, RegExp][] = [
      ['level:error AND', 15, /end of input found/],
      ['service:(a OR', 13, /Expected/],
      ['x "unterminated', 2, /closing " is missing/],
      ['a ) b', 2, /Expected/],
      ['status>=', 8, /value/],
    ];
    for (const [q, position, message] of cases) {
      try {
        parseQuery(q);
        expect.unreachable(q);
      } catch (err) {
        expect(err, q).toBeInstanceOf(QuerySyntaxError);
        expect((err as QuerySyntaxError).position, q).toBe(position);
        expect((err as QuerySyntaxError).message, q).toMatch(message);
      }
    }
  });

  it('answers 400 query_syntax with the position over HTTP', async () => {
    const res = await exports.default.fetch(
      new Request(`https://neurallog.test/v1/logs?q=${encodeURIComponent('level:error AND')}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'query_syntax', parameter: 'q', position: 15, expected: expect.stringContaining('term') });
    const bad = await exports.default.fetch(
      new Request(`https://neurallog.test/v1/logs?q=${encodeURIComponent('level:loud')}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }),
    );
    expect(await bad.json()).toMatchObject({ error: 'query_syntax', position: 6, message: expect.stringMatching(/unknown level "loud"/) });
  });
});

/** Identifiers and keywords the compiler may emit; anything else in the SQL text would have come from the query. */
const SQL_WORDS = new Set([
  'PatternId',
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'ORDER',
  'BY',
  'DESC',
  'LIMIT',
  'BETWEEN',
  'IN',
  'logs',
  'TenantId',
  'TimestampTime',
  'Timestamp',
  'toDateTime',
  'LogId',
  'ObservedTimestamp',
  'SeverityText',
  'SeverityNumber',
  'ServiceName',
  'Body',
  'TraceId',
  'SpanId',
  'LogAttributes',
  'ResourceAttributes',
  'ScopeName',
  'ScopeVersion',
  'ScopeAttributes',
  'hasToken',
  'lower',
  'match',
  'positionCaseInsensitiveUTF8',
  'startsWith',
  'mapContains',
  'if',
  'ifNull',
  'toFloat64OrNull',
]);

describe('compiled SQL', () => {
  it('for any query text: a syntax error with a position, or SQL with the tenant first and the text only in parameters', () => {
    const queryish = fc.stringMatching(/^[a-zA-Z0-9 :"()\-*<>=._\\'`;,{}@!|&]{0,60}$/);
    const withWords = fc
      .array(
        fc.oneof(
          queryish,
          fc.constantFrom(
            'AND',
            'OR',
            'NOT',
            '-',
            '(',
            ')',
            '"',
            'level:',
            'attr.x:',
            'status>=',
            'trace_id:',
            'timestamp>',
            "');DROP TABLE logs;--",
            '{tenant:String}',
          ),
        ),
        { maxLength: 8 },
      )
      .map((parts) => parts.join(' '));
    fc.assert(
      fc.property(fc.oneof(queryish, withWords), (q) => {
        let compiled: ReturnType<typeof compileSearch>;
        try {
          compiled = compileSearch('tenant-a', parseSearch(new URLSearchParams({ q }), T0));
        } catch (err) {
          expect(err).toBeInstanceOf(ApiError);
          expect((err as ApiError).code).toBe('query_syntax');
          expect(typeof (err as ApiError).details.position).toBe('number');
          return;
        }
        const { sql, params } = compiled;
        expect(sql.startsWith('SELECT ')).toBe(true);
        expect(sql).toContain(' FROM logs WHERE TenantId = {tenant:String} AND ');
        expect(params.tenant).toBe('tenant-a');
        // Remove placeholders and constant literals; what is left must be our own vocabulary.
        const rest = sql.replace(/\{[a-zA-Z0-9]+:[A-Za-z0-9]+(?:\(9, 'UTC'\)|\(String\))?\}/g, ' ').replace(/'UTC'|''/g, ' ');
        expect(rest).not.toMatch(/["'`;\\]/);
        for (const word of rest.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) expect(SQL_WORDS.has(word), `${word} in ${sql}`).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('meaning, on rows in ClickHouse', () => {
  const service = `ql-${crypto.randomUUID().slice(0, 8)}`;
  const records: Record<string, unknown>[] = [
    { level: 'info', message: 'GET /healthcheck 200', attributes: { status: '200', region: 'eu-west-1' } },
    {
      level: 'error',
      message: 'Connection reset by peer while talking to 10.0.0.1',
      attributes: { status: '502', region: 'eu-central-1' },
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    },
    { level: 'warn', message: 'connection pool exhausted, reset pending', attributes: { status: '503', region: 'us-east-1' } },
    { level: 'debug', message: 'Connecting to replica', resource: { host: 'db-1' }, attributes: { status: 'n/a' } },
    { level: 'fatal', message: 'disk full on /var', resource: { host: 'db-2' }, attributes: { region: 'us-west-2', status: '500' } },
    { level: 'info', message: 'user über logged in', attributes: { status: '302', user: 'ana' } },
    // status and region in the resource only: bare names must find them there too
    { level: 'warn', message: 'upstream timeout at the edge', resource: { host: 'edge-1', region: 'ap-south-1', status: '504' } },
  ];
  let rows: LogRow[];

  beforeAll(async () => {
    const receivedAt = formatClickHouseTime(instantFromMillis(T0));
    rows = records.map((r, i) =>
      normalizeRecord({ ...r, service, timestamp: iso(T0 + i * 1000) }, i, { tenantId: TEST_TENANT, retentionDays: 30, receivedAt, batchId: `QL${service}` }),
    );
    await clickhouse.insert({ table: 'logs', values: rows, format: 'JSONEachRow' });
  });

  async function bodies(q: string): Promise<string[]> {
    const url = new URL('https://neurallog.test/v1/logs');
    url.search = new URLSearchParams({ q: `service:${service} (${q})`, from: iso(T0 - 1000), to: iso(T0 + 60_000) }).toString();
    const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
    expect(res.status, q).toBe(200);
    return ((await res.json()) as { logs: { body: string }[] }).logs.map((l) => l.body).sort();
  }

  it('finds words, phrases, prefixes, fields, comparisons and their combinations', async () => {
    const b = records.map((r) => r.message as string);
    const expectations: [string, string[]][] = [
      ['connection reset', [b[1]!, b[2]!]], // both words, anywhere, any case
      ['"connection reset"', [b[1]!]], // the phrase
      ['conn*', [b[1]!, b[2]!, b[3]!]], // token prefix: Connection, connection, Connecting
      ['10.0.0.1', [b[1]!]],
      ['-healthcheck level:info', [b[5]!]],
      ['level>=error', [b[1]!, b[4]!]],
      ['level<warn', [b[0]!, b[3]!, b[5]!]],
      ['status>=500', [b[1]!, b[2]!, b[4]!, b[6]!]], // numeric, not text: "n/a" is not a number
      ['status:50*', [b[1]!, b[2]!, b[4]!, b[6]!]],
      ['attr.region:eu-*', [b[0]!, b[1]!]],
      ['resource.host:db-1 OR region:us-west-2', [b[3]!, b[4]!]],
      ['host:*', [b[3]!, b[4]!, b[6]!]],
      ['region:ap-*', [b[6]!]],
      ['user:ana', [b[5]!]],
      ['trace_id:4BF92F35*', [b[1]!]],
      ['(reset OR disk) NOT level:warn', [b[1]!, b[4]!]],
      ['über', [b[5]!]],
      [`timestamp>=${iso(T0 + 4000)}`, [b[4]!, b[5]!, b[6]!]],
      ['body:"full on"', [b[4]!]],
    ];
    for (const [q, expected] of expectations) expect(await bodies(q), q).toEqual([...expected].sort());
  });

  it('means the same in memory (live tail) as in ClickHouse, on 300 random queries', async () => {
    const term = fc.constantFrom(
      'connection',
      'reset',
      'conn*',
      'Connecting',
      '"connection reset"',
      '10.0.0.1',
      'disk',
      'über',
      'peer',
      'get',
      '"pool exhausted"',
      'healthcheck',
      'a*',
    );
    const field = fc.constantFrom(
      'level:error',
      'level:info',
      'level>=warn',
      'level<=debug',
      'status>=500',
      'status<300',
      'status:200',
      'status:5*',
      'attr.region:eu-*',
      'region:us-east-1',
      'resource.host:db-1',
      'host:*',
      'host:edge-1',
      'user:ana',
      'region:ap-*',
      'trace_id:4bf9*',
      'attr.status>n',
      `timestamp>${iso(T0 + 2500)}`,
      'body:reset',
      'span_id:*',
      'pattern:*',
    );
    const query: fc.Arbitrary<string> = fc.letrec<{ q: string }>((tie) => ({
      q: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        term,
        field,
        tie('q').map((q) => `-${q.startsWith('-') ? `(${q})` : q}`),
        fc.tuple(tie('q'), tie('q')).map(([a, b]) => `(${a} ${b})`),
        fc.tuple(tie('q'), tie('q')).map(([a, b]) => `(${a} OR ${b})`),
        tie('q').map((q) => `NOT (${q})`),
      ),
    })).q;
    const records = rows.map(
      (r): MatchableRecord => ({
        Body: r.Body,
        SeverityNumber: r.SeverityNumber ?? 0,
        ServiceName: r.ServiceName ?? '',
        TraceId: r.TraceId ?? '',
        SpanId: r.SpanId ?? '',
        PatternId: r.PatternId ?? '',
        LogId: r.LogId,
        Timestamp: r.Timestamp,
        LogAttributes: r.LogAttributes ?? {},
        ResourceAttributes: r.ResourceAttributes ?? {},
      }),
    );
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const tree = parseQuery(q);
        const matcher = compileMatcher(tree, T0);
        const inMemory = records
          .filter(matcher)
          .map((r) => r.LogId)
          .sort();
        const params = new SqlParams();
        const filter = compileQuery(tree, params, T0);
        const rs = await clickhouse.query({
          query: `SELECT LogId FROM logs WHERE TenantId = {tenant:String} AND ServiceName = {service:String} AND ${filter} ORDER BY LogId`,
          query_params: { ...params.values, tenant: TEST_TENANT, service },
          format: 'JSONEachRow',
        });
        const inClickHouse = (await rs.json<{ LogId: string }>()).map((r) => r.LogId);
        expect(inMemory, q).toEqual(inClickHouse);
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
