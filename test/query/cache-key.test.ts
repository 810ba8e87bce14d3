/**
 * The edge cache's key (workers/query/edge-cache.ts cacheKeyText): two
 * searches share an entry only when ClickHouse would be asked the same thing,
 * and the usual rewrites of one search (children reordered, built-in field
 * names in another case, `=` for `:`) still share it. Pure: no ClickHouse, no
 * cache — the key is compared with what compileQuery / compileSearch make of
 * each search.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api-error.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import { compileQuery, SqlParams } from '../../shared/query-language/compile-sql.ts';
import { compileSearch } from '../../workers/query/compile-search.ts';
import { cacheKeyText } from '../../workers/query/edge-cache.ts';
import { parseSearch, type LogSearch } from '../../workers/query/search-params.ts';

const T0 = Date.UTC(2026, 10, 21, 9, 0, 0);
const RANGE = { from: '2026-11-21T08:00:00Z', to: '2026-11-21T09:00:00Z' };

/** A search as a client would send it; null when the API refuses it (400). */
function searchOf(params: Record<string, string>, now = T0): LogSearch | null {
  try {
    return parseSearch(new URLSearchParams({ ...RANGE, ...params }), now);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) return null;
    throw err;
  }
}

function keyOf(params: Record<string, string>, now = T0): string {
  const search = searchOf(params, now);
  if (!search) throw new Error(`refused: ${JSON.stringify(params)}`);
  return cacheKeyText('logs', search, { limit: search.limit, cursor: null }, now);
}

const sortedUnique = <T>(items: T[]): T[] =>
  [...new Map(items.map((i) => [JSON.stringify(i), i])).values()].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

/**
 * What ClickHouse is asked: each term's SQL and parameters as compileQuery
 * writes them, under AND/OR/NOT up to the orderings and groupings that cannot
 * change an answer (commutative, associative, idempotent).
 */
function meaning(node: QueryNode): unknown {
  switch (node.type) {
    case 'and':
    case 'or': {
      const tag = node.type.toUpperCase();
      const parts = node.children.map(meaning).flatMap((m) => (Array.isArray(m) && m[0] === tag ? m.slice(1) : [m]));
      const unique = sortedUnique(parts);
      return unique.length === 1 ? unique[0] : [tag, ...unique];
    }
    case 'not':
      return ['NOT', meaning(node.child)];
    default: {
      const params = new SqlParams();
      const sql = compileQuery(node, params, T0);
      return { sql, params: Object.values(params.values).map((v) => `${typeof v}:${String(v)}`) };
    }
  }
}

/** The whole search's meaning: compileSearch's range, levels and services as sets, and the query's meaning. */
function searchMeaning(search: LogSearch): unknown {
  const { params } = compileSearch('tenant', search, T0);
  const severity: string[] = [];
  for (let i = 0; Object.hasOwn(params, `severityLo${i}`); i++) severity.push(`${params[`severityLo${i}`]}-${params[`severityHi${i}`]}`);
  const services = Object.hasOwn(params, 'services') ? (params.services as string[]) : [];
  return {
    from: params.from,
    to: params.to,
    limit: params.limit,
    severity: sortedUnique(severity),
    services: sortedUnique(services),
    query: meaning(search.query),
  };
}

// ---- generated searches -------------------------------------------------

/** A search term before it is written out: a word, or field + comparison + value. */
type Term = { field: string | null; op: string; value: string };
type Tree = { term: Term } | { and: Tree[] } | { or: Tree[] } | { not: Tree };

