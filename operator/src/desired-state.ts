/**
 * Reconciliation as a pure function: a Tenant (and its plan) → every object
 * the cluster should hold for it. No I/O, so it is tested directly and each
 * object it returns is validated against the Kubernetes OpenAPI schemas
 * (test/node/operator-desired-state.test.ts).
 *
 * Every plan gets an isolated namespace: `tenant-<id>` labelled the way the
 * user's `tenant-isolation` NetworkPolicy selects, a ResourceQuota and a
 * LimitRange from the plan table, that NetworkPolicy, and a least-privilege
 * ServiceAccount/Role/RoleBinding for the tenant's workloads. Dedicated plans
 * (enterprise) also get their own ingest gateway (Deployment, Service and the
 * user's HorizontalPodAutoscaler) and their own ClickHouse (a StatefulSet with
 * a retained volume — docs/adr/0010-operator.md says why not the Altinity
 * operator). Everything carries an owner reference to the Tenant, so the
 * garbage collector removes what the finalizer does not.
 */
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { PLANS } from '../../shared/plans.ts';
import { PLAN_CAPACITY } from './plan-capacity.ts';
import { MANAGED_BY, namespaceOf, SYSTEM_NAMESPACE, TENANT_API_VERSION, TENANT_LABEL, type Tenant } from './tenant.ts';

export interface StackImages {
  /** The tenant's ingest gateway (NeuralLog's ingest worker in workerd). */
  ingest: string;
  clickhouse: string;
}

export const DEFAULT_IMAGES: StackImages = {
  ingest: 'ghcr.io/neurallog/ingest-gateway:0.1.0',
  clickhouse: 'clickhouse/clickhouse-server:25.8',
};

/** Kinds the operator creates, for pruning and for watching its children. */
export const CHILD_KINDS = [
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'ResourceQuota', plural: 'resourcequotas', namespaced: true },
  { apiVersion: 'v1', kind: 'LimitRange', plural: 'limitranges', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
] as const;

export const INGEST_NAME = 'log-ingestion';
export const CLICKHOUSE_NAME = 'clickhouse';
export const WORKLOAD_ACCOUNT = 'tenant-workload';

/** The tenant's data is kept this long after its Tenant is deleted. */
export function retentionDaysOf(tenant: Tenant): number {
  return tenant.spec.retentionDays ?? PLANS[tenant.spec.planId].retentionDays;
}

export function isDedicated(tenant: Tenant): boolean {
  return PLANS[tenant.spec.planId].dedicated;
}

function ownerReference(tenant: Tenant): V1OwnerReference {
  return { apiVersion: TENANT_API_VERSION, kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

export function desiredObjects(tenant: Tenant, images: StackImages = DEFAULT_IMAGES): KubernetesObject[] {
  const namespace = namespaceOf(tenant);
  const labels = { ...MANAGED_BY, [TENANT_LABEL]: tenant.spec.tenantId, 'neurallog.io/plan': tenant.spec.planId };
  const meta = (name: string, extra: Record<string, string> = {}) => ({
    name,
    namespace,
    labels: { ...labels, ...extra },
    ownerReferences: [ownerReference(tenant)],
  });
  const plan = PLAN_CAPACITY[tenant.spec.planId];
  const res = tenant.spec.resources ?? {};
  const cpu = { requests: str(res.cpu?.requests) ?? plan.cpu.requests, limits: str(res.cpu?.limits) ?? plan.cpu.limits };
  const memory = { requests: str(res.memory?.requests) ?? plan.memory.requests, limits: str(res.memory?.limits) ?? plan.memory.limits };
  const storage = res.storage?.requests ?? plan.storage;

  const objects: KubernetesObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      // `name` is what the user's NetworkPolicy selects namespaces by.
      metadata: { name: namespace, labels: { ...labels, name: namespace }, ownerReferences: [ownerReference(tenant)] },
    },
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: meta('tenant-quota'),
      spec: {
        hard: {
          'requests.cpu': cpu.requests,
          'limits.cpu': cpu.limits,
          'requests.memory': memory.requests,
          'limits.memory': memory.limits,
          'requests.storage': storage,
          pods: String(plan.pods),
          services: String(plan.services),
        },
      },
    } as KubernetesObject,
    {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: meta('tenant-limits'),
      spec: {
        limits: [
          // Containers that say nothing get modest defaults, so the quota (which demands requests and limits) admits them.
          {
            type: 'Container',
            defaultRequest: { cpu: '100m', memory: '128Mi' },
            default: { cpu: '500m', memory: '512Mi' },
            max: { cpu: cpu.limits, memory: memory.limits },
          },
          { type: 'PersistentVolumeClaim', max: { storage } },
        ],
      },
    } as KubernetesObject,
    // The user's tenant-isolation policy: in and out only within the tenant's namespace and the system's; DNS and 443 out.
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('tenant-isolation'),
      spec: {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { name: namespace } } }, { namespaceSelector: { matchLabels: { name: SYSTEM_NAMESPACE } } }] }],
        egress: [
          { to: [{ namespaceSelector: { matchLabels: { name: namespace } } }, { namespaceSelector: { matchLabels: { name: SYSTEM_NAMESPACE } } }] },
          {
            to: [],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 443 },
            ],
          },
        ],
      },
    } as KubernetesObject,
    // Least privilege: the tenant's workloads read their own configuration, nothing else; no token unless mounted on purpose.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(WORKLOAD_ACCOUNT), automountServiceAccountToken: false } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(WORKLOAD_ACCOUNT),
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(WORKLOAD_ACCOUNT),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: WORKLOAD_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: WORKLOAD_ACCOUNT, namespace }],
    } as KubernetesObject,
  ];
  if (isDedicated(tenant)) objects.push(...dedicatedStack(tenant, meta, storage, images));
  return objects;
}

