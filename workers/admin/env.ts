import type { RequestIdVariables } from 'hono/request-id';
import type { AuthBindings } from '../../shared/auth.ts';
import type { PlatformMetricsBindings } from '../../shared/platform-metrics/reporting.ts';
import type { AdminPrincipal } from './admin-auth.ts';
import type { BillingBindings } from './billing/stripe.ts';

/** Bindings of the admin worker (workers/admin/wrangler.toml). */
export interface AdminEnv extends AuthBindings, BillingBindings, PlatformMetricsBindings {
  /** The platform operator's credential; manages every tenant. */
  NEURALLOG_PLATFORM_ADMIN_TOKEN?: string;
  /** The platform metrics aggregator (hosted by the ingest worker): /metrics, /v1/admin/platform/*. */
  PLATFORM_METRICS: DurableObjectNamespace;
  /** The archive bucket, probed by the verbose health check. */
  ARCHIVE: R2Bucket;
  /** Cloudflare's version metadata, when a deployment binds it ([version_metadata]): the build id in the verbose health check. */
  CF_VERSION_METADATA?: WorkerVersionMetadata;
}

export type AdminApp = { Bindings: AdminEnv; Variables: RequestIdVariables & { admin: AdminPrincipal } };
