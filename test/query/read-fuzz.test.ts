/**
 * Every read endpoint fed generated parameters — query text built from words,
 * operators, quotes and field names (Object.prototype's member names among
 * them), levels, services, times, limits, intervals, cursors and facet names:
 * the answer is a 200 or a 4xx JSON error naming what is wrong, never a 5xx.
 */
import { exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const tenant = `read-fuzz-${crypto.randomUUID().slice(0, 8)}`;
let key = '';
beforeAll(async () => {
  await provisionTenant(tenant, { plan: 'professional', retentionDays: 30 });
  key = await provisionKey(tenant, ['logs:read']);
});

const name = fc.oneof(
  fc.constantFrom(
    ...HOSTILE_NAMES,
    'level',
    'service',
    'trace_id',
    'span_id',
    'timestamp',
    'body',
    'attr.x',
    'resource.__proto__',
    'attributes.constructor',
    'id',
    'pattern',
  ),
  fc.string({ maxLength: 12 }),
);
const value = fc.oneof(
  fc.constantFrom(...HOSTILE_NAMES, 'error', '*', 'now-5m', '0', '24', '4bf92f3577b34da6a3ce929d0e0e4736', 'eu-*', '5f0e3a9c1b2d4e6f'),
  fc.string({ maxLength: 12 }),
);
const term = fc.oneof(
  value,
  fc.tuple(name, fc.constantFrom(':', '=', '>', '>=', '<', '<='), value).map(([n, op, v]) => `${n}${op}${v}`),
  value.map((v) => `"${v}"`),
  fc.constantFrom('AND', 'OR', 'NOT', '-', '(', ')', '\\', '"'),
);
const wellFormed = fc.array(
  fc.tuple(
    name.filter((n) => /^[A-Za-z_@][\w.@-]*$/.test(n)),
    fc.constantFrom(':', '>=', '<'),
    value.filter((v) => /^[\w*.-]+$/.test(v)),
  ),
  { minLength: 1, maxLength: 3 },
);
const q = fc.oneof(
  fc.array(term, { maxLength: 8 }).map((terms) => terms.join(' ')),
  // Queries that parse, so their field names and values reach the compilers and ClickHouse.
  wellFormed.map((terms) => terms.map(([n, op, v]) => `${n}${op}${v}`).join(' ')),
);
/** Mostly values an endpoint takes, so requests reach the compilers and ClickHouse; sometimes anything. */
const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: other });
const anyText = fc.oneof(fc.constantFrom(...HOSTILE_NAMES, '', 'yesterday'), fc.string({ maxLength: 10 }));
const params = fc.record(
  {
    q: mostly(q, anyText),
    from: mostly(fc.constantFrom('now-1h', 'now-1d', '2026-11-29T00:00:00Z'), anyText),
    to: mostly(fc.constant('now'), anyText),
    level: mostly(fc.constantFrom('error', 'warn,info', 'fatal'), anyText),
    service: mostly(fc.constantFrom(...HOSTILE_NAMES, 'api'), anyText),
    limit: mostly(fc.constantFrom('1', '100', '1000'), fc.constantFrom('0', '-1', '1e3', 'constructor')),
    cursor: mostly(fc.constant('WyIyMDI2LTExLTI5IDEwOjAwOjAwLjAwMDAwMDAwMCIsIngiXQ'), anyText),
    interval: mostly(fc.constantFrom('1m', '5m', '1h'), fc.constantFrom('0s', 'constructor', '99999d')),
    before: mostly(fc.constantFrom('0', '10'), fc.constantFrom('501', 'toString')),
  },
  { requiredKeys: [] },
);
const endpoint = fc.oneof(
  fc.constantFrom('/v1/logs', '/v1/logs/histogram', '/v1/logs/fields', '/v1/patterns', '/v1/anomalies'),
  name.map((n) => `/v1/logs/fields/${encodeURIComponent(n)}/values`),
  value.map((v) => `/v1/logs/context/${encodeURIComponent(v)}`),
);

describe('read endpoints, fuzzed', () => {
  it('answer 200 or a 4xx JSON error naming what is wrong — never a 5xx', async () => {
    const answers = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(endpoint, params, async (path, search) => {
        const url = new URL(`https://neurallog.test${path}`);
        for (const [k, v] of Object.entries(search)) url.searchParams.set(k, v as string);
        const res = await exports.default.fetch(new Request(url, { headers: { authorization: `Bearer ${key}` } }));
        const body = await res.json<{ error?: string; message?: string }>();
        answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
        expect(res.status, `${url} → ${JSON.stringify(body)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(typeof body.error).toBe('string');
          expect(typeof body.message).toBe('string');
        }
      }),
      { numRuns: 600 },
    );
    // Most requests must get through the checks, or the property says little about what comes after them.
    expect(answers.get(200) ?? 0).toBeGreaterThan(60);
  }, 120_000);
});
