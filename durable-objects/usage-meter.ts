/**
 * Usage counters per UTC hour, in an actor's own SQLite, and their roll-up to
 * the control plane's `usage_hourly` table in D1.
 *
 * Counting: `add()` is synchronous SQL, so the caller puts it in the same
 * storage transaction as the change it counts (the TenantActor: the batch it
 * buffers). A crash can then neither count a batch that was not stored nor
 * store one that was not counted.
 *
 * Roll-up: once an hour has ended its counters are final; `rollUp()` writes
 * them to D1 as values (an upsert that sets, never adds), then forgets them.
 * A crash between the two writes them again next time — the same values, so
 * D1 does not change: replaying an hour is harmless. Counting never goes into
 * an hour that was already rolled up (a clock that steps back counts into the
 * next open hour instead), so a value, once written, is final.
 */
import type { UsageMetric } from '../shared/billing/prices.ts';

export const HOUR_MS = 3_600_000;

/**
 * The meter's tables, as released in the first versioned schema of the
 * objects that count usage (the TenantActor, the QueryGate). Frozen: a change
 * is a new migration in those schemas.
 */
export const USAGE_METER_TABLES_V1 = `
      CREATE TABLE IF NOT EXISTS usage_hours (
        hour   INTEGER NOT NULL,
        metric TEXT    NOT NULL,
        reason TEXT    NOT NULL DEFAULT '',
        value  INTEGER NOT NULL,
        PRIMARY KEY (hour, metric, reason)
      );
      CREATE TABLE IF NOT EXISTS usage_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

export function hourOf(ms: number): number {
  return ms - (ms % HOUR_MS);
}

export type HourlyCount = {
  hour: number;
  metric: UsageMetric;
  reason: string;
  value: number;
};

export class UsageMeter {
  readonly #sql: SqlStorage;
  /** Start of the last hour written to D1 (counting never goes into it or earlier). */
  #rolledThrough: number;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // Tables usage_hours and usage_meta: USAGE_METER_TABLES_V1, in the schema of each object that counts usage.
    this.#rolledThrough = sql.exec<{ value: number }>("SELECT value FROM usage_meta WHERE key = 'rolled_through'").toArray()[0]?.value ?? -1;
  }

  /** Counts `value` of `metric` at `now` (synchronous: part of the caller's transaction). */
  add(now: number, metric: UsageMetric, value: number, reason = ''): void {
    if (value === 0) return;
    const hour = Math.max(hourOf(now), this.#rolledThrough + HOUR_MS);
    this.#sql.exec(
      `INSERT INTO usage_hours (hour, metric, reason, value) VALUES (?, ?, ?, ?)
       ON CONFLICT (hour, metric, reason) DO UPDATE SET value = value + excluded.value`,
      hour,
      metric,
      reason,
      value,
    );
  }

  /** Counters not yet rolled up (the open hour and any closed ones waiting). */
  counts(): HourlyCount[] {
    return this.#sql.exec<HourlyCount>('SELECT hour, metric, reason, value FROM usage_hours ORDER BY hour, metric, reason').toArray();
  }

  /** When a roll-up is next due (ms): now if a closed hour waits, the end of the open hour if it has counts, else null. */
  nextRollUpAt(now: number): number | null {
    const oldest = this.#sql.exec<{ hour: number | null }>('SELECT min(hour) AS hour FROM usage_hours').one().hour;
    if (oldest === null) return null;
    return oldest < hourOf(now) ? now : oldest + HOUR_MS;
  }

  /**
   * Writes every closed hour to D1 (`source` names this actor among the
   * tenant's counters), then forgets it. Returns how many counters were written.
   */
  async rollUp(db: D1Database, tenantId: string, source: string, now: number): Promise<number> {
    const current = hourOf(now);
    const closed = this.#sql.exec<HourlyCount>('SELECT hour, metric, reason, value FROM usage_hours WHERE hour < ? ORDER BY hour', current).toArray();
    if (closed.length === 0) return 0;
    const upsert = db.prepare(
      `INSERT INTO usage_hourly (tenant_id, source, hour, metric, reason, value) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, source, hour, metric, reason) DO UPDATE SET value = excluded.value`,
    );
    await db.batch(closed.map((c) => upsert.bind(tenantId, source, c.hour, c.metric, c.reason, c.value)));
    const through = Math.max(this.#rolledThrough, ...closed.map((c) => c.hour));
    this.#sql.exec('DELETE FROM usage_hours WHERE hour <= ?', through);
    this.#sql.exec("INSERT OR REPLACE INTO usage_meta (key, value) VALUES ('rolled_through', ?)", through);
    this.#rolledThrough = through;
    return closed.length;
  }
}
