/**
 * A tenant flooding far past its rate limit is refused on its own: it gets
 * 429 with Retry-After, keeps only what it was acknowledged, and a neighbour
 * sending at the same time has every record acknowledged, stored and found.
 * (How much the flood moves the neighbour's latency is a timing question:
 * `npm run bench:abuse`, docs/benchmarks.md.)
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../shared/plans.ts';
import { TEST_LIMITS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { clickhouse, flushTenant, uniqueTenant } from '../support/in-workerd.ts';

function post(key: string, records: unknown[]): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
}

/** The bodies of a tenant's stored records, sorted. */
async function storedBodies(tenant: string): Promise<string[]> {
  const rs = await clickhouse.query({ query: 'SELECT Body FROM logs WHERE TenantId = {t:String}', query_params: { t: tenant }, format: 'JSONEachRow' });
  return (await rs.json<{ Body: string }>()).map((r) => r.Body).sort();
}

describe('a tenant flooding its rate limit', () => {
  it('gets 429 with Retry-After while its neighbour has every record stored and found', async () => {
    const flooder = uniqueTenant('flood');
    const neighbour = uniqueTenant('calm');
    await provisionTenant(flooder, { plan: 'starter' });
    await provisionTenant(neighbour, { plan: 'starter' });
    const flooderKey = await provisionKey(flooder, ['logs:write']);
    const neighbourKey = await provisionKey(neighbour, ['logs:write']);

    // The flooder offers its whole burst three times over at once; the neighbour sends 20 small batches meanwhile.
    const floodRequests = (3 * PLANS.starter.ingestRecordsBurst) / TEST_LIMITS.maxRecordsPerRequest;
    const batch = Array.from({ length: TEST_LIMITS.maxRecordsPerRequest }, (_, i) => ({ message: `flood ${i}` }));
    const flood = Array.from({ length: floodRequests }, () => post(flooderKey, batch));
    const calm = Array.from({ length: 20 }, (_, b) =>
      post(
        neighbourKey,
        Array.from({ length: 10 }, (_, i) => ({ message: `calm ${b}.${i}` })),
      ),
    );
    const [floodAnswers, calmAnswers] = await Promise.all([Promise.all(flood), Promise.all(calm)]);

    const refused = floodAnswers.filter((r) => r.status === 429);
    const acceptedFlood = floodAnswers.filter((r) => r.status === 202);
    expect(refused.length + acceptedFlood.length).toBe(floodRequests);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await r.json()).toMatchObject({ error: 'rate_limited' });
    }
    for (const r of acceptedFlood) await r.arrayBuffer();
    expect(calmAnswers.map((r) => r.status)).toEqual(calmAnswers.map(() => 202));
    for (const r of calmAnswers) await r.arrayBuffer();

    await flushTenant(neighbour, PLANS.starter.shardCount);
    await flushTenant(flooder, PLANS.starter.shardCount);
    // Every record of the neighbour, once each; the flooder has exactly what it was acknowledged.
    const sent = Array.from({ length: 200 }, (_, n) => `calm ${Math.floor(n / 10)}.${n % 10}`).sort();
    expect(await storedBodies(neighbour)).toEqual(sent);
    const rs = await clickhouse.query({
      query: 'SELECT count() AS n FROM logs WHERE TenantId = {t:String}',
      query_params: { t: flooder },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: string }>();
    expect(Number(row?.n)).toBe(acceptedFlood.length * TEST_LIMITS.maxRecordsPerRequest);
  });
});
