/**
 * What each plan gets in a cluster: the user's "Resource Allocation by Plan"
 * table (docs: neurallog-architecture.md). The lower figure of each range is
 * the quota on requests, the upper on limits. `spec.resources` of a Tenant
 * overrides CPU, memory and storage.
 */
import type { PlanId } from '../../shared/plans.ts';

export interface PlanCapacity {
  cpu: { requests: string; limits: string };
  memory: { requests: string; limits: string };
  storage: string;
  pods: number;
  services: number;
}

export const PLAN_CAPACITY: Readonly<Record<PlanId, PlanCapacity>> = {
  starter: { cpu: { requests: '2', limits: '4' }, memory: { requests: '4Gi', limits: '8Gi' }, storage: '10Gi', pods: 10, services: 5 },
  professional: { cpu: { requests: '8', limits: '16' }, memory: { requests: '16Gi', limits: '32Gi' }, storage: '100Gi', pods: 50, services: 15 },
  enterprise: { cpu: { requests: '32', limits: '64' }, memory: { requests: '64Gi', limits: '128Gi' }, storage: '1Ti', pods: 100, services: 20 },
};
