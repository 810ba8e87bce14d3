/**
 * Production's bounds on a request's URL and headers, imposed by the gateway
 * itself so the local stack refuses what Cloudflare's edge refuses (16 KB of
 * URL, 128 KB of request headers in total) instead of the ≈100 KB / ≈1 MB
 * workerd allows on its own (docs/security.md). Checked before anything is
 * forwarded; the workers behind read only named headers, but a bound that
 * holds everywhere is one less difference between the stack you test and the
 * one you run.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../shared/api-error.ts';

/** Cloudflare's limits (developers.cloudflare.com/workers/platform/limits/#request-limits). */
export const MAX_URL_BYTES = 16 * 1024;
export const MAX_HEADER_BYTES = 128 * 1024;

/** What a header section weighs on the wire: `name: value\r\n` per header. */
export function headerBytes(headers: Headers): number {
  let total = 0;
  for (const [name, value] of headers) total += name.length + value.length + 4;
  return total;
}

export function requestLimits(): MiddlewareHandler {
  return async function requestLimits(c, next) {
    const urlBytes = c.req.url.length;
    if (urlBytes > MAX_URL_BYTES) {
      throw new ApiError(414, 'uri_too_long', `the URL is ${urlBytes} bytes; at most ${MAX_URL_BYTES} are accepted`, {
        limitBytes: MAX_URL_BYTES,
      });
    }
    const bytes = headerBytes(c.req.raw.headers);
    if (bytes > MAX_HEADER_BYTES) {
      throw new ApiError(431, 'request_headers_too_large', `the request's headers are ${bytes} bytes; at most ${MAX_HEADER_BYTES} are accepted`, {
        limitBytes: MAX_HEADER_BYTES,
      });
    }
    await next();
  };
}
