/**
 * The search request: query-string parameters → a validated LogSearch.
 * Every error names the parameter at fault.
 */
import { ApiError } from '../../shared/api-error.ts';
import type { QueryNode } from '../../shared/query-language/ast.ts';
import { parseQuery, querySyntaxApiError, QuerySyntaxError } from '../../shared/query-language/parse.ts';
import { compileQuery, SqlParams } from '../../shared/query-language/compile-sql.ts';
import { isSeverityName, SEVERITY_RANGES, severityNumberFromText, severityTextFromNumber } from '../../shared/severity.ts';
import { instantFromMillis, type Instant } from '../../shared/timestamp.ts';
import { invalid, parseTime } from '../../shared/request-params.ts';

export interface SearchCursor {
  /** Timestamp of the last row returned, ClickHouse text form. */
  timestamp: string;
  logId: string;
}

/** What every search endpoint narrows by: time range, `q`, `level`, `service`. */
export interface SearchScope {
  from: Instant;
  to: Instant;
  /** `q` in the query language (docs/query-language.md); { type: 'all' } when absent. */
  query: QueryNode;
  severityRanges: [number, number][];
  services: string[];
}

export interface LogSearch extends SearchScope {
  limit: number;
  cursor: SearchCursor | null;
}

export const DEFAULT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const CH_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}$/;

export { invalid, parseTime };

export function parseSearch(query: URLSearchParams, now = Date.now()): LogSearch {
  const scope = parseScope(query, now);
  let limit = DEFAULT_LIMIT;
  const limitText = query.get('limit');
  if (limitText !== null) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  }
  const cursorText = query.get('cursor');
  return { ...scope, limit, cursor: cursorText ? decodeCursor(cursorText) : null };
}

export function parseScope(query: URLSearchParams, now = Date.now()): SearchScope {
  const to = query.get('to') ? parseTime('to', query.get('to')!, now) : instantFromMillis(now);
  const from = query.get('from')
    ? parseTime('from', query.get('from')!, now)
    : instantFromMillis(to.seconds * 1000 + to.nanos / 1e6 - DEFAULT_WINDOW_MS);
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
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

export function encodeCursor(cursor: SearchCursor): string {
  return btoa(JSON.stringify([cursor.timestamp, cursor.logId])).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor(text: string): SearchCursor {
  try {
    const json = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const value: unknown = JSON.parse(json);
    if (
      Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && CH_TIME_RE.test(value[0]) &&
      typeof value[1] === 'string' && value[1].length <= 128
    ) {
      return { timestamp: value[0], logId: value[1] };
    }
  } catch {
    // fall through
  }
  throw invalid('cursor', 'not a cursor this API returned');
}
