/**
 * Loki's error shape, `{"status": "error", "code": <status>, "message": "…"}`,
 * for every /loki/api/v1 read path whichever worker serves it (queries in the
 * query worker, live tail in the ingest worker). A query outside the LogQL
 * subset is a 400 naming the construct; our own API errors keep their status
 * and headers; anything else is a 500 whose details stay in our logs.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError } from '../api-error.ts';
import { logEvent } from '../logger.ts';
import { LogqlError } from './ast.ts';

export interface LokiErrorParts {
  status: ContentfulStatusCode;
  message: string;
  headers: Record<string, string>;
}

/** The status, message and headers of a known error; null for an unexpected one (a 500). */
export function lokiErrorParts(err: Error): LokiErrorParts | null {
  if (err instanceof LogqlError) return { status: 400, message: err.message, headers: {} };
  if (err instanceof ApiError) return { status: err.status, message: err.message, headers: { ...err.headers } };
  if (err instanceof HTTPException) return { status: err.status as ContentfulStatusCode, message: err.message || 'bad request', headers: {} };
  return null;
}

/** The answer for `err`, logging a 5xx; `parts` lets a caller map errors of its own first. */
export function lokiErrorResponse(c: Context, err: Error, parts: LokiErrorParts | null = lokiErrorParts(err)): Response {
  const { status, message, headers } = parts ?? { status: 500 as const, message: 'internal error; the request id identifies it in our logs', headers: {} };
  if (status >= 500) {
    logEvent('error', 'request.failed', {
      requestId: c.get('requestId') as string | undefined,
      path: new URL(c.req.url).pathname,
      error: err.message,
      stack: err.stack,
    });
  }
  return c.json({ status: 'error', code: status, message }, status, headers);
}
