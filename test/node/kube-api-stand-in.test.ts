/**
 * The Kubernetes API stand-in (test/support/kube-api-stand-in.ts) driven by
 * the clients the operator and its tests use: the official
 * @kubernetes/client-node (typed APIs, KubernetesObjectApi, Watch,
 * makeInformer) and kubectl. Each test starts its own stand-in.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Deployment,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKubeApiStandIn, type KubeApiStandIn } from '../support/kube-api-stand-in.ts';
import { eventually } from '../support/eventually.ts';

const run = promisify(execFile);

let k: KubeApiStandIn;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;
let custom: CustomObjectsApi;

beforeEach(async () => {
  k = await startKubeApiStandIn();
  kc = new KubeConfig();
  kc.loadFromFile(k.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  objects = KubernetesObjectApi.makeApiClient(kc);
});

afterEach(async () => {
  await k.close();
});

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** The Status a client-node call failed with (its code and the parsed body). */
async function failure(call: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    return { code: err.code, status: typeof err.body === 'string' ? JSON.parse(err.body) : err.body };
  }
  throw new Error('expected the call to fail');
}

/** A raw request to the stand-in's http:// address, with the token unless told otherwise. */
async function raw(method: string, path: string, options: { body?: unknown; contentType?: string; accept?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? k.token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(`${k.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

/** Resolves with the promise's value, or 'still waiting' after `ms` — so a stream that never ends fails fast. */
async function within<T>(promise: Promise<T>, ms = 3_000): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An assertion that holds once the stand-in caught up: retried every 20 ms for 3 s; the last failure is in the timeout. */
const ASSERTED = { until: () => true, retryErrors: true, timeoutMs: 3_000, intervalMs: 20 };

async function namespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

const configMap = (name: string, ns: string, extra: Partial<V1ConfigMap> & { labels?: Record<string, string> } = {}): V1ConfigMap => {
  const { labels, ...rest } = extra;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, ...(labels ? { labels } : {}) }, data: { a: '1' }, ...rest };
};

const deployment = (name: string, ns: string): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          {
            name: 'main',
            image: 'main:1',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
          },
          { name: 'side', image: 'side:1' },
        ],
      },
    },
  },
});

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const WIDGET_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Color', type: 'string', jsonPath: '.spec.color' },
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              spec: {
                type: 'object',
                required: ['color', 'size'],
                properties: {
                  color: { type: 'string', enum: ['red', 'blue'] },
                  size: { type: 'integer', minimum: 1, maximum: 10 },
                  code: { type: 'string', pattern: '^[a-z]+$', maxLength: 8 },
                  owner: { type: 'string', format: 'email' },
                  tier: { type: 'string', default: 'basic' },
                },
              },
              status: {
                type: 'object',
                properties: {
                  observedGeneration: { type: 'integer' },
                  conditions: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } } },
                },
              },
            },
          },
        },
      },
    ],
  },
};

const WIDGETS = { group: 'example.com', version: 'v1', plural: 'widgets' };

/**
 * Posted as JSON, as kubectl sends it: client-node's typed serializer would drop
 * `enum` and `default` here (its V1JSONSchemaProps spells them `_enum`, `_default`).
 */
async function createWidgetCrd(): Promise<void> {
  expect((await raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: WIDGET_CRD })).status).toBe(201);
}

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------

describe('kube API stand-in', () => {
  it('requires the bearer token (except on /version and /healthz) and serves discovery', async () => {
    const anonymous = await raw('GET', '/api/v1/namespaces', { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect((await raw('GET', '/api/v1/namespaces', { token: 'wrong' })).status).toBe(401);
    expect((await raw('GET', '/version', { token: null })).body).toMatchObject({ major: '1', minor: '32' });
    expect(await raw('GET', '/healthz', { token: null })).toMatchObject({ status: 200, body: 'ok' });

    const appsV1 = (await raw('GET', '/apis/apps/v1')).body;
    expect(appsV1).toMatchObject({ kind: 'APIResourceList', groupVersion: 'apps/v1' });
    expect(appsV1.resources).toContainEqual(
      expect.objectContaining({
        name: 'deployments',
        singularName: 'deployment',
        namespaced: true,
        kind: 'Deployment',
        shortNames: ['deploy'],
        verbs: expect.arrayContaining(['get', 'list', 'watch', 'patch']),
      }),
    );
    expect(appsV1.resources).toContainEqual(expect.objectContaining({ name: 'deployments/status', kind: 'Deployment' }));
    const coreV1 = (await raw('GET', '/api/v1')).body;
    expect(coreV1.resources).toContainEqual(expect.objectContaining({ name: 'namespaces', namespaced: false }));
    expect(coreV1.resources.map((r: any) => r.name)).toEqual(
      expect.arrayContaining(['namespaces/status', 'configmaps', 'secrets', 'services/status', 'persistentvolumeclaims/status']),
    );
    expect(coreV1.resources.map((r: any) => r.name)).not.toContain('configmaps/status');
    expect((await raw('GET', '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });

    // Asked for aggregated discovery, it answers the legacy APIGroupList as plain JSON (kubectl then falls back).
    const aggregated = await raw('GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    expect(aggregated.headers.get('content-type')).toBe('application/json');
    expect(aggregated.body.kind).toBe('APIGroupList');
    expect(aggregated.body.groups).toContainEqual({
      name: 'apps',
      versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
      preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
    });
    expect(aggregated.body.groups.map((g: any) => g.name)).toEqual(
      expect.arrayContaining(['autoscaling', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'coordination.k8s.io', 'apiextensions.k8s.io']),
    );
    expect((await raw('GET', '/openapi/v2')).status).toBe(404);

    // client-node through the kubeconfig (https on the same port).
    expect(kc.getCurrentCluster()?.server).toBe(k.url.replace('http:', 'https:'));
    const namespaces = await core.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toEqual(['default', 'kube-system']);
  });

  it('creates, reads and lists with label and field selectors', async () => {
    const ns = await core.createNamespace({ body: { metadata: { name: 'team' } } });
    expect(ns.status?.phase).toBe('Active');
    const a = await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('a', 'team', { labels: { app: 'web', tier: 'front' } }) });
    const b = await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('b', 'team', { labels: { app: 'web', tier: 'back' } }) });
    await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('c', 'team', { labels: { app: 'db' } }) });
    expect(a.metadata).toMatchObject({ name: 'a', namespace: 'team', generation: 1 });
    expect(a.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata?.uid).not.toBe(b.metadata?.uid);
    expect(a.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(Number(b.metadata?.resourceVersion)).toBeGreaterThan(Number(a.metadata?.resourceVersion));

    expect((await core.readNamespacedConfigMap({ name: 'a', namespace: 'team' })).data).toEqual({ a: '1' });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedConfigMap({ namespace: 'team', labelSelector, fieldSelector })).items.map((i) => i.metadata?.name);
    expect(await names('app=web')).toEqual(['a', 'b']);
    expect(await names('app=web,tier!=front')).toEqual(['b']);
    expect(await names('app in (db, cache)')).toEqual(['c']);
    expect(await names('!tier')).toEqual(['c']);
    expect(await names(undefined, 'metadata.name=c')).toEqual(['c']);
    expect(await names(undefined, 'metadata.name!=c')).toEqual(['a', 'b']);
    const all = await core.listConfigMapForAllNamespaces();
    expect(all.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual(['team/a', 'team/b', 'team/c']);
    expect(all.metadata?.resourceVersion).toBe((await core.readNamespacedConfigMap({ name: 'c', namespace: 'team' })).metadata?.resourceVersion);

    const generated = await core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { generateName: 'gen-' } } });
    expect(generated.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);

    const duplicate = await failure(core.createNamespacedConfigMap({ namespace: 'team', body: configMap('a', 'team') }));
    expect(duplicate).toMatchObject({
      code: 409,
      status: { reason: 'AlreadyExists', message: 'configmaps "a" already exists', details: { name: 'a', kind: 'configmaps' } },
    });
    const noNamespace = await failure(core.createNamespacedConfigMap({ namespace: 'nope', body: configMap('x', 'nope') }));
    expect(noNamespace).toMatchObject({ code: 404, status: { reason: 'NotFound', message: 'namespaces "nope" not found' } });
    const missing = await failure(apps.readNamespacedDeployment({ name: 'ghost', namespace: 'team' }));
    expect(missing).toMatchObject({
      code: 404,
      status: {
        kind: 'Status',
        reason: 'NotFound',
        message: 'deployments.apps "ghost" not found',
        details: { name: 'ghost', group: 'apps', kind: 'deployments' },
      },
    });
    const badName = await failure(core.createNamespacedConfigMap({ namespace: 'team', body: configMap('Not_Valid', 'team') }));
    expect(badName).toMatchObject({ code: 422, status: { reason: 'Invalid', details: { causes: [expect.objectContaining({ field: 'metadata.name' })] } } });
    expect((await raw('GET', '/api/v1/namespaces/team/configmaps?fieldSelector=data.a%3D1')).status).toBe(400);
  });

  it('replace: a stale resourceVersion is a 409; generation counts spec changes; /status changes only status', async () => {
    await namespace('team');
    const created = await apps.createNamespacedDeployment({ namespace: 'team', body: deployment('web', 'team') });
    expect(created.metadata?.generation).toBe(1);

    const scaled = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'team', body: { ...created, spec: { ...created.spec!, replicas: 3 } } });
    expect(scaled.metadata?.generation).toBe(2);
    expect(scaled.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);

    const stale = await failure(
      apps.replaceNamespacedDeployment({ name: 'web', namespace: 'team', body: { ...created, spec: { ...created.spec!, replicas: 5 } } }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ reason: 'Conflict', message: expect.stringContaining('deployments.apps "web": the object has been modified') });

    const relabelled = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'team', body: { metadata: { labels: { x: 'y' } } } }, merge);
    expect(relabelled.metadata?.generation).toBe(2); // metadata only
    expect(Number(relabelled.metadata?.resourceVersion)).toBeGreaterThan(Number(scaled.metadata?.resourceVersion));

    // The status subresource: the main resource ignores status, /status ignores everything else.
    const withStatus = await apps.replaceNamespacedDeploymentStatus({
      name: 'web',
      namespace: 'team',
      body: { ...relabelled, spec: { ...relabelled.spec!, replicas: 9 }, status: { availableReplicas: 1 } },
    });
    expect(withStatus.status).toEqual({ availableReplicas: 1 });
    expect(withStatus.spec?.replicas).toBe(3);
    expect(withStatus.metadata?.generation).toBe(2);
    const ignored = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'team', body: { ...withStatus, status: { availableReplicas: 7 } } });
    expect(ignored.status).toEqual({ availableReplicas: 1 });
    // ...and that write changed nothing at all: same resourceVersion, no event.
    expect(ignored.metadata?.resourceVersion).toBe(withStatus.metadata?.resourceVersion);
  });

  it('patches: JSON merge, JSON patch and strategic merge', async () => {
    await namespace('team');
    await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('cm', 'team', { data: { a: '1', b: '1' } }) });

    const merged = await core.patchNamespacedConfigMap({ name: 'cm', namespace: 'team', body: { data: { a: null, b: '2', c: '3' } } }, merge);
    expect(merged.data).toEqual({ b: '2', c: '3' });

    const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    const patched = await core.patchNamespacedConfigMap(
      {
        name: 'cm',
        namespace: 'team',
        body: [
          { op: 'test', path: '/data/b', value: '2' },
          { op: 'add', path: '/data/d', value: '4' },
          { op: 'remove', path: '/data/c' },
          { op: 'move', from: '/data/d', path: '/data/e' },
        ],
      },
      jsonPatch,
    );
    expect(patched.data).toEqual({ b: '2', e: '4' });
    const failedTest = await failure(
      core.patchNamespacedConfigMap({ name: 'cm', namespace: 'team', body: [{ op: 'test', path: '/data/b', value: 'nope' }] }, jsonPatch),
    );
    expect(failedTest).toMatchObject({ code: 422, status: { reason: 'Invalid' } });

    const staleMerge = await failure(
      core.patchNamespacedConfigMap({ name: 'cm', namespace: 'team', body: { metadata: { resourceVersion: '1' }, data: { z: '1' } } }, merge),
    );
    expect(staleMerge).toMatchObject({ code: 409, status: { reason: 'Conflict' } });

    // Strategic merge: containers and env merge by name; finalizers merge as a set.
    await apps.createNamespacedDeployment({
      namespace: 'team',
      body: { ...deployment('web', 'team'), metadata: { name: 'web', namespace: 'team', finalizers: ['a/one'] } },
    });
    const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    const smp = await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: 'team',
        body: {
          metadata: { finalizers: ['b/two'] },
          spec: {
            template: {
              spec: {
                containers: [
                  {
                    name: 'main',
                    env: [
                      { name: 'B', value: 'two' },
                      { name: 'C', value: '3' },
                    ],
                  },
                  { name: 'side', $patch: 'delete' },
                ],
              },
            },
          },
        },
      },
      strategic,
    );
    expect(smp.metadata?.finalizers).toEqual(['a/one', 'b/two']);
    expect(smp.spec?.template.spec?.containers).toEqual([
      {
        name: 'main',
        image: 'main:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: 'two' },
          { name: 'C', value: '3' },
        ],
      },
    ]);
    const pruned = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'team', body: { metadata: { '$deleteFromPrimitiveList/finalizers': ['a/one'] } } },
      strategic,
    );
    expect(pruned.metadata?.finalizers).toEqual(['b/two']);
  });

  it('server-side apply: create, update, field removal, conflicts, force', async () => {
    await namespace('team');
    const cm = (data: Record<string, string>): KubernetesObject =>
      ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: 'team' }, data }) as KubernetesObject;
    const apply = (manager: string, data: Record<string, string>, force?: boolean) =>
      objects.patch(cm(data), undefined, undefined, manager, force, PatchStrategy.ServerSideApply) as Promise<V1ConfigMap>;
    const current = async () => (await core.readNamespacedConfigMap({ name: 'applied', namespace: 'team' })).data;

    expect((await apply('alpha', { a: '1', b: '2' })).data).toEqual({ a: '1', b: '2' });
    expect(k.requests.filter((r) => r.method === 'PATCH').map((r) => [r.contentType, r.status])).toEqual([['application/apply-patch+yaml', 201]]);
    // alpha stops applying b: b goes; c arrives.
    expect((await apply('alpha', { a: '1', c: '3' })).data).toEqual({ a: '1', c: '3' });

    // beta wants a different a: a conflict with its owner, named with the field.
    const conflict = await failure(apply('beta', { a: '2' }));
    expect(conflict.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: 'Conflict',
      message: 'Apply failed with 1 conflict: conflict with "alpha": .data.a',
      details: { causes: [{ reason: 'FieldManagerConflict', field: '.data.a' }] },
    });
    expect(await current()).toEqual({ a: '1', c: '3' });

    // The same value is no conflict: beta and alpha now share a.
    await apply('beta', { a: '1', d: '4' });
    // alpha drops a, but beta still owns it, so it stays.
    expect((await apply('alpha', { c: '3' })).data).toEqual({ a: '1', c: '3', d: '4' });
    // Now beta alone owns a and may change it.
    expect((await apply('beta', { a: '9', d: '4' })).data).toEqual({ a: '9', c: '3', d: '4' });

    // force takes the field over: beta dropping a afterwards leaves it alone.
    expect((await failure(apply('alpha', { a: '1', c: '3' }))).status.message).toContain('conflict with "beta": .data.a');
    expect((await apply('alpha', { a: '1', c: '3' }, true)).data).toEqual({ a: '1', c: '3', d: '4' });
    expect((await apply('beta', { d: '4' })).data).toEqual({ a: '1', c: '3', d: '4' });

    // A field changed by an ordinary patch belongs to that request's manager.
    await raw('PATCH', '/api/v1/namespaces/team/configmaps/applied?fieldManager=editor', {
      body: { data: { c: 'edited' } },
      contentType: 'application/merge-patch+json',
    });
    expect((await failure(apply('alpha', { a: '1', c: '3' }))).status.message).toContain('conflict with "editor": .data.c');

    // Apply needs a field manager; the body may be YAML.
    const noManager = await raw('PATCH', '/api/v1/namespaces/team/configmaps/applied', {
      body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\n',
      contentType: 'application/apply-patch+yaml',
    });
    expect(noManager.status).toBe(400);
    const yaml = await raw('PATCH', '/api/v1/namespaces/team/configmaps/applied?fieldManager=gamma', {
      body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  e: "5"\n',
      contentType: 'application/apply-patch+yaml',
    });
    expect(yaml.status).toBe(200);
    expect(yaml.body.data).toEqual({ a: '1', c: 'edited', d: '4', e: '5' });
  });

  it('deletion waits for finalizers; finalizers cannot be added meanwhile', async () => {
    await namespace('team');
    await core.createNamespacedConfigMap({
      namespace: 'team',
      body: configMap('held', 'team', { metadata: { name: 'held', namespace: 'team', finalizers: ['example.com/hold'] } }),
    });
    await core.deleteNamespacedConfigMap({ name: 'held', namespace: 'team' });
    const terminating = await core.readNamespacedConfigMap({ name: 'held', namespace: 'team' });
    expect(terminating.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(0);

    const added = await failure(
      core.patchNamespacedConfigMap({ name: 'held', namespace: 'team', body: { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } } }, merge),
    );
    expect(added).toMatchObject({ code: 422, status: { reason: 'Invalid' } });

    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'team', body: { metadata: { finalizers: null } } }, merge);
    expect((await failure(core.readNamespacedConfigMap({ name: 'held', namespace: 'team' }))).code).toBe(404);

    // Without finalizers a delete is immediate.
    await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('free', 'team') });
    await core.deleteNamespacedConfigMap({ name: 'free', namespace: 'team' });
    expect(k.get('v1', 'ConfigMap', 'free', 'team')).toBeUndefined();
  });

  it('deleting a namespace deletes its contents, honouring their finalizers', async () => {
    await namespace('doomed');
    await core.createNamespacedSecret({ namespace: 'doomed', body: { metadata: { name: 's' }, stringData: { k: 'v' } } });
    await core.createNamespacedConfigMap({
      namespace: 'doomed',
      body: configMap('held', 'doomed', { metadata: { name: 'held', finalizers: ['example.com/hold'] } }),
    });
    await core.deleteNamespace({ name: 'doomed' });

    const ns = await core.readNamespace({ name: 'doomed' });
    expect(ns.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(ns.status?.phase).toBe('Terminating');
    await eventually('the Secret deleted with its namespace', () => expect(k.get('v1', 'Secret', 's', 'doomed')).toBeUndefined(), ASSERTED);
    expect(k.get('v1', 'ConfigMap', 'held', 'doomed')?.metadata.deletionTimestamp).toBeTruthy();
    expect(k.get('v1', 'Namespace', 'doomed')).toBeDefined();
    const late = await failure(core.createNamespacedConfigMap({ namespace: 'doomed', body: configMap('late', 'doomed') }));
    expect(late).toMatchObject({ code: 403, status: { reason: 'Forbidden', message: expect.stringContaining('because it is being terminated') } });

    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'doomed', body: { metadata: { finalizers: [] } } }, merge);
    await eventually('the namespace gone once its last finalizer is', () => expect(k.get('v1', 'Namespace', 'doomed')).toBeUndefined(), ASSERTED);
  });

  it('garbage-collects dependents once their owners are gone, recursively', async () => {
    await namespace('team');
    const owner = await apps.createNamespacedDeployment({ namespace: 'team', body: deployment('owner', 'team') });
    const other = await core.createNamespacedConfigMap({ namespace: 'team', body: configMap('other', 'team') });
    const ref = (o: { metadata?: { name?: string; uid?: string } }, kind: string, apiVersion: string) => ({
      apiVersion,
      kind,
      name: o.metadata!.name!,
      uid: o.metadata!.uid!,
    });
    const child = await core.createNamespacedConfigMap({
      namespace: 'team',
      body: configMap('child', 'team', { metadata: { name: 'child', ownerReferences: [ref(owner, 'Deployment', 'apps/v1')] } }),
    });
    await core.createNamespacedSecret({ namespace: 'team', body: { metadata: { name: 'grandchild', ownerReferences: [ref(child, 'ConfigMap', 'v1')] } } });
    await core.createNamespacedConfigMap({
      namespace: 'team',
      body: configMap('shared', 'team', {
        metadata: { name: 'shared', ownerReferences: [ref(owner, 'Deployment', 'apps/v1'), ref(other, 'ConfigMap', 'v1')] },
      }),
    });
    await core.createNamespacedConfigMap({
      namespace: 'team',
      body: configMap('held', 'team', { metadata: { name: 'held', finalizers: ['example.com/hold'], ownerReferences: [ref(owner, 'Deployment', 'apps/v1')] } }),
    });

    await apps.deleteNamespacedDeployment({ name: 'owner', namespace: 'team', propagationPolicy: 'Background' });
    await eventually(
      'the dependents collected, the held one marked',
      () => {
        expect(k.get('v1', 'ConfigMap', 'child', 'team')).toBeUndefined();
        expect(k.get('v1', 'Secret', 'grandchild', 'team')).toBeUndefined();
        expect(k.get('v1', 'ConfigMap', 'held', 'team')?.metadata.deletionTimestamp).toBeTruthy();
      },
      ASSERTED,
    );
    expect(k.get('v1', 'ConfigMap', 'shared', 'team')).toBeDefined(); // still has a live owner
    await core.deleteNamespacedConfigMap({ name: 'other', namespace: 'team' });
    await eventually('the ConfigMap collected with its last owner', () => expect(k.get('v1', 'ConfigMap', 'shared', 'team')).toBeUndefined(), ASSERTED);
    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'team', body: { metadata: { finalizers: [] } } }, merge);
    expect(k.get('v1', 'ConfigMap', 'held', 'team')).toBeUndefined();
  });

  it('watch from a resourceVersion replays history, then live events, with bookmarks', async () => {
    await namespace('w');
    const from = (await core.listNamespacedConfigMap({ namespace: 'w' })).metadata!.resourceVersion!;
    const x = await core.createNamespacedConfigMap({ namespace: 'w', body: configMap('x', 'w', { labels: { keep: 'yes' } }) });
    await core.replaceNamespacedConfigMap({ name: 'x', namespace: 'w', body: { ...x, data: { a: '2' } } });
    await core.deleteNamespacedConfigMap({ name: 'x', namespace: 'w' });

    const events: { type: string; name?: string; rv?: string; object: any }[] = [];
    let ended: unknown = 'open';
    const watching = await new Watch(kc).watch(
      '/api/v1/namespaces/w/configmaps',
      { resourceVersion: from, allowWatchBookmarks: true },
      (type, object) => events.push({ type, name: object.metadata?.name, rv: object.metadata?.resourceVersion, object }),
      (err) => (ended = err),
    );
    // The replay, then a bookmark at once (well before the periodic one, a second later).
    await eventually('the replay and a bookmark', () => expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']), {
      ...ASSERTED,
      timeoutMs: 700,
    });
    expect(events.slice(0, 3).map((e) => e.name)).toEqual(['x', 'x', 'x']);
    expect(events[1]!.object.data).toEqual({ a: '2' });
    const bookmark = events[3]!.object;
    expect(bookmark).toEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: events[2]!.rv } });

    // A second watch, filtered by label: an object that stops matching arrives as DELETED.
    const filtered: string[] = [];
    const watchingFiltered = await new Watch(kc).watch(
      '/api/v1/namespaces/w/configmaps',
      { labelSelector: 'keep=yes' },
      (type, o) => filtered.push(`${type} ${o.metadata?.name}`),
      () => undefined,
    );

    const y = await core.createNamespacedConfigMap({ namespace: 'w', body: configMap('y', 'w', { labels: { keep: 'yes' } }) });
    await core.patchNamespacedConfigMap({ name: 'y', namespace: 'w', body: { metadata: { labels: { keep: null } } } }, merge);
    await eventually('the ADDED events of x and y', () => expect(events.filter((e) => e.type === 'ADDED').map((e) => e.name)).toEqual(['x', 'y']), ASSERTED);
    await eventually('y added, then deleted from the filtered watch', () => expect(filtered).toEqual(['ADDED y', 'DELETED y']), ASSERTED);
    expect(events.find((e) => e.type === 'ADDED' && e.name === 'y')?.rv).toBe(y.metadata?.resourceVersion);
    // Bookmarks keep coming about every second.
    await eventually('a second bookmark', () => expect(events.filter((e) => e.type === 'BOOKMARK').length).toBeGreaterThanOrEqual(2), {
      ...ASSERTED,
      timeoutMs: 2_500,
    });
    expect(ended).toBe('open');
    watching.abort();
    watchingFiltered.abort();
  });

  it('compact(): a watch from a compacted resourceVersion gets a 410 ERROR event and ends', async () => {
    await namespace('w');
    const old = (await core.createNamespacedConfigMap({ namespace: 'w', body: configMap('x', 'w') })).metadata!.resourceVersion!;
    await core.patchNamespacedConfigMap({ name: 'x', namespace: 'w', body: { data: { a: '2' } } }, merge);
    k.compact();

    const events: { type: string; object: any }[] = [];
    const ended = new Promise<unknown>(
      (resolve) =>
        void new Watch(kc).watch('/api/v1/namespaces/w/configmaps', { resourceVersion: old }, (type, object) => events.push({ type, object }), resolve),
    );
    expect(await within(ended)).toBeNull(); // the server closed the stream
    expect(events).toEqual([
      {
        type: 'ERROR',
        object: expect.objectContaining({
          kind: 'Status',
          status: 'Failure',
          code: 410,
          reason: 'Expired',
          message: expect.stringContaining('too old resource version'),
        }),
      },
    ]);

    // From the current resourceVersion it works; timeoutSeconds ends the stream.
    const now = (await core.listNamespacedConfigMap({ namespace: 'w' })).metadata!.resourceVersion!;
    const started = Date.now();
    const live: string[] = [];
    const timedOut = new Promise<unknown>(
      (resolve) => void new Watch(kc).watch('/api/v1/namespaces/w/configmaps', { resourceVersion: now, timeoutSeconds: 1 }, (type) => live.push(type), resolve),
    );
    await core.deleteNamespacedConfigMap({ name: 'x', namespace: 'w' });
    expect(await within(timedOut)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(live).toEqual(['DELETED']);
  });

  it('makeInformer lists, watches, re-watches after closeWatches() and re-lists after a 410', async () => {
    await namespace('inf');
    await core.createNamespacedConfigMap({ namespace: 'inf', body: configMap('first', 'inf') });
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/inf/configmaps', () => core.listNamespacedConfigMap({ namespace: 'inf' }));
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on('error', (err) => errors.push(err));
    const gets = () => k.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/inf/configmaps');
    const lists = () => gets().filter((r) => !r.query.includes('watch=')).length;
    const watches = () => gets().filter((r) => r.query.includes('watch=true')).length;
    await informer.start();
    await eventually('the first watch', () => expect(watches()).toBe(1), ASSERTED);
    expect(seen).toEqual(['add first']);

    await core.createNamespacedConfigMap({ namespace: 'inf', body: configMap('second', 'inf') });
    await eventually('the informer to see the second', () => expect(seen).toContain('add second'), ASSERTED);

    // The server ends the stream: the informer watches again from where it was, without listing.
    k.closeWatches();
    await eventually('the second watch', () => expect(watches()).toBe(2), ASSERTED);
    await core.patchNamespacedConfigMap({ name: 'second', namespace: 'inf', body: { data: { a: '2' } } }, merge);
    await eventually('the informer to see the update', () => expect(seen).toContain('update second'), ASSERTED);
    expect(lists()).toBe(1);

    // A change it does not watch moves the resourceVersion on; history compacted there, its next
    // watch (from its older resourceVersion) gets 410, so it lists again and carries on.
    await namespace('elsewhere');
    k.compact();
    k.closeWatches();
    await eventually('the second list', () => expect(lists()).toBe(2), ASSERTED);
    await eventually('the watch after the list', () => expect(watches()).toBe(4), ASSERTED); // the 410 one, then the one after the list
    await core.createNamespacedConfigMap({ namespace: 'inf', body: configMap('third', 'inf') });
    await core.deleteNamespacedConfigMap({ name: 'first', namespace: 'inf' });
    await eventually(
      'the informer to see every change in order',
      () => expect(seen).toEqual(['add first', 'add second', 'update second', 'add third', 'delete first']),
      ASSERTED,
    );
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['second', 'third']);
    expect(errors).toEqual([]);
    await informer.stop();
  });

  it('CRDs: discovery, schema validation, defaults, pruning, status subresource, generation, tables', async () => {
    await namespace('team');
    await createWidgetCrd();
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'widgets.example.com' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    const discovery = (await raw('GET', '/apis/example.com/v1')).body;
    expect(discovery.resources).toEqual([
      expect.objectContaining({ name: 'widgets', singularName: 'widget', namespaced: true, kind: 'Widget', shortNames: ['wd'] }),
      expect.objectContaining({ name: 'widgets/status', kind: 'Widget' }),
    ]);
    expect((await raw('GET', '/apis')).body.groups).toContainEqual(expect.objectContaining({ name: 'example.com' }));

    const widget = (spec: object, status?: object) => ({
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w1', namespace: 'team' },
      spec,
      ...(status ? { status } : {}),
    });
    const invalid = await failure(
      custom.createNamespacedCustomObject({ ...WIDGETS, namespace: 'team', body: widget({ color: 'green', size: 11, code: 'ABC', owner: 'nobody' }) }),
    );
    expect(invalid.code).toBe(422);
    expect(invalid.status.reason).toBe('Invalid');
    expect(invalid.status.message).toContain('Widget.example.com "w1" is invalid: [');
    expect(invalid.status.message).toContain('spec.color: Unsupported value: "green": supported values: "red", "blue"');
    expect(invalid.status.message).toContain('spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10');
    expect(invalid.status.message).toContain('spec.code: Invalid value: "ABC": spec.code in body should match \'^[a-z]+$\'');
    expect(invalid.status.message).toContain('spec.owner: Invalid value: "nobody": spec.owner in body must be of type email');
    const missing = await failure(custom.createNamespacedCustomObject({ ...WIDGETS, namespace: 'team', body: widget({ color: 'red', code: 'abcdefghij' }) }));
    expect(missing.status.details.causes).toEqual(
      expect.arrayContaining([
        { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.size' },
        expect.objectContaining({ reason: 'FieldValueTooLong', field: 'spec.code' }),
      ]),
    );
    const strict = await raw('POST', '/apis/example.com/v1/namespaces/team/widgets?fieldValidation=Strict', {
      body: widget({ color: 'red', size: 1, extra: true }),
    });
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.extra"');

    // Valid: defaults filled, unknown fields pruned (with a warning), status dropped on create.
    const created = await raw('POST', '/apis/example.com/v1/namespaces/team/widgets', {
      body: widget({ color: 'red', size: 1, owner: 'a@example.com', extra: true }, { observedGeneration: 5 }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('warning')).toBe('299 - "unknown field \\"spec.extra\\""');
    expect(created.body.spec).toEqual({ color: 'red', size: 1, owner: 'a@example.com', tier: 'basic' });
    expect(created.body.status).toBeUndefined();
    expect(created.body.metadata.generation).toBe(1);

    // The main resource ignores status; a spec change bumps generation.
    const current = (await custom.getNamespacedCustomObject({ ...WIDGETS, namespace: 'team', name: 'w1' })) as any;
    const replaced = (await custom.replaceNamespacedCustomObject({
      ...WIDGETS,
      namespace: 'team',
      name: 'w1',
      body: { ...current, spec: { ...current.spec, size: 2 }, status: { observedGeneration: 9 } },
    })) as any;
    expect(replaced.spec.size).toBe(2);
    expect(replaced.status).toBeUndefined();
    expect(replaced.metadata.generation).toBe(2);
    // /status changes only status, and not the generation.
    const statused = (await custom.patchNamespacedCustomObjectStatus(
      {
        ...WIDGETS,
        namespace: 'team',
        name: 'w1',
        body: { spec: { size: 7 }, status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] } },
      },
      merge,
    )) as any;
    expect(statused.status.observedGeneration).toBe(2);
    expect(statused.spec.size).toBe(2);
    expect(statused.metadata.generation).toBe(2);
    const invalidStatus = await failure(
      custom.patchNamespacedCustomObjectStatus({ ...WIDGETS, namespace: 'team', name: 'w1', body: { status: { observedGeneration: 'x' } } }, merge),
    );
    expect(invalidStatus.code).toBe(422);

    // Server-side printing for kubectl get.
    const table = await raw('GET', '/apis/example.com/v1/namespaces/team/widgets', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    expect(table.body.kind).toBe('Table');
    expect(table.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Color', 'Ready', 'Age']);
    expect(table.body.rows).toHaveLength(1);
    expect(table.body.rows[0].cells.slice(0, 3)).toEqual(['w1', 'red', 'True']);
    expect(table.body.rows[0].cells[3]).toMatch(/^\d+s$/);
    expect(table.body.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'w1' } });

    // Custom resources refuse strategic merge patches, as in a real cluster.
    const smp = await raw('PATCH', '/apis/example.com/v1/namespaces/team/widgets/w1', {
      body: { spec: { size: 3 } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(smp.status).toBe(415);

    // Deleting the CRD deletes its resources first, then it goes from discovery.
    await kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'widgets.example.com' });
    await eventually('the CRD deleted', () => expect(k.objects('apiextensions.k8s.io/v1', 'CustomResourceDefinition')).toEqual([]), ASSERTED);
    expect(k.objects('example.com/v1', 'Widget')).toEqual([]);
    expect((await raw('GET', '/apis/example.com/v1')).status).toBe(404);
  });

  it('failNext answers the next matching requests with a Status error', async () => {
    k.failNext({ method: 'GET', pathIncludes: '/configmaps', status: 503 });
    const unavailable = await failure(core.listNamespacedConfigMap({ namespace: 'default' }));
    expect(unavailable).toMatchObject({ code: 503, status: { kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503 } });
    expect((await core.listNamespacedConfigMap({ namespace: 'default' })).items).toEqual([]);

    k.failNext({ method: 'POST', pathIncludes: '/namespaces/default/configmaps', status: 409, count: 2 });
    for (let i = 0; i < 2; i++)
      expect(await failure(core.createNamespacedConfigMap({ namespace: 'default', body: configMap('c', 'default') }))).toMatchObject({
        code: 409,
        status: { reason: 'Conflict' },
      });
    await core.createNamespacedConfigMap({ namespace: 'default', body: configMap('c', 'default') });
    k.failNext({ pathIncludes: 'watch=true', status: 500, reason: 'InternalError' });
    const watchFailed = new Promise<any>((resolve) => void new Watch(kc).watch('/api/v1/namespaces/default/configmaps', {}, () => undefined, resolve));
    expect(((await within(watchFailed)) as { statusCode?: number }).statusCode).toBe(500);
    expect(k.requests.filter((r) => r.path === '/api/v1/namespaces/default/configmaps').map((r) => `${r.method} ${r.status}`)).toEqual([
      'GET 503',
      'GET 200',
      'POST 409',
      'POST 409',
      'POST 201',
      'GET 500',
    ]);
  });

  it('close() resolves with watches open and ends them', async () => {
    const ended = new Promise<unknown>((resolve) => void new Watch(kc).watch('/api/v1/namespaces', { allowWatchBookmarks: true }, () => undefined, resolve));
    await eventually('a watch open', () => expect(k.requests.some((r) => r.query.includes('watch=true') && r.status === 200)).toBe(true), ASSERTED);
    expect(await within(k.close())).toBeUndefined();
    expect(await within(ended)).toBeNull();
  });

  describe('kubectl', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', k.kubeconfigPath, '--cache-dir', join(dir, 'cache'), ...args])).stdout;
    const file = (name: string, content: unknown) => {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };

    it('applies a CRD and a custom resource, gets, server-side applies and deletes', async () => {
      const crdFile = file('crd.json', WIDGET_CRD);
      expect(await kubectl('apply', '-f', crdFile)).toContain('customresourcedefinition.apiextensions.k8s.io/widgets.example.com created');
      // kubectl asked for aggregated discovery, got the legacy list, and fell back to per-group-version documents.
      expect(k.requests.some((r) => r.path === '/apis' && r.status === 200)).toBe(true);
      expect(k.requests.some((r) => r.path === '/apis/apiextensions.k8s.io/v1' && r.status === 200)).toBe(true);

      const widgetYaml = (size: number) =>
        `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: gadget\n  namespace: default\nspec:\n  color: blue\n  size: ${size}\n`;
      const widgetFile = file('widget.yaml', widgetYaml(2));
      expect(await kubectl('apply', '-f', widgetFile)).toContain('widget.example.com/gadget created');
      const listed = JSON.parse(await kubectl('get', 'widgets', '-o', 'json'));
      expect(listed.items).toHaveLength(1);
      expect(listed.items[0]).toMatchObject({
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        metadata: { name: 'gadget', namespace: 'default' },
        spec: { color: 'blue', size: 2, tier: 'basic' },
      });
      expect(listed.items[0].metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('"size":2');
      const printed = await kubectl('get', 'wd');
      expect(printed).toMatch(/^NAME\s+COLOR\s+READY\s+AGE\n/);
      expect(printed).toMatch(/\ngadget +blue +\d+s\n/); // no Ready condition yet: an empty cell

      writeFileSync(widgetFile, widgetYaml(4));
      expect(await kubectl('apply', '--server-side', '-f', widgetFile)).toContain('widget.example.com/gadget serverside-applied');
      expect(k.get('example.com/v1', 'Widget', 'gadget', 'default')?.spec.size).toBe(4);
      expect(k.get('example.com/v1', 'Widget', 'gadget', 'default')?.metadata.generation).toBe(2);
      expect(
        k.requests.some(
          (r) => r.method === 'PATCH' && r.contentType === 'application/apply-patch+yaml' && r.query.includes('fieldManager=kubectl') && r.status === 200,
        ),
      ).toBe(true);

      // Validation errors come back as kubectl prints the API server's.
      const invalid = await kubectl('apply', '-f', file('bad.yaml', widgetYaml(11))).catch((err: { stderr: string }) => err.stderr);
      expect(invalid).toContain('The Widget "gadget" is invalid: spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10');

      expect(await kubectl('delete', '-f', widgetFile)).toContain('widget.example.com "gadget" deleted');
      expect(k.objects('example.com/v1', 'Widget')).toEqual([]);

      // Without the token (or with a wrong one) kubectl is refused.
      const refused = await kubectl('--token', 'wrong', 'get', 'widgets').catch((err: { stderr: string }) => err.stderr);
      expect(refused).toContain('You must be logged in to the server');
    });

    it.skipIf(!existsSync('operator/crds/tenant.yaml'))("applies the operator's Tenant CRD and its example", async () => {
      await kubectl('apply', '-f', 'operator/crds/tenant.yaml');
      expect(await kubectl('wait', '--for', 'condition=established', 'crd/tenants.neurallog.io', '--timeout=5s')).toContain('condition met');
      if (existsSync('operator/examples/acme-corp.yaml')) {
        await kubectl('apply', '-f', 'operator/examples/acme-corp.yaml');
        await kubectl('apply', '--server-side', '-f', 'operator/examples/acme-corp.yaml');
        const tenants = JSON.parse(await kubectl('get', 'tenants', '-o', 'json'));
        expect(tenants.items.map((t: any) => t.metadata.name)).toEqual(['acme-corp']);
        expect(await kubectl('get', 'tenants')).toMatch(/^NAME\s+TENANT\s+PLAN/);
        await kubectl('delete', '-f', 'operator/examples/acme-corp.yaml');
        expect(k.objects('neurallog.io/v1', 'Tenant')).toEqual([]);
      }
    });
  });
});