/** Built-in names (case-insensitive) and attribute names that differ only in case or in prefix (case-sensitive). */
const FAMILIES: { fields: string[]; ops: string[]; values: string[] }[] = [
  {
    fields: ['level', 'LEVEL', 'Level', 'severity'],
    ops: [':', '=', '>', '>=', '<', '<='],
    values: ['error', 'ERROR', '"error"', 'err', 'warn', '17', '20', '1*'],
  },
  { fields: ['service', 'SERVICE', 'service.name'], ops: [':', '='], values: ['checkout', 'Checkout', '"checkout"', 'check*', '*', '"*"'] },
  { fields: ['trace_id', 'TRACE_ID', 'traceid', 'span_id', 'id', 'ID'], ops: [':', '='], values: ['4bf9', '4BF9', '4bf9*', '*', '"4bf9"'] },
  { fields: ['timestamp', 'TIME', '@timestamp'], ops: ['>', '>=', '<', '<='], values: ['now-15m', 'now', '2026-11-21T08:30:00Z', '1795251600'] },
  {
    fields: [
      'attr.region',
      'attr.Region',
      'attributes.region',
      'Attr.region',
      'region',
      'Region',
      'REGION',
      'resource.region',
      'resource.Region',
      'status',
      'attr.status',
      '__proto__',
      'constructor',
    ],
    ops: [':', '=', '>', '>=', '<', '<='],
    values: ['eu', 'EU', 'eu*', '"eu"', '*', '"*"', '500', '"500"', '500.0', '5e2', '1e999', '-1e999'],
  },
  { fields: ['body', 'MESSAGE', 'msg'], ops: [':', '='], values: ['reset', 'Reset', '"connection reset"', 'conn*', '*'] },
  { fields: [], ops: [], values: ['reset', 'Reset', 'RESET', '"connection reset"', '"Connection Reset"', 'conn*', '10.0.0.1', 'a', 'b'] },
];

const termOf = (family: (typeof FAMILIES)[number]): fc.Arbitrary<Term> =>
  family.fields.length === 0
    ? fc.constantFrom(...family.values).map((value) => ({ field: null, op: '', value }))
    : fc.record({ field: fc.constantFrom(...family.fields), op: fc.constantFrom(...family.ops), value: fc.constantFrom(...family.values) });

const familyIndex = fc.integer({ min: 0, max: FAMILIES.length - 1 });
const term: fc.Arbitrary<Term> = familyIndex.chain((i) => termOf(FAMILIES[i]!));

const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    term.map((t) => ({ term: t })),
    fc.array(tie('t'), { minLength: 2, maxLength: 3 }).map((children) => ({ and: children })),
    fc.array(tie('t'), { minLength: 2, maxLength: 3 }).map((children) => ({ or: children })),
    tie('t').map((child) => ({ not: child })),
  ),
})).t;

/** Writing a tree out: the choices that must not change its meaning, taken from `pick` (a seeded generator). */
function render(t: Tree, pick: (n: number) => number = () => 0, rewrite = false): string {
  if ('term' in t) {
    const { field, op, value } = t.term;
    if (field === null) return value;
    // Built-in names in any case; `:` and `=` are the same comparison.
    const isBuiltIn = FAMILIES.slice(0, 4).some((f) => f.fields.includes(field)) || FAMILIES[5]!.fields.includes(field);
    const name = rewrite && isBuiltIn ? [...field].map((ch) => (pick(2) ? ch.toUpperCase() : ch.toLowerCase())).join('') : field;
    const comparison = rewrite && (op === ':' || op === '=') ? [':', '='][pick(2)]! : op;
    return `${name}${comparison}${value}`;
  }
  if ('not' in t) return `${['-', 'NOT ', '!'][rewrite ? pick(3) : 0]}(${render(t.not, pick, rewrite)})`;
  const isAnd = 'and' in t;
  let children = (isAnd ? t.and : t.or).map((c) => `(${render(c, pick, rewrite)})`);
  if (rewrite) {
    // Reordered…
    for (let i = children.length - 1; i > 0; i--) {
      const j = pick(i + 1);
      [children[i], children[j]] = [children[j]!, children[i]!];
    }
    // …and regrouped: (a b) c is a b c.
    if (children.length > 2 && pick(2)) children = [`(${children[0]} ${isAnd ? 'AND' : 'OR'} ${children[1]})`, ...children.slice(2)];
  }
  // Not ` || `: the grammar reads a spaced `||` as a word (shared/query-language/grammar.peggy).
  const separators = isAnd ? [' ', ' AND ', ' && '] : [' OR '];
  return children.reduce((text, child) => `${text}${separators[rewrite ? pick(separators.length) : 0]}${child}`);
}

