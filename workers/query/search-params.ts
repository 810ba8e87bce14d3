/**
 * The search request: query-string parameters → a validated LogSearch.
 * Every error names the parameter at fault.
 */
import { invalid, parseTime } from '../../shared/request-params.ts';
import { parseScope, type SearchScope } from '../../shared/search-scope.ts';

export interface SearchCursor {
  /** Timestamp of the last row returned, ClickHouse text form. */
  timestamp: string;
  logId: string;
}

export interface LogSearch extends SearchScope {
  limit: number;
  cursor: SearchCursor | null;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const CH_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}$/;

export { invalid, parseTime };
// The scope every search endpoint shares lives in shared/search-scope.ts (erasure reads it too).
export { DEFAULT_WINDOW_MS, parseQueryParameter, parseScope, type SearchScope } from '../../shared/search-scope.ts';

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

export function encodeCursor(cursor: SearchCursor): string {
  return btoa(JSON.stringify([cursor.timestamp, cursor.logId]))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

export function decodeCursor(text: string): SearchCursor {
  try {
    const json = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const value: unknown = JSON.parse(json);
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      CH_TIME_RE.test(value[0]) &&
      typeof value[1] === 'string' &&
      value[1].length <= 128
    ) {
      return { timestamp: value[0], logId: value[1] };
    }
  } catch {
    // fall through
  }
  throw invalid('cursor', 'not a cursor this API returned');
}
