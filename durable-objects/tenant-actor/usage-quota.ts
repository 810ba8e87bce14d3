/**
 * Volume quotas: bytes accepted per UTC day and per UTC month, counted in the
 * tenant's actor (exact, durable) and checked before a batch is stored. The
 * counters also give `GET /v1/limits` the tenant's usage.
 */

export interface QuotaLimits {
  dailyBytes: number;
  monthlyBytes: number;
}

export interface QuotaUsage {
  day: { window: string; bytes: number; records: number; limitBytes: number; resetsAt: string };
  month: { window: string; bytes: number; records: number; limitBytes: number; resetsAt: string };
}

export type QuotaDecision = { ok: true } | { ok: false; period: 'day' | 'month'; retryAfterSeconds: number; resetsAt: string; limitBytes: number };

/** The UTC day and month a moment falls in, as storage keys, and when each ends (ms). */
export function utcWindows(now: number) {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const dayEnd = Date.UTC(y, m, d.getUTCDate() + 1);
  const monthEnd = Date.UTC(y, m + 1, 1);
  const iso = d.toISOString();
  return { day: `d:${iso.slice(0, 10)}`, month: `m:${iso.slice(0, 7)}`, dayEnd, monthEnd };
}

export class UsageQuota {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // Table usage_windows: the actor's schema (tenant-actor/schema.ts).
  }

  #read(window: string): { bytes: number; records: number } {
    return (
      this.#sql.exec<{ bytes: number; records: number }>('SELECT bytes, records FROM usage_windows WHERE period = ?', window).toArray()[0] ?? {
        bytes: 0,
        records: 0,
      }
    );
  }

  check(limits: QuotaLimits, bytes: number, now: number): QuotaDecision {
    const w = utcWindows(now);
    if (this.#read(w.day).bytes + bytes > limits.dailyBytes) {
      return {
        ok: false,
        period: 'day',
        retryAfterSeconds: Math.ceil((w.dayEnd - now) / 1000),
        resetsAt: new Date(w.dayEnd).toISOString(),
        limitBytes: limits.dailyBytes,
      };
    }
    if (this.#read(w.month).bytes + bytes > limits.monthlyBytes) {
      return {
        ok: false,
        period: 'month',
        retryAfterSeconds: Math.ceil((w.monthEnd - now) / 1000),
        resetsAt: new Date(w.monthEnd).toISOString(),
        limitBytes: limits.monthlyBytes,
      };
    }
    return { ok: true };
  }

  /** Counts an accepted batch; windows older than the current month are dropped. */
  record(bytes: number, records: number, now: number): void {
    const w = utcWindows(now);
    for (const window of [w.day, w.month]) {
      this.#sql.exec(
        `INSERT INTO usage_windows (period, bytes, records) VALUES (?, ?, ?)
         ON CONFLICT (period) DO UPDATE SET bytes = bytes + excluded.bytes, records = records + excluded.records`,
        window,
        bytes,
        records,
      );
    }
    this.#sql.exec("DELETE FROM usage_windows WHERE (period LIKE 'd:%' AND period < ?) OR (period LIKE 'm:%' AND period < ?)", w.day, w.month);
  }

  /** Bytes counted in the current day and month (a sharded tenant's shard reports them to its QuotaCoordinator). */
  spent(now: number): { day: number; month: number } {
    const w = utcWindows(now);
    return { day: this.#read(w.day).bytes, month: this.#read(w.month).bytes };
  }

  usage(limits: QuotaLimits, now: number): QuotaUsage {
    const w = utcWindows(now);
    return {
      day: { window: w.day.slice(2), ...this.#read(w.day), limitBytes: limits.dailyBytes, resetsAt: new Date(w.dayEnd).toISOString() },
      month: { window: w.month.slice(2), ...this.#read(w.month), limitBytes: limits.monthlyBytes, resetsAt: new Date(w.monthEnd).toISOString() },
    };
  }
}
