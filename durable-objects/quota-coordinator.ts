/**
 * QuotaCoordinator: one per sharded tenant (named `<tenant>`), the keeper of
 * the tenant's daily and monthly volume when its ingest is spread over several
 * TenantActor shards. Shards reserve volume from it in chunks and spend the
 * chunks locally, so the coordinator sees one call per chunk, not per batch,
 * and never grants more than the quota: the tenant-wide total can never pass
 * it. The price is that a shard may hold part of a chunk unused when another
 * is refused: admission can fall short of the quota by at most one chunk per
 * shard (chunks are 1 % of the daily quota), never go over it.
 *
 * What a shard holds lives in its memory, and a shard's memory goes whenever
 * its object is reset or evicted (a crash, a full disk, an idle tenant). So the
 * coordinator keeps a claim per shard — what the shard has durably spent (its
 * own usage counters, written with its rows), what it still holds, and the
 * grant — and each request replaces that shard's claim: a chunk lost with a
 * shard's memory is reclaimed at its next request instead of counting as used
 * until the day ends. (Found by the fault suite, docs/reliability.md: when every
 * grant stayed counted, a full disk's resets used up an enterprise tenant's
 * whole daily quota in half a minute, and it was refused until midnight.)
 */
import { DurableObject } from 'cloudflare:workers';
import { migrateSchema, type SchemaMigration } from './sqlite-migrations.ts';
import { utcWindows, type QuotaLimits } from './tenant-actor/usage-quota.ts';

export type Reservation =
  | { granted: number; window: string }
  | { granted: 0; window: string; period: 'day' | 'month'; retryAfterSeconds: number; resetsAt: string; limitBytes: number };

/** What a shard says when it asks: its own durable spend in the current day and month, and what it still holds. */
export interface ShardHolding {
  shard: number;
  spentDay: number;
  spentMonth: number;
  /** Granted earlier, not spent yet, still in the shard's memory (0 after a reset). */
  held: number;
}

/** The coordinator's SQLite schema (durable-objects/sqlite-migrations.ts); released migrations are frozen. */
export const QUOTA_COORDINATOR_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'baseline: volume granted per day and month',
    sql: 'CREATE TABLE IF NOT EXISTS granted (period TEXT PRIMARY KEY, bytes INTEGER NOT NULL)',
  },
  {
    // `granted` stays, unused: the claims rebuild from the shards' own counters at their next requests.
    version: 2,
    name: 'claims per shard: spent + held + granted, replaced at each request',
    sql: 'CREATE TABLE IF NOT EXISTS claims (shard INTEGER NOT NULL, period TEXT NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (shard, period))',
  },
];

export class QuotaCoordinator extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    migrateSchema(ctx.storage, QUOTA_COORDINATOR_MIGRATIONS);
  }

  /** The claims of every shard but `shard` in a period. */
  #othersClaim(period: string, shard: number): number {
    return (
      this.ctx.storage.sql.exec<{ bytes: number | null }>('SELECT sum(bytes) AS bytes FROM claims WHERE period = ? AND shard <> ?', period, shard).one()
        .bytes ?? 0
    );
  }

  /**
   * Grants up to `wanted` bytes of today's volume (at least `needed`, or
   * nothing): what is left of both the day and the month once every other
   * shard's claim and this shard's spend and holding are counted.
   */
  async reserve(wanted: number, needed: number, limits: QuotaLimits, holding: ShardHolding): Promise<Reservation> {
    const now = Date.now();
    const w = utcWindows(now);
    const dayLeft = limits.dailyBytes - this.#othersClaim(w.day, holding.shard) - holding.spentDay - holding.held;
    const monthLeft = limits.monthlyBytes - this.#othersClaim(w.month, holding.shard) - holding.spentMonth - holding.held;
    const grant = Math.min(wanted, dayLeft, monthLeft);
    if (grant < needed) {
      const day = dayLeft < needed;
      const resetAt = day ? w.dayEnd : w.monthEnd;
      return {
        granted: 0,
        window: w.day,
        period: day ? 'day' : 'month',
        retryAfterSeconds: Math.ceil((resetAt - now) / 1000),
        resetsAt: new Date(resetAt).toISOString(),
        limitBytes: day ? limits.dailyBytes : limits.monthlyBytes,
      };
    }
    for (const [period, spent] of [
      [w.day, holding.spentDay],
      [w.month, holding.spentMonth],
    ] as const) {
      this.ctx.storage.sql.exec('INSERT OR REPLACE INTO claims (shard, period, bytes) VALUES (?, ?, ?)', holding.shard, period, spent + holding.held + grant);
    }
    this.ctx.storage.sql.exec("DELETE FROM claims WHERE (period LIKE 'd:%' AND period < ?) OR (period LIKE 'm:%' AND period < ?)", w.day, w.month);
    return { granted: grant, window: w.day };
  }
}
