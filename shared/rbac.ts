/**
 * Roles → permissions, as in the user's RBAC model. A permission ending in
 * `:*` grants every scope with that prefix; names that are not scopes here yet
 * (`users:*`) grant nothing.
 */
import { SCOPES, type Scope } from './scopes.ts';

export const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'tenant-admin': ['logs:*', 'analytics:*', 'alerts:*', 'users:*', 'billing:read', 'admin'],
  developer: ['logs:read', 'logs:write', 'analytics:read', 'alerts:*'],
  viewer: ['logs:read', 'analytics:read', 'alerts:read'],
};

/** The scopes that permissions (literal or `prefix:*`) grant. */
export function expandPermissions(permissions: Iterable<string>): Set<Scope> {
  const scopes = new Set<Scope>();
  for (const permission of permissions) {
    if (permission.endsWith(':*')) {
      const prefix = permission.slice(0, -1);
      for (const scope of SCOPES) if (scope.startsWith(prefix)) scopes.add(scope);
    } else if ((SCOPES as readonly string[]).includes(permission)) {
      scopes.add(permission as Scope);
    }
  }
  return scopes;
}

/** Effective scopes of a token: its roles' permissions plus its own `permissions`. */
export function scopesOf(roles: readonly string[], permissions: readonly string[]): Set<Scope> {
  // Role names come from the token: own keys only, so a role named `constructor` grants nothing.
  return expandPermissions([...roles.flatMap((role) => (Object.hasOwn(ROLE_PERMISSIONS, role) ? ROLE_PERMISSIONS[role]! : [])), ...permissions]);
}
