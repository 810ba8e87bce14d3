/**
 * What a field name in a query refers to, and how a value is read for it —
 * shared by the SQL compiler and the in-memory evaluator so that both give a
 * query the same meaning.
 */
import { isSeverityName, SEVERITY_RANGES } from '../severity.ts';
import { formatClickHouseTime, parseTimeExpression, TimestampError } from '../timestamp.ts';
import type { Value } from './ast.ts';
import { QuerySyntaxError } from './parse.ts';

export type FieldTarget =
  | { kind: 'body' }
  | { kind: 'severity' }
  | { kind: 'service' }
  | { kind: 'traceId' }
  | { kind: 'spanId' }
  | { kind: 'patternId' }
  | { kind: 'id' }
  | { kind: 'time' }
  | { kind: 'map'; maps: ('LogAttributes' | 'ResourceAttributes')[]; key: string };

/** Column names a query may use (lower case). A Map: the key is query text, so `constructor:x` must find nothing. */
// biome-ignore format: one line per column, its names together
const NAMED: ReadonlyMap<string, FieldTarget> = new Map(
  Object.entries({
    body: { kind: 'body' }, message: { kind: 'body' }, msg: { kind: 'body' },
    level: { kind: 'severity' }, severity: { kind: 'severity' },
    service: { kind: 'service' }, 'service.name': { kind: 'service' },
    trace_id: { kind: 'traceId' }, traceid: { kind: 'traceId' }, 'trace.id': { kind: 'traceId' },
    span_id: { kind: 'spanId' }, spanid: { kind: 'spanId' }, 'span.id': { kind: 'spanId' },
    pattern: { kind: 'patternId' }, pattern_id: { kind: 'patternId' }, patternid: { kind: 'patternId' }, 'pattern.id': { kind: 'patternId' },
    id: { kind: 'id' },
    timestamp: { kind: 'time' }, time: { kind: 'time' }, '@timestamp': { kind: 'time' },
  } satisfies Record<string, FieldTarget>),
);

/**
 * `attr.<key>` → the record's attributes, `resource.<key>` → its resource;
 * the names above → columns; any other name → an attribute of that name, or
 * else the resource attribute.
 */
export function resolveField(field: string): FieldTarget {
  const named = NAMED.get(field.toLowerCase());
  if (named) return named;
  if (field.startsWith('attr.') && field.length > 5) return { kind: 'map', maps: ['LogAttributes'], key: field.slice(5) };
  if (field.startsWith('attributes.') && field.length > 11) return { kind: 'map', maps: ['LogAttributes'], key: field.slice(11) };
  if (field.startsWith('resource.') && field.length > 9) return { kind: 'map', maps: ['ResourceAttributes'], key: field.slice(9) };
  return { kind: 'map', maps: ['LogAttributes', 'ResourceAttributes'], key: field };
}

export function invalidValue(value: Value, message: string): never {
  throw new QuerySyntaxError(message, value.start, [], value.value);
}

/** `level:error` → [17, 20]; `level:17` → [17, 17]. */
export function severityRange(value: Value): [number, number] {
  const name = value.value.toLowerCase();
  if (isSeverityName(name)) return [...SEVERITY_RANGES[name]];
  const n = Number(name);
  if (Number.isInteger(n) && n >= 0 && n <= 24) return [n, n];
  return invalidValue(value, `unknown level "${value.value}": use ${Object.keys(SEVERITY_RANGES).join(', ')} or 0–24`);
}

export function timeValue(value: Value, now: number): string {
  try {
    return formatClickHouseTime(parseTimeExpression(value.value, now));
  } catch (err) {
    if (err instanceof TimestampError) invalidValue(value, `"${value.value}" is not a time: use RFC 3339, a Unix epoch, now or now-15m`);
    throw err;
  }
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
export function numericValue(value: Value): number | null {
  return NUMBER_RE.test(value.value) ? Number(value.value) : null;
}

/** The value a query compares a column with: ids (trace, span, pattern) are hexadecimal, lower case; the rest as written. */
export function columnValue(target: FieldTarget, value: Value, field: string): string {
  return target.kind === 'traceId' || target.kind === 'spanId' || target.kind === 'patternId' ? idValue(value, field) : value.value;
}

const HEX_RE = /^[0-9a-fA-F]*$/;
export function idValue(value: Value, field: string): string {
  if (!HEX_RE.test(value.value)) invalidValue(value, `${field} is hexadecimal; "${value.value}" is not`);
  return value.value.toLowerCase();
}

/** Separators of ClickHouse's hasToken / tokenbf_v1: every ASCII character but letters and digits. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ClickHouse's separators include the control characters.
export const SEPARATORS = /[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]+/;
const SEPARATOR_CLASS = '[\\x00-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7F]';

/** ClickHouse's lower(): ASCII letters only (the token index is on lower(Body)). */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

export function tokensOf(text: string): string[] {
  return asciiLower(text)
    .split(SEPARATORS)
    .filter((t) => t !== '');
}

/** A regular expression (RE2 and JavaScript alike) for text that starts a token: `conn*`. */
export function tokenPrefixPattern(prefix: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: every separator, control characters included, is escaped.
  const escaped = asciiLower(prefix).replace(/[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `(?:^|${SEPARATOR_CLASS})${escaped}`;
}
