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

/** A shard for one request: uniform, so each shard sees 1/N of the traffic its 1/N of the rate is for. */
export function pickShard(shards: number): number {
  return shards <= 1 ? 0 : Math.floor(Math.random() * shards);
}

/** This shard's share of a rate or burst (never 0). */
export function perShard(value: number, shards: number): number {
  return Math.max(1, Math.floor(value / Math.max(1, shards)));
}
