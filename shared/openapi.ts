/**
 * Shared pieces of the OpenAPI route definitions (@hono/zod-openapi): the
 * error envelope's schema, the security scheme, and the validation hook that
 * turns a zod failure into the API's 400, naming the field at fault.
 */
import { z, type Hook, type OpenAPIHono } from '@hono/zod-openapi';
import { ApiError } from './api-error.ts';

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: 'invalid_request' }),
    message: z.string(),
    requestId: z.string().optional(),
  })
  .catchall(z.unknown())
  .openapi('Error');

/** Every API route: a Bearer (or Basic) credential, or the session cookie of a signed-in browser (with X-CSRF-Token on unsafe methods). */
export const BEARER_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];
/** Routes about the session itself: the cookie only. */
export const SESSION_SECURITY: Record<string, string[]>[] = [{ session: [] }];

export function errorResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: 'Invalid request; `field` or `parameter` names the culprit',
    401: 'No credential, or one that is not valid',
    403: 'The credential is valid but not allowed to do this',
    404: 'No such resource',
    409: 'Already exists',
    413: 'Past a size limit',
    415: 'Unsupported Content-Type or Content-Encoding',
    429: 'Over a rate (`rate_limited`) or a quota (`quota_exceeded`); Retry-After says when to retry',
    503: 'A dependency is unavailable; retry after Retry-After',
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: descriptions[s] ?? 'Error', content: { 'application/json': { schema: ErrorSchema } } }]));
}

/** defaultHook of every OpenAPIHono app: zod failures become ApiError 400s. */
// biome-ignore lint/suspicious/noExplicitAny: one hook for every app's routes, whatever their Env and path types.
export const validationHook: Hook<unknown, any, any, unknown> = (result) => {
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || null;
    throw new ApiError(400, 'invalid_request', field ? `${field}: ${issue!.message}` : (issue?.message ?? 'invalid request'), { field });
  }
};

export function registerBearerScheme(registry: OpenAPIHono['openAPIRegistry']) {
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`nlk_…`), a JWT from the configured identity provider, or (admin API) the platform-admin token',
  });
  registry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'nl_session',
    description:
      'The session cookie `POST /v1/session` sets (HttpOnly, SameSite=Strict). An Authorization header, when sent, wins over it. ' +
      "A request authenticated by it with POST, PUT, PATCH or DELETE must carry the session's csrfToken in `X-CSRF-Token` (403 `csrf_failed` otherwise).",
  });
}
