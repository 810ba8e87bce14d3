import type { RequestIdVariables } from 'hono/request-id';
import type { AuthBindings } from '../../shared/auth.ts';
import type { AdminPrincipal } from './admin-auth.ts';
import type { BillingBindings } from './billing/stripe.ts';

/** Bindings of the admin worker (workers/admin/wrangler.toml). */
export interface AdminEnv extends AuthBindings, BillingBindings {
  /** The platform operator's credential; manages every tenant. */
  NEURALLOG_PLATFORM_ADMIN_TOKEN?: string;
}

export type AdminApp = { Bindings: AdminEnv; Variables: RequestIdVariables & { admin: AdminPrincipal } };
