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
 * endpoint, and the normalised search (cacheKeyText): absolute times, the
 * query as a canonical syntax tree of what each term means (so `a b`, `b a`
 * and `a AND b` share an entry, as do `LEVEL:error` and `level=error`; but
 * `attr.Region:x` and `attr.region:x`, two attribute keys, never do), sorted
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
import { platformMetrics } from '../../shared/platform-metrics/reporting.ts';
import type { Context } from 'hono';
import { loadConfig } from '../../shared/config.ts';
import { tenants } from '../../shared/control-plane/schema.ts';
import type { QueryNode, Value } from '../../shared/query-language/ast.ts';
import { isExists } from '../../shared/query-language/compile-sql.ts';
import { columnValue, numericValue, resolveField, severityRange, timeValue } from '../../shared/query-language/fields.ts';
import { formatClickHouseTime } from '../../shared/timestamp.ts';
import type { QueryApp } from './env.ts';
import type { SearchScope } from './search-params.ts';

const CACHE_HOST = 'https://search-cache.neurallog.internal';

type FieldNode = Extract<QueryNode, { type: 'field' }>;

/**
 * The query without positions, and/or children sorted, flattened and without
 * repeats, each term as the compiler reads it: equal text, equal meaning —
 * and as far as it is cheap to see, equal meaning, equal text. `now` resolves
 * relative times (`timestamp>now-15m`), which are a different search at every
 * moment.
 */
export function canonicalQuery(node: QueryNode, now = Date.now()): unknown {
  switch (node.type) {
    case 'and':
    case 'or': {
      // Flattened after canonicalising, so that `(a OR (b OR c)) OR d` flattens all the way down.
      const children = node.children.map((c) => canonicalQuery(c, now)).flatMap((c) => (Array.isArray(c) && c[0] === node.type ? c.slice(1) : [c]));
      const unique = [...new Map(children.map((c) => [JSON.stringify(c), c])).values()];
      unique.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      return unique.length === 1 ? unique[0] : [node.type, ...unique];
    }
    case 'not':
      return ['not', canonicalQuery(node.child, now)];
    case 'text':
      return canonicalText(node);
    case 'field':
      return canonicalField(node, now);
    default:
      return ['all'];
  }
}

function canonicalText(value: Value): unknown {
  return ['text', value.value, value.phrase, value.prefix];
}

/**
 * A field term by what resolveField makes of its name — only the built-in
 * column names are case-insensitive; `attr.Region` and `attr.region` are two
 * keys — and its value by what compileQuery reads from it. `=` and `:` are the
 * same comparison.
 */
function canonicalField(node: FieldNode, now: number): unknown {
  const target = resolveField(node.field);
  const op = node.op === '=' ? ':' : node.op;
  switch (target.kind) {
    case 'body':
      return canonicalText(node); // `message:x` compiles as the word x
    case 'severity': {
      const [lo, hi] = severityRange(node);
      if (op === ':') return ['severity', ':', lo, hi];
      return ['severity', op, op === '>' || op === '<=' ? hi : lo];
    }
    case 'time':
      return ['time', op, timeValue(node, now)];
    case 'service':
    case 'id':
    case 'traceId':
    case 'spanId':
    case 'patternId':
      if (isExists(node)) return [target.kind, 'exists'];
      return [target.kind, op, columnValue(target, node, node.field), node.prefix];
    case 'map': {
      const where = ['map', ...target.maps, target.key];
      if (isExists(node)) return [...where, 'exists'];
      if (op === ':') return [...where, ':', node.value, node.prefix];
      const number = numericValue(node);
      // String(), not JSON: JSON writes both infinities (`>1e999`, `>-1e999`) as null.
      return number === null ? [...where, op, 'text', node.value] : [...where, op, 'number', String(number)];
    }
  }
}

/**
 * Everything a cached answer depends on besides the tenant and its data
 * generation (both in the key's URL): the endpoint, the absolute range, the
 * query's canonical tree, the levels and services as sets, and the endpoint's
 * own parameters (`extra`: taken verbatim, so `attr.X` and `attr.x` facets
 * are two entries). Two searches with equal text give equal answers.
 */
export function cacheKeyText(endpoint: string, scope: SearchScope, extra: Record<string, string | number | null>, now = Date.now()): string {
  return JSON.stringify({
    endpoint,
    from: formatClickHouseTime(scope.from),
    to: formatClickHouseTime(scope.to),
    query: canonicalQuery(scope.query, now),
    severity: [...new Set(scope.severityRanges.map((r) => r.join('-')))].sort(),
    services: [...new Set(scope.services)].sort(),
    extra: Object.entries(extra).sort(([a], [b]) => (a < b ? -1 : 1)),
  });
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
  // The hit ratio operators watch: hit / (hit + miss); bypasses are ranges too recent to cache.
  const lookup = (result: 'hit' | 'miss' | 'bypass') => platformMetrics(c.env).count('neurallog_edge_cache_lookups_total', { endpoint, result });
  if (endsAtMs > now - horizonMs) {
    lookup('bypass');
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
  const canonical = cacheKeyText(endpoint, scope, extra, now);
  const key = new Request(`${CACHE_HOST}/${encodeURIComponent(tenantId)}/${generation}/${endpoint}/${await sha256Hex(canonical)}`);
  const cache = caches.default;
  const hit = await cache.match(key);
  const t2 = Date.now();
  // Where the time went (I/O only: a Worker's clock moves on I/O), for clients and benchmarks.
  const timing = `generation;dur=${t1 - t0}, cache;dur=${t2 - t1}`;
  lookup(hit ? 'hit' : 'miss');
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
