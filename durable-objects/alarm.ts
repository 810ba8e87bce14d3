/**
 * What the tenant's Durable Objects with an alarm share (the TenantActor and
 * the QueryGate): the alarm's time mirrored in memory, so that a request does
 * not read it back from storage, and the hourly usage roll-up with its pause
 * after a failure.
 */
import { logEvent } from '../shared/logger.ts';
import type { UsageMeter } from './usage-meter.ts';

/** The object's alarm, mirrored: set only to bring it forward, cleared when it fires. */
export class Alarm {
  #at: number | null = null;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the stored alarm; call once, inside blockConcurrencyWhile. */
  async load(): Promise<void> {
    this.#at = await this.storage.getAlarm();
  }

  get at(): number | null {
    return this.#at;
  }

  /** The alarm handler has started: no alarm is set any more. */
  fired(): void {
    this.#at = null;
  }

  /** Sets the alarm for `at`, unless it is already set earlier (it never moves later). */
  async bringForward(at: number | null): Promise<void> {
    if (at === null || (this.#at !== null && this.#at <= at)) return;
    this.#at = at;
    await this.storage.setAlarm(at);
  }
}

/** After a failed roll-up to D1, the next try. */
export const ROLL_UP_RETRY_MS = 60_000;

/** Closed hours' usage counters to D1, with a pause after a failure so that D1 trouble is not retried in a hot loop. */
export class UsageRollUp {
  #retryAt = 0;

  constructor(
    private readonly meter: UsageMeter,
    /** Names these counters among the tenant's (`ingest:<shard>`, `query`). */
    private readonly source: () => string,
  ) {}

  /** When a roll-up is next due (ms), or null with nothing counted. */
  dueAt(now: number): number | null {
    const due = this.meter.nextRollUpAt(now);
    return due === null ? null : Math.max(due, this.#retryAt);
  }

  /** Rolls closed hours up if due; on failure, pauses for ROLL_UP_RETRY_MS. */
  async runIfDue(db: D1Database, tenantId: string | null, now: number): Promise<void> {
    const due = this.dueAt(now);
    if (due === null || due > now || tenantId === null) return;
    try {
      const written = await this.meter.rollUp(db, tenantId, this.source(), now);
      if (written > 0) logEvent('info', 'usage.rolled_up', { tenant: tenantId, source: this.source(), counters: written });
    } catch (err) {
      this.#retryAt = now + ROLL_UP_RETRY_MS;
      logEvent('warn', 'usage.roll_up_failed', { tenant: tenantId, source: this.source(), error: (err as Error).message });
    }
  }
}
