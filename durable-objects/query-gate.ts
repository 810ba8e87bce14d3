/**
 * QueryGate — one per tenant: how many of the tenant's searches run in
 * ClickHouse at once, against the plan's `queryConcurrency`. Every query
 * isolate asks the same object, so the limit holds across the edge.
 *
 * A slot is a lease with an expiry (the plan's longest query time plus a
 * margin), kept in the object's SQLite: a worker that dies mid-query cannot
 * leak a slot for longer than that, and an eviction of the object loses none.
 */
import { DurableObject } from 'cloudflare:workers';

export type Admission = { ok: true; lease: string } | { ok: false; running: number; retryAfterSeconds: number };

export class QueryGate extends DurableObject<Record<string, unknown>> {
  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)');
  }

  /** A slot if fewer than `limit` are held; leases expire after `leaseMs`. */
  async acquire(limit: number, leaseMs: number, now = Date.now()): Promise<Admission> {
    const sql = this.ctx.storage.sql;
    sql.exec('DELETE FROM leases WHERE expires_at <= ?', now);
    const running = sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases').one().n;
    if (running >= limit) {
      const next = sql.exec<{ t: number }>('SELECT min(expires_at) AS t FROM leases').one().t;
      // Searches usually end long before their lease does: suggest a short wait.
      return { ok: false, running, retryAfterSeconds: Math.max(1, Math.min(5, Math.ceil((next - now) / 1000))) };
    }
    const lease = crypto.randomUUID();
    sql.exec('INSERT INTO leases (id, expires_at) VALUES (?, ?)', lease, now + leaseMs);
    return { ok: true, lease };
  }

  async release(lease: string): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', lease);
  }

  async running(now = Date.now()): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM leases WHERE expires_at > ?', now).one().n;
  }
}