/** A small deterministic generator, so that a rewrite is reproduced from its seed. */
function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
}

/** The term with one part (name, comparison or value) swapped for another of its kind: a near miss. */
function nearMiss(t: Term, pick: (n: number) => number): Term {
  const family = FAMILIES.find((f) => (t.field === null ? f.fields.length === 0 : f.fields.includes(t.field)))!;
  switch (t.field === null ? 2 : pick(3)) {
    case 0:
      return { ...t, field: family.fields[pick(family.fields.length)]! };
    case 1:
      return { ...t, op: family.ops[pick(family.ops.length)]! };
    default:
      return { ...t, value: family.values[pick(family.values.length)]! };
  }
}

/** `t` with one of its terms a near miss, or a negation dropped. */
function mutate(t: Tree, pick: (n: number) => number): Tree {
  if ('term' in t) return { term: nearMiss(t.term, pick) };
  if ('not' in t) return pick(4) === 0 ? t.not : { not: mutate(t.not, pick) };
  const children = 'and' in t ? t.and : t.or;
  const i = pick(children.length);
  const next = children.map((c, j) => (j === i ? mutate(c, pick) : c));
  return 'and' in t ? { and: next } : { or: next };
}

const levelList = fc.array(fc.constantFrom('error', 'ERROR', 'err', 'warn', 'warning', 'info'), { maxLength: 3 }).map((l) => l.join(','));
const serviceList = fc.array(fc.constantFrom('checkout', 'Checkout', 'cart'), { maxLength: 3 }).map((s) => s.join(','));

