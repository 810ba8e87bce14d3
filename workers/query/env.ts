import type { RequestIdVariables } from 'hono/request-id';
import type { QueryGate } from '../../durable-objects/query-gate.ts';
import type { AuthBindings } from '../../shared/auth.ts';
import type { PlatformMetricsBindings } from '../../shared/platform-metrics/reporting.ts';

/** Bindings of the query worker (workers/query/wrangler.toml). */
export interface QueryEnv extends AuthBindings, PlatformMetricsBindings {
  QUERY_GATE: DurableObjectNamespace<QueryGate>;
}

export type QueryApp = { Bindings: QueryEnv; Variables: RequestIdVariables };
