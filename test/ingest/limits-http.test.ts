import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../shared/plans.ts';
import { TEST_LIMITS } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';

function post(key: string, n: number): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ message: `m${i}` }))),
    }),
  );
}

describe('rate limits over HTTP', () => {
  it('sends the rate-limit headers on every accepted batch, and 429 rate_limited with Retry-After past the burst', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'starter' });
    const key = await provisionKey(tenant, ['logs:write', 'logs:read']);
    const starter = PLANS.starter;
    const first = await post(key, 100);
    expect(first.status).toBe(202);
    expect(first.headers.get('ratelimit-policy')).toBe(
      `"records";q=${starter.ingestRecordsBurst};w=${starter.ingestRecordsBurst / starter.ingestRecordsPerSecond}, "bytes";q=${starter.ingestBytesBurst};w=${starter.ingestBytesBurst / starter.ingestBytesPerSecond}`,
    );
    expect(first.headers.get('ratelimit')).toMatch(/^"records";r=9900;t=1, "bytes";r=\d+;t=1$/); // 100 records owe 0.1 s

    let refused: Response | null = null;
    for (let i = 0; i < 3 * (starter.ingestRecordsBurst / TEST_LIMITS.maxRecordsPerRequest) && !refused; i++) {
      const res = await post(key, TEST_LIMITS.maxRecordsPerRequest);
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(202);
    }
    expect(refused).not.toBeNull();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused!.headers.get('ratelimit')).toMatch(/^"records";r=\d+;t=\d+/);
    expect(await refused!.json()).toMatchObject({ error: 'rate_limited', dimension: 'records' });

    const limits = await exports.default.fetch(new Request('https://neurallog.test/v1/limits', { headers: { authorization: `Bearer ${key}` } }));
    expect(limits.status).toBe(200);
    const body = await limits.json<Record<string, any>>();
    expect(body).toMatchObject({
      tenant,
      plan: { id: 'starter', name: 'Starter' },
      rate: { records: { perSecond: starter.ingestRecordsPerSecond, burst: starter.ingestRecordsBurst } },
      quota: { daily: { limitBytes: starter.dailyBytes }, monthly: { limitBytes: starter.monthlyBytes } },
      shardCount: starter.shardCount,
    });
    expect(body.rate.records.remaining).toBeLessThan(starter.ingestRecordsBurst / 10); // nearly drained (it refills as we ask)
    expect(body.quota.daily.usedRecords).toBeGreaterThanOrEqual(starter.ingestRecordsBurst - TEST_LIMITS.maxRecordsPerRequest);
    expect(body.quota.daily.usedBytes).toBeGreaterThan(0);
    // The forecast: today's bytes over the time since midnight (at least 10 minutes), and when the quota runs out at that rate.
    const now = Date.now();
    const rate = body.quota.daily.forecast.bytesPerSecond;
    expect(rate).toBeCloseTo(body.quota.daily.usedBytes / (Math.max(600_000, now % 86_400_000) / 1000), 0);
    expect(body.quota.monthly.forecast.bytesPerSecond).toBe(rate);
    const { reachesLimitAt } = body.quota.daily.forecast;
    const expectedAt = now + ((starter.dailyBytes - body.quota.daily.usedBytes) / rate) * 1000;
    if (expectedAt < Date.parse(body.quota.daily.resetsAt)) expect(Math.abs(Date.parse(reachesLimitAt) - expectedAt)).toBeLessThan(60_000);
    else expect(reachesLimitAt).toBeNull();
  });

  it('answers GET /v1/limits for any key of the tenant, and only about that tenant', async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'professional' });
    const reader = await provisionKey(tenant, ['analytics:read']);
    const res = await exports.default.fetch(new Request('https://neurallog.test/v1/limits?tenant=dev', { headers: { authorization: `Bearer ${reader}` } }));
    expect(await res.json()).toMatchObject({ tenant, plan: { id: 'professional' }, quota: { daily: { usedBytes: 0 } } });
  });
});
