/**
 * Pattern aliases: when a template generalises (a constant turns out to vary),
 * the actor mines new records under the new template's id and records an edge
 * old → new (ClickHouse `log_pattern_aliases`). Records keep the id they were
 * stored with, so a question about a pattern follows the edges:
 *
 * - the *current* ids of a pattern are the ends of the edges from it (usually
 *   one; two when two actors of a sharded tenant generalised it differently);
 * - the *family* of an id is its current ids and every id that leads to one of
 *   them: all the records mined under any template of the same pattern.
 *
 * `pattern:<id>` searches the family, and GET /v1/patterns counts each family
 * once, under its canonical id (the smallest current id, so every reader
 * agrees). Edges only ever point from a more specific template to a more
 * general one, but the graph is read defensively (visited sets, bounded).
 */
import type { QueryNode } from '../query-language/ast.ts';
import { resolveField } from '../query-language/fields.ts';

/** Aliases of one tenant read at most (a tenant has at most its actors × their template cap). */
export const MAX_ALIASES = 200_000;

/** The tenant's aliases (ClickHouse `log_pattern_aliases`), as query and parameters: every reader asks the same. */
export function aliasesQuery(tenantId: string): { query: string; params: { tenant: string; max: number } } {
  return {
    query: 'SELECT FromId, ToId FROM log_pattern_aliases WHERE TenantId = {tenant:String} LIMIT {max:UInt32}',
    params: { tenant: tenantId, max: MAX_ALIASES },
  };
}

/** The most ids one pattern's family may expand a query into. */
export const MAX_FAMILY = 256;

export class AliasGraph {
  readonly #forward = new Map<string, string[]>();
  readonly #backward = new Map<string, string[]>();

  constructor(edges: Iterable<readonly [from: string, to: string]>) {
    for (const [from, to] of edges) {
      if (from === to) continue;
      push(this.#forward, from, to);
      push(this.#backward, to, from);
    }
  }

  get size(): number {
    return this.#forward.size;
  }

  /** The ids `id` generalised into, as far as the edges go (itself when it has none). */
  current(id: string): string[] {
    const ends: string[] = [];
    walk(id, this.#forward, (node, next) => {
      if (next.length === 0) ends.push(node);
    });
    // A cycle (never written by the miner, but the table is read defensively) has no end: the id stands for itself.
    return ends.length > 0 ? ends.sort() : [id];
  }

  /** The id a pattern is counted under: the smallest of its current ids. */
  canonical(id: string): string {
    return this.#forward.has(id) ? this.current(id)[0]! : id;
  }

  /** Every id whose records belong to `id`'s pattern (at most MAX_FAMILY, the nearest first). */
  family(id: string): string[] {
    const members = new Set<string>();
    for (const end of this.current(id)) {
      walk(end, this.#backward, (node) => {
        members.add(node);
      });
    }
    return [...members].slice(0, MAX_FAMILY);
  }
}

/** `pattern:<id>` terms of a query, rewritten to match the id's whole family. */
export function expandPatternTerms(node: QueryNode, graph: AliasGraph): QueryNode {
  switch (node.type) {
    case 'and':
    case 'or':
      return { ...node, children: node.children.map((child) => expandPatternTerms(child, graph)) };
    case 'not':
      return { ...node, child: expandPatternTerms(node.child, graph) };
    case 'field': {
      if (node.prefix || node.value === '*' || (node.op !== ':' && node.op !== '=')) return node;
      if (resolveField(node.field).kind !== 'patternId') return node;
      const family = graph.family(node.value.toLowerCase());
      if (family.length <= 1 && family[0] === node.value.toLowerCase()) return node;
      return { type: 'or', children: family.map((id) => ({ ...node, value: id })) };
    }
    default:
      return node;
  }
}

/** Whether a query names a pattern (only then are the aliases worth reading). */
export function hasPatternTerm(node: QueryNode): boolean {
  switch (node.type) {
    case 'and':
    case 'or':
      return node.children.some(hasPatternTerm);
    case 'not':
      return hasPatternTerm(node.child);
    case 'field':
      return resolveField(node.field).kind === 'patternId';
    default:
      return false;
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Breadth-first from `start` over `edges`, each node once, at most MAX_FAMILY × 4 nodes. */
function walk(start: string, edges: Map<string, string[]>, visit: (node: string, next: readonly string[]) => void): void {
  const seen = new Set([start]);
  const queue = [start];
  for (let i = 0; i < queue.length && i < MAX_FAMILY * 4; i++) {
    const node = queue[i]!;
    const next = edges.get(node) ?? [];
    visit(node, next);
    for (const n of next) {
      if (!seen.has(n)) {
        seen.add(n);
        queue.push(n);
      }
    }
  }
}
