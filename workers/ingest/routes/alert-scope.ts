/**
 * The scopes of the alerting endpoints (/v1/alerts/*): reading needs
 * `alerts:read`, changing `alerts:write`; `admin` grants both, and
 * `alerts:write` includes reading.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import type { Scope } from '../../../shared/scopes.ts';
import type { IngestApp } from '../env.ts';

/** 403 unless the credential holds `scope` or `admin`. */
export function requireAlertScope(scope: Extract<Scope, 'alerts:read' | 'alerts:write'>): MiddlewareHandler<IngestApp> {
  return async (c, next) => {
    const { scopes } = c.get('principal');
    const granted = scopes.has(scope) || scopes.has('admin') || (scope === 'alerts:read' && scopes.has('alerts:write'));
    if (!granted) throw new ApiError(403, 'insufficient_scope', `this credential lacks the "${scope}" scope`, { required: scope });
    await next();
  };
}
