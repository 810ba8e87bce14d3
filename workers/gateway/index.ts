/**
 * The gateway: the one public origin. It authenticates nothing and reads no
 * body — it forwards each request, untouched, to the worker that owns the
 * route (workers/gateway/routes.ts), over a service binding. The one refusal
 * it makes on a worker's behalf is a credential that no look-up could make
 * valid (a bad API-key checksum; shared/credential-precheck.ts), on the routes
 * whose worker would refuse it in the same words: a flood of made-up keys then
 * stops here, without the hop.
 */
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { ApiError, handleError, handleNotFound } from '../../shared/api-error.ts';
import { BROWSER_WRITE_PATHS, browserWriteCors } from './cors.ts';
import { mergeOpenApi, type OpenApiDocument } from './openapi-merge.ts';
import { requestLimits } from './request-limits.ts';
import { refusalWithoutLookUp } from '../../shared/credential-precheck.ts';
import { allowedMethods, resolveRoute, type Upstream } from './routes.ts';
import { securityHeaders } from './security-headers.ts';
import { verboseHealth, wantsVerbose } from './verbose-health.ts';

export interface GatewayEnv {
  INGEST: Fetcher;
  QUERY: Fetcher;
  ADMIN: Fetcher;
}

const UPSTREAMS = ['INGEST', 'QUERY', 'ADMIN'] as const;

const app = new Hono<{ Bindings: GatewayEnv }>();
// First, so every answer gets them: the gateway's own, its errors, and the workers' it forwards.
app.use(securityHeaders());
app.use(requestId());
app.use(requestLimits());
app.onError(handleError);
app.notFound(handleNotFound);

/**
 * 200 once every component behind the origin is ready. `?verbose=1` (platform
 * admin): dependencies, the oldest unflushed record and the version too.
 */
app.get('/healthz', async (c) => {
  const probe = async (name: Upstream) => {
    try {
      const res = await c.env[name].fetch('https://internal/healthz');
      const body = await res.json<{ status: string }>().catch(() => ({ status: 'unavailable' }));
      return res.ok ? body.status : 'unavailable';
    } catch {
      return 'unavailable';
    }
  };
  const [ingest, query, admin] = await Promise.all(UPSTREAMS.map(probe));
  if (wantsVerbose(c.req.query('verbose'))) return verboseHealth(c.env.ADMIN, c.req.header('authorization'), { ingest: ingest!, query: query!, admin: admin! });
  const ok = ingest === 'ok' && query === 'ok' && admin === 'ok';
  return c.json({ status: ok ? 'ok' : 'unavailable', ingest, query, admin }, ok ? 200 : 503);
});

/**
 * The whole API's OpenAPI document: each worker generates its own from its
 * route definitions; this merges them, so the public document is always the
 * code's.
 */
app.get('/openapi.json', async (c) => {
  const docs = await Promise.all(
    UPSTREAMS.map(async (name) => {
      const res = await c.env[name].fetch('https://internal/openapi.json');
      if (!res.ok) throw new Error(`${name} served no OpenAPI document (${res.status})`);
      return res.json<OpenApiDocument>();
    }),
  );
  return c.json(mergeOpenApi(docs));
});

// Before the forwarding below: a preflight (OPTIONS) is answered here, and the answers get the CORS headers.
for (const path of BROWSER_WRITE_PATHS) app.use(path, browserWriteCors);

app.all('*', async (c, next) => {
  const pathname = new URL(c.req.url).pathname;
  const route = resolveRoute(c.req.method, pathname);
  if (route) {
    if (route.refusesBadKeys) {
      const refusal = refusalWithoutLookUp(c.req.raw.headers.get('authorization'));
      if (refusal) throw refusal;
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set('X-Request-Id', c.get('requestId'));
    return c.env[route.upstream].fetch(new Request(c.req.raw, { headers }));
  }
  const allowed = allowedMethods(pathname);
  if (allowed.length > 0) {
    throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${pathname}`, {}, { Allow: allowed.join(', ') });
  }
  await next();
});

export default app;
