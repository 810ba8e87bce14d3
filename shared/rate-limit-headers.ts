/**
 * The IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy` states each quota policy — `q` units per window of `w`
 * seconds (for a token bucket: the burst, and the time to refill it) — and
 * `RateLimit` what is left of it now (`r`) and in how many seconds it is full
 * again (`t`). Sent on every ingest answer, so clients slow down before they
 * are refused.
 */
import type { Plan } from './plans.ts';
import { perShard } from './sharding.ts';

export interface RateView {
  records: { remaining: number; resetSeconds: number };
  bytes: { remaining: number; resetSeconds: number };
}

/** What one of the tenant's shards enforces: its share of the rate, the whole quota. */
export function ingestPolicy(plan: Plan) {
  const n = plan.shardCount;
  return {
    rate: {
      records: { rate: perShard(plan.ingestRecordsPerSecond, n), burst: perShard(plan.ingestRecordsBurst, n) },
      bytes: { rate: perShard(plan.ingestBytesPerSecond, n), burst: perShard(plan.ingestBytesBurst, n) },
    },
    quota: { dailyBytes: plan.dailyBytes, monthlyBytes: plan.monthlyBytes },
    shards: n,
  };
}

/**
 * For a sharded tenant the headers describe the shard that answered — the
 * bucket the client actually met (its burst is the plan's ÷ shards).
 */
export function rateLimitHeaders(plan: Plan, view: RateView | undefined): Record<string, string> {
  const { rate } = ingestPolicy(plan);
  const window = (burst: number, perSecond: number) => Math.ceil(burst / perSecond);
  const headers: Record<string, string> = {
    'RateLimit-Policy': [
      `"records";q=${rate.records.burst};w=${window(rate.records.burst, rate.records.rate)}`,
      `"bytes";q=${rate.bytes.burst};w=${window(rate.bytes.burst, rate.bytes.rate)}`,
    ].join(', '),
  };
  if (view) {
    headers.RateLimit = [
      `"records";r=${view.records.remaining};t=${view.records.resetSeconds}`,
      `"bytes";r=${view.bytes.remaining};t=${view.bytes.resetSeconds}`,
    ].join(', ');
  }
  return headers;
}
