/**
 * `pattern:<id>` widened to the pattern's family (shared/patterns/aliases.ts)
 * for the ingest worker's readers of the query language — live tail and
 * erasure — as the query worker does for search. The aliases are read from
 * ClickHouse (every shard's, by primary key).
 *
 * Live tail does not depend on the log store, so it tails the id as given
 * when the aliases cannot be read (`required: false`); an erasure must not
 * miss records of the pattern, so it answers 503 instead (`required: true`).
 */
import { ApiError } from '../../shared/api-error.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import { logEvent } from '../../shared/logger.ts';
import { AliasGraph, aliasesQuery, expandPatternTerms, hasPatternTerm } from '../../shared/patterns/aliases.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import type { IngestEnv } from './env.ts';

export async function withPatternFamilies(env: IngestEnv, tenantId: string, query: QueryNode, { required }: { required: boolean }): Promise<QueryNode> {
  if (!hasPatternTerm(query)) return query;
  try {
    const { query: sql, params } = aliasesQuery(tenantId);
    const result = await clickHouseClient(loadConfig(env).clickhouse).query({ query: sql, query_params: params, format: 'JSONEachRow' });
    const edges = await result.json<{ FromId: string; ToId: string }>();
    return expandPatternTerms(query, new AliasGraph(edges.map((e) => [e.FromId, e.ToId] as const)));
  } catch (err) {
    logEvent('warn', 'patterns.aliases_unavailable', { tenant: tenantId, error: (err as Error).message });
    if (required) {
      throw new ApiError(
        503,
        'unavailable',
        'the log store cannot be reached to read the pattern’s aliases; nothing was erased, send the DELETE again',
        {},
        { 'Retry-After': '5' },
      );
    }
    return query;
  }
}
