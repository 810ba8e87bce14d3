/**
 * Helpers for tests that run inside workerd.
 */
import { createClient } from '@clickhouse/client-web';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import type { ActorBatch, IngestPolicy, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { PLANS } from '../../shared/plans.ts';
import { shardName } from '../../shared/sharding.ts';
import { ingestPolicy } from '../../shared/rate-limit-headers.ts';
import { newBatchId } from '../../shared/ids.ts';
import { gunzip } from '../../shared/gzip.ts';
import { LOG_COLUMNS, serializeRows } from '../../shared/row-format.ts';
import { TEST_FLUSH, TEST_TENANT } from './constants.ts';
import { eventually } from './eventually.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';

/** A ClickHouse client that bypasses the fault proxy, to check what is stored. */
export const clickhouse = createClient({
  url: env.TEST_CLICKHOUSE_URL,
  database: 'neurallog',
  keep_alive: { enabled: false },
});

export function uniqueTenant(prefix = 't'): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}`;
}

/** Limits no test reaches unless it means to: the enterprise plan's, on one shard. */
export const GENEROUS_POLICY: IngestPolicy = {
  ...ingestPolicy(PLANS.enterprise),
  rate: {
    records: { rate: PLANS.enterprise.ingestRecordsPerSecond, burst: PLANS.enterprise.ingestRecordsBurst },
    bytes: { rate: PLANS.enterprise.ingestBytesPerSecond, burst: PLANS.enterprise.ingestBytesBurst },
  },
  shards: 1,
};

/** A batch as the ingest worker would build it from these records. */
export function makeBatch(tenantId: string, records: unknown[], receivedAt = Date.now(), policy: IngestPolicy = GENEROUS_POLICY): ActorBatch {
  const batchId = newBatchId(receivedAt);
  const rows = records.map((r, i) =>
    normalizeRecord(r, i, { tenantId, retentionDays: 30, receivedAt: formatClickHouseTime(instantFromMillis(receivedAt)), batchId }),
  );
  const serialized = serializeRows(rows, { maxRecordBytes: 1 << 20, now: receivedAt });
  return { tenantId, shard: 0, batchId, requestId: `test-${batchId}`, receivedAt, chunks: serialized.chunks, receivedBytes: serialized.bytes, policy };
}

export function records(n: number, extra: Record<string, unknown> = {}): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ message: `event number ${i}`, level: 'info', seq: i, ...extra }));
}

export async function countRows(tenantId: string): Promise<number> {
  const rs = await clickhouse.query({
    query: 'SELECT count() AS n FROM logs WHERE TenantId = {t:String}',
    query_params: { t: tenantId },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ n: string | number }>();
  return Number(row?.n ?? 0);
}

/** Makes the fault proxy fail the next `count` requests that mention `match`. */
export async function injectFault(mode: 'fail-before' | 'fail-after' | 'delay' | 'clear', match: string, count = 1, ms = 0): Promise<void> {
  const res = await fetch(`${env.TEST_FAULT_PROXY_URL}/__fault?mode=${mode}&match=${encodeURIComponent(match)}&count=${count}&ms=${ms}`);
  await res.arrayBuffer();
}

/** What the fault proxy saw of requests mentioning `match` (counted once a rule names it). */
export async function proxyCounts(match: string): Promise<{ requests: number; maxInFlight: number }> {
  const res = await fetch(`${env.TEST_FAULT_PROXY_URL}/__stats?match=${encodeURIComponent(match)}`);
  return res.json();
}

/**
 * Runs the actor's alarm (if it has not fired by itself yet) until nothing is
 * buffered. More than once when the hour ends meanwhile: the usage roll-up's
 * alarm at the end of the hour comes before a flush retry that is due later.
 */
export async function flushActor(stub: DurableObjectStub<TenantActor>, timeoutMs = 10_000) {
  await makeDue(stub);
  for (let round = 0; round < 3; round++) {
    await runDurableObjectAlarm(stub);
    const stats = await stub.stats();
    if (stats.buffered.rows === 0 && stats.pendingFlushes.length === 0) return stats;
    if (stats.pendingFlushes.every((f) => f.attempts === 0)) break; // flushing now: wait for it
  }
  return eventually(`${stub.id} flushed, nothing buffered or pending`, () => stub.stats(), {
    until: (s) => s.buffered.rows === 0 && s.pendingFlushes.length === 0,
    timeoutMs,
    intervalMs: 50,
  });
}

/** Makes whatever an actor buffers due for a flush now (the tests' maximum age is far ahead). */
export async function makeDue(stub: DurableObjectStub<TenantActor>): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec('UPDATE buffered_chunks SET received_at = received_at - ?', 10 * TEST_FLUSH.maxAgeMs);
  });
}

/** The actor of a tenant's shard (0: the tenant's first actor, named after it). */
export function actorOf(tenant: string, shard = 0): DurableObjectStub<TenantActor> {
  return env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(tenant, shard)));
}

/** Flushes every actor of a tenant spread over `shards` (its plan's shard count). */
export async function flushTenant(tenant: string, shards: number): Promise<void> {
  for (let k = 0; k < shards; k++) {
    const stats = await flushActor(actorOf(tenant, k));
    if (stats.pendingFlushes.length > 0) throw new Error(`shard ${k} of ${tenant} still has flushes pending`);
  }
}

/**
 * The rows a request stored for a tenant (the dev tenant unless named; its first shard), as column →
 * value objects: from the actor's buffer, or from ClickHouse once a flush has moved them.
 */
export async function storedRowsOfBatch(batchId: string, tenant = TEST_TENANT): Promise<Record<string, unknown>[]> {
  const actor = actorOf(tenant);
  const chunks = await runInDurableObject(actor, (_instance, state) =>
    state.storage.sql.exec<{ data: string | ArrayBuffer }>('SELECT data FROM buffered_chunks WHERE batch_id = ? ORDER BY rowid', batchId).toArray(),
  );
  if (chunks.length > 0) {
    // Sealed chunks (labelled by the worker) are gzip members; the rest text.
    const texts = await Promise.all(chunks.map((c) => (typeof c.data === 'string' ? c.data : gunzip(c.data))));
    return texts
      .flatMap((text) => text.trimEnd().split('\n'))
      .map((line) => Object.fromEntries(LOG_COLUMNS.map((column, i) => [column, (JSON.parse(line) as unknown[])[i]])));
  }
  const rs = await clickhouse.query({
    query: `SELECT ${LOG_COLUMNS.join(', ')} FROM logs WHERE TenantId = {t:String} AND startsWith(LogId, {b:String}) ORDER BY LogId`,
    query_params: { t: tenant, b: `${batchId}-` },
    format: 'JSONEachRow',
  });
  return rs.json();
}
