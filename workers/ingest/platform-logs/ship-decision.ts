/**
 * When the tail worker ships the records it has gathered: the "ship now?"
 * decision, a pure function of the batch's state (batch.ts keeps the state
 * and acts on the answer; a table test covers every row).
 *
 * Why batch at all: shipping costs the same per shipment whatever it holds —
 * a submit through the ingest pipeline, an RPC to the platform tenant's
 * actor, a SQLite transaction there, and that RPC's own tail event — while a
 * tail call brings about one record (a request's `ingest.accepted` line).
 * Shipping each tail call's records on their own paid all of it per request;
 * gathered across tail calls it is paid once per `maxRecords` records or
 * `maxAgeMs`, whichever comes first.
 */

export interface BatchLimits {
  /** Ship once this many records are gathered. */
  maxRecords: number;
  /** Ship once the gathered records are this large (bytes, as JSON, estimated). */
  maxBytes: number;
  /** Ship once the oldest gathered record has waited this long (ms): how late a self-log may be. */
  maxAgeMs: number;
  /** Shipments under way at once; past it the batch waits for one to end (a slow or failing actor is not piled on). */
  maxInFlight: number;
  /** Most records held at all (gathered while shipments are under way); past it new records are dropped and counted. */
  maxHeldRecords: number;
  /** Most bytes held at all, likewise. */
  maxHeldBytes: number;
}

export const SELF_LOG_BATCH_LIMITS: BatchLimits = {
  maxRecords: 500,
  maxBytes: 512 * 1024,
  maxAgeMs: 1_000,
  maxInFlight: 2,
  maxHeldRecords: 5_000,
  maxHeldBytes: 4 * 1024 * 1024,
};

export interface BatchState {
  /** Records gathered and not yet handed to a shipment. */
  records: number;
  /** Their size (bytes, estimated). */
  bytes: number;
  /** How long the oldest of them has waited (ms); 0 when there are none. */
  ageMs: number;
  /** Shipments under way. */
  inFlight: number;
}

export type ShipDecision =
  /** Nothing gathered: nothing to do. */
  | { action: 'idle' }
  /** Hand the gathered records to a shipment now. */
  | { action: 'ship' }
  /** Too many shipments under way: the next one to end decides again. */
  | { action: 'hold' }
  /** Not yet: decide again in `inMs` (the batch's timer). */
  | { action: 'wait'; inMs: number };

export function shipDecision(state: BatchState, limits: BatchLimits): ShipDecision {
  if (state.records === 0) return { action: 'idle' };
  if (state.inFlight >= limits.maxInFlight) return { action: 'hold' };
  if (state.records >= limits.maxRecords || state.bytes >= limits.maxBytes || state.ageMs >= limits.maxAgeMs) return { action: 'ship' };
  return { action: 'wait', inMs: limits.maxAgeMs - state.ageMs };
}
