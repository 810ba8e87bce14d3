/**
 * Hot tenants: a plan's shard count N spreads a tenant's ingest over N
 * TenantActors, `<tenant>` (shard 0, so going from 1 to N keeps the buffer)
 * and `<tenant>#1` … `<tenant>#N-1`. Each enforces 1/N of the plan's rate (as
 * Loki's "global" strategy splits a limit across distributors); quotas stay
 * whole, kept by the tenant's QuotaCoordinator. Search is unaffected: the rows
 * of every shard meet in ClickHouse.
 */

export function shardName(tenantId: string, shard: number): string {
  return shard === 0 ? tenantId : `${tenantId}#${shard}`;
}

/**
 * A shard for one request: uniform, so each shard sees 1/N of the traffic its
 * 1/N of the rate is for. A request with an Idempotency-Key always goes to the
 * same shard (FNV-1a of the key), so a retry meets the actor that remembers it.
 */
export function pickShard(shards: number, idempotencyKey?: string): number {
  if (shards <= 1) return 0;
  if (idempotencyKey === undefined) return Math.floor(Math.random() * shards);
  let hash = 0x811c9dc5;
  for (let i = 0; i < idempotencyKey.length; i++) hash = Math.imul(hash ^ idempotencyKey.charCodeAt(i), 0x01000193) >>> 0;
  return hash % shards;
}

/** This shard's share of a rate or burst (never 0). */
export function perShard(value: number, shards: number): number {
  return Math.max(1, Math.floor(value / Math.max(1, shards)));
}
