/**
 * The IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy` states each quota policy — `q` units per window of `w`
 * seconds (for a token bucket: the burst, and the time to refill it) — and
 * `RateLimit` what is left of it now (`r`) and in how many seconds it is full
 * again (`t`). Sent on every ingest answer, so clients slow down before they
 * are refused.
 */
import type { Plan } from './plans.ts';

export interface RateView {
  records: { remaining: number; resetSeconds: number };
  bytes: { remaining: number; resetSeconds: number };
}

export function ingestPolicy(plan: Plan) {
  return {
    rate: {
      records: { rate: plan.ingestRecordsPerSecond, burst: plan.ingestRecordsBurst },
      bytes: { rate: plan.ingestBytesPerSecond, burst: plan.ingestBytesBurst },
    },
    quota: { dailyBytes: plan.dailyBytes, monthlyBytes: plan.monthlyBytes },
  };
}

export function rateLimitHeaders(plan: Plan, view: RateView | undefined): Record<string, string> {
  const window = (burst: number, rate: number) => Math.ceil(burst / rate);
  const headers: Record<string, string> = {
    'RateLimit-Policy': [
      `"records";q=${plan.ingestRecordsBurst};w=${window(plan.ingestRecordsBurst, plan.ingestRecordsPerSecond)}`,
      `"bytes";q=${plan.ingestBytesBurst};w=${window(plan.ingestBytesBurst, plan.ingestBytesPerSecond)}`,
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
