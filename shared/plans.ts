/**
 * The plans — the one source of truth for every limit a tenant has.
 *
 * The actor (rate limits, quotas, sharding), the query worker (concurrency),
 * the control plane (what a tenant may be set to) and the operator (dedicated
 * stacks) all read these. D1's `plans` table mirrors them for SQL and the admin
 * API; its rows are generated from this file (scripts/generate-plan-seed.ts)
 * and a test keeps the two equal.
 */

export interface Plan {
  id: PlanId;
  name: string;
  /** Sustained ingest rate and the burst a token bucket allows above it. */
  ingestRecordsPerSecond: number;
  ingestRecordsBurst: number;
  ingestBytesPerSecond: number;
  ingestBytesBurst: number;
  /** Volume quotas (bytes as received, after decompression). */
  dailyBytes: number;
  monthlyBytes: number;
  retentionDays: number;
  /** Searches one tenant may run at once. */
  queryConcurrency: number;
  /** Most rows one search may read in ClickHouse (max_rows_to_read). */
  queryMaxRowsRead: number;
  /** Longest a search may run, in seconds (max_execution_time). */
  queryMaxSeconds: number;
  /** Tenant actors a tenant's ingest is spread over. */
  shardCount: number;
  /** A dedicated stack in its own namespace (the operator's job). */
  dedicated: boolean;
  /** Alert rules a tenant may keep, and the shortest interval they may be evaluated at: evaluation costs a query per rule and interval. */
  alertRules: number;
  alertMinIntervalSeconds: number;
}

export type PlanId = 'starter' | 'professional' | 'enterprise';

const MB = 1024 * 1024;
const GB = 1024 * MB;

export const PLANS: Readonly<Record<PlanId, Plan>> = {
  starter: {
    id: 'starter',
    name: 'Starter',
    ingestRecordsPerSecond: 1_000,
    ingestRecordsBurst: 10_000,
    ingestBytesPerSecond: 1 * MB,
    ingestBytesBurst: 10 * MB,
    dailyBytes: 5 * GB,
    monthlyBytes: 100 * GB,
    retentionDays: 7,
    queryConcurrency: 2,
    queryMaxRowsRead: 50_000_000,
    queryMaxSeconds: 10,
    shardCount: 1,
    dedicated: false,
    alertRules: 20,
    alertMinIntervalSeconds: 60,
  },
  professional: {
    id: 'professional',
    name: 'Professional',
    ingestRecordsPerSecond: 10_000,
    ingestRecordsBurst: 100_000,
    ingestBytesPerSecond: 10 * MB,
    ingestBytesBurst: 100 * MB,
    dailyBytes: 100 * GB,
    monthlyBytes: 2_000 * GB,
    retentionDays: 30,
    queryConcurrency: 8,
    queryMaxRowsRead: 500_000_000,
    queryMaxSeconds: 30,
    shardCount: 2,
    dedicated: false,
    alertRules: 200,
    alertMinIntervalSeconds: 30,
  },
  enterprise: {
    id: 'enterprise',
    name: 'Enterprise',
    ingestRecordsPerSecond: 100_000,
    ingestRecordsBurst: 1_000_000,
    ingestBytesPerSecond: 100 * MB,
    ingestBytesBurst: 1_000 * MB,
    dailyBytes: 2_000 * GB,
    monthlyBytes: 50_000 * GB,
    retentionDays: 365,
    queryConcurrency: 32,
    queryMaxRowsRead: 5_000_000_000,
    queryMaxSeconds: 60,
    shardCount: 8,
    dedicated: true,
    alertRules: 1_000,
    alertMinIntervalSeconds: 10,
  },
};
