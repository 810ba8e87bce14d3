import type { RequestIdVariables } from 'hono/request-id';
import type { AuthBindings } from '../../shared/auth.ts';

/** Bindings of the query worker (workers/query/wrangler.toml). */
export type QueryEnv = AuthBindings;

export type QueryApp = { Bindings: QueryEnv; Variables: RequestIdVariables };
