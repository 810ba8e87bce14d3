/**
 * Handing a serialised batch to the tenant's actor — the one step every
 * ingest protocol ends with: pick the shard, pass the plan's limits, and
 * return the actor's verdict (or null when the actor could not be reached).
 */
import type { IngestOutcome } from '../../durable-objects/tenant-actor.ts';
import type { Principal } from '../../shared/auth.ts';
import { logEvent } from '../../shared/logger.ts';
import { ingestPolicy } from '../../shared/rate-limit-headers.ts';
import type { Chunk } from '../../shared/row-format.ts';
import { pickShard, shardName } from '../../shared/sharding.ts';
import type { IngestEnv } from './env.ts';

export interface HandOff {
  batchId: string;
  requestId: string;
  receivedAt: number;
  chunks: Chunk[];
  /** Size of the request as received (after decompression). */
  receivedBytes: number;
}

export async function handToActor(env: IngestEnv, principal: Principal, batch: HandOff): Promise<IngestOutcome | null> {
  const { tenantId, plan } = principal;
  const actor = env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(tenantId, pickShard(plan.shardCount))));
  try {
    return await actor.ingest({ tenantId, ...batch, policy: ingestPolicy(plan) });
  } catch (err) {
    logEvent('error', 'ingest.actor_failed', { requestId: batch.requestId, tenant: tenantId, batchId: batch.batchId, error: (err as Error).message });
    return null;
  }
}
