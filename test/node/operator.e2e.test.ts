/**
 * The operator against a local API server that speaks the Kubernetes REST
 * protocol (test/support/kube-api-stand-in.ts), through the real
 * @kubernetes/client-node — and kubectl as a second, independent client.
 * No real cluster is involved: nothing here runs pods; the tests play the
 * cluster's own controllers where the operator waits on them (a Deployment's
 * available replicas).
 */
import { CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Operator } from '../../operator/src/operator.ts';
import { SYNCED_LABEL } from '../../operator/src/control-plane-sync.ts';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';
import { startKubeApiStandIn, type KubeApiStandIn } from '../support/kube-api-stand-in.ts';

const run = promisify(execFile);
/** kubectl is on these machines (and .ci/run installs it when not); without it the kubectl checks are skipped, loudly. */
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
if (!HAS_KUBECTL) console.warn('kubectl not found: the operator tests use client-node only, and the kubectl test is skipped');
let api: KubeApiStandIn;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let objects: KubernetesObjectApi;
const operators: Operator[] = [];

/** kubectl's discovery cache goes to a directory of this run, not ~/.kube. */
const kubectlCache = mkdtempSync(join(tmpdir(), 'neurallog-kubectl-'));

async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', kubectlCache, ...args])).stdout;
}

function startOperator(identity: string, extra: Partial<ConstructorParameters<typeof Operator>[1]> = {}): Operator {
  const operator = new Operator(kc, {
    identity,
    leaseNamespace: 'neurallog-system',
    healthPort: 0,
    leaseDurationMs: 1_500,
    renewDeadlineMs: 1_000,
    retryPeriodMs: 200,
    controller: { workers: 2, resyncMs: 60_000, backoff: { baseDelayMs: 50, maxDelayMs: 400 }, teardownPollMs: 100 },
    ...extra,
  });
  operators.push(operator);
  return operator;
}

/** The operator reconciles within a second or two: a wait gives it 10 s unless a test says otherwise, polled every 50 ms. */
const RECONCILED = { timeoutMs: 10_000, intervalMs: 50 };

type TenantObject = KubernetesObject & {
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; phase?: string; retainedUntil?: string; conditions?: { type: string; status: string; reason: string }[] };
};

async function createTenant(name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.createClusterCustomObject({
    group: 'neurallog.io',
    version: 'v1',
    plural: 'tenants',
    body: { apiVersion: 'neurallog.io/v1', kind: 'Tenant', metadata: { name }, spec },
  });
}

const tenantNow = (name: string) => api.get('neurallog.io/v1', 'Tenant', name) as TenantObject | undefined;
const condition = (t: TenantObject | undefined, type: string) => t?.status?.conditions?.find((c) => c.type === type);

/** Plays the cluster's workload controllers: the gateway and ClickHouse report ready. */
async function workloadsBecomeReady(namespace: string): Promise<void> {
  await eventually(
    'the dedicated workloads',
    () => api.get('apps/v1', 'Deployment', 'log-ingestion', namespace) && api.get('apps/v1', 'StatefulSet', 'clickhouse', namespace),
    RECONCILED,
  );
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const { AppsV1Api } = await import('@kubernetes/client-node');
  const apps = kc.makeApiClient(AppsV1Api);
  await apps.patchNamespacedDeploymentStatus(
    { name: 'log-ingestion', namespace, body: { status: { replicas: 3, availableReplicas: 3, readyReplicas: 3 } } },
    merge,
  );
  await apps.patchNamespacedStatefulSetStatus({ name: 'clickhouse', namespace, body: { status: { replicas: 1, readyReplicas: 1 } } }, merge);
}

beforeAll(async () => {
  api = await startKubeApiStandIn();
  kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  custom = kc.makeApiClient(CustomObjectsApi);
  objects = KubernetesObjectApi.makeApiClient(kc);
  // kubectl, the second client, installs the CRD and the system namespace as an admin would.
  for (const file of ['operator/crds/tenant.yaml', 'operator/deploy/namespace.yaml']) {
    if (HAS_KUBECTL) await kubectl('apply', '-f', join(PROJECT_ROOT, file));
    else for (const doc of parseAllDocuments(readFileSync(join(PROJECT_ROOT, file), 'utf8'))) await objects.create(doc.toJSON() as KubernetesObject);
  }
});

afterEach(async () => {
  await Promise.all(operators.splice(0).map((o) => o.stop()));
});

afterAll(async () => {
  await api?.close();
  rmSync(kubectlCache, { recursive: true, force: true });
});

