/**
 * The ingest pipeline: the one way rows reach a tenant's actor, whatever
 * protocol they came in. Each protocol decodes its body into LogRows and calls
 * `submit()`, which
 *
 *   picks the tenant's shard → labels every row its copy of that actor's
 *   templates matches (pattern-snapshots.ts) → serialises every row once and
 *   checks it (shared/row-format.ts: size, UTF-8, integer ranges, retention)
 *   and compresses the labelled ones (sealed: the actor stores them without
 *   reading them) → refuses the request, or leaves the
 *   refused rows out, as the protocol answers → picks the tenant's shard and
 *   hands the batch to its actor → returns the actor's verdict in terms every
 *   protocol renders in its own wire format (one error seam per protocol:
 *   ApiError JSON, google.rpc.Status, Loki's text, Elasticsearch's items).
 *
 * Records refused on their own — by the protocol's decoder or here — are
 * counted as the tenant's rejected usage by the actor, by reason.
 */
import type { Context } from 'hono';
import type { IngestOutcome, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { ApiError, type ErrorDetails } from '../../shared/api-error.ts';
import type { TenantWriter } from '../../shared/auth.ts';
import type { Background } from '../../shared/background.ts';
import type { ConfigBindings } from '../../shared/config.ts';
import { loadConfig } from '../../shared/config.ts';
import { newBatchId } from '../../shared/ids.ts';
import type { LogRow } from '../../shared/log-record.ts';
import { logEvent } from '../../shared/logger.ts';
import type { NormalizeContext } from '../../shared/normalize.ts';
import { ingestPolicy, rateLimitHeaders } from '../../shared/rate-limit-headers.ts';
import { gzip } from '../../shared/gzip.ts';
import { describeRefusal, serializeRows, type Chunk, type RowRefusal, type SealedChunk } from '../../shared/row-format.ts';
import { pickShard, shardName } from '../../shared/sharding.ts';
import { type PlatformMetricsBindings, platformMetrics } from '../../shared/platform-metrics/reporting.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import type { IngestEnv } from './env.ts';
import { patternSnapshots } from './pattern-snapshots.ts';
import { refusalMemo } from './refusal-memo.ts';

/** A request's batch: its id, when it was received, and the context every row of it is built with. */
export interface Batch {
  batchId: string;
  receivedAt: number;
  context: NormalizeContext;
}

export function newBatch(principal: TenantWriter, receivedAt = Date.now()): Batch {
  const batchId = newBatchId(receivedAt);
  return {
    batchId,
    receivedAt,
    context: { tenantId: principal.tenantId, retentionDays: principal.retentionDays, receivedAt: formatClickHouseTime(instantFromMillis(receivedAt)), batchId },
  };
}

export interface Submit {
  /** For the logs: which protocol this came in by. */
  protocol: 'logs' | 'otlp' | 'loki' | 'elasticsearch' | 'syslog' | 'self-logs';
  /** The tenant written into: the caller's (a Principal), or the platform tenant (self-logging). */
  principal: TenantWriter;
  requestId: string;
  batch: Batch;
  rows: LogRow[];
  /** Size of the request as received (after decompression): what rates and quotas count. */
  receivedBytes: number;
  idempotencyKey?: string;
  /**
   * The tenant's shard this request goes to, when the route chose it already (the refusal memo
   * chooses it before the body is read, refusal-memo.ts); else chosen here the same way.
   */
  shard?: number;
  /** The body as received (after decompression): fingerprinted under an Idempotency-Key, so the same key with another body is refused. */
  body: string | Uint8Array;
  /**
   * What one refused row does: `request` refuses the whole request with a
   * 400/413 naming the record and field, and nothing is stored (POST /v1/logs,
   * syslog: all or nothing); `record` leaves it out and reports it, the rest
   * stored (OTLP partial success, Loki, Elasticsearch bulk items).
   */
  refuse: 'request' | 'record';
  /** Records the protocol's decoder refused on their own before building rows (counted as `invalid_record`). */
  decoderRefused?: number;
  /** No `ingest.accepted` line: self-logging's batches, whose line would double the platform's output for nothing. */
  quiet?: boolean;
}

export type Submission =
  | {
      ok: true;
      accepted: number;
      /** Rows left out (`refuse: 'record'` only), indexes into `rows`. */
      refused: RowRefusal[];
      /** RateLimit headers (and Idempotent-Replayed on a replay). */
      headers: Record<string, string>;
      replayed: boolean;
    }
  | {
      ok: false;
      status: 400 | 413 | 422 | 429 | 503 | 504;
      code: string;
      message: string;
      details: ErrorDetails;
      /** RateLimit headers and, when a retry can succeed later, Retry-After. */
      headers: Record<string, string>;
    };

// The routes and the platform-logs shipper take their `Background` from here, as before it moved to shared/ (authentication uses it too).
export { type Background, backgroundOf } from '../../shared/background.ts';

/** What `submit` needs of its worker's bindings: the actors and the configuration (the ingest worker and the platform-logs tail worker both have them). */
export type SubmitEnv = ConfigBindings & PlatformMetricsBindings & Pick<IngestEnv, 'TENANT_ACTOR'>;

export async function submit(env: SubmitEnv, request: Submit, background: Background): Promise<Submission> {
  const submission = await submitToActor(env, request, background);
  countSubmission(env, request, submission, background);
  return submission;
}

async function submitToActor(env: SubmitEnv, request: Submit, background: Background): Promise<SubmissionWithCounts> {
  const { principal, batch, rows } = request;
  const config = loadConfig(env);
  // Chosen once, before anything: asking again must reach the same actor (its ledger knows the batch).
  const shard = request.shard ?? pickShard(principal.plan.shardCount, request.idempotencyKey);
  const actorName = shardName(principal.tenantId, shard);
  const actor = env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(actorName));
  const patternOf = await patternSnapshots.lookup(actorName, actor);
  const serialized = serializeRows(rows, {
    maxRecordBytes: config.limits.maxRecordBytes,
    now: batch.receivedAt,
    ...(patternOf && { patternOf }),
  });
  const refused = serialized.refused;
  if (request.refuse === 'request' && refused.length > 0) {
    const first = refused[0]!;
    return {
      ok: false,
      status: first.code === 'record_too_large' ? 413 : 400,
      code: first.code,
      message: describeRefusal(first, request.protocol === 'syslog' ? 'line' : 'record'),
      details: { record: first.record, ...(first.field !== null && { field: first.field }), ...(first.limit !== undefined && { limit: first.limit }) },
      headers: {},
      refusedRecords: rows.length,
    };
  }
  const rejected = rejectedByReason(refused, request.decoderRefused ?? 0);
  if (serialized.rows === 0 && rejected.size === 0) return { ok: true, accepted: 0, refused, headers: {}, replayed: false, rejected };

  const sealed: SealedChunk[] = [];
  // Before the hand-off: the refusal memo's horizon counts from a moment no later than the actor's clock.
  const askedAt = Date.now();
  for (const chunk of serialized.sealed) sealed.push({ gzip: await gzip(chunk.text), rows: chunk.rows, bytes: chunk.bytes });
  const outcome = await handToActor(actor, principal, shard, {
    batchId: batch.batchId,
    requestId: request.requestId,
    receivedAt: batch.receivedAt,
    chunks: serialized.chunks,
    ...(sealed.length > 0 && { sealed }),
    receivedBytes: request.receivedBytes,
    ...(request.idempotencyKey !== undefined && {
      idempotencyKey: request.idempotencyKey,
      fingerprint: await fingerprint(request.protocol, request.body),
    }),
    ...(rejected.size > 0 && { rejected: Object.fromEntries(rejected) }),
  });
  if (outcome === 'nothing_stored') {
    return {
      ok: false,
      status: 503,
      code: 'unavailable',
      message: 'the batch could not be stored; nothing was accepted, retry later',
      details: {},
      headers: { 'Retry-After': '1' },
      refusedRecords: serialized.rows,
      rejected,
    };
  }
  if (outcome === 'unknown') {
    return {
      ok: false,
      status: 504,
      code: 'outcome_unknown',
      message:
        "the tenant's actor did not confirm the batch, so it may or may not have been stored; send it again under an Idempotency-Key to have it stored once",
      details: {},
      headers: { 'Retry-After': '1' },
      refusedRecords: serialized.rows,
      rejected,
    };
  }
  if (outcome.ok) {
    const refresh = patternSnapshots.seen(actorName, actor, outcome.patterns);
    if (refresh) background(refresh);
  }
  const headers = rateLimitHeaders(principal.plan, outcome.rate);
  if (!outcome.ok && outcome.retryAfterSeconds !== undefined) headers['Retry-After'] = String(outcome.retryAfterSeconds);
  // The actor's verdict for the tenant: a 429 refuses its next requests before their bodies are read (refusal-memo.ts).
  if (!outcome.ok) refusalMemo.remember(actorName, principal.plan, { ...outcome, headers }, askedAt);
  if (!outcome.ok) {
    logEvent('info', 'ingest.refused', {
      requestId: request.requestId,
      protocol: request.protocol,
      tenant: principal.tenantId,
      code: outcome.code,
      records: serialized.rows,
    });
    return {
      ok: false,
      status: outcome.status,
      code: outcome.code,
      message: outcome.message,
      details: outcome.details,
      headers,
      refusedRecords: serialized.rows,
      rejected,
    };
  }
  // A replay the client asked for (its key); the worker's own second asking is not the client's business.
  const replayed = outcome.replayed === true && request.idempotencyKey !== undefined;
  if (replayed) headers['Idempotent-Replayed'] = 'true';
  if (!request.quiet) logAccepted(request, outcome, refused.length);
  return { ok: true, accepted: outcome.accepted, refused, headers, replayed, rejected };
}

