/**
 * The search scope every search endpoint shares — time range, `q` in the
 * query language, `level`, `service` — from query-string parameters to a
 * validated SearchScope, and from a SearchScope to the WHERE of one
 * parameterised ClickHouse query. Search (the query worker) and erasure
 * (DELETE /v1/logs, the ingest worker, which also erases buffered records with
 * the same meaning) read it; every error names the parameter at fault.
 *
 * Nothing from the request is ever part of the SQL text: every value travels
 * as a `{name:Type}` query parameter. The tenant predicate is the first
 * condition and comes from the verified credential.
 */
import type { QueryNode } from './query-language/ast.ts';
import { compileQuery, SqlParams } from './query-language/compile-sql.ts';
import { parseQuery, querySyntaxApiError, QuerySyntaxError } from './query-language/parse.ts';
import { invalid, parseTime } from './request-params.ts';
import { isSeverityName, SEVERITY_RANGES, severityNumberFromText, severityTextFromNumber } from './severity.ts';
import { formatClickHouseTime, instantFromMillis, type Instant } from './timestamp.ts';

/** What every search endpoint narrows by: time range, `q`, `level`, `service`. */
export interface SearchScope {
  from: Instant;
  to: Instant;
  /** `q` in the query language (docs/query-language.md); { type: 'all' } when absent. */
  query: QueryNode;
  severityRanges: [number, number][];
  services: string[];
}

export const DEFAULT_WINDOW_MS = 24 * 60 * 60 * 1000;

export function parseScope(query: URLSearchParams, now = Date.now()): SearchScope {
  const to = query.get('to') ? parseTime('to', query.get('to')!, now) : instantFromMillis(now);
  // The default window never starts before the epoch: a `to` in 1970's first day would otherwise make
  // a negative start that ClickHouse refuses as a UInt32 (a 500, found by test/node/security.e2e.test.ts).
  const from = query.get('from')
    ? parseTime('from', query.get('from')!, now)
    : instantFromMillis(Math.max(0, to.seconds * 1000 + to.nanos / 1e6 - DEFAULT_WINDOW_MS));
  if (from.seconds > to.seconds || (from.seconds === to.seconds && from.nanos >= to.nanos)) {
    throw invalid('from', 'must be earlier than to');
  }

  const queryNode = parseQueryParameter(query.get('q') ?? '', now);

  const severityRanges: [number, number][] = [];
  for (const level of splitList(query.get('level'))) {
    const name = level.toLowerCase();
    const canonical = isSeverityName(name) ? name : severityTextFromNumber(severityNumberFromText(name)).toLowerCase();
    if (!isSeverityName(canonical)) throw invalid('level', `unknown level "${level}"; use ${Object.keys(SEVERITY_RANGES).join(', ')}`);
    severityRanges.push([...SEVERITY_RANGES[canonical]]);
  }

  const services = splitList(query.get('service'));
  for (const service of services) if (service.length > 256) throw invalid('service', 'longer than 256 characters');

  return { from, to, query: queryNode, severityRanges, services };
}

/** `q` → syntax tree; a syntax error is a 400 `query_syntax` naming the position and what was expected there. */
export function parseQueryParameter(q: string, now = Date.now()): QueryNode {
  try {
    const tree = parseQuery(q);
    compileQuery(tree, new SqlParams(), now); // checks every value (levels, times, ids) now, as a 400
    return tree;
  } catch (err) {
    if (err instanceof QuerySyntaxError) throw querySyntaxApiError(err);
    throw err;
  }
}

function splitList(value: string | null): string[] {
  if (value === null) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export interface CompiledQuery {
  sql: string;
  params: Record<string, string | number | string[]>;
}

/** Tenant, time range and filters: the WHERE every search endpoint starts from. */
export function compileScope(
  tenantId: string,
  scope: SearchScope,
  now = Date.now(),
): { where: string[]; params: CompiledQuery['params'] /** The conditions after the tenant and time bounds (query, levels, services). */; filters: string[] } {
  const where: string[] = ['TenantId = {tenant:String}'];
  const params: CompiledQuery['params'] = {
    tenant: tenantId,
    from: formatClickHouseTime(scope.from),
    to: formatClickHouseTime(scope.to),
  };
  // The whole-second column is in the primary key; the exact bounds follow.
  where.push("TimestampTime >= toDateTime({from:DateTime64(9, 'UTC')})");
  where.push("TimestampTime <= toDateTime({to:DateTime64(9, 'UTC')})");
  where.push("Timestamp >= {from:DateTime64(9, 'UTC')}");
  where.push("Timestamp < {to:DateTime64(9, 'UTC')}");

  const bounds = where.length;
  // The query language: values (and attribute keys) become parameters q0, q1, …
  const queryParams = new SqlParams();
  const filter = compileQuery(scope.query, queryParams, now);
  if (filter !== '1') where.push(filter);
  Object.assign(params, queryParams.values);
  if (scope.severityRanges.length > 0) {
    const ranges = scope.severityRanges.map(([lo, hi], i) => {
      params[`severityLo${i}`] = lo;
      params[`severityHi${i}`] = hi;
      return `SeverityNumber BETWEEN {severityLo${i}:UInt8} AND {severityHi${i}:UInt8}`;
    });
    where.push(`(${ranges.join(' OR ')})`);
  }
  if (scope.services.length > 0) {
    where.push('ServiceName IN {services:Array(String)}');
    params.services = scope.services;
  }
  return { where, params, filters: where.slice(bounds) };
}
