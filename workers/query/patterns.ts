/**
 * The query worker's view of the pattern book the actors publish
 * (tenant-actor/patterns.ts): templates by id, and the aliases that tie a
 * generalised template to its earlier ones (shared/patterns/aliases.ts).
 *
 * Both are read from ClickHouse by primary key and kept a few seconds per
 * isolate: a template never changes under its id (the id is its hash), so
 * templates are cached longer; aliases only grow, and a new one is seen
 * within ALIAS_TTL_MS.
 */
import type { Context } from 'hono';
import type { PatternTemplates } from '../../shared/log-record.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import { AliasGraph, aliasesQuery, expandPatternTerms, hasPatternTerm } from '../../shared/patterns/aliases.ts';
import type { QueryApp } from './env.ts';
import { runLookup } from './run-query.ts';

const ALIAS_TTL_MS = 5_000;
const TEMPLATE_CACHE_MAX = 20_000;

const aliasCache = new Map<string, { graph: AliasGraph; at: number }>();
/** A template as ClickHouse keeps it: its text and its service. */
export interface Template {
  template: string;
  service: string;
}

/** `${tenant}\u0000${id}` → template; insertion-ordered, so the oldest is dropped first. */
const templateCache = new Map<string, Template>();

/** The tenant's alias graph (cached per isolate for ALIAS_TTL_MS). */
export async function aliasGraph(c: Context<QueryApp>, tenantId: string): Promise<AliasGraph> {
  const cached = aliasCache.get(tenantId);
  if (cached && Date.now() - cached.at < ALIAS_TTL_MS) return cached.graph;
  const { query, params } = aliasesQuery(tenantId);
  const rows = await runLookup<{ FromId: string; ToId: string }>(c, query, params);
  const graph = new AliasGraph(rows.map((r) => [r.FromId, r.ToId] as const));
  if (aliasCache.size > 1000) aliasCache.clear();
  aliasCache.set(tenantId, { graph, at: Date.now() });
  return graph;
}

/** The query with each `pattern:<id>` widened to the pattern's whole family (unchanged without one). */
export async function withPatternFamilies(c: Context<QueryApp>, tenantId: string, query: QueryNode): Promise<QueryNode> {
  if (!hasPatternTerm(query)) return query;
  return expandPatternTerms(query, await aliasGraph(c, tenantId));
}

/** The current pattern (canonical id and its template) of each stored id, as far as ClickHouse knows them. */
export async function patternsOf(c: Context<QueryApp>, tenantId: string, storedIds: Iterable<string>): Promise<PatternTemplates> {
  const stored = [...new Set(storedIds)].filter((id) => id !== '');
  if (stored.length === 0) return new Map();
  const graph = await aliasGraph(c, tenantId);
  const canonical = new Map(stored.map((id) => [id, graph.canonical(id)]));
  const templates = await templatesOf(c, tenantId, canonical.values());
  const found = new Map<string, { id: string; template: string }>();
  for (const [id, current] of canonical) {
    const known = templates.get(current) ?? (current === id ? undefined : templates.get(id));
    if (known !== undefined) found.set(id, { id: templates.has(current) ? current : id, template: known.template });
  }
  return found;
}

/** Templates of the given ids, as far as ClickHouse has them. */
export async function templatesOf(c: Context<QueryApp>, tenantId: string, ids: Iterable<string>): Promise<Map<string, Template>> {
  const found = new Map<string, Template>();
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    if (id === '') continue;
    const template = templateCache.get(`${tenantId}\u0000${id}`);
    if (template !== undefined) found.set(id, template);
    else missing.push(id);
  }
  if (missing.length === 0) return found;
  const rows = await runLookup<{ PatternId: string; Template: string; ServiceName: string }>(
    c,
    'SELECT PatternId, any(Template) AS Template, any(ServiceName) AS ServiceName FROM log_patterns WHERE TenantId = {tenant:String} AND PatternId IN {ids:Array(String)} GROUP BY PatternId',
    { tenant: tenantId, ids: missing },
  );
  for (const row of rows) {
    const template = { template: row.Template, service: row.ServiceName };
    found.set(row.PatternId, template);
    if (templateCache.size >= TEMPLATE_CACHE_MAX) templateCache.delete(templateCache.keys().next().value!);
    templateCache.set(`${tenantId}\u0000${row.PatternId}`, template);
  }
  return found;
}
