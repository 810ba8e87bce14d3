/**
 * The search request: query-string parameters → a validated LogSearch.
 * Every error names the parameter at fault.
 */
import { ApiError } from '../../shared/api-error.ts';
import { isSeverityName, SEVERITY_RANGES, severityNumberFromText, severityTextFromNumber } from '../../shared/severity.ts';
import { instantFromMillis, parseTimestamp, TimestampError, type Instant } from '../../shared/timestamp.ts';

export interface SearchCursor {
  /** Timestamp of the last row returned, ClickHouse text form. */
  timestamp: string;
  logId: string;
}

export interface LogSearch {
  from: Instant;
  to: Instant;
  tokens: string[];
  severityRanges: [number, number][];
  services: string[];
  limit: number;
  cursor: SearchCursor | null;
}

export const DEFAULT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_TOKENS = 32;
const MAX_Q_LENGTH = 2048;

const RELATIVE_RE = /^now(?:\s*-\s*(\d+)\s*(ms|s|m|h|d|w))?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const CH_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}$/;

function invalid(param: string, message: string): ApiError {
  return new ApiError(400, 'invalid_parameter', `${param}: ${message}`, { parameter: param });
}

/** `now`, `now-15m`, RFC 3339, or a Unix epoch (s/ms/µs/ns). */
export function parseTime(param: string, value: string, now: number): Instant {
  const relative = RELATIVE_RE.exec(value.trim());
  if (relative) {
    const offset = relative[1] ? Number(relative[1]) * UNIT_MS[relative[2]!]! : 0;
    return instantFromMillis(now - offset);
  }
  try {
    return parseTimestamp(value);
  } catch (err) {
    if (err instanceof TimestampError) throw invalid(param, `${err.message}, or now / now-15m`);
    throw err;
  }
}

/**
 * Full-text terms → the tokens ClickHouse's token index knows: runs of ASCII
 * letters and digits, or of non-ASCII characters, split on every other ASCII
 * character — the same split `hasToken` and `tokenbf_v1` use — lower-cased
 * because the index is on lower(Body).
 */
export function tokenize(q: string): string[] {
  return [...new Set(q.toLowerCase().split(/[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]+/).filter((t) => t !== ''))];
}

export function parseSearch(query: URLSearchParams, now = Date.now()): LogSearch {
  const to = query.get('to') ? parseTime('to', query.get('to')!, now) : instantFromMillis(now);
  const from = query.get('from')
    ? parseTime('from', query.get('from')!, now)
    : instantFromMillis(to.seconds * 1000 + to.nanos / 1e6 - DEFAULT_WINDOW_MS);
  if (from.seconds > to.seconds || (from.seconds === to.seconds && from.nanos >= to.nanos)) {
    throw invalid('from', 'must be earlier than to');
  }

  const q = query.get('q') ?? '';
  if (q.length > MAX_Q_LENGTH) throw invalid('q', `longer than ${MAX_Q_LENGTH} characters`);
  const tokens = tokenize(q);
  if (tokens.length > MAX_TOKENS) throw invalid('q', `more than ${MAX_TOKENS} terms`);

  const severityRanges: [number, number][] = [];
  for (const level of splitList(query.get('level'))) {
    const name = level.toLowerCase();
    const canonical = isSeverityName(name) ? name : severityTextFromNumber(severityNumberFromText(name)).toLowerCase();
    if (!isSeverityName(canonical)) throw invalid('level', `unknown level "${level}"; use ${Object.keys(SEVERITY_RANGES).join(', ')}`);
    severityRanges.push([...SEVERITY_RANGES[canonical]]);
  }

  const services = splitList(query.get('service'));
  for (const service of services) if (service.length > 256) throw invalid('service', 'longer than 256 characters');

  let limit = DEFAULT_LIMIT;
  const limitText = query.get('limit');
  if (limitText !== null) {
    limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  }

  const cursorText = query.get('cursor');
  return { from, to, tokens, severityRanges, services, limit, cursor: cursorText ? decodeCursor(cursorText) : null };
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
