/**
 * Who is calling: the tenant comes from a verified credential and from
 * nowhere else — never from the URL, a header like X-Scope-OrgID, or the body.
 *
 * API keys (shared/api-keys.ts) are checked in three steps: the checksum (no
 * look-up for a typo or a forged string), the key's record in D1 (by its
 * public key id; cached in the isolate for NEURALLOG_KEY_CACHE_TTL_MS, which is
 * therefore how long a revoked key can keep working, and refreshed in the
 * background once half that old: shared/refresh-ahead-cache.ts), and the
 * SHA-256 of the presented key against the stored one in constant time. Every
 * failure gives the same 401 body: it never says which part was wrong.
 *
 * JWTs (shared/jwt.ts) name their tenant in `tenant_id`; the tenant must exist
 * and be active (read from D1, cached like keys), and the token's roles and
 * permissions become scopes through the RBAC model (shared/rbac.ts).
 *
 * Sessions (shared/session.ts): a browser signed in with POST /v1/session
 * sends the `nl_session` cookie instead of a header. An Authorization header,
 * when present, wins over the cookie. The session's row must still be valid
 * (signing out ends it) and so must the credential it was opened with, read
 * now: a revoked key ends its sessions, a suspended tenant's are refused as
 * its key would be. A request authenticated by the cookie with an unsafe
 * method must carry the session's CSRF token in X-CSRF-Token (403
 * `csrf_failed` otherwise); Bearer and Basic requests need none.
 *
 * Two kinds of suspension: a platform admin's (`status: suspended`) refuses
 * every request; billing's hold (`suspend_at` passed: a payment failed beyond
 * the plan's grace period) refuses only writes — `logs:write` — so the tenant
 * can still search what it has while it settles the invoice.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.ts';
import { hashApiKey, parseApiKey } from './api-keys.ts';
import { backgroundOf, type Background, unattended } from './background.ts';
import { isValidTenantId, loadConfig, sessionSecret, type ConfigBindings } from './config.ts';
import { apiKeys, tenants } from './control-plane/schema.ts';
import { TokenInvalid, verifyJwt } from './jwt.ts';
import { bearerToken, invalidCredentials as unauthenticated, isJwtCredential, noCredential } from './credential-precheck.ts';
import { logEvent } from './logger.ts';
import { expandPermissions, scopesOf } from './rbac.ts';
import {
  credentialName,
  CSRF_HEADER,
  csrfTokenMatches,
  isSafeMethod,
  loadSessionRecord,
  readSessionCookie,
  type SessionClaims,
  verifySessionToken,
} from './session.ts';
import { PLANS, type Plan, type PlanId } from './plans.ts';
import { RefreshAheadCache } from './refresh-ahead-cache.ts';
import type { Scope } from './scopes.ts';

export interface Principal {
  tenantId: string;
  /** The tenant's retention, stamped on the rows it writes. */
  retentionDays: number;
  /** The tenant's plan: every limit it has. */
  plan: Plan;
  scopes: ReadonlySet<Scope>;
  /** How the caller proved it (for logs and the audit trail; never the secret). Through a session: the credential it was opened with. */
  credential: { kind: 'api-key'; keyId: string } | { kind: 'jwt'; subject: string };
  /** When that credential stops working (ms): the key's expiry or the JWT's `exp`; null when it does not expire. */
  credentialExpiresAt: number | null;
  /** Set when the caller is signed in with the session cookie (shared/session.ts). */
  session: SessionClaims | null;
  /** Billing holds the tenant's ingest since this time (ms), or null. */
  ingestSuspendedAt: number | null;
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
  planId: string;
  shardCount: number | null;
  scopes: Scope[];
  secretHash: string;
  expiresAt: number | null;
  revokedAt: number | null;
  tenantStatus: 'active' | 'suspended';
  suspendAt: number | null;
}

interface TenantRecord {
  retentionDays: number;
  planId: string;
  shardCount: number | null;
  status: 'active' | 'suspended';
  suspendAt: number | null;
}

