/**
 * Sessions of the web explorer: a person signs in once with a credential (an
 * API key or a JWT) and gets a session in a cookie, so the browser never
 * keeps the credential itself (no localStorage a script could read).
 *
 * - The cookie (`nl_session`: HttpOnly, SameSite=Strict, Path=/, Secure over
 *   HTTPS) holds a token signed HS256 with NEURALLOG_SESSION_SECRET (jose, the
 *   algorithm pinned, its own issuer and audience so it is never taken for a
 *   tenant's JWT). Its claims: the session id (`jti`), the tenant, the
 *   credential it was opened with (`key:<id>` / `jwt:<sub>`, never a secret),
 *   the CSRF token and `exp`.
 * - The signature alone is not enough: a session works only while its row in
 *   D1 (`sessions`) says so, so signing out ends it — within
 *   NEURALLOG_KEY_CACHE_TTL_MS, how long an isolate trusts what it read (as
 *   for API keys).
 * - It carries what its credential allows now: an API key revoked or expired
 *   after sign-in ends its sessions, a suspended tenant's session is refused
 *   as its key would be (shared/auth.ts composes the principal).
 * - CSRF: a cookie is sent by the browser whoever made the page, so a request
 *   authenticated by it with an unsafe method must also carry the session's
 *   token in `X-CSRF-Token` — which only a page of our origin can read (from
 *   `POST`/`GET /v1/session`). SameSite=Strict already keeps the cookie off
 *   cross-site requests; the token also covers same-site ones (another port,
 *   a sibling subdomain).
 *
 * This module holds the token, the cookie and the D1 statements; shared/auth.ts
 * turns a verified session into a Principal.
 */
import { and, eq, inArray, isNull, lt } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Principal } from './auth.ts';
import { sessions, tenants } from './control-plane/schema.ts';
import { SCOPES } from './scopes.ts';

export const SESSION_COOKIE = 'nl_session';
export const CSRF_HEADER = 'X-CSRF-Token';

/** `iss` and `aud` of session tokens: no tenant JWT carries these, and no session token is accepted as a tenant JWT. */
const ISSUER = 'neurallog';
const AUDIENCE = 'neurallog-session';
const ALGORITHMS = ['HS256'];

/** Methods that change nothing: a cookie alone may make them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionClaims {
  /** The session's id (the token's `jti`, the row's key). */
  id: string;
  tenantId: string;
  /** The credential it was opened with: `key:<id>` or `jwt:<sub>`. */
  credential: string;
  csrfToken: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** Sessions opened with a JWT: the scopes it granted (a JWT's claims cannot change while it is valid). Null for API keys, whose scopes are read anew. */
  scopes: string[] | null;
}

/**
 * A new session for a caller whose credential was just verified: a random id
 * (128 bits) and CSRF token (256 bits), lasting `ttlSeconds` but never past the
 * credential's own expiry (a JWT's `exp`, a key's expiresAt). A JWT's scopes
 * travel in the token; a key's are read anew on every request.
 */
export function newSessionClaims(principal: Principal, ttlSeconds: number, now = Date.now()): SessionClaims {
  const until = Math.min(now + ttlSeconds * 1000, principal.credentialExpiresAt ?? Number.POSITIVE_INFINITY);
  return {
    id: randomToken(16),
    tenantId: principal.tenantId,
    credential: credentialName(principal.credential),
    csrfToken: randomToken(32),
    // Whole seconds: the token's `exp` and the row say the same.
    expiresAt: Math.floor(until / 1000) * 1000,
    scopes: principal.credential.kind === 'api-key' ? null : sortedScopes(principal.scopes),
  };
}

/** A credential as sessions and the audit trail name it: `key:<id>` or `jwt:<sub>` (never a secret). */
export function credentialName(credential: Principal['credential']): string {
  return credential.kind === 'api-key' ? `key:${credential.keyId}` : `jwt:${credential.subject}`;
}

/** Scopes in the order shared/scopes.ts lists them. */
export function sortedScopes(scopes: ReadonlySet<string>): string[] {
  return SCOPES.filter((s) => scopes.has(s));
}

/** What `/v1/session` answers: the tenant, what the session may do now, until when, and its CSRF token. */
export interface SessionView {
  tenant: { id: string; name: string };
  scopes: string[];
  expiresAt: string;
  csrfToken: string;
}

