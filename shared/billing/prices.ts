/**
 * What each plan costs, and the meters usage is billed on. The one source for
 * the estimated charge in GET /v1/usage and for docs/billing.md; the same
 * numbers must be entered as prices in Stripe (docs/billing.md says how).
 *
 * A plan is a monthly fee that includes a volume of ingested bytes; bytes
 * above it are billed per GB. Ingested bytes are counted after normalisation
 * (the rows as stored, before compression), so every protocol and every
 * compression a client chooses costs the same for the same logs.
 */
import type { PlanId } from '../plans.ts';

export interface PlanPrice {
  /** The monthly fee, in US cents. */
  monthlyFeeCents: number;
  /** Ingested bytes included in the fee each month. */
  includedBytes: number;
  /** Each GB (10^9 bytes) above the included volume, in US cents. */
  overageCentsPerGb: number;
  /** Days between a failed payment and suspension of ingest (search keeps working). */
  paymentGraceDays: number;
}

const GB = 1_000_000_000;

export const PLAN_PRICES: Readonly<Record<PlanId, PlanPrice>> = {
  starter: { monthlyFeeCents: 4_900, includedBytes: 50 * GB, overageCentsPerGb: 50, paymentGraceDays: 3 },
  professional: { monthlyFeeCents: 49_900, includedBytes: 1_000 * GB, overageCentsPerGb: 30, paymentGraceDays: 7 },
  enterprise: { monthlyFeeCents: 499_900, includedBytes: 20_000 * GB, overageCentsPerGb: 20, paymentGraceDays: 14 },
};

/**
 * The Stripe Billing meters usage is reported to (event_name → what it sums).
 * Hourly values per tenant; the meter's customer mapping is the default
 * (`stripe_customer_id` in the payload).
 */
export const METERS = {
  ingested_bytes: { eventName: 'neurallog_ingested_bytes', description: 'Bytes accepted (normalised rows, uncompressed)' },
  queries: { eventName: 'neurallog_queries', description: 'Searches served' },
} as const;
export type MeterId = keyof typeof METERS;

/**
 * The usage figures per tenant and hour: counted by the TenantActors (records
 * and bytes accepted, records rejected by reason) and the QueryGate (queries);
 * `stored_bytes` is sampled hourly by the billing job from ClickHouse's parts.
 */
export const USAGE_METRICS = ['records_accepted', 'bytes_accepted', 'records_rejected', 'queries', 'stored_bytes'] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

/** Which counter feeds which meter. */
export const METER_SOURCES: Readonly<Record<MeterId, UsageMetric>> = { ingested_bytes: 'bytes_accepted', queries: 'queries' };

/**
 * The charge for a month's usage so far under a plan, in cents: the fee plus
 * the bytes above the included volume at the per-GB rate, pro rata — what
 * Stripe computes from a graduated price whose first tier (the included
 * volume) costs nothing (docs/billing.md), rounded to the cent as an invoice is.
 */
export function estimateCharge(plan: PlanId, bytesThisMonth: number): { feeCents: number; overageBytes: number; overageCents: number; totalCents: number } {
  const price = PLAN_PRICES[plan];
  const overageBytes = Math.max(0, bytesThisMonth - price.includedBytes);
  const overageCents = Math.round((overageBytes * price.overageCentsPerGb) / GB);
  return { feeCents: price.monthlyFeeCents, overageBytes, overageCents, totalCents: price.monthlyFeeCents + overageCents };
}