/** Entries per cache, per isolate (when full, the oldest read goes first). */
const MAX_CACHED = 10_000;
// By key id, tenant id and session id. A record of null (no such key) is cached too, like any answer.
const cache = new RefreshAheadCache<KeyRecord | null>('api_key', MAX_CACHED);
const tenantCache = new RefreshAheadCache<TenantRecord | null>('tenant', MAX_CACHED);
const sessionCache = new RefreshAheadCache<Awaited<ReturnType<typeof loadSessionRecord>>>('session', MAX_CACHED);

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
      suspendAt: tenants.suspendAt,
      retentionDays: tenants.retentionDays,
      planId: tenants.planId,
      shardCount: tenants.shardCount,
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
    planId: row.planId,
    shardCount: row.shardCount,
    scopes: row.scopes as Scope[],
    secretHash: row.secretHash,
    expiresAt: row.expiresAt?.getTime() ?? null,
    revokedAt: row.revokedAt?.getTime() ?? null,
    tenantStatus: row.tenantStatus,
    suspendAt: row.suspendAt?.getTime() ?? null,
  };
}

async function loadTenant(db: D1Database, tenantId: string): Promise<TenantRecord | null> {
  const rows = await drizzle(db)
    .select({
      retentionDays: tenants.retentionDays,
      status: tenants.status,
      planId: tenants.planId,
      shardCount: tenants.shardCount,
      suspendAt: tenants.suspendAt,
    })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .limit(1);
  const row = rows[0];
  return row ? { ...row, suspendAt: row.suspendAt?.getTime() ?? null } : null;
}

/** What writing into a tenant needs to know of it (the ingest pipeline's `submit`): its id, retention and plan. */
export type TenantWriter = Pick<Principal, 'tenantId' | 'retentionDays' | 'plan' | 'ingestSuspendedAt'>;

/**
 * A tenant the platform itself writes into (the platform tenant of self-logging), read from D1 and
 * cached like a key: null when it does not exist or is suspended, so nothing is written for it.
 */
export async function tenantWriter(tenantId: string, env: AuthBindings, now = Date.now(), background: Background = unattended): Promise<TenantWriter | null> {
  const tenant = await tenantCache.get(tenantId, { now, ttl: loadConfig(env).keyCacheTtlMs, background }, () => loadTenant(env.CONTROL_DB, tenantId));
  if (tenant?.status !== 'active') return null;
  return { tenantId, retentionDays: tenant.retentionDays, plan: planOf(tenant.planId, tenant.shardCount), ingestSuspendedAt: holdSince(tenant.suspendAt, now) };
}

/*
 * Each entry point takes the request's time and its `background` (its `waitUntil`: shared/background.ts),
 * which keeps the D1 reads of the caches alive past the response — a refresh ahead of the TTL runs there.
 */

/** The caller of an Authorization header (Bearer, Basic or ApiKey). */
export async function authenticate(
  authorization: string | undefined,
  env: AuthBindings,
  now = Date.now(),
  background: Background = unattended,
): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token === null) throw noCredential();
  return authenticateCredential(token, env, now, background);
}

/** The caller of a credential itself (an API key or a JWT), as a Bearer header would present it. */
export async function authenticateCredential(token: string, env: AuthBindings, now = Date.now(), background: Background = unattended): Promise<Principal> {
  if (isJwtCredential(token)) return authenticateJwt(token, env, now, background);
  return authenticateApiKey(token, env, now, background);
}

/**
 * The caller of a request: its Authorization header, else its session cookie.
 * A cookie-authenticated request with an unsafe method must carry the
 * session's CSRF token (403 `csrf_failed`).
 */
export async function authenticateRequest(request: Request, env: AuthBindings, now = Date.now(), background: Background = unattended): Promise<Principal> {
  const authorization = request.headers.get('authorization');
  if (authorization !== null) return authenticate(authorization, env, now, background);
  const cookie = readSessionCookie(request.headers.get('cookie'));
  if (cookie === null) throw noCredential();
  const principal = await authenticateSession(cookie, env, now, background);
  if (!isSafeMethod(request.method) && !csrfTokenMatches(request.headers.get(CSRF_HEADER), principal.session!.csrfToken)) {
    throw new ApiError(
      403,
      'csrf_failed',
      `a request signed in with the session cookie that changes something must carry the session's ${CSRF_HEADER} header`,
      {
        header: CSRF_HEADER,
      },
    );
  }
  return principal;
}

