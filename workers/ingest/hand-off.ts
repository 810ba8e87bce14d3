/**
 * Handing a serialised batch to the tenant's actor — the one step every
 * ingest protocol ends with: pick the shard, pass the plan's limits, and
 * return the actor's verdict (or null when the actor could not be reached).
 */
import type { IngestOutcome } from '../../durable-objects/tenant-actor.ts';
import type { Principal } from '../../shared/auth.ts';
import { logEvent } from '../../shared/logger.ts';
import { newBatchId } from '../../shared/ids.ts';
import type { LogRow } from '../../shared/log-record.ts';
import type { NormalizeContext } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { ingestPolicy, rateLimitHeaders } from '../../shared/rate-limit-headers.ts';
import { serializeRows, type Chunk, type RecordTooLargeError } from '../../shared/row-format.ts';
import { pickShard, shardName } from '../../shared/sharding.ts';
import type { IngestEnv } from './env.ts';

/** A request's batch: its id, when it was received, and the context every row of it is built with. */
export function newBatch(principal: Principal, receivedAt = Date.now()): { batchId: string; receivedAt: number; context: NormalizeContext } {
  const batchId = newBatchId(receivedAt);
  return {
    batchId,
    receivedAt,
    context: { tenantId: principal.tenantId, retentionDays: principal.retentionDays, receivedAt: formatClickHouseTime(instantFromMillis(receivedAt)), batchId },
  };
}

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

/** What the actor answered, in the terms every protocol's response needs. */
export type Submission =
  | { ok: true; accepted: number; headers: Record<string, string> }
  | {
      ok: false;
      status: 413 | 429 | 503;
      code: string;
      message: string;
      details: Record<string, string | number>;
      /** RateLimit headers and, when a retry can succeed later, Retry-After. */
      headers: Record<string, string>;
    };

/**
 * Serialises rows and hands them to the actor: the common tail of every
 * protocol. With `onTooLarge`, an oversized row is left out and reported
 * (protocols with per-record results); without it, RecordTooLargeError
 * rejects the whole request.
 */
export async function submitRows(
  env: IngestEnv,
  principal: Principal,
  request: { batchId: string; requestId: string; receivedAt: number; rows: LogRow[]; receivedBytes: number; maxRecordBytes: number },
  onTooLarge?: (error: RecordTooLargeError) => void,
): Promise<Submission> {
  const batch = serializeRows(request.rows, request.maxRecordBytes, undefined, onTooLarge);
  if (batch.rows === 0) return { ok: true, accepted: 0, headers: {} };
  const outcome = await handToActor(env, principal, {
    batchId: request.batchId,
    requestId: request.requestId,
    receivedAt: request.receivedAt,
    chunks: batch.chunks,
    receivedBytes: request.receivedBytes,
  });
  if (!outcome) {
    return { ok: false, status: 503, code: 'unavailable', message: 'the batch could not be stored; nothing was accepted, retry later', details: {}, headers: { 'Retry-After': '1' } };
  }
  const headers = rateLimitHeaders(principal.plan, outcome.rate);
  if (!outcome.ok) {
    if (outcome.retryAfterSeconds !== undefined) headers['Retry-After'] = String(outcome.retryAfterSeconds);
    logEvent('info', 'ingest.refused', { requestId: request.requestId, tenant: principal.tenantId, code: outcome.code, records: batch.rows });
    return { ok: false, status: outcome.status, code: outcome.code, message: outcome.message, details: outcome.details, headers };
  }
  return { ok: true, accepted: outcome.accepted, headers };
}
