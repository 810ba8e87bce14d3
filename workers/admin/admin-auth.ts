/**
 * Who may administer what. The platform-admin token (a secret set at deploy)
 * manages every tenant; a tenant's own credential with the `admin` scope (an
 * API key, or a JWT whose roles grant it, or a session opened with either)
 * manages only that tenant.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../shared/api-error.ts';
import { auditActor, authenticateRequest } from '../../shared/auth.ts';
import { backgroundOf } from '../../shared/background.ts';
import { bearerToken } from '../../shared/credential-precheck.ts';
import type { AdminEnv } from './env.ts';

/** `actor` is who the audit trail names; `credential`, for a session actor, what the session was opened with. */
export type AdminPrincipal =
  | { kind: 'platform-admin'; actor: 'platform-admin'; credential: null }
  | { kind: 'tenant-admin'; tenantId: string; actor: string; credential: string | null };

const encoder = new TextEncoder();

async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([crypto.subtle.digest('SHA-256', encoder.encode(a)), crypto.subtle.digest('SHA-256', encoder.encode(b))]);
  return crypto.subtle.timingSafeEqual(x, y);
}

/** The platform-admin token (set, ≥ 32 characters, compared in constant time). */
export async function isPlatformAdminToken(env: AdminEnv, token: string): Promise<boolean> {
  const platformToken = env.NEURALLOG_PLATFORM_ADMIN_TOKEN ?? '';
  return platformToken.length >= 32 && (await sameSecret(token, platformToken));
}

export function requireAdmin(): MiddlewareHandler<{ Bindings: AdminEnv; Variables: { admin: AdminPrincipal } }> {
  return async function requireAdmin(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (token !== null && (await isPlatformAdminToken(c.env, token))) {
      c.set('admin', { kind: 'platform-admin', actor: 'platform-admin', credential: null });
      return next();
    }
    const principal = await authenticateRequest(c.req.raw, c.env, Date.now(), backgroundOf(c));
    if (!principal.scopes.has('admin')) {
      throw new ApiError(403, 'insufficient_scope', 'this credential lacks the "admin" scope', { required: 'admin' });
    }
    c.set('admin', { kind: 'tenant-admin', tenantId: principal.tenantId, ...auditActor(principal) });
    return next();
  };
}

/** A tenant-admin acts on its own tenant only. */
export function assertCanManage(admin: AdminPrincipal, tenantId: string): void {
  if (admin.kind === 'tenant-admin' && admin.tenantId !== tenantId) {
    throw new ApiError(403, 'forbidden', 'this credential manages another tenant');
  }
}

export function assertPlatformAdmin(admin: AdminPrincipal): void {
  if (admin.kind !== 'platform-admin') throw new ApiError(403, 'forbidden', 'only the platform admin may do this');
}
