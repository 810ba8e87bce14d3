/**
 * Permissions, from the user's RBAC model. API keys carry scopes; JWTs carry
 * roles and permissions. `logs:*` style wildcards in a role grant every
 * permission with that prefix.
 */
export const SCOPES = ['logs:write', 'logs:read', 'analytics:read', 'admin', 'billing:read', 'alerts:read', 'alerts:write'] as const;
export type Scope = (typeof SCOPES)[number];