function logAccepted(request: Submit, outcome: Extract<IngestOutcome, { ok: true }>, refused: number): void {
  const { principal, batch } = request;
  logEvent('info', 'ingest.accepted', {
    requestId: request.requestId,
    protocol: request.protocol,
    tenant: principal.tenantId,
    batchId: batch.batchId,
    records: outcome.accepted,
    refused: refused + (request.decoderRefused ?? 0),
    bytes: outcome.bytes,
    bufferedRows: outcome.buffered.rows,
    durationMs: Date.now() - batch.receivedAt,
  });
}

/** A submission and what the platform metrics count of it (not part of what protocols see). */
type SubmissionWithCounts = Submission & {
  /** Records refused on their own, by reason. */
  rejected?: Map<string, number>;
  /** A refusal of the whole request: how many records it held. */
  refusedRecords?: number;
};

/** The tenant's accepted and refused records (neurallog_ingest_records_*), by protocol and by reason. */
function countSubmission(env: SubmitEnv, request: Submit, submission: SubmissionWithCounts, background: Background): void {
  const metrics = platformMetrics(env);
  const tenant = request.principal.tenantId;
  // A replay was counted when it was first accepted.
  if (submission.ok && !submission.replayed) {
    metrics.count('neurallog_ingest_records_accepted_total', { tenant, protocol: request.protocol }, submission.accepted);
  }
  for (const [reason, records] of submission.rejected ?? []) metrics.count('neurallog_ingest_records_refused_total', { tenant, reason }, records);
  if (!submission.ok) metrics.count('neurallog_ingest_records_refused_total', { tenant, reason: submission.code }, submission.refusedRecords ?? 0);
  metrics.reportSoon(background);
}

