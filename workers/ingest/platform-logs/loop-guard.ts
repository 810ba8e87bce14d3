/**
 * Which records the platform tenant may receive without feeding itself.
 *
 * Shipping a record makes the platform tenant's own actor work: an `ingest`
 * call now, a flush within a second, live tail and alert evaluation for each
 * batch. That work logs, and those logs, shipped, would be shipped again: one
 * record would keep making the next forever, and a failure on that path (an
 * exception from the actor's `ingest`) would loop as fast as the machine goes.
 *
 * So a record about the platform tenant — produced by one of its actors, or
 * naming it as `tenant` — is shipped only when it comes from an alarm (work
 * the clock starts, not a record) and is a warning or an error. Then:
 * - a healthy platform tenant adds nothing per flush (`flush.done` is info):
 *   once the rest of the platform goes quiet, so does the platform tenant;
 * - a failing one adds at most a few records per alarm run (one per flush in
 *   flight, concurrency 2, and the usage roll-up's), and its alarms are spaced
 *   by the flush retry backoff (1 s doubling to 60 s): bounded by time, not by
 *   what it ships — an outage stays visible at a decaying rate.
 * Everything else (other tenants, the workers' own requests) is shipped: it is
 * caused by traffic from outside, not by shipping.
 */
import { SEVERITY_RANGES } from '../../../shared/severity.ts';

export interface RecordOrigin {
  /** The invocation ran in one of the platform tenant's TenantActors. */
  platformActor: boolean;
  /** The invocation was a Durable Object alarm. */
  alarm: boolean;
}

/** The record's `tenant` field (null when it has none) and its severity (OpenTelemetry numbers: WARN is 13). */
export interface RecordFacts {
  tenant: string | null;
  severityNumber: number;
}

const WARN = SEVERITY_RANGES.warn[0];

export function mayShip(origin: RecordOrigin, record: RecordFacts, platformTenant: string): boolean {
  const aboutPlatform = origin.platformActor || record.tenant === platformTenant;
  if (!aboutPlatform) return true;
  return origin.alarm && record.severityNumber >= WARN;
}