export async function describeSession(db: D1Database, principal: Principal, claims: SessionClaims): Promise<SessionView> {
  const rows = await drizzle(db).select({ name: tenants.name }).from(tenants).where(eq(tenants.id, claims.tenantId)).limit(1);
  return {
    tenant: { id: claims.tenantId, name: rows[0]?.name ?? claims.tenantId },
    scopes: sortedScopes(principal.scopes),
    expiresAt: new Date(claims.expiresAt).toISOString(),
    csrfToken: claims.csrfToken,
  };
}

/** `bytes` random bytes as base64url. */
export function randomToken(bytes: number): string {
  let binary = '';
  for (const b of crypto.getRandomValues(new Uint8Array(bytes))) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function signSessionToken(claims: SessionClaims, secret: string): Promise<string> {
  const payload: Record<string, unknown> = { tid: claims.tenantId, csrf: claims.csrfToken };
  if (claims.scopes !== null) payload.scp = claims.scopes;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setJti(claims.id)
    .setSubject(claims.credential)
    .setIssuedAt()
    .setExpirationTime(Math.floor(claims.expiresAt / 1000))
    .sign(new TextEncoder().encode(secret));
}

/** The token's claims when its signature, issuer, audience and expiry hold; null otherwise (forged, expired, another secret, malformed). */
export async function verifySessionToken(token: string, secret: string, now = Date.now()): Promise<SessionClaims | null> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ALGORITHMS,
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['jti', 'sub', 'exp'],
      currentDate: new Date(now),
      clockTolerance: 0,
    });
    const { jti, sub, exp, tid, csrf, scp } = payload;
    if (typeof jti !== 'string' || typeof sub !== 'string' || typeof exp !== 'number' || typeof tid !== 'string' || typeof csrf !== 'string') return null;
    if (scp !== undefined && !(Array.isArray(scp) && scp.every((s) => typeof s === 'string'))) return null;
    return { id: jti, tenantId: tid, credential: sub, csrfToken: csrf, expiresAt: exp * 1000, scopes: (scp as string[] | undefined) ?? null };
  } catch (err) {
    if (err instanceof errors.JOSEError) return null;
    throw err;
  }
}

/** The session's row: it is valid only while this says so. */
export interface SessionRecord {
  tenantId: string;
  credential: string;
  expiresAt: number;
  revokedAt: number | null;
}

export async function loadSessionRecord(db: D1Database, id: string): Promise<SessionRecord | null> {
  const rows = await drizzle(db)
    .select({ tenantId: sessions.tenantId, credential: sessions.credential, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.id, id))
    .limit(1);
  const row = rows[0];
  return row ? { tenantId: row.tenantId, credential: row.credential, expiresAt: row.expiresAt.getTime(), revokedAt: row.revokedAt?.getTime() ?? null } : null;
}

/** Rows of sessions that ended this long ago are deleted (a sign-in deletes up to 100). */
const EXPIRED_KEPT_MS = 24 * 60 * 60 * 1000;

/** The statements that store a new session (and tidy up a few long-expired ones). */
export function insertSessionStatements(db: D1Database, claims: SessionClaims, now: number) {
  const d = drizzle(db);
  const expired = d
    .select({ id: sessions.id })
    .from(sessions)
    .where(lt(sessions.expiresAt, new Date(now - EXPIRED_KEPT_MS)))
    .limit(100);
  return [
    d.delete(sessions).where(inArray(sessions.id, expired)),
    d.insert(sessions).values({
      id: claims.id,
      tenantId: claims.tenantId,
      credential: claims.credential,
      createdAt: new Date(now),
      expiresAt: new Date(claims.expiresAt),
    }),
  ] as const;
}

export function revokeSessionStatement(db: D1Database, claims: SessionClaims, now: number) {
  return drizzle(db)
    .update(sessions)
    .set({ revokedAt: new Date(now) })
    .where(and(eq(sessions.id, claims.id), eq(sessions.tenantId, claims.tenantId), isNull(sessions.revokedAt)));
}

/** The `nl_session` cookie's value in a Cookie header, or null. The first one wins (a browser sends the most specific path first). */
export function readSessionCookie(header: string | null | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    return value === '' ? null : value;
  }
  return null;
}

/** Set-Cookie for a session that lasts `maxAgeSeconds`; `Secure` when the request came over HTTPS. */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure ? '; Secure' : ''}`;
}

/** Set-Cookie that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/** A cookie alone may make this request: it changes nothing. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** Constant-time comparison of the presented CSRF token with the session's. */
export function csrfTokenMatches(presented: string | null | undefined, expected: string): boolean {
  if (!presented) return false;
  const encoder = new TextEncoder();
  const a = encoder.encode(presented);
  const b = encoder.encode(expected);
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}