/** Refused records by usage reason (a Map: reasons are our codes, but the rule holds everywhere). */
function rejectedByReason(refused: RowRefusal[], decoderRefused: number): Map<string, number> {
  const counts = new Map<string, number>();
  if (decoderRefused > 0) counts.set('invalid_record', decoderRefused);
  for (const r of refused) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  return counts;
}

/** A failed submission as an ApiError, which each protocol's error seam renders in its wire format. */
export function submissionError(failure: Extract<Submission, { ok: false }>): ApiError {
  return new ApiError(failure.status, failure.code, failure.message, failure.details, failure.headers);
}

/** The JSON API's receipt (POST /v1/logs, /v1/syslog): 202 `{accepted, batchId}` with the rate headers, or the refusal thrown. */
export function jsonReceipt(c: Context, submission: Submission, batch: Batch): Response {
  if (!submission.ok) throw submissionError(submission);
  for (const [name, value] of Object.entries(submission.headers)) c.header(name, value);
  return c.json({ accepted: submission.accepted, batchId: batch.batchId }, 202);
}

interface HandOff {
  batchId: string;
  requestId: string;
  receivedAt: number;
  chunks: Chunk[];
  sealed?: SealedChunk[];
  receivedBytes: number;
  idempotencyKey?: string;
  fingerprint?: string;
  rejected?: Record<string, number>;
}

