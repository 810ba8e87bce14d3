/**
 * Shipping: tail calls' records into the platform tenant — gathered across
 * tail calls in the isolate's batch (batch.ts), then shipped through the
 * ingest pipeline every protocol uses (workers/ingest/pipeline.ts) — the same
 * normalisation, row checks, sealing, shard choice and actor hand-off, and so
 * the same limits: the platform tenant is an ordinary tenant of its plan, its
 * rate, burst and quotas refuse self-logs like anyone's logs (counted as its
 * rejected usage). No HTTP and no key: the tail worker holds the actors'
 * Durable Object binding, as the ingest worker does.
 */
import { tenantWriter, type AuthBindings, type TenantWriter } from '../../../shared/auth.ts';
import { loadConfig } from '../../../shared/config.ts';
import { logEvent } from '../../../shared/logger.ts';
import { normalizeRecord, RecordError } from '../../../shared/normalize.ts';
import { shardName } from '../../../shared/sharding.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import { newBatch, submit, type Background, type SubmitEnv } from '../pipeline.ts';
import { SelfLogBatch } from './batch.ts';
import { mayHaveRecords, type SelfLogRecord, tailRecords } from './tail-records.ts';

export type PlatformLogsEnv = SubmitEnv & AuthBindings;

export type ShipOutcome = { shipped: number; refused: number } | { shipped: 0; skipped: 'no_platform_tenant' | 'refused'; code?: string };

/** The platform tenant's actor ids by tenant and shard count (ids are a hash of the name: stable, cached for the isolate). */
const actorIds = new Map<string, ReadonlySet<string>>();

function platformActorIds(env: SubmitEnv, writer: TenantWriter): ReadonlySet<string> {
  const key = `${writer.tenantId}/${writer.plan.shardCount}`;
  let ids = actorIds.get(key);
  if (!ids) {
    const set = new Set<string>();
    for (let shard = 0; shard < writer.plan.shardCount; shard++) set.add(env.TENANT_ACTOR.idFromName(shardName(writer.tenantId, shard)).toString());
    ids = set;
    actorIds.set(key, ids);
  }
  return ids;
}

/** When the missing platform tenant was last said (ms): once a minute, not once per tail call. */
let missingSaidAt = 0;

/** The platform tenant's writer, or null (said once a minute) when it is missing, suspended or held by billing. */
async function platformWriter(env: PlatformLogsEnv, tenant: string, now: number, background: Background): Promise<TenantWriter | null> {
  const writer = await tenantWriter(tenant, env, now, background);
  if (writer !== null && writer.ingestSuspendedAt === null) return writer;
  if (now - missingSaidAt > 60_000) {
    missingSaidAt = now;
    // This worker is nobody's producer: its own lines go to Workers Logs / the terminal only.
    logEvent('warn', 'self_logs.no_platform_tenant', { tenant, reason: writer === null ? 'missing or suspended' : 'ingest held by billing' });
  }
  return null;
}

export type GatherOutcome = { gathered: number; dropped: number } | { gathered: 0; skipped: 'disabled' | 'nothing' | 'no_platform_tenant' };

export interface GatherOptions {
  /** The producing worker, when the runtime says it apart from the events. */
  producer?: string | null;
  /** The batch the records join; the isolate's own unless a test brings one. */
  batch?: SelfLogBatch;
  now?: number;
}

/** The isolate's batch: records gathered across tail calls (batch.ts). */
const isolateBatch = new SelfLogBatch();

/**
 * A tail call: its events' records join the batch, which ships them when it
 * is due (ship-decision.ts), in the background of the call that makes it due.
 */
export async function gatherTailEvents(
  items: readonly TraceItem[],
  env: PlatformLogsEnv,
  background: Background,
  options: GatherOptions = {},
): Promise<GatherOutcome> {
  const config = loadConfig(env);
  if (!config.selfLogs.enabled) return { gathered: 0, skipped: 'disabled' };
  // Most invocations (a request's gateway hop, an actor's RPC) write nothing and end well: no look-up for them.
  if (!items.some(mayHaveRecords)) return { gathered: 0, skipped: 'nothing' };
  const now = options.now ?? Date.now();
  const tenant = config.selfLogs.tenant;
  const writer = await platformWriter(env, tenant, now, background);
  if (writer === null) return { gathered: 0, skipped: 'no_platform_tenant' };
  const records = tailRecords(items, { platformTenant: tenant, platformActorIds: platformActorIds(env, writer), producer: options.producer ?? null });
  if (records.length === 0) return { gathered: 0, skipped: 'nothing' };
  const batch = options.batch ?? isolateBatch;
  const ship = (taken: SelfLogRecord[]) =>
    shipRecords(taken, env, background).catch((err: unknown) => {
      // Best effort, said on this worker's own output (never shipped, never retried into a loop).
      logEvent('error', 'self_logs.failed', { records: taken.length, error: err instanceof Error ? err.message : String(err) });
    });
  const gathered = batch.add(records, ship, background);
  return { gathered, dropped: records.length - gathered };
}

/** Records into the platform tenant, now: one submission through the ingest pipeline. */
export async function shipRecords(records: readonly SelfLogRecord[], env: PlatformLogsEnv, background: Background, now = Date.now()): Promise<ShipOutcome> {
  const tenant = loadConfig(env).selfLogs.tenant;
  const writer = await platformWriter(env, tenant, now, background);
  if (writer === null) return { shipped: 0, skipped: 'no_platform_tenant' };
  const batch = newBatch(writer, now);
  const rows: LogRow[] = [];
  let unreadable = 0;
  for (const [index, record] of records.entries()) {
    try {
      rows.push(normalizeRecord(record, index, batch.context));
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      unreadable++;
    }
  }
  const body = JSON.stringify(records);
  const submission = await submit(
    env,
    {
      protocol: 'self-logs',
      principal: writer,
      requestId: batch.batchId,
      batch,
      rows,
      receivedBytes: new TextEncoder().encode(body).byteLength,
      body,
      refuse: 'record',
      decoderRefused: unreadable,
      quiet: true,
    },
    background,
  );
  if (!submission.ok) {
    logEvent('warn', 'self_logs.refused', { tenant, code: submission.code, status: submission.status, records: rows.length });
    return { shipped: 0, skipped: 'refused', code: submission.code };
  }
  return { shipped: submission.accepted, refused: submission.refused.length + unreadable };
}
