import type { RequestIdVariables } from 'hono/request-id';
import type { ConfigBindings } from '../../shared/config.ts';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';

/** Bindings of the ingest worker (workers/ingest/wrangler.toml). */
export interface IngestEnv extends ConfigBindings {
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
  ARCHIVE: R2Bucket;
}

export type IngestApp = { Bindings: IngestEnv; Variables: RequestIdVariables };
