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
import { ApiError } from '../../shared/api-error.ts';

/**
 * The request's `Idempotency-Key` (the IETF httpapi draft's header, as Stripe
 * uses it): a batch sent again under the same key within a day is answered as
 * the first time and stored and counted once. Visible ASCII, 1–255 characters.
 */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = header.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1–255 visible ASCII characters', { field: 'Idempotency-Key' });
  }
  return key;
}

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
  /** The client's Idempotency-Key header, if it sent one. */
  idempotencyKey?: string;
  /** Records rejected here on their own, by reason (counted as usage by the actor). */
  rejected?: Record<string, number>;
}

export async function handToActor(env: IngestEnv, principal: Principal, batch: HandOff): Promise<IngestOutcome | null> {
  const { tenantId, plan } = principal;
  const shard = pickShard(plan.shardCount, batch.idempotencyKey);
  const actor = env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(tenantId, shard)));
  try {
    return await actor.ingest({ tenantId, shard, ...batch, policy: ingestPolicy(plan) });
  } catch (err) {
    logEvent('error', 'ingest.actor_failed', { requestId: batch.requestId, tenant: tenantId, batchId: batch.batchId, error: (err as Error).message });
    return null;
  }
}

/** What the actor answered, in the terms every protocol's response needs. */
export type Submission =
  | { ok: true; accepted: number; headers: Record<string, string>; replayed?: boolean }
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
  request: {
    batchId: string;
    requestId: string;
    receivedAt: number;
    rows: LogRow[];
    receivedBytes: number;
    maxRecordBytes: number;
    idempotencyKey?: string;
    /** Records the protocol already dropped on their own (invalid), counted as rejected usage. */
    rejectedInvalid?: number;
  },
  onTooLarge?: (error: RecordTooLargeError) => void,
): Promise<Submission> {
  let tooLarge = 0;
  const batch = serializeRows(
    request.rows,
    request.maxRecordBytes,
    undefined,
    onTooLarge &&
      ((error) => {
        tooLarge++;
        onTooLarge(error);
      }),
  );
  const rejected: Record<string, number> = {};
  if (request.rejectedInvalid) rejected.invalid_record = request.rejectedInvalid;
  if (tooLarge > 0) rejected.record_too_large = tooLarge;
  if (batch.rows === 0 && Object.keys(rejected).length === 0) return { ok: true, accepted: 0, headers: {} };
  const outcome = await handToActor(env, principal, {
    batchId: request.batchId,
    requestId: request.requestId,
    receivedAt: request.receivedAt,
    chunks: batch.chunks,
    receivedBytes: request.receivedBytes,
    ...(request.idempotencyKey !== undefined && { idempotencyKey: request.idempotencyKey }),
    ...(Object.keys(rejected).length > 0 && { rejected }),
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
  if (outcome.replayed) headers['Idempotent-Replayed'] = 'true';
  return { ok: true, accepted: outcome.accepted, headers, ...(outcome.replayed && { replayed: true }) };
}
