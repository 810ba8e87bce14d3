/**
 * Sessions for tests inside workerd. The admin test project signs in through
 * POST /v1/session; the ingest and query projects run one worker each, so
 * they open a session as that route does (shared/session.ts, the same D1
 * row and the same signed token) and send its cookie.
 */
import { env } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { SignJWT } from 'jose';
import { authenticateCredential } from '../../shared/auth.ts';
import { loadConfig } from '../../shared/config.ts';
import { insertSessionStatements, newSessionClaims, revokeSessionStatement, type SessionClaims, signSessionToken } from '../../shared/session.ts';
import { TEST_SESSION_SECRET } from './constants.ts';

export interface TestSession {
  claims: SessionClaims;
  /** `nl_session=<token>`, as a Cookie header. */
  cookie: string;
  csrfToken: string;
}

/** A session opened with `credential` (an API key or a JWT), as POST /v1/session opens it. */
export async function openSession(credential: string, now = Date.now()): Promise<TestSession> {
  const principal = await authenticateCredential(credential, env, now);
  const claims = newSessionClaims(principal, loadConfig(env).session.ttlSeconds, now);
  await drizzle(env.CONTROL_DB).batch(insertSessionStatements(env.CONTROL_DB, claims, now));
  const token = await signSessionToken(claims, TEST_SESSION_SECRET);
  return { claims, cookie: `nl_session=${token}`, csrfToken: claims.csrfToken };
}

/** Signs the session out in D1, as DELETE /v1/session does on the admin worker (this isolate's cache does not hear of it). */
export async function revokeSession(session: TestSession): Promise<void> {
  await revokeSessionStatement(env.CONTROL_DB, session.claims, Date.now()).run();
}

/** A token with these claims signed by `secret` (the real one by default): forged, expired or re-signed cookies. */
export async function signedCookie(claims: SessionClaims, options: { secret?: string; exp?: number; issuer?: string } = {}): Promise<string> {
  const token = await new SignJWT({ tid: claims.tenantId, csrf: claims.csrfToken, ...(claims.scopes ? { scp: claims.scopes } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.issuer ?? 'neurallog')
    .setAudience('neurallog-session')
    .setJti(claims.id)
    .setSubject(claims.credential)
    .setExpirationTime(options.exp ?? Math.floor(claims.expiresAt / 1000))
    .sign(new TextEncoder().encode(options.secret ?? TEST_SESSION_SECRET));
  return `nl_session=${token}`;
}
