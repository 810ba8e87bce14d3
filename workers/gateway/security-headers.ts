/**
 * The headers a security scanner expects on every answer the gateway gives
 * (its own and the ones it forwards from the workers behind it):
 *
 * - `X-Content-Type-Options: nosniff` on all of them, so no answer (a JSON
 *   error quoting request text, an export) is ever sniffed into HTML or script;
 * - `Strict-Transport-Security` when the request came over https (production:
 *   Cloudflare gives the worker the client's scheme), never over the local
 *   stack's plain http, where it would mean nothing;
 * - a CSP that allows nothing on an HTML answer (the workers serve none today;
 *   the explorer's pages are static assets, whose CSP is ui/public/_headers);
 *   JSON answers get none — a CSP governs documents, not data;
 * - no `Server` or `X-Powered-By` banner.
 *
 * The explorer's static assets never reach this middleware (Workers Static
 * Assets answers them before the worker runs): their headers are ui/public/_headers.
 */
import type { MiddlewareHandler } from 'hono';

export interface SecurityHeadersOptions {
  /** `Strict-Transport-Security` over https. */
  hsts?: string;
  /** `Content-Security-Policy` of an HTML answer. */
  htmlCsp?: string;
}

/** Two years: what the HSTS preload list asks for; subdomains are the zone owner's choice (docs/security.md). */
export const HSTS = 'max-age=63072000';
export const HTML_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const BANNERS = ['Server', 'X-Powered-By'] as const;

export function securityHeaders({ hsts = HSTS, htmlCsp = HTML_CSP }: SecurityHeadersOptions = {}): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next();
    // A WebSocket upgrade (live tail) is not a document and cannot be copied to add headers.
    if (c.res.status === 101) return;
    c.header('X-Content-Type-Options', 'nosniff');
    if (new URL(c.req.url).protocol === 'https:') c.header('Strict-Transport-Security', hsts);
    if (/^text\/html\b/i.test(c.res.headers.get('content-type') ?? '')) c.header('Content-Security-Policy', htmlCsp);
    for (const name of BANNERS) if (c.res.headers.has(name)) c.header(name, undefined);
  };
}
