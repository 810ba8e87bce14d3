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
 * rolls closed hours up to D1 with the same parts as the TenantActor
 * (durable-objects/alarm.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { Alarm, UsageRollUp } from './alarm.ts';
import { migrateSchema, type SchemaMigration } from './sqlite-migrations.ts';
import { UsageMeter, USAGE_METER_TABLES_V1, type HourlyCount } from './usage-meter.ts';

export type Admission = { ok: true; lease: string } | { ok: false; running: number; retryAfterSeconds: number };

export interface QueryGateEnv {
  CONTROL_DB: D1Database;
}

/** The gate's SQLite schema (durable-objects/sqlite-migrations.ts); released migrations are frozen. */
export const QUERY_GATE_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'baseline: leases, the tenant id, usage counters',
    sql: `
      CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS gate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      ${USAGE_METER_TABLES_V1}
    `,
  },
];

export class QueryGate extends DurableObject<QueryGateEnv> {
  readonly #meter: UsageMeter;
  readonly #rollUp: UsageRollUp;
  readonly #alarm: Alarm;

  constructor(ctx: DurableObjectState, env: QueryGateEnv) {
    super(ctx, env);
    migrateSchema(ctx.storage, QUERY_GATE_MIGRATIONS);
    this.#meter = new UsageMeter(ctx.storage.sql);
    this.#rollUp = new UsageRollUp(this.#meter, () => 'query');
    this.#alarm = new Alarm(ctx.storage);
    ctx.blockConcurrencyWhile(() => this.#alarm.load());
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
    await this.#alarm.bringForward(this.#rollUp.dueAt(now));
    return { ok: true, lease };
  }

  /** Searches counted here and not yet rolled up (the open hour). */
  async usage(): Promise<HourlyCount[]> {
    return this.#meter.counts();
  }

  /** The alarm is the usage roll-up's: closed hours to D1, then the next due (or the retry after a failure). */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    const tenantId = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM gate_meta WHERE key = 'tenant_id'").toArray()[0]?.value ?? null;
    await this.#rollUp.runIfDue(this.env.CONTROL_DB, tenantId, now);
    await this.#alarm.bringForward(this.#rollUp.dueAt(Date.now()));
  }

  async release(lease: string): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', lease);
  }

  async running(now = Date.now()): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases WHERE expires_at > ?', now).one().n;
  }
}
