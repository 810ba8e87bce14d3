/**
 * The route table of the public origin: which worker answers which request.
 *
 * In production this is what zone routes do; it lives in code because routes
 * match paths only, and ingest and search share `/v1/logs`, told apart by
 * method. Service bindings make the hop a function call on the same machine.
 */
export type Upstream = 'INGEST' | 'QUERY' | 'ADMIN';

export interface Route {
  methods: readonly string[] | '*';
  /** Exact path, or a prefix when it ends in '/'. */
  path: string;
  upstream: Upstream;
  /**
   * The upstream authenticates every request of this route with shared/auth.ts and answers its
   * 401 in the API's JSON envelope: the gateway then refuses a credential that cannot be valid
   * (shared/credential-precheck.ts) itself, before the service-binding hop (issue 20, "Abuse").
   * Not set where a protocol renders its own 401 (OTLP, Loki, Elasticsearch) or where a route
   * authenticates otherwise (the admin token, billing's signature, sign-in).
   */
  refusesBadKeys?: true;
}

export const ROUTES: readonly Route[] = [
  // Writes go to ingest — erasure too: the tenant's actors hold the records not yet flushed.
  { methods: ['POST', 'DELETE'], path: '/v1/logs', upstream: 'INGEST', refusesBadKeys: true },
  { methods: ['GET', 'HEAD'], path: '/v1/logs', upstream: 'QUERY' },
  { methods: ['GET', 'HEAD'], path: '/v1/logs/', upstream: 'QUERY' },
  { methods: ['GET'], path: '/v1/limits', upstream: 'INGEST' },
  // Live tail is served by the tenant's actors, which the ingest worker hosts.
  { methods: ['GET'], path: '/v1/tail', upstream: 'INGEST' },
  // Usage is counted by the tenant's actors, which the ingest worker hosts.
  { methods: ['GET'], path: '/v1/usage', upstream: 'INGEST' },
  // Dead letters are written by the tenant's actors to the R2 bucket the ingest worker holds.
  { methods: ['GET'], path: '/v1/dead-letters', upstream: 'INGEST' },
  { methods: ['GET'], path: '/v1/dead-letters/', upstream: 'INGEST' },
  // Alerting lives beside the actors: the tenant's AlertEvaluator reads their accepted records (fast path).
  { methods: ['GET'], path: '/v1/alerts', upstream: 'INGEST' },
  { methods: ['GET', 'PUT', 'POST', 'DELETE'], path: '/v1/alerts/', upstream: 'INGEST' },
  { methods: ['POST'], path: '/v1/billing/webhook', upstream: 'ADMIN' },
  // The explorer's sessions (sign in, read, sign out) live with the control plane.
  { methods: ['GET', 'POST', 'DELETE'], path: '/v1/session', upstream: 'ADMIN' },
  // Saved searches are the query worker's (GET /v1/logs/export is under /v1/logs/ above).
  { methods: ['GET', 'POST'], path: '/v1/saved-searches', upstream: 'QUERY' },
  { methods: ['DELETE'], path: '/v1/saved-searches/', upstream: 'QUERY' },
  { methods: ['GET', 'HEAD'], path: '/v1/patterns', upstream: 'QUERY' },
  { methods: ['GET', 'HEAD'], path: '/v1/anomalies', upstream: 'QUERY' },
  // The MCP server (Streamable HTTP): POST carries the JSON-RPC; GET and DELETE answer 405 (stateless).
  { methods: ['GET', 'POST', 'DELETE'], path: '/mcp', upstream: 'QUERY' },
  { methods: '*', path: '/es', upstream: 'INGEST' },
  { methods: '*', path: '/es/', upstream: 'INGEST' },
  { methods: ['POST'], path: '/otlp/v1/logs', upstream: 'INGEST' },
  { methods: ['POST'], path: '/loki/api/v1/push', upstream: 'INGEST' },
  // Loki's live tail is served by the tenant's TailHub, which the ingest worker hosts: before the read API's prefix.
  { methods: ['GET'], path: '/loki/api/v1/tail', upstream: 'INGEST' },
  // Loki's read API (Grafana's Loki data source): queries, labels, series, volume, patterns.
  { methods: ['GET', 'POST'], path: '/loki/api/v1/', upstream: 'QUERY' },
  { methods: ['POST'], path: '/v1/syslog', upstream: 'INGEST', refusesBadKeys: true },
  { methods: '*', path: '/v1/admin/', upstream: 'ADMIN' },
  // Prometheus's scrape target: the admin worker reads the metrics aggregator and decides who may (workers/admin/routes/platform.ts).
  { methods: ['GET'], path: '/metrics', upstream: 'ADMIN' },
];

/** The route that answers a request, or null. */
export function resolveRoute(method: string, pathname: string): Route | null {
  for (const route of ROUTES) {
    const pathMatches = route.path.endsWith('/') ? pathname.startsWith(route.path) : pathname === route.path || pathname === `${route.path}/`;
    if (pathMatches && (route.methods === '*' || route.methods.includes(method))) return route;
  }
  return null;
}

export function resolveUpstream(method: string, pathname: string): Upstream | null {
  return resolveRoute(method, pathname)?.upstream ?? null;
}

/** Methods some route accepts at this path (for a 405's Allow header). */
export function allowedMethods(pathname: string): string[] {
  return ROUTES.filter((r) => (r.path.endsWith('/') ? pathname.startsWith(r.path) : pathname === r.path || pathname === `${r.path}/`)).flatMap((r) =>
    r.methods === '*' ? ['*'] : [...r.methods],
  );
}
