/**
 * A LogQL selection (selector + pipeline) → conditions of one parameterised
 * ClickHouse query over `logs`, and labels → SQL expressions, by the
 * definitions of labels.ts. As in the query language's compiler
 * (../query-language/compile-sql.ts, whose SqlParams this shares), every value
 * and label name travels as a query parameter: no text of the query becomes
 * SQL. Callers put these after `TenantId = {tenant:String}` and the time
 * bounds, so nothing here can widen what a tenant reaches.
 *
 * Formatting stages (line_format, label_format, drop, keep) are not SQL: the
 * worker applies them to the rows read (evaluate.ts's applyFormatting), and
 * refuses a filter after them (checkStages).
 */
import { SqlParams } from '../query-language/compile-sql.ts';
import { asciiLower, SEPARATORS } from '../query-language/fields.ts';
import { type LabelMatcher, type LabelPredicate, type LineFilter, LogqlError, type LogSelection, type RangeAggregation, type Stage } from './ast.ts';
import { isReservedLabel } from './labels.ts';
import { checkRegex, jsRegExp, re2Pattern } from './regex.ts';

export { SqlParams };

/** A row's level name (labels.ts levelName), as SQL. */
export const LEVEL_NAME_SQL =
  "multiIf(SeverityNumber = 0, 'unknown', SeverityNumber <= 4, 'trace', SeverityNumber <= 8, 'debug', SeverityNumber <= 12, 'info', " +
  "SeverityNumber <= 16, 'warn', SeverityNumber <= 20, 'error', 'fatal')";

const LEVEL_RANGES: ReadonlyMap<string, [number, number]> = new Map([
  ['unknown', [0, 0]],
  ['trace', [1, 4]],
  ['debug', [5, 8]],
  ['info', [9, 12]],
  ['warn', [13, 16]],
  ['error', [17, 20]],
  ['fatal', [21, 255]],
]);

/** A decimal number, as both engines read label values for numeric filters and unwrap. */
export const NUMBER_PATTERN = '^[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?$';
export const NUMBER_RE = new RegExp(NUMBER_PATTERN);

function labelKeySql(key: string): string {
  return `concat(if(match(${key}, '^[0-9]'), '_', ''), replaceRegexpAll(${key}, '[^A-Za-z0-9_]', '_'))`;
}

/** labels.ts mapLabel as SQL. */
function mapLabelSql(map: 'ResourceAttributes' | 'LogAttributes', name: string, params: SqlParams): string {
  if (isReservedLabel(name)) return "''";
  const p = params.add(name, 'String');
  // A name without _ can only be the key spelt exactly so (every other character of a key becomes _).
  if (!name.includes('_')) return `${map}[${p}]`;
  return `if(mapContains(${map}, ${p}), ${map}[${p}], arrayElement(mapValues(${map}), arrayFirstIndex(k -> ${labelKeySql('k')} = ${p}, mapKeys(${map}))))`;
}

/** labels.ts streamLabel as SQL. */
export function streamLabelSql(name: string, params: SqlParams): string {
  if (name === 'service_name' || name === 'service') return 'ServiceName';
  if (name === 'detected_level' || name === 'level') return LEVEL_NAME_SQL;
  return mapLabelSql('ResourceAttributes', name, params);
}

/** labels.ts entryLabel as SQL. */
export function entryLabelSql(name: string, params: SqlParams): string {
  const stream = streamLabelSql(name, params);
  if (isReservedLabel(name)) return stream;
  return `if(${stream} != '', ${stream}, ${mapLabelSql('LogAttributes', name, params)})`;
}

function matcherSql(m: LabelMatcher, read: string, params: SqlParams): string {
  if (m.op === '=~' || m.op === '!~') {
    checkRegex(m.value);
    const test = `match(${read}, ${params.add(re2Pattern(m.value, true), 'String')})`;
    return m.op === '=~' ? test : `NOT ${test}`;
  }
  // Levels by their SeverityNumber range: the column, not the name computed from it.
  const range = read === LEVEL_NAME_SQL ? LEVEL_RANGES.get(m.value) : undefined;
  if (range) {
    const test = `(SeverityNumber BETWEEN ${params.add(range[0], 'UInt8')} AND ${params.add(range[1], 'UInt8')})`;
    return m.op === '=' ? test : `NOT ${test}`;
  }
  return `(${read} ${m.op === '=' ? '=' : '!='} ${params.add(m.value, 'String')})`;
}

