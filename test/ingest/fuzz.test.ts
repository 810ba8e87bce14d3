/**
 * Decoders fed a few thousand generated bodies: whatever arrives, the answer is
 * a 2xx or a 4xx with the protocol's error shape — never a crash, never a 5xx.
 */
import { exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

// A tenant whose limits the fuzzing does not reach, so inputs get decoded rather than refused.
const auth = { authorization: '' };
beforeAll(async () => {
  await provisionTenant('fuzz', { plan: 'enterprise' });
  auth.authorization = `Bearer ${await provisionKey('fuzz', ['logs:write'])}`;
});

/** JSON-ish text: real JSON values, their fragments, and noise. */
const jsonish = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }).map((v) => JSON.stringify(v)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }).map((v) => v.map((x) => JSON.stringify(x)).join('\n')),
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }).chain((j) => fc.nat({ max: Math.max(0, j.length) }).map((n) => j.slice(0, n))),
);

describe('fuzzed bodies', () => {
  it('POST /v1/logs answers 2xx or 4xx to anything (JSON and NDJSON)', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, fc.constantFrom('application/json', 'application/x-ndjson'), async (body, type) => {
        const res = await exports.default.fetch(new Request('https://neurallog.test/v1/logs', { method: 'POST', headers: { ...auth, 'content-type': type }, body }));
        const json = await res.json<{ error?: string }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error).toBe('string');
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it('POST /es/_bulk answers 2xx or 4xx to anything, in Elasticsearch\'s shape', async () => {
    const line = fc.oneof(
      fc.constantFrom('{"index":{}}', '{"create":{"_index":"x"}}', '{"delete":{"_id":"1"}}', '{"update":{}}', '{}', '[]', '{"index":null}'),
      jsonish,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), async (lines) => {
        const res = await exports.default.fetch(
          new Request('https://neurallog.test/es/_bulk', { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: `${lines.join('\n')}\n` }),
        );
        const json = await res.json<{ error?: { type: string }; items?: unknown[] }>();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof json.error?.type).toBe('string');
        else expect(Array.isArray(json.items)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);
});
