/**
 * The TenantActor's RPC contract: what the ingest and query paths hand it and
 * what it answers. Types only — the workers import these without importing the
 * actor's code.
 */
import type { ConfigBindings } from '../../shared/config.ts';
import type { PlatformMetricsBindings } from '../../shared/platform-metrics/reporting.ts';
import type { Chunk, SealedChunk } from '../../shared/row-format.ts';
import type { QuotaCoordinator } from '../quota-coordinator.ts';
import type { AlertEvaluator } from '../alert-evaluator.ts';
import type { TailHub } from '../tail-hub.ts';
import type { DimensionState, RateLimits } from './rate-limiter.ts';
import type { QuotaLimits, QuotaUsage } from './usage-quota.ts';
import type { HourlyCount } from '../usage-meter.ts';
import type { BufferTotals, PendingFlush } from './log-buffer.ts';

export interface TenantActorEnv extends ConfigBindings, PlatformMetricsBindings {
  ARCHIVE: R2Bucket;
  CONTROL_DB: D1Database;
  QUOTA_COORDINATOR: DurableObjectNamespace<QuotaCoordinator>;
  TAIL_HUB: DurableObjectNamespace<TailHub>;
  ALERT_EVALUATOR: DurableObjectNamespace<AlertEvaluator>;
}

/** The plan's limits, as the ingest worker read them from the tenant's credential. */
export interface IngestPolicy {
  /** This shard's share of the tenant's rate (the plan's rate ÷ shards). */
  rate: RateLimits;
  /** The tenant's quotas (whole, not per shard). */
  quota: QuotaLimits;
  /** Actors the tenant's ingest is spread over; above 1, quotas go through the QuotaCoordinator. */
  shards: number;
}

/**
 * What the ingest worker hands over: normalised rows, already serialised
 * (shared/row-format.ts) — sealed (labelled and compressed by the worker,
 * stored and flushed as they are) and, for rows whose pattern the worker's
 * copy of the templates does not know, open chunks the actor labels.
 */
export interface ActorBatch {
  tenantId: string;
  /** Which of the tenant's actors this is (shared/sharding.ts): names its usage counters. */
  shard: number;
  batchId: string;
  /**
   * The client's Idempotency-Key: the same key again within a day is answered
   * as the first time, stored and counted once — or refused with
   * `idempotency_key_reused` when the body differs (`fingerprint`).
   */
  idempotencyKey?: string;
  /** SHA-256 (hex) of what the client sent under `idempotencyKey`: the protocol and the body as received. */
  fingerprint?: string;
  /** Records the ingest worker refused on their own (invalid, too large), by reason: counted as usage, never stored. */
  rejected?: Record<string, number>;
  requestId: string;
  receivedAt: number;
  chunks: Chunk[];
  /** Absent from a worker of an earlier release. */
  sealed?: SealedChunk[];
  /** Size of the request as received (after decompression): what rates and quotas count. */
  receivedBytes: number;
  policy: IngestPolicy;
}

/** An expected refusal: a value, not an exception. */
export interface IngestRefusal {
  ok: false;
  status: 413 | 422 | 429 | 503;
  code: 'request_too_large' | 'rate_limited' | 'quota_exceeded' | 'buffer_full' | 'idempotency_key_reused';
  message: string;
  retryAfterSeconds?: number;
  rate?: Record<keyof RateLimits, DimensionState>;
  details: Record<string, string | number>;
}

/** An accepted batch, or why not. */
export type IngestOutcome =
  | {
      ok: true;
      accepted: number;
      bytes: number;
      buffered: { rows: number; bytes: number };
      rate: Record<keyof RateLimits, DimensionState>;
      /** The version of the actor's templates (PatternSnapshot.version): a worker holding another fetches them again. */
      patterns?: string;
      /** The batch was accepted before (same Idempotency-Key, or the worker asking again after losing the answer): this is that answer again. */
      replayed?: boolean;
    }
  | IngestRefusal;

/** The actor's current templates, for the ingest worker to label rows with (workers/ingest/pattern-snapshots.ts). */
export interface PatternSnapshot {
  /** Changes whenever the set of current templates does (and when the actor restarts). */
  version: string;
  templates: { service: string; template: string }[];
}

export interface LimitsReport {
  rate: Record<keyof RateLimits, DimensionState>;
  usage: QuotaUsage;
}

export interface ActorStats {
  tenantId: string | null;
  /** Usage counters not yet rolled up to D1. */
  usage: HourlyCount[];
  buffered: BufferTotals;
  pendingFlushes: PendingFlush[];
  alarmAt: number | null;
  /** The version of the actor's SQLite schema (durable-objects/sqlite-migrations.ts). */
  schemaVersion: number;
}

/**
 * Which buffered records an erasure removes: the search scope of
 * `DELETE /v1/logs` (time range in ClickHouse text form, the query's syntax
 * tree, level ranges, services) — the same meaning as its ClickHouse DELETE.
 */
export interface EraseScope {
  tenantId: string;
  from: string;
  to: string;
  query: import('../../shared/query-language/ast.ts').QueryNode;
  severityRanges: [number, number][];
  services: string[];
  /** The moment the request was read (ms): `now` in relative times of the query. */
  now: number;
}

export interface EraseReport {
  /** Buffered records removed. */
  erased: number;
}
