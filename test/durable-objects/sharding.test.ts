import { runDurableObjectAlarm } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { IngestOutcome, IngestPolicy, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { PLANS } from '../../shared/plans.ts';
import { shardName } from '../../shared/sharding.ts';
import { TEST_FLUSH } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { countRows, makeBatch, records, uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';

function shard(tenant: string, k: number): DurableObjectStub<TenantActor> {
  return env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(tenant, k)));
}

describe('hot-tenant sharding', () => {
  it("spreads a sharded tenant's batches over its actors, each enforcing its share of the rate; the rows meet in ClickHouse", async () => {
    const tenant = uniqueTenant();
    await provisionTenant(tenant, { plan: 'professional' }); // 2 shards
    const key = await provisionKey(tenant, ['logs:write', 'logs:read']);
    const shards = PLANS.professional.shardCount;
    let sent = 0;
    for (let i = 0; i < 24; i++) {
      const res = await exports.default.fetch(
        new Request('https://neurallog.test/v1/logs', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(Array.from({ length: 30 }, (_, j) => ({ message: `shard test ${i}-${j}` }))),
        }),
      );
      expect(res.status).toBe(202);
      if (i === 0) {
        expect(res.headers.get('ratelimit-policy')).toContain(`"records";q=${PLANS.professional.ingestRecordsBurst / shards};`);
      }
      sent += 30;
    }
    for (let k = 0; k < shards; k++) expect((await shard(tenant, k).stats()).tenantId).toBe(tenant);
    const limits = await (await exports.default.fetch(new Request('https://neurallog.test/v1/limits', { headers: { authorization: `Bearer ${key}` } }))).json<{
      quota: { daily: { usedRecords: number } };
    }>();
    expect(limits.quota.daily.usedRecords).toBe(sent);
    // Below the row threshold a shard waits for the maximum age (far off in the tests): one
    // record received long ago makes each shard's remainder due, and its alarm flushes it.
    for (let k = 0; k < shards; k++) {
      await shard(tenant, k).ingest(makeBatch(tenant, records(1), Date.now() - TEST_FLUSH.maxAgeMs - 1));
      await runDurableObjectAlarm(shard(tenant, k));
    }
    await eventually('every row of every shard in ClickHouse', () => countRows(tenant), {
      until: (n) => n === sent + shards,
      timeoutMs: 20_000,
      intervalMs: 50,
    });
  }, 30_000);

  it('keeps the quota exact across shards: concurrent shards never admit more than the quota', async () => {
    const tenant = uniqueTenant();
    const probe = makeBatch(tenant, records(10));
    const daily = probe.receivedBytes * 25 + 7; // room for 25 such batches
    const policy: IngestPolicy = {
      rate: { records: { rate: 1e6, burst: 1e6 }, bytes: { rate: 1e9, burst: 1e9 } },
      quota: { dailyBytes: daily, monthlyBytes: daily * 10 },
      shards: 4,
    };
    let acceptedBytes = 0;
    let refused = 0;
    await Promise.all(
      [0, 1, 2, 3].map(async (k) => {
        for (let i = 0; i < 15; i++) {
          const outcome: IngestOutcome = await shard(tenant, k).ingest({ ...makeBatch(tenant, records(10), Date.now(), policy), shard: k });
          if (outcome.ok) acceptedBytes += probe.receivedBytes;
          else {
            expect(outcome.code).toBe('quota_exceeded');
            refused++;
          }
        }
      }),
    );
    expect(acceptedBytes).toBeLessThanOrEqual(daily);
    // Short of the quota by at most one chunk per shard (a chunk here is one batch: 1 % of the quota is smaller).
    expect(acceptedBytes).toBeGreaterThanOrEqual(daily - 4 * probe.receivedBytes - 7);
    expect(refused).toBe(60 - acceptedBytes / probe.receivedBytes);
  });

  it("reclaims a chunk lost with a shard's memory (a reset, an eviction) instead of counting it until the day ends", async () => {
    const tenant = uniqueTenant();
    const coordinator = env.QUOTA_COORDINATOR.get(env.QUOTA_COORDINATOR.idFromName(tenant));
    const quota = { dailyBytes: 10_000, monthlyBytes: 100_000 };
    // Shard 1 asks for a chunk of 1,000 two hundred times, each time as a fresh object: it has spent 300 bytes
    // (its durable counters) and holds nothing (the earlier grant went with its memory).
    for (let i = 0; i < 200; i++) {
      const grant = await coordinator.reserve(1_000, 100, quota, { shard: 1, spentDay: 300, spentMonth: 300, held: 0 });
      expect(grant.granted, `request ${i}`).toBe(1_000);
    }
    // Its claim is 1,300 of 10,000; shard 2 gets the rest and not a byte more.
    expect((await coordinator.reserve(9_000, 1, quota, { shard: 2, spentDay: 0, spentMonth: 0, held: 0 })).granted).toBe(8_700);
    expect(await coordinator.reserve(1, 1, quota, { shard: 3, spentDay: 0, spentMonth: 0, held: 0 })).toMatchObject({ granted: 0, period: 'day' });
    // What a shard still holds counts: shard 1 holding 500 and asking again is granted nothing more.
    expect(await coordinator.reserve(1_000, 1, quota, { shard: 1, spentDay: 800, spentMonth: 800, held: 500 })).toMatchObject({ granted: 0 });
  });
});