describe('the operator against a Kubernetes API server', () => {
  it('provisions a dedicated tenant, reports Ready once its workloads are, and converges on a spec change', async () => {
    const operator = startOperator('op-a');
    await operator.start();
    await eventually('leadership', () => operator.isLeader, RECONCILED);
    await createTenant('globex', { tenantId: 'globex', planId: 'enterprise', billingEmail: 'billing@globex.example' });

    const namespace = await eventually('the namespace', () => api.get('v1', 'Namespace', 'tenant-globex'), RECONCILED);
    expect(namespace.metadata.labels).toMatchObject({ name: 'tenant-globex', 'neurallog.io/tenant': 'globex' });
    for (const [apiVersion, kind, name] of [
      ['v1', 'ResourceQuota', 'tenant-quota'],
      ['v1', 'LimitRange', 'tenant-limits'],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'tenant-isolation'],
      ['v1', 'ServiceAccount', 'tenant-workload'],
      ['rbac.authorization.k8s.io/v1', 'Role', 'tenant-workload'],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'tenant-workload'],
      ['autoscaling/v2', 'HorizontalPodAutoscaler', 'log-ingestion-hpa'],
      ['v1', 'Service', 'log-ingestion'],
    ]) {
      await eventually(`${kind}/${name}`, () => api.get(apiVersion!, kind!, name!, 'tenant-globex'), RECONCILED);
    }
    const progressing = await eventually(
      'Progressing',
      () => condition(tenantNow('globex'), 'Progressing')?.status === 'True' && tenantNow('globex'),
      RECONCILED,
    );
    expect(condition(progressing, 'Ready')).toMatchObject({ status: 'False', reason: 'WorkloadsStarting' });
    expect(tenantNow('globex')!.metadata?.finalizers).toContain('neurallog.io/teardown');

    await workloadsBecomeReady('tenant-globex');
    const ready = await eventually('Ready', () => condition(tenantNow('globex'), 'Ready')?.status === 'True' && tenantNow('globex'), RECONCILED);
    expect(ready.status).toMatchObject({ observedGeneration: 1, phase: 'Ready', namespace: 'tenant-globex' });
    expect(condition(ready, 'Degraded')?.status).toBe('False');

    // Spec change: a smaller plan loses its dedicated stack; the quota follows the override.
    await custom.patchClusterCustomObject(
      {
        group: 'neurallog.io',
        version: 'v1',
        plural: 'tenants',
        name: 'globex',
        body: { spec: { planId: 'professional', resources: { cpu: { requests: '6', limits: '12' } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('observedGeneration 2', () => tenantNow('globex')?.status?.observedGeneration === 2, RECONCILED);
    expect(api.get('v1', 'ResourceQuota', 'tenant-quota', 'tenant-globex').spec.hard).toMatchObject({ 'requests.cpu': '6', 'limits.cpu': '12', pods: '50' });
    await eventually(
      'the pruned stack',
      () => !api.get('apps/v1', 'Deployment', 'log-ingestion', 'tenant-globex') && !api.get('apps/v1', 'StatefulSet', 'clickhouse', 'tenant-globex'),
      RECONCILED,
    );
    expect(condition(tenantNow('globex'), 'Ready')?.status).toBe('True');
  });

  it('recreates a child deleted by hand, and retries a failing API with backoff until it converges', async () => {
    const operator = startOperator('op-a');
    await operator.start();
    await createTenant('initech', { tenantId: 'initech', planId: 'starter', billingEmail: 'billing@initech.example' });
    await eventually('Ready', () => condition(tenantNow('initech'), 'Ready')?.status === 'True', RECONCILED);

    await objects.delete({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'tenant-isolation', namespace: 'tenant-initech' } });
    await eventually('the NetworkPolicy back', () => api.get('networking.k8s.io/v1', 'NetworkPolicy', 'tenant-isolation', 'tenant-initech'), RECONCILED);

    // The API server fails: two 500s, then a 409 Conflict, on the quota the next change touches.
    const errorsBefore = (await operator.metrics.errors.get()).values[0]?.value ?? 0;
    api.failNext({ method: 'PATCH', pathIncludes: '/resourcequotas/', status: 500, count: 2 });
    api.failNext({ method: 'PATCH', pathIncludes: '/resourcequotas/', status: 409, count: 1, reason: 'Conflict' });
    await custom.patchClusterCustomObject(
      {
        group: 'neurallog.io',
        version: 'v1',
        plural: 'tenants',
        name: 'initech',
        body: { spec: { resources: { memory: { requests: '3Gi', limits: '6Gi' } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('the quota converged', () => api.get('v1', 'ResourceQuota', 'tenant-quota', 'tenant-initech').spec.hard['requests.memory'] === '3Gi', {
      ...RECONCILED,
      timeoutMs: 15_000,
    });
    expect(((await operator.metrics.errors.get()).values[0]?.value ?? 0) - errorsBefore).toBeGreaterThanOrEqual(3);
    await eventually(
      'Degraded cleared',
      () => condition(tenantNow('initech'), 'Degraded')?.status === 'False' && tenantNow('initech')?.status?.observedGeneration === 2,
      RECONCILED,
    );
  });

  it('keeps reconciling after its watches are cut and the history is compacted (410 Gone → re-list)', async () => {
    const operator = startOperator('op-a');
    await operator.start();
    await createTenant('hooli', { tenantId: 'hooli', planId: 'starter', billingEmail: 'billing@hooli.example' });
    await eventually('Ready', () => condition(tenantNow('hooli'), 'Ready')?.status === 'True', RECONCILED);
    api.compact();
    api.closeWatches();
    await objects.delete({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'tenant-limits', namespace: 'tenant-hooli' } });
    await eventually('the LimitRange back after the re-list', () => api.get('v1', 'LimitRange', 'tenant-limits', 'tenant-hooli'), {
      ...RECONCILED,
      timeoutMs: 15_000,
    });
  });

  it('tears down in order on delete: workloads first, the data kept until retention has passed, then the namespace and the finalizer', async () => {
    const operator = startOperator('op-a');
    await operator.start();
    // Kept a day: the stack stops, the namespace (and the data volume in it) stays, the Tenant waits.
    await createTenant('kept', { tenantId: 'kept', planId: 'enterprise', billingEmail: 'billing@kept.example', retentionDays: 1 });
    await eventually('the stack', () => api.get('apps/v1', 'StatefulSet', 'clickhouse', 'tenant-kept'), RECONCILED);
    const deletedAt = Date.now();
    await custom.deleteClusterCustomObject({ group: 'neurallog.io', version: 'v1', plural: 'tenants', name: 'kept' });
    const terminating = await eventually('Terminating', () => tenantNow('kept')?.status?.phase === 'Terminating' && tenantNow('kept'), RECONCILED);
    expect(new Date(terminating.status!.retainedUntil!).getTime()).toBeGreaterThanOrEqual(deletedAt + 86_400_000 - 5_000);
    await eventually(
      'the workloads gone',
      () => !api.get('apps/v1', 'StatefulSet', 'clickhouse', 'tenant-kept') && !api.get('apps/v1', 'Deployment', 'log-ingestion', 'tenant-kept'),
      RECONCILED,
    );
    expect(api.get('v1', 'Namespace', 'tenant-kept')).toBeDefined();
    expect(tenantNow('kept')).toBeDefined();

    // Retention 0: released at once — namespace gone, then the Tenant.
    await createTenant('gone', { tenantId: 'gone', planId: 'starter', billingEmail: 'billing@gone.example', retentionDays: 0 });
    await eventually('Ready', () => condition(tenantNow('gone'), 'Ready')?.status === 'True', RECONCILED);
    await custom.deleteClusterCustomObject({ group: 'neurallog.io', version: 'v1', plural: 'tenants', name: 'gone' });
    await eventually('the Tenant released', () => !tenantNow('gone'), RECONCILED);
    expect(api.get('v1', 'Namespace', 'tenant-gone')).toBeUndefined();
  });

  it('lets one replica reconcile at a time, and hands over when the leader stops', async () => {
    const a = startOperator('op-a');
    const b = startOperator('op-b');
    await a.start();
    await eventually('a leads', () => a.isLeader, RECONCILED);
    await b.start();
    await new Promise((r) => setTimeout(r, 600)); // several retry periods
    expect(b.isLeader).toBe(false);
    await createTenant('umbrella', { tenantId: 'umbrella', planId: 'starter', billingEmail: 'billing@umbrella.example' });
    await eventually('Ready (by a)', () => condition(tenantNow('umbrella'), 'Ready')?.status === 'True', RECONCILED);
    const reconciledByB = async () => (await b.metrics.reconciles.get()).values.reduce((n, v) => n + v.value, 0);
    expect(await reconciledByB()).toBe(0);

    await a.stop(); // graceful: releases the lease
    await eventually('b leads', () => b.isLeader, { ...RECONCILED, timeoutMs: 5_000 });
    await createTenant('wayne', { tenantId: 'wayne', planId: 'starter', billingEmail: 'billing@wayne.example' });
    await eventually('Ready (by b)', () => condition(tenantNow('wayne'), 'Ready')?.status === 'True', RECONCILED);
    expect(await reconciledByB()).toBeGreaterThan(0);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', 'neurallog-operator', 'neurallog-system');
    expect(lease.spec.holderIdentity).toBe('op-b');
  });

  it('waits for the lease to expire before taking over from a replica that died, and a leader that cannot renew stops leading', async () => {
    const a = startOperator('op-a');
    const b = startOperator('op-b', { leaseDurationMs: 3_000 }); // renew deadline 1 s, well inside its lease
    await a.start();
    await eventually('a leads', () => a.isLeader, RECONCILED);
    await b.start();
    const died = Date.now();
    await a.stop({ releaseLease: false }); // killed: the lease stays with op-a until it expires (1.5 s)
    await new Promise((r) => setTimeout(r, 700));
    expect(b.isLeader).toBe(false);
    await eventually('b takes the expired lease', () => b.isLeader, { ...RECONCILED, timeoutMs: 5_000 });
    expect(Date.now() - died).toBeGreaterThanOrEqual(1_500);

    // The API server refuses b's renewals: b stops leading within its renew deadline (1 s), before its lease (3 s) could let another in.
    api.failNext({ pathIncludes: '/leases/', status: 503, count: 1_000 });
    const cut = Date.now();
    await eventually('b stops leading', () => !b.isLeader, { ...RECONCILED, timeoutMs: 5_000 });
    expect(Date.now() - cut).toBeLessThan(3_000);
    expect(b.controller.synced).toBe(false); // its controller stopped
    api.clearFailures();
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const operator = startOperator('op-a');
    await operator.start();
    await eventually('synced', () => operator.isLeader && operator.controller.synced, RECONCILED);
    const base = `http://127.0.0.1:${operator.healthPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'neurallog_operator_reconciles_total',
      'neurallog_operator_reconcile_errors_total',
      'neurallog_operator_queue_depth',
      'neurallog_operator_reconcile_duration_seconds_bucket',
      'neurallog_operator_leader 1',
    ]) {
      expect(metrics, name).toContain(name);
    }
  });

  it("creates Tenants for the control plane's dedicated tenants and removes those that left the dedicated plans", async () => {
    let tenants = [
      { id: 'stark', plan: 'enterprise', status: 'active', retentionDays: 365, billing: { email: 'billing@stark.example' } },
      { id: 'small', plan: 'starter', status: 'active', retentionDays: 7, billing: null },
    ];
    const adminApi: Server = createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer platform-token') return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tenants }));
    });
    await new Promise<void>((r) => adminApi.listen(0, '127.0.0.1', r));
    try {
      const operator = startOperator('op-a', {
        sync: { adminUrl: `http://127.0.0.1:${(adminApi.address() as AddressInfo).port}`, token: 'platform-token', intervalMs: 200 },
      });
      await operator.start();
      const stark = await eventually('the synced Tenant', () => tenantNow('stark'), RECONCILED);
      expect(stark.metadata?.labels?.[SYNCED_LABEL]).toBe('control-plane');
      expect(stark.spec).toMatchObject({ tenantId: 'stark', planId: 'enterprise', billingEmail: 'billing@stark.example', retentionDays: 365 });
      expect(tenantNow('small')).toBeUndefined();
      await eventually('its namespace', () => api.get('v1', 'Namespace', 'tenant-stark'), RECONCILED);
      tenants = tenants.map((t) => (t.id === 'stark' ? { ...t, plan: 'professional' } : t));
      await eventually(
        'the Tenant deleted (its finalizer keeps the data for the retention)',
        () => tenantNow('stark')?.metadata?.deletionTimestamp,
        RECONCILED,
      );
    } finally {
      await new Promise((r) => adminApi.close(r));
    }
  });

  it.skipIf(!HAS_KUBECTL)(
    'is driven by kubectl too: a Tenant from operator/examples applied with kubectl shows up Ready in `kubectl get tenants`, and kubectl deletes it',
    async () => {
      const operator = startOperator('op-a');
      await operator.start();
      await kubectl('apply', '-f', join(PROJECT_ROOT, 'operator/examples/acme-corp.yaml'));
      await eventually('Ready', () => condition(tenantNow('acme-corp'), 'Ready')?.status === 'True', RECONCILED);
      const listed = JSON.parse(await kubectl('get', 'tenants', '-o', 'json')) as { items: TenantObject[] };
      const acme = listed.items.find((t) => t.metadata?.name === 'acme-corp')!;
      expect(acme.status).toMatchObject({ phase: 'Ready', namespace: 'tenant-acme-corp' });
      expect(JSON.parse(await kubectl('get', 'resourcequota', 'tenant-quota', '-n', 'tenant-acme-corp', '-o', 'json')).spec.hard).toMatchObject({
        'requests.cpu': '4',
        'limits.memory': '16Gi',
      });
      await kubectl('delete', 'tenant', 'acme-corp', '--wait=false');
      await eventually('Terminating (kept for the plan retention)', () => tenantNow('acme-corp')?.status?.phase === 'Terminating', RECONCILED);
    },
  );
});
