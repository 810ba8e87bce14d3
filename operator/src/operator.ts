/**
 * One operator replica: it campaigns for the leader Lease and runs the Tenant
 * controller (and the optional control-plane sync) only while it leads; it
 * serves /healthz, /readyz and /metrics all the time. `stop()` is the
 * graceful shutdown: stop reconciling (a reconcile in progress finishes),
 * release the lease so another replica takes over at once, close the server.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ControlPlaneSync, type ControlPlaneSyncOptions } from './control-plane-sync.ts';
import { TenantController, type ControllerOptions } from './controller.ts';
import { startHealthServer, type HealthServer } from './health-server.ts';
import { LeaderElector } from './leader-election.ts';
import { OperatorMetrics } from './metrics.ts';

export interface OperatorOptions {
  identity: string;
  /** Where the leader Lease lives (the operator's own namespace). */
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** 0 picks a free port. */
  healthPort: number;
  controller?: ControllerOptions;
  sync?: Omit<ControlPlaneSyncOptions, 'log'>;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export class Operator {
  readonly metrics = new OperatorMetrics();
  readonly controller: TenantController;
  readonly #elector: LeaderElector;
  readonly #sync: ControlPlaneSync | null;
  #health: HealthServer | null = null;
  /** Serialises leading/following transitions. */
  #transition: Promise<void> = Promise.resolve();

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: OperatorOptions,
  ) {
    const log = options.log;
    this.controller = new TenantController(kubeconfig, this.metrics, { ...options.controller, ...(log && { log }) });
    this.#sync = options.sync ? new ControlPlaneSync(kubeconfig, { ...options.sync, ...(log && { log }) }) : null;
    this.#elector = new LeaderElector(kubeconfig, {
      namespace: options.leaseNamespace,
      name: options.leaseName ?? 'neurallog-operator',
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs ?? 15_000,
      renewDeadlineMs: options.renewDeadlineMs ?? 10_000,
      retryPeriodMs: options.retryPeriodMs ?? 2_000,
      onStartedLeading: () => this.#lead(true),
      onStoppedLeading: () => this.#lead(false),
      ...(log && { log }),
    });
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  get healthPort(): number {
    return this.#health?.port ?? 0;
  }

  async start(): Promise<void> {
    // Ready: a follower is ready to take over; a leader once its caches are synced.
    this.#health = await startHealthServer(this.options.healthPort, this.metrics, () => !this.#elector.isLeader || this.controller.synced);
    this.#elector.start();
  }

  /** `releaseLease: false` leaves the lease to expire, as a killed replica does (tests). */
  async stop({ releaseLease = true } = {}): Promise<void> {
    await this.#elector.stop({ release: releaseLease }); // calls onStoppedLeading when it led
    await this.#transition;
    await this.#health?.close();
  }

  #lead(leading: boolean): void {
    this.metrics.leader.set(leading ? 1 : 0);
    this.#transition = this.#transition
      .then(async () => {
        if (leading) {
          await this.controller.start();
          this.#sync?.start();
        } else {
          await this.#sync?.stop();
          await this.controller.stop();
        }
      })
      .catch((err) => this.options.log?.('operator.transition_failed', { error: (err as Error).message }));
  }
}