describe('edge cache key', () => {
  it('keeps attribute names that differ only in case apart (lowercasing every field name merged them)', () => {
    expect(keyOf({ q: 'attr.Region:eu' })).not.toBe(keyOf({ q: 'attr.region:eu' }));
    expect(keyOf({ q: 'Region:eu' })).not.toBe(keyOf({ q: 'region:eu' }));
    expect(keyOf({ q: 'resource.Host:db-1' })).not.toBe(keyOf({ q: 'resource.host:db-1' }));
    expect(keyOf({ q: 'status>=500 attr.Region:*' })).not.toBe(keyOf({ q: 'attr.region:* status>=500' }));
    // Where an attribute is looked for is part of the meaning too.
    expect(new Set(['attr.region:eu', 'region:eu', 'resource.region:eu', 'Attr.region:eu'].map((q) => keyOf({ q }))).size).toBe(4);
  });

  it('gives equivalent searches one key', () => {
    const same = (...qs: string[]) => expect(new Set(qs.map((q) => keyOf({ q }))).size, qs.join(' | ')).toBe(1);
    same('level:error', 'LEVEL:error', 'Level=ERROR', 'level:"error"', 'severity:error');
    same('level>=error', 'LEVEL>=17', 'level>="Error"');
    same('a b', 'b a', 'a AND b', 'b && a', '(a) (b) a');
    same('service:checkout', 'SERVICE=checkout', 'service.name:"checkout"');
    same('trace_id:4BF9*', 'TRACEID:4bf9*');
    same('reset', 'body:reset', 'MESSAGE=reset');
    same('status>500', 'status>500.0', 'status>5e2', 'status>"500"');
    // Levels and services are sets.
    expect(keyOf({ level: 'error,warn' })).toBe(keyOf({ level: 'WARNING,err,error' }));
    expect(keyOf({ service: 'a,b' })).toBe(keyOf({ service: 'b,a,b' }));
  });

  it('tells apart what the compiler tells apart', () => {
    const apart = (...qs: string[]) => expect(new Set(qs.map((q) => keyOf({ q }))).size, qs.join(' | ')).toBe(qs.length);
    apart('status>1e999', 'status>-1e999', 'status>inf');
    apart('service:checkout', 'service:Checkout', 'service:check*', 'service:*', 'service:"*"');
    apart('region:*', 'region:"*"', 'region:eu*', 'region:"eu*"');
    apart('level:error', 'level>error', 'level>=error', 'level<error');
    expect(keyOf({ service: 'checkout' })).not.toBe(keyOf({ service: 'Checkout' }));
    // A relative time is another search a moment later; an absolute one is not.
    expect(keyOf({ q: 'timestamp>now-15m' }, T0)).not.toBe(keyOf({ q: 'timestamp>now-15m' }, T0 + 1));
    expect(keyOf({ q: 'timestamp>2026-11-21T08:30:00Z' }, T0)).toBe(keyOf({ q: 'timestamp>2026-11-21T08:30:00Z' }, T0 + 60_000));
    // The endpoint's own parameters, verbatim: the facet answer echoes the name it was asked for.
    const scope = searchOf({})!;
    const values = (field: string) => cacheKeyText('values', scope, { field, limit: 10 }, T0);
    expect(values('attr.X')).not.toBe(values('attr.x'));
    expect(values('level')).not.toBe(values('LEVEL'));
    expect(cacheKeyText('logs', scope, { limit: 10, cursor: null }, T0)).not.toBe(cacheKeyText('logs', scope, { limit: 10, cursor: 'x' }, T0));
    expect(cacheKeyText('logs', scope, { limit: 10, cursor: null }, T0)).not.toBe(cacheKeyText('histogram', scope, { limit: 10, cursor: null }, T0));
  });

  it('never gives one key to two generated searches ClickHouse would answer differently', () => {
    let sharedKeys = 0;
    const searchParams = fc.record({ level: levelList, service: serviceList });
    // A search and a near miss: one term with another name of the same kind (attr.Region for attr.region, LEVEL for
    // level), another comparison or another value; or another level/service list; or an unrelated search.
    const pair = fc.tuple(tree, searchParams, fc.oneof(fc.record({ seed: fc.nat() }), fc.record({ other: tree })), fc.oneof(fc.constant(null), searchParams));
    fc.assert(
      fc.property(pair, ([t, params, change, otherParams]) => {
        const q1 = render(t);
        const q2 = render('other' in change ? change.other : mutate(t, seeded(change.seed)));
        const a = searchOf({ q: q1, ...params });
        const b = searchOf({ q: q2, ...(otherParams ?? params) });
        if (!a || !b) return; // refused with a 400: never cached
        const keyA = cacheKeyText('logs', a, { limit: a.limit, cursor: null }, T0);
        const keyB = cacheKeyText('logs', b, { limit: b.limit, cursor: null }, T0);
        if (keyA !== keyB) return;
        sharedKeys++;
        expect(searchMeaning(b), `${q1}  vs  ${q2}`).toEqual(searchMeaning(a));
      }),
      { numRuns: 4000 },
    );
    expect(sharedKeys).toBeGreaterThan(200); // the pairs did come close enough to share keys
  });

  it('gives a generated search and its rewrites (reordered, regrouped, built-in names in any case, = for :) one key', () => {
    fc.assert(
      fc.property(tree, fc.nat(), (t, seed) => {
        const original = render(t);
        const rewritten = render(t, seeded(seed), true);
        const search = searchOf({ q: original });
        if (!search) return;
        expect(searchMeaning(searchOf({ q: rewritten })!), `${original}  vs  ${rewritten}`).toEqual(searchMeaning(search)); // the rewrite is one
        expect(keyOf({ q: rewritten }), `${original}  vs  ${rewritten}`).toBe(keyOf({ q: original }));
      }),
      { numRuns: 2000 },
    );
  });
});
