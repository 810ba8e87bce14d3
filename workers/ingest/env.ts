import type { RequestIdVariables } from 'hono/request-id';
import type { AuthBindings } from '../../shared/auth.ts';
import type { PlatformMetricsBindings } from '../../shared/platform-metrics/reporting.ts';
import type { AlertEvaluator } from '../../durable-objects/alert-evaluator.ts';
import type { QuotaCoordinator } from '../../durable-objects/quota-coordinator.ts';
import type { TailHub } from '../../durable-objects/tail-hub.ts';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';

/** Bindings of the ingest worker (workers/ingest/wrangler.toml). */
export interface IngestEnv extends AuthBindings, PlatformMetricsBindings {
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
  QUOTA_COORDINATOR: DurableObjectNamespace<QuotaCoordinator>;
  ARCHIVE: R2Bucket;
  TAIL_HUB: DurableObjectNamespace<TailHub>;
  ALERT_EVALUATOR: DurableObjectNamespace<AlertEvaluator>;
}

export type IngestApp = { Bindings: IngestEnv; Variables: RequestIdVariables };
