import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { IngestOutcome, IngestPolicy, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { TEST_FLUSH } from '../support/constants.ts';
import { countRows, flushActor, injectFault, makeBatch, records, uniqueTenant } from '../support/in-workerd.ts';

function actorOf(tenant: string): DurableObjectStub<TenantActor> {
  return env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(tenant));
}

function policy(recordsPerSecond: number, recordsBurst: number, quota: Partial<IngestPolicy['quota']> = {}): IngestPolicy {
  return {
    rate: { records: { rate: recordsPerSecond, burst: recordsBurst }, bytes: { rate: 1e9, burst: 1e9 } },
    quota: { dailyBytes: 1e12, monthlyBytes: 1e13, ...quota },
    shards: 1,
  };
}

const flushAll = (stub: DurableObjectStub<TenantActor>) => flushActor(stub, 15_000);

describe('rate limits in the tenant actor', () => {
  it('lets a full burst through, then refuses with rate_limited and a Retry-After until it refills', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const p = policy(10, 40);
    const first = await stub.ingest(makeBatch(tenant, records(40), Date.now(), p));
    expect(first).toMatchObject({ ok: true, accepted: 40, rate: { records: { remaining: 0 } } });
    const refused = (await stub.ingest(makeBatch(tenant, records(20), Date.now(), p))) as Extract<IngestOutcome, { ok: false }>;
    expect(refused).toMatchObject({ ok: false, status: 429, code: 'rate_limited', details: { dimension: 'records' } });
    expect(refused.retryAfterSeconds).toBe(2); // 20 records at 10/s
    expect((await stub.stats()).buffered.rows).toBe(40); // the refused batch stored nothing
  });

  it('answers 413 for a request larger than the burst can ever allow', async () => {
    const tenant = uniqueTenant();
    const outcome = await actorOf(tenant).ingest(makeBatch(tenant, records(51), Date.now(), policy(100, 50)));
    expect(outcome).toMatchObject({ ok: false, status: 413, code: 'request_too_large', details: { dimension: 'records', limit: 50 } });
  });

  it('holds under concurrency: accepted volume within ±5 % of burst + rate × time, and refused batches store nothing', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const rate = 1000;
    const burst = 1000;
    const p = policy(rate, burst);
    const started = Date.now();
    const deadline = started + 2000;
    let accepted = 0;
    let refused = 0;
    // The window the actor admitted in ends between the send and the answer of
    // the last request: bound it from both sides rather than guess.
    let lastSent = started;
    let lastAnswered = started;
    const client = async () => {
      while (Date.now() < deadline) {
        const sent = Date.now();
        const outcome = await stub.ingest(makeBatch(tenant, records(50), sent, p));
        lastSent = Math.max(lastSent, sent);
        lastAnswered = Math.max(lastAnswered, Date.now());
        if (outcome.ok) accepted += outcome.accepted;
        else refused++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    const allowedLow = burst + (rate * (lastSent - started)) / 1000;
    const allowedHigh = burst + (rate * (lastAnswered - started)) / 1000;
    expect(refused).toBeGreaterThan(0); // the clients did push above the limit
    expect(accepted).toBeGreaterThanOrEqual(allowedLow * 0.95);
    expect(accepted).toBeLessThanOrEqual(allowedHigh * 1.05);
    await flushAll(stub);
    expect(await countRows(tenant)).toBe(accepted);
  }, 30_000);

  it('refuses past the daily quota with quota_exceeded until UTC midnight, counting only accepted bytes', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const one = makeBatch(tenant, records(5));
    const p = policy(1e6, 1e6, { dailyBytes: one.receivedBytes * 2 + 10 });
    expect((await stub.ingest({ ...makeBatch(tenant, records(5)), policy: p })).ok).toBe(true);
    expect((await stub.ingest({ ...makeBatch(tenant, records(5)), policy: p })).ok).toBe(true);
    const over = (await stub.ingest({ ...makeBatch(tenant, records(5)), policy: p })) as Extract<IngestOutcome, { ok: false }>;
    expect(over).toMatchObject({ ok: false, status: 429, code: 'quota_exceeded', details: { period: 'day' } });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(Math.abs(over.retryAfterSeconds! - (midnight.getTime() - Date.now()) / 1000)).toBeLessThan(5);
    const report = await stub.limits(p);
    expect(report.usage.day.records).toBe(10);
  });
});

describe('backpressure', () => {
  it('buffers while ClickHouse is away, refuses past the cap with buffer_full, then drains every acknowledged record exactly once', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('fail-before', tenant, 1000); // ClickHouse is away for this tenant
    let acknowledged = 0;
    let bufferFull: Extract<IngestOutcome, { ok: false }> | null = null;
    for (let i = 0; i < 40 && !bufferFull; i++) {
      const outcome = await stub.ingest(makeBatch(tenant, records(1000)));
      if (outcome.ok) acknowledged += outcome.accepted;
      else bufferFull = outcome;
    }
    expect(bufferFull).toMatchObject({ ok: false, status: 503, code: 'buffer_full' });
    expect(bufferFull!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(acknowledged).toBeLessThanOrEqual(TEST_FLUSH.bufferMaxRows);
    expect(acknowledged).toBeGreaterThan(TEST_FLUSH.bufferMaxRows - 1000);
    expect(await countRows(tenant)).toBe(0);

    await injectFault('clear', tenant); // ClickHouse is back
    await flushAll(stub);
    expect(await countRows(tenant)).toBe(acknowledged);
  }, 30_000);
});
