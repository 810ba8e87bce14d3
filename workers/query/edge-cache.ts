/**
 * Edge cache for search results, with the Workers Cache API.
 *
 * A result can be cached once its time range ends before the flush horizon
 * (NEURALLOG_QUERY_CACHE_HORIZON_MS ago): by then the rows of that range have
 * left the tenant actors' buffers, so asking again would give the same answer.
 * Ranges that reach closer to now bypass the cache.
 *
 * The key is the tenant (from the verified credential, never the request),
 * the tenant's data generation (bumped by every deletion of its logs, read
 * from D1 on each cacheable request, so a deletion invalidates at once), the
 * endpoint, and the normalised search: absolute times, the query as a
 * canonical syntax tree (so `a b`, `b a` and `a AND b` share an entry), sorted
 * lists. It is hashed (SHA-256) into the URL of an internal host. One tenant
 * can therefore never reach another's entries, nor its own from before a
 * deletion.
 *
 * Every answer says what happened in a `Cache-Status` header (RFC 9211):
 * `NeuralLog; hit`, `NeuralLog; fwd=miss; stored`, or
 * `NeuralLog; fwd=bypass; detail=…`.
 *
 * A record that arrives late — its timestamp already past the horizon — stays
 * out of a cached answer until the entry expires (NEURALLOG_QUERY_CACHE_TTL_S).
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Context } from 'hono';
import { loadConfig } from '../../shared/config.ts';
import { tenants } from '../../shared/control-plane/schema.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import { formatClickHouseTime } from '../../shared/timestamp.ts';
import type { QueryApp } from './env.ts';
import type { SearchScope } from './search-params.ts';

const CACHE_HOST = 'https://search-cache.neurallog.internal';

/** The query without positions, and/or children sorted and flattened: equal meaning, equal text. */
export function canonicalQuery(node: QueryNode): unknown {
  switch (node.type) {
    case 'and':
    case 'or': {
      const children = node.children.flatMap((c) => (c.type === node.type ? (c as { children: QueryNode[] }).children : [c])).map(canonicalQuery);
      const unique = [...new Map(children.map((c) => [JSON.stringify(c), c])).values()];
      unique.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      return unique.length === 1 ? unique[0] : [node.type, ...unique];
    }
    case 'not':
      return ['not', canonicalQuery(node.child)];
    case 'text':
      return ['text', node.value, node.phrase, node.prefix];
    case 'field':
      return ['field', node.field.toLowerCase(), node.op === '=' ? ':' : node.op, node.value, node.phrase, node.prefix];
    default:
      return ['all'];
  }
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function dataGeneration(db: D1Database, tenantId: string): Promise<number> {
  const [row] = await drizzle(db).select({ generation: tenants.dataGeneration }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  return row?.generation ?? 0;
}

/**
 * Answers with `produce()`'s JSON, from the cache when the range allows and
 * an entry exists; stores fresh answers that may be cached.
 */
export async function cachedJson(
  c: Context<QueryApp>,
  endpoint: string,
  scope: SearchScope,
  extra: Record<string, string | number | null>,
  produce: () => Promise<unknown>,
  now = Date.now(),
): Promise<Response> {
  const { horizonMs, ttlSeconds } = loadConfig(c.env).queryCache;
  const endsAtMs = scope.to.seconds * 1000 + scope.to.nanos / 1e6;
  if (endsAtMs > now - horizonMs) {
    const started = Date.now();
    const response = Response.json(await produce());
    response.headers.set('Cache-Status', `NeuralLog; fwd=bypass; detail="range-ends-within-${Math.round(horizonMs / 1000)}s"`);
    response.headers.set('Server-Timing', `query;dur=${Date.now() - started}`);
    return response;
  }
  const tenantId = c.get('principal').tenantId;
  const t0 = Date.now();
  const generation = await dataGeneration(c.env.CONTROL_DB, tenantId);
  const t1 = Date.now();
  const canonical = JSON.stringify({
    endpoint,
    from: formatClickHouseTime(scope.from),
    to: formatClickHouseTime(scope.to),
    query: canonicalQuery(scope.query),
    severity: [...scope.severityRanges].map((r) => r.join('-')).sort(),
    services: [...new Set(scope.services)].sort(),
    extra: Object.fromEntries(Object.entries(extra).sort(([a], [b]) => (a < b ? -1 : 1))),
  });
  const key = new Request(`${CACHE_HOST}/${encodeURIComponent(tenantId)}/${generation}/${endpoint}/${await sha256Hex(canonical)}`);
  const cache = caches.default;
  const hit = await cache.match(key);
  const t2 = Date.now();
  // Where the time went (I/O only: a Worker's clock moves on I/O), for clients and benchmarks.
  const timing = `generation;dur=${t1 - t0}, cache;dur=${t2 - t1}`;
  if (hit) {
    const response = new Response(hit.body, hit);
    response.headers.set('Cache-Status', 'NeuralLog; hit');
    response.headers.set('Server-Timing', timing);
    response.headers.set('Cache-Control', 'private, no-store');
    return response;
  }
  const response = Response.json(await produce(), { headers: { 'Cache-Control': `public, max-age=${ttlSeconds}` } });
  const t3 = Date.now();
  await cache.put(key, response.clone());
  response.headers.set('Server-Timing', `${timing}, query;dur=${t3 - t2}, store;dur=${Date.now() - t3}`);
  response.headers.set('Cache-Status', 'NeuralLog; fwd=miss; stored');
  response.headers.set('Cache-Control', 'private, no-store'); // the shared cache is ours; clients and proxies keep nothing
  return response;
}