/**
 * The caller of a session token (the `nl_session` cookie): signed by us, its
 * row neither revoked nor expired, and the credential it was opened with
 * still valid — read now, with what it allows now.
 */
export async function authenticateSession(token: string, env: AuthBindings, now = Date.now(), background: Background = unattended): Promise<Principal> {
  const config = loadConfig(env);
  const claims = await verifySessionToken(token, sessionSecret(config), now);
  if (!claims) throw unauthenticated();
  const row = await sessionCache.get(claims.id, { now, ttl: config.keyCacheTtlMs, background }, () => loadSessionRecord(env.CONTROL_DB, claims.id));
  if (!row || row.tenantId !== claims.tenantId || row.credential !== claims.credential) throw unauthenticated();
  if (row.revokedAt !== null && row.revokedAt <= now) throw unauthenticated();
  if (row.expiresAt <= now) throw unauthenticated();
  const principal = await credentialOfSession(claims, env, now, background);
  return { ...principal, session: claims };
}

/** What the session's credential allows now. */
async function credentialOfSession(claims: SessionClaims, env: AuthBindings, now: number, background: Background): Promise<Principal> {
  const lookUp = { now, ttl: loadConfig(env).keyCacheTtlMs, background };
  const colon = claims.credential.indexOf(':');
  const kind = claims.credential.slice(0, colon);
  const id = claims.credential.slice(colon + 1);
  if (kind === 'key') {
    const record = await cache.get(id, lookUp, () => loadKey(env.CONTROL_DB, id));
    if (!record || record.tenantId !== claims.tenantId) throw unauthenticated();
    return principalOfKey(id, record, now);
  }
  if (kind === 'jwt' && claims.scopes !== null) {
    const tenant = await tenantCache.get(claims.tenantId, lookUp, () => loadTenant(env.CONTROL_DB, claims.tenantId));
    if (!tenant) throw unauthenticated();
    if (tenant.status !== 'active') throw new ApiError(403, 'tenant_suspended', 'this tenant is suspended');
    return {
      tenantId: claims.tenantId,
      retentionDays: tenant.retentionDays,
      plan: planOf(tenant.planId, tenant.shardCount),
      scopes: expandPermissions(claims.scopes),
      credential: { kind: 'jwt', subject: id },
      credentialExpiresAt: null,
      session: null,
      ingestSuspendedAt: holdSince(tenant.suspendAt, now),
    };
  }
  throw unauthenticated();
}

/** Forget what this isolate read of a session (it was just revoked here). */
export function forgetSession(id: string): void {
  sessionCache.forget(id);
}

/** Who acted, for the audit trail: `session:<id>` for a signed-in person (`credential` then names what the session was opened with), else the credential. */
export function auditActor(principal: Pick<Principal, 'credential' | 'session'>): { actor: string; credential: string | null } {
  const credential = credentialName(principal.credential);
  return principal.session ? { actor: `session:${principal.session.id}`, credential } : { actor: credential, credential: null };
}