/** The selector's matchers (stream labels). */
export function selectorSql(selector: LabelMatcher[], params: SqlParams): string[] {
  return selector.map((m) => matcherSql(m, streamLabelSql(m.name, params), params));
}

/** Tokens of a needle that are whole tokens of any text containing it (bounded by separators inside the needle). */
function wholeTokens(needle: string): string[] {
  const lowered = asciiLower(needle);
  const parts = lowered.split(SEPARATORS);
  // The first and last parts touch the needle's ends: they may be pieces of longer tokens.
  return parts.slice(1, -1).filter((t) => t !== '');
}

function lineFilterSql(f: LineFilter, params: SqlParams): string {
  const tests = f.values.map((v) => {
    if (f.op === '|=' || f.op === '!=') {
      if (v === '') return '1';
      const exact = `(position(Body, ${params.add(v, 'String')}) > 0)`;
      // The token index (tokenbf_v1 on lower(Body)) can skip granules for the needle's whole tokens.
      const tokens = f.op === '|=' && f.values.length === 1 ? wholeTokens(v) : [];
      return tokens.length === 0 ? exact : `(${[...tokens.map((t) => `hasToken(lower(Body), ${params.add(t, 'String')})`), exact].join(' AND ')})`;
    }
    checkRegex(v);
    return `match(Body, ${params.add(v, 'String')})`;
  });
  const any = tests.length === 1 ? tests[0]! : `(${tests.join(' OR ')})`;
  return f.op === '|=' || f.op === '|~' ? any : `NOT ${any}`;
}

function predicateSql(p: LabelPredicate, params: SqlParams): string {
  switch (p.type) {
    case 'and':
    case 'or':
      return `(${predicateSql(p.left, params)} ${p.type.toUpperCase()} ${predicateSql(p.right, params)})`;
    case 'match':
      if (p.matcher.name === '__error__' || p.matcher.name === '__error_details__') {
        // Our attributes are parsed already: no stage ever fails, so these labels are always empty.
        return matchesEmpty(p.matcher) ? '1' : '0';
      }
      return matcherSql(p.matcher, entryLabelSql(p.matcher.name, params), params);
    case 'number': {
      const read = entryLabelSql(p.name, params);
      return `ifNull(if(match(${read}, '${NUMBER_PATTERN.replace(/\\/g, '\\\\')}'), toFloat64OrNull(${read}), NULL) ${p.op === '==' ? '=' : p.op} ${params.add(p.value, 'Float64')}, 0)`;
    }
  }
}

/** Whether '' satisfies a matcher (for labels that are always empty). */
export function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return jsRegExp(m.value, true).test('');
    case '!~':
      return !jsRegExp(m.value, true).test('');
  }
}

const FORMATTING = new Set<Stage['type']>(['line_format', 'label_format', 'drop', 'keep']);

/** Formatting stages come last: a filter after one would read what SQL does not have. */
export function checkStages(stages: Stage[]): void {
  let formatted = false;
  for (const stage of stages) {
    if (FORMATTING.has(stage.type)) formatted = true;
    else if (formatted && stage.type !== 'parser')
      throw new LogqlError(
        `a ${stage.type === 'line' ? 'line' : 'label'} filter after line_format, label_format, drop or keep is not supported: put filters before them`,
      );
  }
}

/** What a range aggregation's pipeline may hold beyond a log query's. */
export function checkRangeStages(node: RangeAggregation): void {
  if (node.stages.some((s) => s.type === 'line_format')) throw new LogqlError('line_format in a metric query is not supported');
  if (node.unwrap && hasFormatting(node.stages)) throw new LogqlError('label_format, drop or keep before unwrap is not supported');
}

export function hasFormatting(stages: Stage[]): boolean {
  return stages.some((s) => FORMATTING.has(s.type));
}

/** The selection's conditions (selector, then the pipeline's filters in order). */
export function selectionSql(selection: LogSelection, params: SqlParams): string[] {
  checkStages(selection.stages);
  const where = selectorSql(selection.selector, params);
  for (const stage of selection.stages) {
    if (stage.type === 'line') where.push(lineFilterSql(stage.filter, params));
    else if (stage.type === 'label') where.push(predicateSql(stage.predicate, params));
  }
  return where;
}

/** An unwrapped label's value as Float64 (NULL when it is not a number). */
export function unwrapSql(name: string, params: SqlParams): string {
  const read = entryLabelSql(name, params);
  return `if(match(${read}, '${NUMBER_PATTERN.replace(/\\/g, '\\\\')}'), toFloat64OrNull(${read}), NULL)`;
}
