/**
 * The Tenant custom resource (neurallog.io/v1, operator/crds/tenant.yaml), as
 * the user's architecture document defines it, and the names the operator
 * gives to what it creates for one.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PlanId } from '../../shared/plans.ts';

export const GROUP = 'neurallog.io';
export const VERSION = 'v1';
export const PLURAL = 'tenants';
export const TENANT_API_VERSION = `${GROUP}/${VERSION}`;

/** The one field manager of every server-side apply the operator makes. */
export const FIELD_MANAGER = 'neurallog-operator';
/** Holds a deleted Tenant until its teardown (and data retention) is done. */
export const FINALIZER = 'neurallog.io/teardown';
/** Labels on everything the operator creates. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': FIELD_MANAGER } as const;
export const TENANT_LABEL = 'neurallog.io/tenant';
/** The namespace the platform (and this operator) runs in; tenants may talk to it. */
export const SYSTEM_NAMESPACE = 'neurallog-system';

export interface Quantities {
  requests?: string | number;
  limits?: string | number;
}

export interface TenantSpec {
  tenantId: string;
  planId: PlanId;
  billingEmail: string;
  resources?: { cpu?: Quantities; memory?: Quantities; storage?: { requests?: string } };
  features?: { aiEnabled?: boolean; customMetrics?: boolean; realTimeAnalytics?: boolean };
  /** Days the tenant's data is kept after the Tenant is deleted (default: the plan's retention). */
  retentionDays?: number;
}

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface TenantStatus {
  observedGeneration?: number;
  namespace?: string;
  phase?: 'Provisioning' | 'Ready' | 'Degraded' | 'Terminating';
  retainedUntil?: string;
  conditions?: Condition[];
}

export interface Tenant extends KubernetesObject {
  apiVersion: typeof TENANT_API_VERSION;
  kind: 'Tenant';
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec: TenantSpec;
  status?: TenantStatus;
}

export function namespaceOf(tenant: Pick<Tenant, 'spec'>): string {
  return `tenant-${tenant.spec.tenantId}`;
}
