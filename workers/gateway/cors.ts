/**
 * CORS for the paths a browser page ships logs to — the SDK on a page of
 * another origin than NeuralLog's (docs/sdk.md) — and for those only: the
 * explorer's paths stay same-origin.
 *
 * `*` without credentials is safe here: these requests authenticate with an
 * API key in the Authorization header (a write-only key is what a page
 * should hold), and the explorer's session cookie is SameSite=Strict, so a
 * cross-site request never carries it. The preflight allows POST only, so a
 * page elsewhere cannot read search results through these paths either
 * (GET with an Authorization header needs a preflight, which it does not pass).
 */
import { cors } from 'hono/cors';

/** Where browsers may POST logs from any origin: the native API and OTLP/HTTP (the OpenTelemetry JS SDK's exporter). */
export const BROWSER_WRITE_PATHS = ['/v1/logs', '/otlp/v1/logs'] as const;

export const browserWriteCors = cors({
  origin: '*',
  allowMethods: ['POST'],
  allowHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'Idempotency-Key'],
  // What the SDK reads of an answer: its pacing (IETF RateLimit headers), when to retry, whether a retry was a replay.
  exposeHeaders: ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id'],
  maxAge: 86_400,
});
