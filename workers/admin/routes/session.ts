/**
 * /v1/session — sign in (a credential exchanged for a session cookie), read
 * the session, sign out. shared/session.ts says what a session is; every
 * worker accepts its cookie (shared/auth.ts).
 *
 * Signing in takes the credential in a JSON body, checked exactly as a Bearer
 * credential is. The JSON content type is required: a cross-site HTML form
 * cannot send it, so no other site can sign a browser in to its own tenant
 * (login CSRF).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { authenticateCredential, authenticateSession, forgetSession } from '../../../shared/auth.ts';
import { backgroundOf } from '../../../shared/background.ts';
import { loadConfig, sessionSecret } from '../../../shared/config.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { errorResponses, SESSION_SECURITY, validationHook } from '../../../shared/openapi.ts';
import {
  CSRF_HEADER,
  clearedSessionCookie,
  csrfTokenMatches,
  describeSession,
  insertSessionStatements,
  newSessionClaims,
  readSessionCookie,
  revokeSessionStatement,
  sessionCookie,
  signSessionToken,
  verifySessionToken,
} from '../../../shared/session.ts';
import { drizzle } from 'drizzle-orm/d1';
import type { AdminApp } from '../env.ts';

export const sessionRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

const Session = z
  .object({
    tenant: z.object({ id: z.string(), name: z.string() }),
    scopes: z.array(z.string()).openapi({ description: 'What the session may do now: the scopes of the credential it was opened with' }),
    expiresAt: z
      .string()
      .openapi({ format: 'date-time', description: 'When the session ends (NEURALLOG_SESSION_TTL_S after sign-in, never after the credential expires)' }),
    csrfToken: z.string().openapi({ description: 'Send as X-CSRF-Token on every POST, PUT, PATCH or DELETE made with the cookie' }),
  })
  .openapi('Session');

const SignIn = z
  .object({
    credential: z.string().min(1).max(8192).openapi({ description: 'An API key (`nlk_…`) or a JWT from the configured identity provider' }),
  })
  .openapi('SignIn');

const sessionHeaders = { 'Cache-Control': 'no-store' };
const isHttps = (c: Context) => new URL(c.req.url).protocol === 'https:';

sessionRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/',
    summary: 'Sign in: exchange a credential for a session cookie',
    description:
      'Sets `nl_session` (HttpOnly; SameSite=Strict; Path=/; Secure over HTTPS; Max-Age the session lifetime). The cookie then authenticates every API route; ' +
      'requests with POST, PUT, PATCH or DELETE must also send the returned csrfToken as `X-CSRF-Token`. Needs `Content-Type: application/json`.',
    security: [],
    request: { body: { content: { 'application/json': { schema: SignIn } }, required: true } },
    responses: {
      200: { description: 'Signed in; Set-Cookie carries the session', content: { 'application/json': { schema: Session } } },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const now = Date.now();
    const config = loadConfig(c.env);
    const secret = sessionSecret(config);
    const principal = await authenticateCredential(c.req.valid('json').credential, c.env, now, backgroundOf(c));
    const claims = newSessionClaims(principal, config.session.ttlSeconds, now);
    const db = drizzle(c.env.CONTROL_DB);
    await db.batch([
      ...insertSessionStatements(c.env.CONTROL_DB, claims, now),
      auditStatement(c.env.CONTROL_DB, {
        actor: claims.credential,
        tenantId: claims.tenantId,
        action: 'session.open',
        details: { sessionId: claims.id, expiresAt: new Date(claims.expiresAt).toISOString() },
        requestId: c.get('requestId'),
      }),
    ]);
    const token = await signSessionToken(claims, secret);
    const view = await describeSession(c.env.CONTROL_DB, principal, claims);
    return c.json(view, 200, { ...sessionHeaders, 'Set-Cookie': sessionCookie(token, (claims.expiresAt - now) / 1000, isHttps(c)) });
  },
);

sessionRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: 'The session in the cookie: tenant, scopes now, expiry and CSRF token',
    security: SESSION_SECURITY,
    responses: {
      200: { description: 'The session', content: { 'application/json': { schema: Session } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const token = readSessionCookie(c.req.header('cookie'));
    if (token === null) throw noSession('no session cookie: sign in with POST /v1/session', {});
    let principal: Awaited<ReturnType<typeof authenticateSession>>;
    try {
      principal = await authenticateSession(token, c.env, Date.now(), backgroundOf(c));
    } catch (err) {
      // Expired, signed out, forged, or its credential revoked: the cookie is of no use, so it goes.
      if (err instanceof ApiError && err.status === 401)
        throw noSession('the session has ended: sign in again', { 'Set-Cookie': clearedSessionCookie(isHttps(c)) });
      throw err;
    }
    return c.json(await describeSession(c.env.CONTROL_DB, principal, principal.session!), 200, sessionHeaders);
  },
);

sessionRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/',
    summary: 'Sign out: the session ends (on every worker within NEURALLOG_KEY_CACHE_TTL_MS) and the cookie is cleared',
    description: "Needs the session's `X-CSRF-Token`. Without a session (none, expired, not ours) it only clears the cookie.",
    security: SESSION_SECURITY,
    responses: { 204: { description: 'Signed out; Set-Cookie clears the cookie' }, ...errorResponses(403) },
  }),
  async (c) => {
    const now = Date.now();
    const cleared = { ...sessionHeaders, 'Set-Cookie': clearedSessionCookie(isHttps(c)) };
    const token = readSessionCookie(c.req.header('cookie'));
    const claims = token === null ? null : await verifySessionToken(token, sessionSecret(loadConfig(c.env)), now);
    if (claims === null) return c.body(null, 204, cleared);
    if (!csrfTokenMatches(c.req.header(CSRF_HEADER), claims.csrfToken)) {
      throw new ApiError(403, 'csrf_failed', `signing out needs the session's ${CSRF_HEADER} header`, { header: CSRF_HEADER });
    }
    const revoked = await revokeSessionStatement(c.env.CONTROL_DB, claims, now).run();
    forgetSession(claims.id);
    if (revoked.meta.changes > 0) {
      await auditStatement(c.env.CONTROL_DB, {
        actor: `session:${claims.id}`,
        credential: claims.credential,
        tenantId: claims.tenantId,
        action: 'session.close',
        requestId: c.get('requestId'),
      });
    }
    return c.body(null, 204, cleared);
  },
);

function noSession(message: string, headers: Record<string, string>): ApiError {
  return new ApiError(401, 'unauthenticated', message, {}, { ...headers, 'WWW-Authenticate': 'Bearer realm="neurallog"' });
}
