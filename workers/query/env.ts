import type { RequestIdVariables } from 'hono/request-id';
import type { ConfigBindings } from '../../shared/config.ts';

/** Bindings of the query worker (workers/query/wrangler.toml). */
export type QueryEnv = ConfigBindings;

export type QueryApp = { Bindings: QueryEnv; Variables: RequestIdVariables };