async function authenticateJwt(token: string, env: AuthBindings, now: number, background: Background): Promise<Principal> {
  const config = loadConfig(env);
  if (!config.jwt) throw unauthenticated();
  let verified: Awaited<ReturnType<typeof verifyJwt>>;
  try {
    verified = await verifyJwt(token, config.jwt);
  } catch (err) {
    if (!(err instanceof TokenInvalid)) throw err;
    logEvent('info', 'auth.jwt_refused', { reason: err.message });
    throw unauthenticated();
  }
  const { tenantId, roles, permissions } = verified;
  if (typeof tenantId !== 'string' || !isValidTenantId(tenantId) || !isStringArray(roles ?? []) || !isStringArray(permissions ?? [])) {
    throw unauthenticated();
  }
  const tenant = await tenantCache.get(tenantId, { now, ttl: config.keyCacheTtlMs, background }, () => loadTenant(env.CONTROL_DB, tenantId));
  if (!tenant) throw unauthenticated();
  if (tenant.status !== 'active') throw new ApiError(403, 'tenant_suspended', 'this tenant is suspended');
  return {
    tenantId,
    retentionDays: tenant.retentionDays,
    plan: planOf(tenant.planId, tenant.shardCount),
    scopes: scopesOf((roles ?? []) as string[], (permissions ?? []) as string[]),
    credential: { kind: 'jwt', subject: verified.subject },
    credentialExpiresAt: verified.expiresAt,
    session: null,
    ingestSuspendedAt: holdSince(tenant.suspendAt, now),
  };
}

/** D1's plans reference shared/plans.ts; an id it does not know is a deploy mismatch. The tenant may override the shard count. */
export function planOf(id: string, shardCount: number | null): Plan {
  const plan = PLANS[id as PlanId];
  if (!plan) throw new Error(`tenant has plan "${id}", which shared/plans.ts does not define`);
  return shardCount === null ? plan : { ...plan, shardCount };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

async function authenticateApiKey(token: string, env: AuthBindings, now: number, background: Background): Promise<Principal> {
  const parsed = parseApiKey(token);
  if (!parsed) throw unauthenticated();
  const lookUp = { now, ttl: loadConfig(env).keyCacheTtlMs, background };
  const [record, presented] = await Promise.all([cache.get(parsed.keyId, lookUp, () => loadKey(env.CONTROL_DB, parsed.keyId)), hashApiKey(parsed.key)]);
  if (!record || !digestsEqual(presented, record.secretHash)) throw unauthenticated();
  return principalOfKey(parsed.keyId, record, now);
}

/** A key's principal once the key is proven (by its secret, or by a session opened with it): refused if revoked, expired or its tenant suspended. */
function principalOfKey(keyId: string, record: KeyRecord, now: number): Principal {
  if (record.revokedAt !== null && record.revokedAt <= now) throw unauthenticated();
  if (record.expiresAt !== null && record.expiresAt <= now) throw unauthenticated();
  if (record.tenantStatus !== 'active') {
    throw new ApiError(403, 'tenant_suspended', 'this tenant is suspended');
  }
  return {
    tenantId: record.tenantId,
    retentionDays: record.retentionDays,
    plan: planOf(record.planId, record.shardCount),
    scopes: new Set(record.scopes),
    credential: { kind: 'api-key', keyId },
    credentialExpiresAt: record.expiresAt,
    session: null,
    ingestSuspendedAt: holdSince(record.suspendAt, now),
  };
}

function holdSince(suspendAt: number | null, now: number): number | null {
  return suspendAt !== null && suspendAt <= now ? suspendAt : null;
}

/** Hono middleware: verifies the credential (header or session cookie), checks it carries `scope` (if given), and sets `c.get('principal')`. */
export function requirePrincipal(scope?: Scope): MiddlewareHandler<{ Bindings: AuthBindings }> {
  return async function requirePrincipal(c, next) {
    const principal = await authenticateRequest(c.req.raw, c.env, Date.now(), backgroundOf(c));
    if (scope !== undefined) assertScope(principal, scope);
    c.set('principal', principal);
    await next();
  };
}

/** 403 unless the principal may act with `scope` now (it holds the scope; for writes, billing does not hold its ingest). */
export function assertScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.has(scope)) {
    throw new ApiError(403, 'insufficient_scope', `this credential lacks the "${scope}" scope`, { required: scope });
  }
  if (scope === 'logs:write' && principal.ingestSuspendedAt !== null) {
    throw new ApiError(
      403,
      'tenant_suspended',
      "this tenant's ingest is suspended: a payment failed and its grace period has passed. Search still works; ingest resumes when the invoice is paid",
      { reason: 'payment_failed', since: new Date(principal.ingestSuspendedAt).toISOString() },
    );
  }
}
