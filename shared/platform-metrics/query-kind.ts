/**
 * A tenant query's kind, for `neurallog_queries_total{kind}`: from the route
 * pattern that ran it (bounded: our patterns, never a raw path). Longest
 * prefix first.
 */
const KINDS: readonly [prefix: string, kind: string][] = [
  ['/v1/logs/histogram', 'histogram'],
  ['/v1/logs/fields', 'fields'],
  ['/v1/logs/context', 'context'],
  ['/v1/logs/export', 'export'],
  ['/v1/logs', 'search'],
  ['/v1/patterns', 'patterns'],
  ['/v1/anomalies', 'anomalies'],
  ['/loki/', 'loki'],
];

export function queryKindOf(routePattern: string): string {
  for (const [prefix, kind] of KINDS) if (routePattern === prefix || routePattern.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) return kind;
  return 'other';
}
