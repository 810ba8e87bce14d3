/**
 * Who is calling: the tenant comes from a verified credential and from
 * nowhere else — never from the URL, a header like X-Scope-OrgID, or the body.
 *
 * API keys (shared/api-keys.ts) are checked in three steps: the checksum (no
 * look-up for a typo or a forged string), the key's record in D1 (by its
 * public key id; cached in the isolate for NEURALLOG_KEY_CACHE_TTL_MS, which is
 * therefore how long a revoked key can keep working), and the SHA-256 of the
 * presented key against the stored one in constant time. Every failure gives
 * the same 401 body: it never says which part was wrong.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.ts';
import { hashApiKey, parseApiKey } from './api-keys.ts';
import { loadConfig, type ConfigBindings } from './config.ts';
import { apiKeys, tenants } from './control-plane/schema.ts';
import type { Scope } from './scopes.ts';

export interface Principal {
  tenantId: string;
  /** The tenant's retention, stamped on the rows it writes. */
  retentionDays: number;
  scopes: ReadonlySet<Scope>;
  /** How the caller proved it (for logs and the audit trail; never the secret). */
  credential: { kind: 'api-key'; keyId: string };
}

export interface AuthBindings extends ConfigBindings {
  CONTROL_DB: D1Database;
}

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

interface KeyRecord {
  tenantId: string;
  retentionDays: number;
  scopes: Scope[];
  secretHash: string;
  expiresAt: number | null;
  revokedAt: number | null;
  tenantStatus: 'active' | 'suspended';
}

const MAX_CACHED_KEYS = 10_000;
const cache = new Map<string, { record: KeyRecord | null; fetchedAt: number }>();

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1]! : null;
}

function unauthenticated(): ApiError {
  return new ApiError(401, 'invalid_credentials', 'the API key is not valid', {}, { 'WWW-Authenticate': 'Bearer realm="neurallog", error="invalid_token"' });
}

/** Constant-time comparison of two hex digests (equal length by construction). */
function digestsEqual(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}

async function loadKey(db: D1Database, keyId: string): Promise<KeyRecord | null> {
  const rows = await drizzle(db)
    .select({
      tenantId: apiKeys.tenantId,
      scopes: apiKeys.scopes,
      secretHash: apiKeys.secretHash,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      tenantStatus: tenants.status,
      retentionDays: tenants.retentionDays,
    })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(eq(apiKeys.id, keyId))
    .limit(1);
  const row = rows[0];
  if (!row) return null;
  return {
    tenantId: row.tenantId,
    retentionDays: row.retentionDays,
    scopes: row.scopes as Scope[],
    secretHash: row.secretHash,
    expiresAt: row.expiresAt?.getTime() ?? null,
    revokedAt: row.revokedAt?.getTime() ?? null,
    tenantStatus: row.tenantStatus,
  };
}

async function cachedKey(env: AuthBindings, keyId: string, now: number): Promise<KeyRecord | null> {
  const ttl = loadConfig(env).keyCacheTtlMs;
  const hit = cache.get(keyId);
  if (hit && now - hit.fetchedAt < ttl) return hit.record;
  const record = await loadKey(env.CONTROL_DB, keyId);
  cache.delete(keyId);
  cache.set(keyId, { record, fetchedAt: now });
  if (cache.size > MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!);
  return record;
}

export async function authenticate(authorization: string | undefined, env: AuthBindings, now = Date.now()): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token === null) {
    throw new ApiError(401, 'unauthenticated', 'send the API key as "Authorization: Bearer <key>"', {}, { 'WWW-Authenticate': 'Bearer realm="neurallog"' });
  }
  const parsed = parseApiKey(token);
  if (!parsed) throw unauthenticated();
  const [record, presented] = await Promise.all([cachedKey(env, parsed.keyId, now), hashApiKey(parsed.key)]);
  if (!record || !digestsEqual(presented, record.secretHash)) throw unauthenticated();
  if (record.revokedAt !== null && record.revokedAt <= now) throw unauthenticated();
  if (record.expiresAt !== null && record.expiresAt <= now) throw unauthenticated();
  if (record.tenantStatus !== 'active') {
    throw new ApiError(403, 'tenant_suspended', 'this tenant is suspended');
  }
  return {
    tenantId: record.tenantId,
    retentionDays: record.retentionDays,
    scopes: new Set(record.scopes),
    credential: { kind: 'api-key', keyId: parsed.keyId },
  };
}

/** Hono middleware: verifies the credential, checks it carries `scope`, and sets `c.get('principal')`. */
export function requirePrincipal(scope: Scope): MiddlewareHandler<{ Bindings: AuthBindings }> {
  return async function requirePrincipal(c, next) {
    const principal = await authenticate(c.req.header('authorization'), c.env);
    if (!principal.scopes.has(scope)) {
      throw new ApiError(403, 'insufficient_scope', `this key lacks the "${scope}" scope`, { required: scope });
    }
    c.set('principal', principal);
    await next();
  };
}
