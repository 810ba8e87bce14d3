/**
 * GET /v1/tail?q=… — live tail over a WebSocket (needs logs:read). The query
 * is checked here (a 400 `query_syntax` before any upgrade), then the socket
 * is handed to the tenant's TailHub (durable-objects/tail-hub.ts), which
 * streams every matching record as the tenant's actors — all its shards —
 * accept it, before it is flushed.
 *
 * Messages: `{"type":"hello"}` once, then `{"type":"logs","logs":[…]}` (the
 * same record shape as search), and `{"type":"dropped","count":N}` when the
 * socket's budget (NEURALLOG_TAIL_MAX_RECORDS_PER_S) made it miss records.
 * Send `ping` to get `{"type":"pong"}`. With the session cookie the
 * handshake's Origin must be this origin (403 `origin_refused`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { type Context, Hono } from 'hono';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import type { QueryNode } from '../../../shared/query-language/ast.ts';
import { compileMatcher } from '../../../shared/query-language/evaluate.ts';
import { parseQuery, querySyntaxApiError, QuerySyntaxError } from '../../../shared/query-language/parse.ts';
import type { IngestApp } from '../env.ts';
import { withPatternFamilies } from '../pattern-families.ts';

/** The route's OpenAPI definition (documentation). */
export const tailDoc = createRoute({
  method: 'get',
  path: '/v1/tail',
  summary: 'Live tail over a WebSocket (needs logs:read; Upgrade: websocket)',
  description: 'Messages: {"type":"hello"}, {"type":"logs","logs":[…]}, {"type":"dropped","count":N}; send "ping" for {"type":"pong"}.',
  security: BEARER_SECURITY,
  request: { query: z.object({ q: z.string().optional().openapi({ description: 'The query language (docs/query-language.md)' }) }) },
  responses: { 101: { description: 'Switching to the WebSocket' }, ...errorResponses(400, 401, 403), 426: { description: 'Not a WebSocket upgrade' } },
});

export const tailRoutes = new Hono<IngestApp>();

tailRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  let query: QueryNode;
  try {
    query = parseQuery(c.req.query('q') ?? '');
    compileMatcher(query); // checks values (levels, ids, times) as search does
  } catch (err) {
    if (err instanceof QuerySyntaxError) throw querySyntaxApiError(err);
    throw err;
  }
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'live tail is a WebSocket: connect with Upgrade: websocket', {}, { Upgrade: 'websocket' });
  }
  checkSocketOrigin(c);
  const { tenantId } = c.get('principal');
  query = await withPatternFamilies(c.env, tenantId, query, { required: false });
  return openTailSocket(c, { query: JSON.stringify(query) });
});

/**
 * WebSockets have no CORS: a page of another site could open one and the
 * browser would attach cookies. SameSite=Strict already keeps ours off other
 * sites' handshakes; a socket opened with the session cookie must also come
 * from this origin's own pages (cross-site WebSocket hijacking).
 */
export function checkSocketOrigin(c: Context<IngestApp>): void {
  if (c.get('principal').session === null) return;
  const origin = c.req.header('origin') ?? null;
  if (origin !== new URL(c.req.url).origin) {
    throw new ApiError(403, 'origin_refused', "a live tail opened with the session cookie must come from this origin's pages", { origin });
  }
}

/** Hands the upgrade to the caller's tenant's TailHub: `query` (the query language, JSON) or `logql` (Loki's tail). */
export function openTailSocket(c: Context<IngestApp>, socket: { query: string } | { logql: string }): Promise<Response> {
  const { tenantId, plan } = c.get('principal');
  const hub = c.env.TAIL_HUB.get(c.env.TAIL_HUB.idFromName(tenantId));
  const url = new URL('https://tail-hub.internal/');
  url.searchParams.set('tenant', tenantId);
  url.searchParams.set('shards', String(plan.shardCount));
  if ('logql' in socket) url.searchParams.set('logql', socket.logql);
  else url.searchParams.set('query', socket.query);
  return hub.fetch(new Request(url, { headers: { Upgrade: 'websocket' } }));
}