/** Asking an actor again after an answer was lost: it files every batch under its id (or key), so a repeat is answered from its ledger. */
const ACTOR_ATTEMPTS = 3;

/**
 * What an exception from the actor's RPC says about the batch:
 * - thrown by the actor's own code (`remote`): its checks and its storage
 *   transaction come before anything that can throw after the commit, so
 *   nothing was stored;
 * - the object refused the work (`overloaded`): nothing was stored, and asking
 *   again would add to the load;
 * - its storage full (SQLITE_FULL) on the request's first attempt: the write
 *   rolled back, nothing was stored (found by the fault suite, docs/reliability.md:
 *   these were asked again three times and answered 504 "may be stored");
 * - anything else — the connection dropped, the object was reset — may have
 *   come before or after the commit: ask again.
 */
export function actorFailure(err: unknown, earlierAttemptUnclear = false): 'nothing_stored' | 'ask_again' {
  const e = err as { remote?: unknown; overloaded?: unknown; message?: unknown } | null;
  if (e?.remote === true || e?.overloaded === true) return 'nothing_stored';
  // SQLITE_FULL comes from the actor's storage without `remote`. After an unclear attempt, an earlier
  // one may have committed before its answer was lost: only the ledger can tell then (recallOutcome).
  if (!earlierAttemptUnclear && typeof e?.message === 'string' && e.message.includes('SQLITE_FULL')) return 'nothing_stored';
  return 'ask_again';
}

async function handToActor(
  actor: DurableObjectStub<TenantActor>,
  principal: TenantWriter,
  shard: number,
  batch: HandOff,
): Promise<IngestOutcome | 'nothing_stored' | 'unknown'> {
  const { tenantId, plan } = principal;
  for (let attempt = 1; ; attempt++) {
    try {
      return await actor.ingest({ tenantId, shard, ...batch, policy: ingestPolicy(plan) });
    } catch (err) {
      const failure = actorFailure(err, attempt > 1);
      logEvent('error', 'ingest.actor_failed', {
        requestId: batch.requestId,
        tenant: tenantId,
        batchId: batch.batchId,
        attempt,
        failure,
        error: (err as Error).message,
      });
      if (failure === 'nothing_stored') return 'nothing_stored';
      if (attempt >= ACTOR_ATTEMPTS) return recallOutcome(actor, { tenantId, shard, ...batch, policy: ingestPolicy(plan) });
    }
  }
}

const RECALL_ATTEMPTS = 3;

/**
 * After the last attempt failed without saying why: whether the batch was
 * stored, from the actor's ledger (a read; TenantActor.recall). An actor whose
 * storage cannot commit — its disk full — fails every attempt alike, and
 * "unknown" (504) would tell the client the batch may be stored when the
 * ledger can say it is not: 503 + Retry-After then, the answer a full buffer
 * gets. Unknown stays unknown only when the actor cannot be asked at all.
 */
async function recallOutcome(
  actor: DurableObjectStub<TenantActor>,
  batch: Parameters<TenantActor['recall']>[0],
): Promise<IngestOutcome | 'nothing_stored' | 'unknown'> {
  // An object whose commit failed is reset: a read a moment later meets a fresh instance.
  for (let attempt = 1; ; attempt++) {
    try {
      return (await actor.recall(batch)) ?? 'nothing_stored';
    } catch (err) {
      logEvent('error', 'ingest.actor_recall_failed', { tenant: batch.tenantId, batchId: batch.batchId, attempt, error: (err as Error).message });
      if (attempt >= RECALL_ATTEMPTS) return 'unknown';
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}

/** SHA-256 of the protocol and the body: what an Idempotency-Key was used for. */
async function fingerprint(protocol: string, body: string | Uint8Array): Promise<string> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const data = new Uint8Array(protocol.length + 1 + bytes.byteLength);
  data.set(new TextEncoder().encode(`${protocol}\n`), 0);
  data.set(bytes, protocol.length + 1);
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
