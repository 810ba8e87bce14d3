/**
 * The tail worker's batch: self-log records gathered across tail calls, in the
 * isolate, until ship-decision.ts says to ship them (so many records, so many
 * bytes, or the oldest has waited long enough).
 *
 * Every piece of work it starts — a shipment, or the timer that ships a batch
 * which never fills — is handed to the `background` of the tail call that
 * started it (its `ctx.waitUntil`), so that invocation lives until the records
 * are in the platform tenant's actor. A record can still be lost: if the
 * isolate dies (evicted, redeployed, out of memory) with records gathered and
 * not shipped — at most `maxAgeMs` worth, bounded by `maxHeldRecords` — or if
 * a shipment is refused (the platform tenant's limits). Self-logs are best
 * effort: nothing here touches a tenant's own logs, which the ingest worker
 * stores before it answers.
 *
 * Bounded: at most `maxHeldRecords` / `maxHeldBytes` gathered and in flight
 * together; past them new records are dropped and counted, and the next
 * shipment carries one `self_logs.dropped` record saying how many. A shipment
 * whose invocation was cancelled before it ended (its promise never settles)
 * stops counting as in flight after `STALE_SHIPMENT_MS`, so it cannot hold the
 * batch back for good.
 */
import type { Background } from '../pipeline.ts';
import { type BatchLimits, SELF_LOG_BATCH_LIMITS, type ShipDecision, shipDecision } from './ship-decision.ts';
import type { SelfLogRecord } from './tail-records.ts';

/** Ships records taken from the batch (shipped, refused or failed: the batch does not retry). */
export type ShipRecords = (records: SelfLogRecord[]) => Promise<unknown>;

/** Longer than any shipment that ends: one that has not is taken for cancelled. */
export const STALE_SHIPMENT_MS = 60_000;

interface Shipment {
  startedAt: number;
  records: number;
  bytes: number;
}

export class SelfLogBatch {
  readonly #limits: BatchLimits;
  readonly #clock: () => number;
  #records: SelfLogRecord[] = [];
  #bytes = 0;
  /** When the first of the gathered records was added (ms). */
  #since = 0;
  /** Counts the batches taken: a timer ships only the batch it was set for. */
  #generation = 0;
  /** The generation a timer is set for, or null. */
  #timerFor: number | null = null;
  #shipments = new Set<Shipment>();
  #dropped = 0;

  constructor(limits: BatchLimits = SELF_LOG_BATCH_LIMITS, clock: () => number = Date.now) {
    this.#limits = limits;
    this.#clock = clock;
  }

  /**
   * Gathers a tail call's records and does what the decision says: ships now,
   * sets the batch's timer, or leaves it to a shipment under way. Returns how
   * many records were kept (the rest were over the bound and are counted).
   */
  add(records: readonly SelfLogRecord[], ship: ShipRecords, background: Background): number {
    const now = this.#clock();
    // Gathered and in flight together, before these.
    let { records: heldRecords, bytes: heldBytes } = this.#held(now);
    let kept = 0;
    for (const record of records) {
      const bytes = estimatedBytes(record);
      if (heldRecords + 1 > this.#limits.maxHeldRecords || heldBytes + bytes > this.#limits.maxHeldBytes) {
        this.#dropped += records.length - kept;
        break;
      }
      if (this.#records.length === 0) this.#since = now;
      this.#records.push(record);
      this.#bytes += bytes;
      heldRecords++;
      heldBytes += bytes;
      kept++;
    }
    this.#act(ship, background);
    return kept;
  }

  /** Records gathered and not yet shipped, and shipments under way (tests, diagnostics). */
  get state(): { records: number; bytes: number; inFlight: number; dropped: number } {
    return { records: this.#records.length, bytes: this.#bytes, inFlight: this.#held(this.#clock()).shipments, dropped: this.#dropped };
  }

  #decide(now: number): ShipDecision {
    const ageMs = this.#records.length === 0 ? 0 : Math.max(0, now - this.#since);
    return shipDecision({ records: this.#records.length, bytes: this.#bytes, ageMs, inFlight: this.#held(now).shipments }, this.#limits);
  }

  #act(ship: ShipRecords, background: Background): void {
    const decision = this.#decide(this.#clock());
    if (decision.action === 'ship') background(this.#ship(ship, background));
    else if (decision.action === 'wait' && this.#timerFor !== this.#generation) {
      const generation = this.#generation;
      this.#timerFor = generation;
      background(
        (async () => {
          await new Promise((resolve) => setTimeout(resolve, decision.inMs));
          // Taken meanwhile (it filled up): the batch after it has a timer of its own.
          if (this.#generation !== generation) return;
          this.#timerFor = null;
          this.#act(ship, background);
        })(),
      );
    }
    // 'hold': the shipment under way that ends first decides again; 'idle': nothing gathered.
  }

  async #ship(ship: ShipRecords, background: Background): Promise<void> {
    const records = this.#records;
    if (this.#dropped > 0) {
      records.push({
        timestamp: new Date(this.#clock()).toISOString(),
        level: 'warn',
        service: 'neurallog-platform-logs',
        message: `self_logs.dropped: ${this.#dropped} records were left out (more than ${this.#limits.maxHeldRecords} records or ${this.#limits.maxHeldBytes} bytes waiting to be shipped)`,
        attributes: { dropped: String(this.#dropped) },
      });
      this.#dropped = 0;
    }
    const shipment: Shipment = { startedAt: this.#clock(), records: records.length, bytes: this.#bytes };
    this.#records = [];
    this.#bytes = 0;
    this.#generation++;
    this.#shipments.add(shipment);
    try {
      await ship(records);
    } catch {
      // The shipper says what failed (ship.ts logs it); a batch is shipped once, never retried into a loop.
    } finally {
      this.#shipments.delete(shipment);
    }
    // What gathered meanwhile may be due, or held back by this shipment.
    this.#act(ship, background);
  }

  /** Records and bytes gathered and in shipments under way, and the number of those (stale ones forgotten). */
  #held(now: number): { records: number; bytes: number; shipments: number } {
    let records = this.#records.length;
    let bytes = this.#bytes;
    for (const shipment of this.#shipments) {
      if (now - shipment.startedAt > STALE_SHIPMENT_MS) {
        this.#shipments.delete(shipment);
        continue;
      }
      records += shipment.records;
      bytes += shipment.bytes;
    }
    return { records, bytes, shipments: this.#shipments.size };
  }
}

/** A record's size as JSON, roughly (characters, plus the punctuation): enough for a bound, without serialising it. */
export function estimatedBytes(record: SelfLogRecord): number {
  let bytes = 64 + record.timestamp.length + record.level.length + record.service.length + record.message.length;
  for (const key of Object.keys(record.attributes)) bytes += key.length + record.attributes[key]!.length + 6;
  return bytes;
}
