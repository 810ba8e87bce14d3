/**
 * The operator's reconciliation as a pure function (operator/src/desired-state.ts):
 * what each plan gets, and every object valid against the Kubernetes OpenAPI
 * schemas (kubernetes-models' validators); the CRD, its examples and the
 * deploy manifests validated too.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { LimitRange } from 'kubernetes-models/v1/LimitRange';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ResourceQuota } from 'kubernetes-models/v1/ResourceQuota';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { desiredObjects } from '../../operator/src/desired-state.ts';
import { PLAN_CAPACITY } from '../../operator/src/plan-capacity.ts';
import type { Tenant } from '../../operator/src/tenant.ts';
import { PLANS, type PlanId } from '../../shared/plans.ts';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ResourceQuota': ResourceQuota,
  'v1/LimitRange': LimitRange,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

function validate(object: KubernetesObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion}/${object.kind}`);
  new Model(object as never).validate();
}

function yamlFile(path: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(join(PROJECT_ROOT, path), 'utf8'))
    .map((d) => d.toJSON() as KubernetesObject)
    .filter(Boolean);
}

function tenant(planId: PlanId, extra: Partial<Tenant['spec']> = {}): Tenant {
  return {
    apiVersion: 'neurallog.io/v1',
    kind: 'Tenant',
    metadata: { name: `t-${planId}`, uid: '6a1f0c2e-0000-4000-8000-000000000001', generation: 1 },
    spec: { tenantId: `acme-${planId}`, planId, billingEmail: 'billing@acme.example', ...extra },
  };
}

const byKind = (objects: KubernetesObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as Record<string, any>;

describe('desired objects of a Tenant', () => {
  it('are valid Kubernetes objects for every plan, all owned by the Tenant', () => {
    for (const plan of Object.keys(PLANS) as PlanId[]) {
      const objects = desiredObjects(tenant(plan));
      for (const object of objects) expect(() => validate(object), `${plan} ${object.kind}/${object.metadata?.name}`).not.toThrow();
      for (const object of objects) {
        expect(object.metadata?.ownerReferences).toEqual([
          expect.objectContaining({ kind: 'Tenant', name: `t-${plan}`, controller: true, uid: '6a1f0c2e-0000-4000-8000-000000000001' }),
        ]);
        expect(object.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('neurallog-operator');
      }
      const kinds = objects.map((o) => o.kind).sort();
      const isolation = ['LimitRange', 'Namespace', 'NetworkPolicy', 'ResourceQuota', 'Role', 'RoleBinding', 'ServiceAccount'];
      expect(kinds).toEqual(
        PLANS[plan].dedicated ? [...isolation, 'Deployment', 'HorizontalPodAutoscaler', 'Service', 'Service', 'StatefulSet'].sort() : isolation,
      );
    }
  });

  it("applies the user's documents: the namespace label the NetworkPolicy selects, its tenant-isolation policy, the plan table, the HPA", () => {
    const objects = desiredObjects(tenant('enterprise'));
    expect(byKind(objects, 'Namespace').metadata).toMatchObject({ name: 'tenant-acme-enterprise', labels: { name: 'tenant-acme-enterprise' } });
    expect(byKind(objects, 'NetworkPolicy').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { name: 'tenant-acme-enterprise' } } },
            { namespaceSelector: { matchLabels: { name: 'neurallog-system' } } },
          ],
        },
      ],
      egress: [
        {
          to: [
            { namespaceSelector: { matchLabels: { name: 'tenant-acme-enterprise' } } },
            { namespaceSelector: { matchLabels: { name: 'neurallog-system' } } },
          ],
        },
        {
          to: [],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 443 },
          ],
        },
      ],
    });
    expect(byKind(objects, 'ResourceQuota').spec.hard).toEqual({
      'requests.cpu': '32',
      'limits.cpu': '64',
      'requests.memory': '64Gi',
      'limits.memory': '128Gi',
      'requests.storage': '1Ti',
      pods: '100',
      services: '20',
    });
    expect(byKind(objects, 'HorizontalPodAutoscaler').spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'log-ingestion' },
      minReplicas: 3,
      maxReplicas: 50,
    });
    expect(byKind(objects, 'HorizontalPodAutoscaler').spec.metrics).toHaveLength(3);
    // The HPA owns the gateway's replica count: apply must not set it.
    expect(byKind(objects, 'Deployment').spec.replicas).toBeUndefined();
    // ClickHouse keeps its volume when its StatefulSet goes (the teardown releases it after retention).
    expect(byKind(objects, 'StatefulSet').spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(byKind(objects, 'StatefulSet').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe(PLAN_CAPACITY.enterprise.storage);
    // Least privilege: one read-only rule, no token mounted.
    expect(byKind(objects, 'Role').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }]);
    expect(byKind(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  it('takes the quota from spec.resources where the Tenant overrides the plan (the example from the document)', () => {
    const [example] = yamlFile('operator/examples/acme-corp.yaml') as unknown as Tenant[];
    const objects = desiredObjects({ ...example!, metadata: { ...example!.metadata, uid: 'u-1' } });
    expect(byKind(objects, 'ResourceQuota').spec.hard).toMatchObject({
      'requests.cpu': '4',
      'limits.cpu': '8',
      'requests.memory': '8Gi',
      'limits.memory': '16Gi',
      'requests.storage': '50Gi',
      pods: '50',
      services: '15',
    });
    expect(objects.some((o) => o.kind === 'Deployment')).toBe(false); // professional: isolation, no dedicated stack
  });
});

describe('the CRD, the examples and the deploy manifests', () => {
  const [crd] = yamlFile('operator/crds/tenant.yaml') as Record<string, any>[];
  const schema = crd!.spec.versions[0].schema.openAPIV3Schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validTenant = ajv.compile(schema);

  it('the CRD is a valid CustomResourceDefinition with a status subresource and printer columns', () => {
    expect(() => validate(crd as KubernetesObject)).not.toThrow();
    expect(crd!.spec.versions[0].subresources).toEqual({ status: {} });
    expect(crd!.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual(['Tenant', 'Plan', 'Namespace', 'Ready', 'Age']);
  });

  it('accepts every example and refuses what the schema forbids', () => {
    for (const file of readdirSync(join(PROJECT_ROOT, 'operator/examples'))) {
      for (const doc of yamlFile(`operator/examples/${file}`)) expect(validTenant(doc), `${file}: ${ajv.errorsText(validTenant.errors)}`).toBe(true);
    }
    const base = yamlFile('operator/examples/acme-corp.yaml')[0] as Record<string, any>;
    for (const [what, spec] of [
      ['unknown plan', { ...base.spec, planId: 'platinum' }],
      ['tenant id with capitals', { ...base.spec, tenantId: 'Acme' }],
      ['no billing email', { ...base.spec, billingEmail: undefined }],
      ['not an email', { ...base.spec, billingEmail: 'nobody' }],
      ['cpu that is not a quantity', { ...base.spec, resources: { cpu: { requests: 'lots' } } }],
    ] as const) {
      expect(validTenant({ ...base, spec: JSON.parse(JSON.stringify(spec)) }), what).toBe(false);
    }
  });

  it('the deploy manifests are valid, and the operator asks only for what it uses', () => {
    const objects = readdirSync(join(PROJECT_ROOT, 'operator/deploy'))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .flatMap((f) => yamlFile(`operator/deploy/${f}`));
    for (const object of objects) expect(() => validate(object), `${object.kind}/${object.metadata?.name}`).not.toThrow();
    const role = objects.find((o) => o.kind === 'ClusterRole') as Record<string, any>;
    const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = role.rules;
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
    expect(rules.flatMap((r) => r.resources)).not.toContain('*');
    expect(rules.flatMap((r) => r.resources)).not.toContain('secrets');
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0)(
    'kubectl renders the kustomization (kubectl apply -k operator/deploy) into valid objects',
    async () => {
      const { stdout } = await promisify(execFile)('kubectl', ['kustomize', join(PROJECT_ROOT, 'operator/deploy')]);
      const rendered = parseAllDocuments(stdout).map((d) => d.toJSON() as KubernetesObject);
      expect(rendered.map((o) => o.kind).sort()).toEqual([
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'Namespace',
        'Role',
        'RoleBinding',
        'ServiceAccount',
      ]);
      for (const object of rendered) expect(() => validate(object)).not.toThrow();
    },
  );
});
