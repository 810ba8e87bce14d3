/**
 * A byte limit on a request body, checked before any route reads it: the
 * declared Content-Length first, and a body without one (chunked) counted
 * while it is read, cut off at the limit. Past it: 413 `request_too_large`,
 * the same answer the ingest paths give (workers/ingest/request-body.ts, which
 * also counts gzip while inflating — the JSON APIs below take no encoding).
 *
 * Without it, a route that validates JSON (`c.req.valid('json')`) or reads
 * text reads the whole body into memory first, whatever its size.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-error.ts';

/** The control plane's and the alerting API's JSON bodies (a tenant, a key, a rule, a target, a saved search, a sign-in). */
export const JSON_BODY_MAX_BYTES = 64 * 1024;
/** Bodies that carry a query or a protocol's message: MCP's JSON-RPC, Loki's POST form, Stripe's webhook events. */
export const LARGE_BODY_MAX_BYTES = 1024 * 1024;

export function boundedBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, 'request_too_large', `the body exceeds ${maxBytes} bytes`, { limit: maxBytes });
    },
  });
}
