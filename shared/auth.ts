/**
 * Who is calling: the tenant comes from a verified credential and from
 * nowhere else — never from the URL, a header like X-Scope-OrgID, or the body.
 *
 * Until the control plane lands, one credential exists: the dev tenant's API
 * key from configuration. It is compared as SHA-256 digests with
 * `crypto.subtle.timingSafeEqual`, so neither the time taken nor an early exit
 * tells an attacker how much of a guess was right.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.ts';
import { loadConfig, type ConfigBindings } from './config.ts';

export interface Principal {
  tenantId: string;
  /** How the caller proved it (for logs; never the secret itself). */
  credential: 'dev-api-key';
}

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

const encoder = new TextEncoder();
const digestCache = new Map<string, Promise<ArrayBuffer>>();

function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(text));
}

/** Digest of the configured key, computed once per isolate. */
function configuredDigest(key: string): Promise<ArrayBuffer> {
  let digest = digestCache.get(key);
  if (!digest) {
    digest = sha256(key);
    digestCache.set(key, digest);
  }
  return digest;
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1]! : null;
}

export async function authenticate(authorization: string | undefined, env: ConfigBindings): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token === null) {
    throw new ApiError(401, 'unauthenticated', 'send the API key as "Authorization: Bearer <key>"', {}, { 'WWW-Authenticate': 'Bearer realm="neurallog"' });
  }
  const config = loadConfig(env);
  if (config.devApiKey !== '') {
    const [presented, expected] = await Promise.all([sha256(token), configuredDigest(config.devApiKey)]);
    if (crypto.subtle.timingSafeEqual(presented, expected)) {
      return { tenantId: config.devTenant, credential: 'dev-api-key' };
    }
  }
  throw new ApiError(401, 'invalid_credentials', 'the API key is not valid', {}, { 'WWW-Authenticate': 'Bearer realm="neurallog", error="invalid_token"' });
}

/** Hono middleware: verifies the credential and sets `c.get('principal')`. */
export function requirePrincipal(): MiddlewareHandler<{ Bindings: ConfigBindings }> {
  return async function requirePrincipal(c, next) {
    c.set('principal', await authenticate(c.req.header('authorization'), c.env));
    await next();
  };
}
