import type { RequestIdVariables } from 'hono/request-id';
import type { AuthBindings } from '../../shared/auth.ts';
import type { QuotaCoordinator } from '../../durable-objects/quota-coordinator.ts';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';

/** Bindings of the ingest worker (workers/ingest/wrangler.toml). */
export interface IngestEnv extends AuthBindings {
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
  QUOTA_COORDINATOR: DurableObjectNamespace<QuotaCoordinator>;
  ARCHIVE: R2Bucket;
}

export type IngestApp = { Bindings: IngestEnv; Variables: RequestIdVariables };
