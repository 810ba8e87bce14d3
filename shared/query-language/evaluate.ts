/**
 * The same query, evaluated in memory on one record — for live tail, where
 * records are matched as they are accepted, before they reach ClickHouse.
 * It mirrors compile-sql.ts clause by clause (tokens split and lower-cased as
 * ClickHouse's hasToken and lower() do); a differential test runs random
 * queries through both and compares the rows they select.
 */
import type { QueryNode, Value } from './ast.ts';
import { isExists } from './compile-sql.ts';
import { asciiLower, columnValue, invalidValue, numericValue, resolveField, severityRange, timeValue, tokenPrefixPattern, tokensOf } from './fields.ts';

/** The columns a query can read, as stored (ClickHouse text form for times). */
export interface MatchableRecord {
  Body: string;
  SeverityNumber: number;
  ServiceName: string;
  TraceId: string;
  SpanId: string;
  PatternId: string;
  LogId: string;
  Timestamp: string;
  LogAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
}

/** A query compiled once into a predicate (values checked up front, as the SQL compiler checks them). */
export function compileMatcher(node: QueryNode, now = Date.now()): (record: MatchableRecord) => boolean {
  switch (node.type) {
    case 'all':
      return () => true;
    case 'and': {
      const children = node.children.map((c) => compileMatcher(c, now));
      return (r) => children.every((m) => m(r));
    }
    case 'or': {
      const children = node.children.map((c) => compileMatcher(c, now));
      return (r) => children.some((m) => m(r));
    }
    case 'not': {
      const child = compileMatcher(node.child, now);
      return (r) => !child(r);
    }
    case 'text':
      return bodyMatcher(node);
  }
  const target = resolveField(node.field);
  const op = node.op;
  const equality = op === ':' || op === '=';
  switch (target.kind) {
    case 'body':
      if (!equality) invalidValue(node, `${node.field} can only be searched with ":"`);
      return bodyMatcher(node);
    case 'severity': {
      const [lo, hi] = severityRange(node);
      if (equality) return (r) => r.SeverityNumber >= lo && r.SeverityNumber <= hi;
      const bound = op === '>' || op === '<=' ? hi : lo;
      return (r) => compare(r.SeverityNumber, op, bound);
    }
    case 'time': {
      if (equality) invalidValue(node, `${node.field} takes > >= < <=, not ${op}`);
      const bound = timeValue(node, now);
      return (r) => compare(r.Timestamp, op, bound);
    }
    case 'service':
    case 'id':
    case 'traceId':
    case 'spanId':
    case 'patternId': {
      const column = ({ service: 'ServiceName', id: 'LogId', traceId: 'TraceId', spanId: 'SpanId', patternId: 'PatternId' } as const)[target.kind];
      if (!equality) invalidValue(node, `${node.field} takes ":" only`);
      if (isExists(node)) return (r) => r[column] !== '';
      const value = columnValue(target, node, node.field);
      if (node.prefix) return (r) => r[column].startsWith(value);
      return (r) => r[column] === value;
    }
    case 'map': {
      const { key, maps } = target;
      // Own keys only: an attribute named `constructor` is present only when the record has one.
      if (isExists(node)) return (r) => maps.some((m) => Object.hasOwn(r[m], key));
      const read =
        maps.length === 1
          ? (r: MatchableRecord) => attribute(r[maps[0]!], key)
          : (r: MatchableRecord) => (Object.hasOwn(r.LogAttributes, key) ? r.LogAttributes[key]! : attribute(r.ResourceAttributes, key));
      if (equality) {
        const value = node.value;
        return node.prefix ? (r) => read(r).startsWith(value) : (r) => read(r) === value;
      }
      const number = numericValue(node);
      if (number !== null) {
        return (r) => {
          const text = read(r).trim();
          const n = text === '' ? NaN : Number(text);
          return Number.isFinite(n) && compare(n, op, number);
        };
      }
      return (r) => compare(read(r), op, node.value);
    }
  }
}

/** An attribute's value, or '' when the record has none (as ClickHouse reads a missing map key). */
function attribute(map: Record<string, string>, key: string): string {
  return Object.hasOwn(map, key) ? map[key]! : '';
}

function compare<T extends number | string>(a: T, op: string, b: T): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    default:
      return a <= b;
  }
}

function bodyMatcher(value: Value): (record: MatchableRecord) => boolean {
  if (isExists(value)) return () => true;
  const tokens = tokensOf(value.value);
  if (value.prefix) {
    const whole = tokens.slice(0, -1);
    const pattern = new RegExp(tokenPrefixPattern(value.value));
    return (r) => {
      const lowered = asciiLower(r.Body);
      if (whole.length > 0) {
        const present = new Set(tokensOf(r.Body));
        if (!whole.every((t) => present.has(t))) return false;
      }
      return pattern.test(lowered);
    };
  }
  const exact = value.phrase ? value.value !== '' : tokens.length !== 1 || tokens[0] !== asciiLower(value.value);
  const needle = value.value.toLowerCase();
  return (r) => {
    if (tokens.length > 0) {
      const present = new Set(tokensOf(r.Body));
      if (!tokens.every((t) => present.has(t))) return false;
    }
    return !exact || needle === '' || r.Body.toLowerCase().includes(needle);
  };
}
