/**
 * What a presented credential can be told without any look-up (issue 20,
 * "Abuse"): a missing or unparseable Authorization header, or an API key whose
 * checksum is wrong, can never authenticate, whatever D1 holds. The workers
 * refuse those first (shared/auth.ts), and the gateway refuses them itself on
 * the routes it knows authenticate this way (workers/gateway/routes.ts), so a
 * flood of made-up keys never pays the service-binding hop to a worker.
 *
 * One place for these answers, so the gateway's refusal is the worker's, word
 * for word: the same status, body and WWW-Authenticate.
 */
import { ApiError } from './api-error.ts';
import { parseApiKey } from './api-keys.ts';

/**
 * The credential in an Authorization header, in the forms log shippers use:
 * `Bearer <key or JWT>`, `Basic base64(<anything>:<key>)` (the key as the
 * password, as Elasticsearch and Loki clients send it), or `ApiKey <key>`.
 */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const m = /^(Bearer|Basic|ApiKey)[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic') return m[2]!;
  let decoded: string;
  try {
    decoded = atob(m[2]!);
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1) || null;
}

/** Three base64url parts: a JWT to verify (shared/jwt.ts), not an API key. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** Whether a token is presented as a JWT (else it is taken for an API key). */
export function isJwtCredential(token: string): boolean {
  return !token.startsWith('nlk_') && looksLikeJwt(token);
}

/** 401 for a credential that is not valid; it never says which part was wrong. */
export function invalidCredentials(): ApiError {
  return new ApiError(401, 'invalid_credentials', 'the credential is not valid', {}, { 'WWW-Authenticate': 'Bearer realm="neurallog", error="invalid_token"' });
}

/** 401 for a request that presents no credential the API understands. */
export function noCredential(): ApiError {
  return new ApiError(
    401,
    'unauthenticated',
    'send an API key or a JWT as "Authorization: Bearer <credential>", or sign in (POST /v1/session)',
    {},
    { 'WWW-Authenticate': 'Bearer realm="neurallog"' },
  );
}

/**
 * The refusal an Authorization header earns before any look-up, or null when
 * only a look-up can tell (a well-formed key, a JWT) or the header is absent
 * (a session cookie may authenticate the request: the worker decides).
 */
export function refusalWithoutLookUp(authorization: string | null): ApiError | null {
  if (authorization === null) return null;
  const token = bearerToken(authorization);
  if (token === null) return noCredential();
  if (isJwtCredential(token)) return null;
  return parseApiKey(token) === null ? invalidCredentials() : null;
}
