/**
 * Optional: keeps Tenant resources in step with the control plane, so that
 * creating a dedicated-plan tenant through the admin API provisions its
 * namespace without anyone writing YAML. Polls `GET /v1/admin/tenants` with
 * the platform credential; every active tenant on a dedicated plan gets a
 * Tenant (server-side applied, labelled as synced), and a synced Tenant whose
 * tenant left the dedicated plans (or the control plane) is deleted — its
 * finalizer then honours the data retention. Tenants written by hand (without
 * the label) are never touched.
 */
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { PLANS, type PlanId } from '../../shared/plans.ts';
import { FIELD_MANAGER, TENANT_API_VERSION } from './tenant.ts';

export const SYNCED_LABEL = 'neurallog.io/synced-from';

interface ControlPlaneTenant {
  id: string;
  plan: PlanId;
  status: 'active' | 'suspended';
  retentionDays: number;
  billing: { email: string } | null;
}

export interface ControlPlaneSyncOptions {
  adminUrl: string;
  token: string;
  intervalMs: number;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export class ControlPlaneSync {
  readonly #objects: KubernetesObjectApi;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = false;

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: ControlPlaneSyncOptions,
  ) {
    this.#objects = KubernetesObjectApi.makeApiClient(kubeconfig);
  }

  start(): void {
    this.#stopped = false;
    const tick = async () => {
      this.#running = this.syncOnce().catch((err) => this.options.log?.('sync.failed', { error: (err as Error).message }));
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(tick, this.options.intervalMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: apply the Tenants that should exist, delete synced ones that should not. */
  async syncOnce(): Promise<{ applied: number; deleted: number }> {
    const res = await fetch(new URL('/v1/admin/tenants', this.options.adminUrl), { headers: { authorization: `Bearer ${this.options.token}` } });
    if (!res.ok) throw new Error(`admin API answered ${res.status}`);
    const { tenants } = (await res.json()) as { tenants: ControlPlaneTenant[] };
    const wanted = tenants.filter((t) => PLANS[t.plan]?.dedicated && t.status === 'active');
    for (const t of wanted) {
      const tenant: KubernetesObject & { spec: unknown } = {
        apiVersion: TENANT_API_VERSION,
        kind: 'Tenant',
        metadata: { name: t.id, labels: { [SYNCED_LABEL]: 'control-plane' } },
        spec: { tenantId: t.id, planId: t.plan, billingEmail: t.billing?.email ?? `billing@${t.id}.invalid`, retentionDays: t.retentionDays },
      };
      await this.#objects.patch(tenant, undefined, undefined, `${FIELD_MANAGER}-sync`, true, PatchStrategy.ServerSideApply);
    }
    const keep = new Set(wanted.map((t) => t.id));
    const synced = await this.#objects.list(
      TENANT_API_VERSION,
      'Tenant',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      `${SYNCED_LABEL}=control-plane`,
    );
    let deleted = 0;
    for (const existing of synced.items) {
      if (keep.has(existing.metadata!.name!) || existing.metadata?.deletionTimestamp) continue;
      await this.#objects.delete(existing);
      deleted++;
    }
    if (wanted.length > 0 || deleted > 0) this.options.log?.('sync.done', { applied: wanted.length, deleted });
    return { applied: wanted.length, deleted };
  }
}
