/**
 * Syntax tree → a ClickHouse boolean expression over the `logs` table, with
 * every value (and every attribute key) a query parameter: no text of the
 * query ever becomes SQL. Callers put it after the tenant predicate
 * (`TenantId = {tenant:String} AND (…)`), so nothing in it can widen the rows
 * a tenant reaches.
 *
 * Index use: words and phrases become `hasToken(lower(Body), …)` per token,
 * which the tokenbf_v1 index on lower(Body) answers; trace ids and attribute
 * equality hit the bloom filters. Every expression is 0/1, never NULL, so NOT
 * means the same here as in the in-memory evaluator.
 */
import type { QueryNode, Value } from './ast.ts';
import { asciiLower, columnValue, invalidValue, numericValue, resolveField, severityRange, timeValue, tokenPrefixPattern, tokensOf } from './fields.ts';

export class SqlParams {
  readonly values: Record<string, string | number> = {};
  #next = 0;

  /** A placeholder for `value`; the value itself travels beside the SQL. */
  add(value: string | number, type: 'String' | 'Float64' | 'UInt8' | "DateTime64(9, 'UTC')"): string {
    const name = `q${this.#next++}`;
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}

const SQL_OP = { '>': '>', '>=': '>=', '<': '<', '<=': '<=', ':': '=', '=': '=' } as const;

export function compileQuery(node: QueryNode, params: SqlParams, now = Date.now()): string {
  switch (node.type) {
    case 'all':
      return '1';
    case 'and':
      return `(${node.children.map((c) => compileQuery(c, params, now)).join(' AND ')})`;
    case 'or':
      return `(${node.children.map((c) => compileQuery(c, params, now)).join(' OR ')})`;
    case 'not':
      return `NOT ${compileQuery(node.child, params, now)}`;
    case 'text':
      return bodySql(node, params);
  }
  const target = resolveField(node.field);
  const op = node.op;
  const equality = op === ':' || op === '=';
  switch (target.kind) {
    case 'body':
      if (!equality) invalidValue(node, `${node.field} can only be searched with ":"`);
      return bodySql(node, params);
    case 'severity': {
      const [lo, hi] = severityRange(node);
      if (equality) return `(SeverityNumber BETWEEN ${params.add(lo, 'UInt8')} AND ${params.add(hi, 'UInt8')})`;
      const bound = op === '>' || op === '<=' ? hi : lo;
      return `(SeverityNumber ${SQL_OP[op]} ${params.add(bound, 'UInt8')})`;
    }
    case 'time': {
      if (equality) invalidValue(node, `${node.field} takes > >= < <=, not ${op}`);
      return `(Timestamp ${SQL_OP[op]} ${params.add(timeValue(node, now), "DateTime64(9, 'UTC')")})`;
    }
    case 'service':
    case 'id':
    case 'traceId':
    case 'spanId':
    case 'patternId': {
      const column = { service: 'ServiceName', id: 'LogId', traceId: 'TraceId', spanId: 'SpanId', patternId: 'PatternId' }[target.kind];
      if (!equality) invalidValue(node, `${node.field} takes ":" only`);
      if (isExists(node)) return `(${column} != '')`;
      const value = columnValue(target, node, node.field);
      if (node.prefix) return `startsWith(${column}, ${params.add(value, 'String')})`;
      return `(${column} = ${params.add(value, 'String')})`;
    }
    case 'map': {
      const key = params.add(target.key, 'String');
      if (isExists(node)) return `(${target.maps.map((m) => `mapContains(${m}, ${key})`).join(' OR ')})`;
      const read =
        target.maps.length === 1 ? `${target.maps[0]}[${key}]` : `if(mapContains(LogAttributes, ${key}), LogAttributes[${key}], ResourceAttributes[${key}])`;
      if (equality) {
        if (node.prefix) return `startsWith(${read}, ${params.add(node.value, 'String')})`;
        return `(${read} = ${params.add(node.value, 'String')})`;
      }
      const number = numericValue(node);
      if (number !== null) return `ifNull(toFloat64OrNull(${read}) ${SQL_OP[op]} ${params.add(number, 'Float64')}, 0)`;
      return `(${read} ${SQL_OP[op]} ${params.add(node.value, 'String')})`;
    }
  }
}

/** `field:*` — the field is present. */
export function isExists(value: Value): boolean {
  return value.value === '*' && !value.phrase && !value.prefix;
}

/** Words, phrases and token prefixes in the body. */
function bodySql(value: Value, params: SqlParams): string {
  if (isExists(value)) return '1';
  const tokens = tokensOf(value.value);
  const parts: string[] = [];
  if (value.prefix) {
    // Whole tokens before the last must be there; the last is a prefix of a token.
    for (const token of tokens.slice(0, -1)) parts.push(`hasToken(lower(Body), ${params.add(token, 'String')})`);
    parts.push(`match(lower(Body), ${params.add(tokenPrefixPattern(value.value), 'String')})`);
  } else {
    for (const token of tokens) parts.push(`hasToken(lower(Body), ${params.add(token, 'String')})`);
    // A phrase, or a word with separators in it (10.0.0.1, connection-reset): the exact text too.
    if (value.phrase ? value.value !== '' : tokens.length !== 1 || tokens[0] !== asciiLower(value.value)) {
      if (value.value !== '') parts.push(`(positionCaseInsensitiveUTF8(Body, ${params.add(value.value, 'String')}) > 0)`);
    }
  }
  if (parts.length === 0) return '1';
  return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
}