const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function dedicatedStack(
  tenant: Tenant,
  meta: (
    name: string,
    extra?: Record<string, string>,
  ) => { name: string; namespace: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] },
  storage: string,
  images: StackImages,
): KubernetesObject[] {
  const ingestLabels = { 'app.kubernetes.io/name': INGEST_NAME, [TENANT_LABEL]: tenant.spec.tenantId };
  const clickhouseLabels = { 'app.kubernetes.io/name': CLICKHOUSE_NAME, [TENANT_LABEL]: tenant.spec.tenantId };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(INGEST_NAME, { 'app.kubernetes.io/name': INGEST_NAME }),
      spec: {
        // The HPA owns the replica count from here on (minReplicas 3); apply never sets it, so scaling is not undone.
        selector: { matchLabels: ingestLabels },
        template: {
          metadata: { labels: ingestLabels },
          spec: {
            serviceAccountName: WORKLOAD_ACCOUNT,
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 },
            containers: [
              {
                name: 'ingest',
                image: images.ingest,
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [
                  { name: 'NEURALLOG_TENANT_ID', value: tenant.spec.tenantId },
                  { name: 'CLICKHOUSE_URL', value: `http://${CLICKHOUSE_NAME}:8123` },
                ],
                resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } },
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 6 },
                securityContext: RESTRICTED_CONTAINER,
              },
            ],
          },
        },
      },
    } as KubernetesObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(INGEST_NAME),
      spec: { selector: ingestLabels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    } as KubernetesObject,
    // The user's autoscaler, pointed at this tenant's gateway.
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta('log-ingestion-hpa'),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: INGEST_NAME },
        minReplicas: 3,
        maxReplicas: 50,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
          { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
          { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '1000' } } },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(CLICKHOUSE_NAME),
      spec: {
        clusterIP: 'None',
        selector: clickhouseLabels,
        ports: [
          { name: 'http', port: 8123, targetPort: 'http' },
          { name: 'native', port: 9000, targetPort: 'native' },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(CLICKHOUSE_NAME, { 'app.kubernetes.io/name': CLICKHOUSE_NAME }),
      spec: {
        serviceName: CLICKHOUSE_NAME,
        replicas: 1,
        selector: { matchLabels: clickhouseLabels },
        // The data outlives the StatefulSet: only the teardown, after the retention period, deletes it (with the namespace).
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: {
          metadata: { labels: clickhouseLabels },
          spec: {
            serviceAccountName: WORKLOAD_ACCOUNT,
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, fsGroup: 101 },
            containers: [
              {
                name: 'clickhouse',
                image: images.clickhouse,
                ports: [
                  { name: 'http', containerPort: 8123 },
                  { name: 'native', containerPort: 9000 },
                ],
                resources: { requests: { cpu: '2', memory: '8Gi' }, limits: { cpu: '4', memory: '16Gi' } },
                readinessProbe: { httpGet: { path: '/ping', port: 'http' }, periodSeconds: 5 },
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/clickhouse' }],
                securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: false },
              },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } } }],
      },
    } as KubernetesObject,
  ];
}
