/**
 * The one error envelope of the public API.
 *
 * Routes throw `ApiError`; the `onError` handler every worker installs turns it
 * into `{"error": "<stable code>", "message": "…", ...details, "requestId"}`
 * with the right status. Codes are stable and documented; messages are for
 * people. Anything that is not an ApiError is a 500 whose details stay in our
 * logs, never in the response.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Context } from 'hono';
import { logEvent } from './logger.ts';

export type ErrorDetails = Record<string, string | number | boolean | null | undefined>;

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
  }
}

export function errorBody(code: string, message: string, details: ErrorDetails, requestId: string | undefined) {
  return { error: code, message, ...details, requestId };
}

/** The `app.onError` of every worker. */
export function handleError(err: Error, c: Context): Response {
  const requestId = c.get('requestId') as string | undefined;
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details, requestId), err.status, err.headers);
  }
  if (err instanceof HTTPException) {
    // Hono's own exceptions (e.g. a malformed request line): keep their status.
    const status = err.status as ContentfulStatusCode;
    return c.json(errorBody(status >= 500 ? 'internal' : 'bad_request', err.message || 'bad request', {}, requestId), status);
  }
  logEvent('error', 'request.failed', {
    requestId,
    path: new URL(c.req.url).pathname,
    error: err.message,
    stack: err.stack,
  });
  return c.json(errorBody('internal', 'internal error; the request id identifies it in our logs', {}, requestId), 500);
}

/** The `app.notFound` of every worker. */
export function handleNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, {}, c.get('requestId') as string | undefined), 404);
}
