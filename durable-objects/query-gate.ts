/**
 * QueryGate — one per tenant: how many of the tenant's searches run in
 * ClickHouse at once, against the plan's `queryConcurrency`. Every query
 * isolate asks the same object, so the limit holds across the edge.
 *
 * A slot is a lease with an expiry (the plan's longest query time plus a
 * margin), kept in the object's SQLite: a worker that dies mid-query cannot
 * leak a slot for longer than that, and an eviction of the object loses none.
 *
 * Every admitted search is also counted here, per hour, as the tenant's
 * `queries` usage (in the same storage write as its lease); the object's alarm
 * rolls closed hours up to D1 like the TenantActor does.
 */
import { DurableObject } from 'cloudflare:workers';
import { logEvent } from '../shared/logger.ts';
import { UsageMeter, type HourlyCount } from './usage-meter.ts';

export type Admission = { ok: true; lease: string } | { ok: false; running: number; retryAfterSeconds: number };

export interface QueryGateEnv {
  CONTROL_DB: D1Database;
}

/** After a failed roll-up to D1, the next try. */
const ROLL_UP_RETRY_MS = 60_000;

export class QueryGate extends DurableObject<QueryGateEnv> {
  readonly #meter: UsageMeter;
  /** When the alarm is set for (ms), mirrored so a search does not read it back. */
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: QueryGateEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS gate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.#meter = new UsageMeter(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** A slot for one search of `tenantId` if fewer than `limit` are held; leases expire after `leaseMs`. */
  async acquire(tenantId: string, limit: number, leaseMs: number, now = Date.now()): Promise<Admission> {
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT OR IGNORE INTO gate_meta (key, value) VALUES ('tenant_id', ?)", tenantId);
    sql.exec('DELETE FROM leases WHERE expires_at <= ?', now);
    const running = sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases').one().n;
    if (running >= limit) {
      const next = sql.exec<{ t: number }>('SELECT min(expires_at) AS t FROM leases').one().t;
      // Searches usually end long before their lease does: suggest a short wait.
      return { ok: false, running, retryAfterSeconds: Math.max(1, Math.min(5, Math.ceil((next - now) / 1000))) };
    }
    const lease = crypto.randomUUID();
    sql.exec('INSERT INTO leases (id, expires_at) VALUES (?, ?)', lease, now + leaseMs);
    this.#meter.add(now, 'queries', 1);
    const rollUp = this.#meter.nextRollUpAt(now);
    if (rollUp !== null && (this.#alarmAt === null || this.#alarmAt > rollUp)) await this.#setAlarm(rollUp);
    return { ok: true, lease };
  }

  /** Searches counted here and not yet rolled up (the open hour). */
  async usage(): Promise<HourlyCount[]> {
    return this.#meter.counts();
  }

  async #setAlarm(at: number): Promise<void> {
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    const tenantId = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM gate_meta WHERE key = 'tenant_id'").toArray()[0]?.value;
    if (tenantId !== undefined) {
      try {
        await this.#meter.rollUp(this.env.CONTROL_DB, tenantId, 'query', now);
      } catch (err) {
        logEvent('warn', 'usage.roll_up_failed', { tenant: tenantId, source: 'query', error: (err as Error).message });
        await this.#setAlarm(now + ROLL_UP_RETRY_MS);
        return;
      }
    }
    const next = this.#meter.nextRollUpAt(now);
    if (next !== null) await this.#setAlarm(next);
  }

  async release(lease: string): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', lease);
  }

  async running(now = Date.now()): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases WHERE expires_at > ?', now).one().n;
  }
}
