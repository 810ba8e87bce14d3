/**
 * The Tenant controller: informers (list + watch with resourceVersion,
 * re-listing on 410 Gone — client-node's ListWatch) on Tenants and on every
 * kind the operator creates; events become keys (the owning Tenant's name) in
 * a work queue; workers reconcile one key at a time with capped exponential
 * backoff on failure; a periodic resync requeues every Tenant.
 *
 * One reconcile:
 * 1. read the Tenant fresh (the cache may lag);
 * 2. deleted → the finalizer's teardown (below); else make sure it carries
 *    the finalizer;
 * 3. server-side apply every desired object (desired-state.ts) with one field
 *    manager — create, converge and repair are the same call;
 * 4. delete what this Tenant owns and no longer wants (a plan downgrade);
 * 5. write status: observedGeneration, namespace, phase, and the Ready,
 *    Progressing and Degraded conditions — only when something changed, so a
 *    status write does not trigger an endless round of reconciles.
 *
 * Teardown, in order: stop the ingest gateway (HPA, Deployment, Service),
 * stop ClickHouse (its volume is retained), then wait until the tenant's data
 * retention has passed (status.retainedUntil), then delete the namespace (and
 * the data with it), wait for it to be gone, and release the finalizer.
 */
import {
  ApiException,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { setCondition } from './conditions.ts';
import { CHILD_KINDS, CLICKHOUSE_NAME, DEFAULT_IMAGES, desiredObjects, INGEST_NAME, isDedicated, retentionDaysOf, type StackImages } from './desired-state.ts';
import type { OperatorMetrics } from './metrics.ts';
import { FIELD_MANAGER, FINALIZER, GROUP, MANAGED_BY, namespaceOf, PLURAL, VERSION, type Tenant, type TenantStatus } from './tenant.ts';
import { WorkQueue } from './work-queue.ts';

export interface ControllerOptions {
  images?: StackImages;
  workers?: number;
  resyncMs?: number;
  backoff?: { baseDelayMs: number; maxDelayMs: number };
  /** How soon a teardown looks again while waiting (the namespace to go); retention waits are capped at an hour. */
  teardownPollMs?: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

type Outcome = { requeueAfterMs?: number };

const DAY_MS = 86_400_000;
const MANAGED_SELECTOR = Object.entries(MANAGED_BY)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

export class TenantController {
  readonly queue: WorkQueue;
  readonly #objects: KubernetesObjectApi;
  readonly #custom: CustomObjectsApi;
  readonly #informers: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>)[] = [];
  readonly #childCaches = new Map<string, ObjectCache<KubernetesObject>>();
  readonly #options: Required<Omit<ControllerOptions, 'log'>> & Pick<ControllerOptions, 'log'>;
  #workers: Promise<void>[] = [];
  #resync: NodeJS.Timeout | null = null;
  #stopped = false;
  #synced = false;

  constructor(
    private readonly kubeconfig: KubeConfig,
    private readonly metrics: OperatorMetrics,
    options: ControllerOptions = {},
  ) {
    this.#options = {
      images: options.images ?? DEFAULT_IMAGES,
      workers: options.workers ?? 2,
      resyncMs: options.resyncMs ?? 5 * 60_000,
      backoff: options.backoff ?? { baseDelayMs: 500, maxDelayMs: 5 * 60_000 },
      teardownPollMs: options.teardownPollMs ?? 2_000,
      log: options.log,
    };
    this.queue = new WorkQueue(this.#options.backoff);
    this.#objects = KubernetesObjectApi.makeApiClient(kubeconfig);
    this.#custom = kubeconfig.makeApiClient(CustomObjectsApi);
  }

  /** True once every informer has listed. */
  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    const tenants = makeInformer<KubernetesObject>(
      this.kubeconfig,
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      () => this.#custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as Promise<KubernetesListObject<KubernetesObject>>,
    );
    for (const verb of ['add', 'update', 'delete'] as const) tenants.on(verb, (t) => t.metadata?.name && this.queue.add(t.metadata.name));
    this.#watch(tenants);
    for (const child of CHILD_KINDS) {
      const prefix = child.apiVersion === 'v1' ? '/api/v1' : `/apis/${child.apiVersion}`;
      const informer = makeInformer<KubernetesObject>(
        this.kubeconfig,
        `${prefix}/${child.plural}`,
        () => this.#objects.list(child.apiVersion, child.kind, undefined, undefined, undefined, undefined, undefined, MANAGED_SELECTOR),
        MANAGED_SELECTOR,
      );
      // A change to something a Tenant owns (deleted by hand, edited, its status moved): reconcile that Tenant.
      for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, (o) => this.#enqueueOwner(o));
      this.#childCaches.set(child.kind, informer);
      this.#watch(informer);
    }
    await Promise.all(this.#informers.map((i) => i.start()));
    this.#synced = true;
    this.#resync = setInterval(() => {
      for (const t of tenants.list()) if (t.metadata?.name) this.queue.add(t.metadata.name);
    }, this.#options.resyncMs);
    this.#workers = Array.from({ length: this.#options.workers }, () => this.#work());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#synced = false;
    if (this.#resync) clearInterval(this.#resync);
    this.queue.shutDown();
    await Promise.all(this.#informers.map((i) => i.stop()));
    this.#informers.length = 0;
    await Promise.all(this.#workers); // a reconcile in progress finishes
  }

  /** Informers stop on an error other than 410; start them again after a pause. */
  #watch(informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>): void {
    informer.on('error', (err) => {
      if (this.#stopped) return;
      this.#options.log?.('informer.error', { error: (err as Error)?.message ?? String(err) });
      setTimeout(() => {
        if (!this.#stopped) informer.start().catch(() => undefined);
      }, 1_000);
    });
    this.#informers.push(informer);
  }

  #enqueueOwner(object: KubernetesObject): void {
    const owner = object.metadata?.ownerReferences?.find((o) => o.kind === 'Tenant' && o.apiVersion === `${GROUP}/${VERSION}`);
    if (owner) this.queue.add(owner.name);
  }

  async #work(): Promise<void> {
    for (;;) {
      this.metrics.queueDepth.set(this.queue.depth);
      const key = await this.queue.get();
      if (key === null) return;
      const end = this.metrics.duration.startTimer();
      try {
        const outcome = await this.reconcile(key);
        this.queue.forget(key);
        this.metrics.reconciles.inc({ result: outcome.requeueAfterMs === undefined ? 'success' : 'requeue' });
        if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
      } catch (err) {
        this.metrics.reconciles.inc({ result: 'error' });
        this.metrics.errors.inc();
        const delay = this.queue.addRateLimited(key);
        this.#options.log?.('reconcile.failed', { tenant: key, retryInMs: delay, error: describe(err) });
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  async reconcile(name: string): Promise<Outcome> {
    let tenant: Tenant;
    try {
      tenant = (await this.#custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as Tenant;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return {}; // gone: the garbage collector has its children
      throw err;
    }
    if (tenant.metadata.deletionTimestamp) return this.#teardown(tenant);
    if (!tenant.metadata.finalizers?.includes(FINALIZER)) {
      tenant = await this.#patchTenant(tenant, {
        metadata: { finalizers: [...(tenant.metadata.finalizers ?? []), FINALIZER], resourceVersion: tenant.metadata.resourceVersion },
      });
    }
    const now = new Date();
    try {
      const desired = desiredObjects(tenant, this.#options.images);
      for (const object of desired) await this.#apply(object);
      await this.#prune(tenant, desired);
      const waiting = isDedicated(tenant) ? this.#workloadsNotReady(tenant) : [];
      const ready = waiting.length === 0;
      let conditions = setCondition(
        tenant.status?.conditions,
        'Ready',
        ready ? 'True' : 'False',
        ready ? 'Provisioned' : 'WorkloadsStarting',
        ready ? 'every object of the tenant is applied and its workloads are available' : `waiting for ${waiting.join(', ')}`,
        tenant.metadata.generation,
        now,
      );
      conditions = setCondition(
        conditions,
        'Progressing',
        ready ? 'False' : 'True',
        ready ? 'Converged' : 'WorkloadsStarting',
        ready ? 'nothing left to do' : `waiting for ${waiting.join(', ')}`,
        tenant.metadata.generation,
        now,
      );
      conditions = setCondition(conditions, 'Degraded', 'False', 'ReconcileSucceeded', 'the last reconcile succeeded', tenant.metadata.generation, now);
      await this.#writeStatus(tenant, {
        observedGeneration: tenant.metadata.generation,
        namespace: namespaceOf(tenant),
        phase: ready ? 'Ready' : 'Provisioning',
        conditions,
      });
      return {};
    } catch (err) {
      // Say so on the Tenant (best effort), then let the queue retry with backoff.
      const conditions = setCondition(
        tenant.status?.conditions,
        'Degraded',
        'True',
        'ReconcileFailed',
        describe(err).slice(0, 1000),
        tenant.metadata.generation,
        now,
      );
      await this.#writeStatus(tenant, { ...tenant.status, phase: 'Degraded', conditions }).catch(() => undefined);
      throw err;
    }
  }

  async #apply(object: KubernetesObject): Promise<void> {
    await this.#objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** Objects this Tenant owns (from the informers' caches) that it no longer wants: a plan that lost its dedicated stack. */
  async #prune(tenant: Tenant, desired: KubernetesObject[]): Promise<void> {
    const wanted = new Set(desired.map(identity));
    for (const [, cache] of this.#childCaches) {
      for (const object of cache.list()) {
        if (!object.metadata?.ownerReferences?.some((o) => o.uid === tenant.metadata.uid)) continue;
        if (wanted.has(identity(object))) continue;
        await this.#delete(object);
      }
    }
  }

  /** Dedicated workloads not yet available, from the informers' caches (their status comes from the cluster's controllers). */
  #workloadsNotReady(tenant: Tenant): string[] {
    const namespace = namespaceOf(tenant);
    const waiting: string[] = [];
    const deployment = this.#childCaches.get('Deployment')?.get(INGEST_NAME, namespace) as { status?: { availableReplicas?: number } } | undefined;
    if (!((deployment?.status?.availableReplicas ?? 0) >= 1)) waiting.push(`Deployment ${INGEST_NAME}`);
    const statefulSet = this.#childCaches.get('StatefulSet')?.get(CLICKHOUSE_NAME, namespace) as { status?: { readyReplicas?: number } } | undefined;
    if (!((statefulSet?.status?.readyReplicas ?? 0) >= 1)) waiting.push(`StatefulSet ${CLICKHOUSE_NAME}`);
    return waiting;
  }

  async #teardown(tenant: Tenant): Promise<Outcome> {
    if (!tenant.metadata.finalizers?.includes(FINALIZER)) return {};
    const namespace = namespaceOf(tenant);
    const deletedAt = new Date(tenant.metadata.deletionTimestamp!).getTime();
    const retainedUntil = new Date(deletedAt + retentionDaysOf(tenant) * DAY_MS);
    // 1–2. Stop taking logs, then stop the database; the data volume stays.
    for (const [apiVersion, kind, name] of [
      ['autoscaling/v2', 'HorizontalPodAutoscaler', 'log-ingestion-hpa'],
      ['apps/v1', 'Deployment', INGEST_NAME],
      ['v1', 'Service', INGEST_NAME],
      ['apps/v1', 'StatefulSet', CLICKHOUSE_NAME],
      ['v1', 'Service', CLICKHOUSE_NAME],
    ] as const) {
      await this.#delete({ apiVersion, kind, metadata: { name, namespace } });
    }
    const now = new Date();
    const conditions = setCondition(
      tenant.status?.conditions,
      'Ready',
      'False',
      'Terminating',
      `the tenant is being removed; its data is kept until ${retainedUntil.toISOString()}`,
      tenant.metadata.generation,
      now,
    );
    await this.#writeStatus(tenant, { ...tenant.status, phase: 'Terminating', retainedUntil: retainedUntil.toISOString(), conditions });
    // 3. The retention policy: the namespace (and the volume in it) outlives the Tenant until then.
    if (now.getTime() < retainedUntil.getTime()) return { requeueAfterMs: Math.min(retainedUntil.getTime() - now.getTime(), 3_600_000) };
    // 4. Release the data, and the Tenant once it is gone.
    const stillThere = await this.#delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    if (stillThere) return { requeueAfterMs: this.#options.teardownPollMs };
    await this.#patchTenant(tenant, {
      metadata: { finalizers: (tenant.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), resourceVersion: tenant.metadata.resourceVersion },
    });
    this.#options.log?.('tenant.released', { tenant: tenant.metadata.name, namespace });
    return {};
  }

  /** Deletes an object; true while it still exists afterwards (finalizers), false once it is gone or was never there. */
  async #delete(object: KubernetesObject): Promise<boolean> {
    try {
      await this.#objects.delete(object, undefined, undefined, undefined, undefined, 'Background');
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return false;
      throw err;
    }
    try {
      await this.#objects.read({
        apiVersion: object.apiVersion!,
        kind: object.kind!,
        metadata: { name: object.metadata!.name!, namespace: object.metadata?.namespace },
      });
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return false;
      throw err;
    }
  }

  /** A JSON merge patch of the Tenant; with metadata.resourceVersion it fails (409) if the Tenant changed since it was read. */
  async #patchTenant(tenant: Tenant, body: Record<string, unknown>): Promise<Tenant> {
    return (await this.#custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: PLURAL, name: tenant.metadata.name, body },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Tenant;
  }

  async #writeStatus(tenant: Tenant, status: TenantStatus): Promise<void> {
    if (JSON.stringify(tenant.status ?? {}) === JSON.stringify(status)) return;
    await this.#custom.patchClusterCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, name: tenant.metadata.name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

function identity(o: KubernetesObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
}

function describe(err: unknown): string {
  if (err instanceof ApiException) return `${err.code}: ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}`;
  return err instanceof Error ? err.message : String(err);
}
