/**
 * Leader election through a `coordination.k8s.io/v1` Lease, as client-go's
 * leaderelection does it: the holder renews `renewTime` every retry period;
 * another replica takes the lease only once `renewTime + leaseDurationSeconds`
 * has passed, and every write carries the resourceVersion it read, so two
 * replicas racing for an expired lease cannot both win (the loser gets a 409).
 * A leader that cannot renew within the renew deadline stops leading before
 * its lease can expire — so two replicas never reconcile at once. On a
 * graceful stop the leader releases the lease, and the next one takes over
 * at once instead of waiting out the duration.
 */
import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export class LeaderElector {
  readonly #api: CoordinationV1Api;
  #leading = false;
  #lastRenew = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #running: Promise<void> | null = null;

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.#api = kubeconfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      this.#running = this.#tryAcquireOrRenew().catch((err) => this.options.log?.('leader.error', { error: (err as Error).message }));
      await this.#running;
      if (this.#leading && Date.now() - this.#lastRenew > this.options.renewDeadlineMs) this.#lose('renew deadline passed');
      if (!this.#stopped) this.#timer = setTimeout(tick, this.options.retryPeriodMs);
    };
    void tick();
  }

  /**
   * Stops campaigning; a leader releases the lease so another replica takes
   * over at once. `release: false` is what a killed process leaves behind:
   * the others wait for the lease to expire.
   */
  async stop({ release = true } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    if (!this.#leading) return;
    if (!release) return this.#lose('stopped without releasing the lease');
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity === this.options.identity) {
        await this.#api.replaceNamespacedLease({
          name: this.options.name,
          namespace: this.options.namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined, leaseDurationSeconds: 1 } },
        });
      }
    } catch (err) {
      this.options.log?.('leader.release_failed', { error: (err as Error).message });
    }
    this.#lose('stopped');
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { name, namespace, identity } = this.options;
    const now = new Date();
    const spec = { holderIdentity: identity, leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000), renewTime: now };
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!(err instanceof ApiException) || err.code !== 404) throw err;
      try {
        await this.#api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { ...spec, acquireTime: spec.renewTime, leaseTransitions: 0 } },
        });
        this.#renewed();
      } catch (createErr) {
        if (!(createErr instanceof ApiException) || createErr.code !== 409) throw createErr; // another replica created it first
      }
      return;
    }
    const holder = lease.spec?.holderIdentity;
    const renewedAt = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const expired = !holder || renewedAt + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
    if (holder !== identity && !expired) {
      if (this.#leading) this.#lose(`lease held by ${holder}`);
      return;
    }
    const taking = holder !== identity;
    try {
      await this.#api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            ...(taking && { acquireTime: spec.renewTime, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }),
          },
        },
      });
      this.#renewed();
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return; // someone wrote in between: read again next period
      throw err;
    }
  }

  #renewed(): void {
    this.#lastRenew = Date.now();
    if (!this.#leading) {
      this.#leading = true;
      this.options.log?.('leader.started', { identity: this.options.identity });
      this.options.onStartedLeading();
    }
  }

  #lose(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.options.log?.('leader.stopped', { identity: this.options.identity, reason });
    this.options.onStoppedLeading();
  }
}
