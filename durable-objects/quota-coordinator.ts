/**
 * QuotaCoordinator: one per sharded tenant (named `<tenant>`), the keeper of
 * the tenant's daily and monthly volume when its ingest is spread over several
 * TenantActor shards. Shards reserve volume from it in chunks and spend the
 * chunks locally, so the coordinator sees one call per chunk, not per batch,
 * and never grants more than the quota: the tenant-wide total can never pass
 * it. The price is that a shard may hold part of a chunk unused when another
 * is refused: admission can fall short of the quota by at most one chunk per
 * shard (chunks are 1 % of the daily quota), never go over it.
 */
import { DurableObject } from 'cloudflare:workers';
import { migrateSchema, type SchemaMigration } from './sqlite-migrations.ts';
import { utcWindows, type QuotaLimits } from './tenant-actor/usage-quota.ts';

export type Reservation =
  | { granted: number; window: string }
  | { granted: 0; window: string; period: 'day' | 'month'; retryAfterSeconds: number; resetsAt: string; limitBytes: number };

/** The coordinator's SQLite schema (durable-objects/sqlite-migrations.ts); released migrations are frozen. */
export const QUOTA_COORDINATOR_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'baseline: volume granted per day and month',
    sql: 'CREATE TABLE IF NOT EXISTS granted (period TEXT PRIMARY KEY, bytes INTEGER NOT NULL)',
  },
];

export class QuotaCoordinator extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    migrateSchema(ctx.storage, QUOTA_COORDINATOR_MIGRATIONS);
  }

  #granted(period: string): number {
    return this.ctx.storage.sql.exec<{ bytes: number }>('SELECT bytes FROM granted WHERE period = ?', period).toArray()[0]?.bytes ?? 0;
  }

  /**
   * Grants up to `wanted` bytes of today's volume (at least `needed`, or
   * nothing): what is left of both the day and the month.
   */
  async reserve(wanted: number, needed: number, limits: QuotaLimits): Promise<Reservation> {
    const now = Date.now();
    const w = utcWindows(now);
    const dayLeft = limits.dailyBytes - this.#granted(w.day);
    const monthLeft = limits.monthlyBytes - this.#granted(w.month);
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
    for (const period of [w.day, w.month]) {
      this.ctx.storage.sql.exec(
        'INSERT INTO granted (period, bytes) VALUES (?, ?) ON CONFLICT (period) DO UPDATE SET bytes = bytes + excluded.bytes',
        period,
        grant,
      );
    }
    this.ctx.storage.sql.exec("DELETE FROM granted WHERE (period LIKE 'd:%' AND period < ?) OR (period LIKE 'm:%' AND period < ?)", w.day, w.month);
    return { granted: grant, window: w.day };
  }
}
