/**
 * The LogQL subset NeuralLog answers, as a syntax tree. Grafana's own grammar
 * (@grafana/lezer-logql) parses the text; parse.ts turns its concrete tree into
 * this one and refuses, with a LogqlError naming it, every construct outside
 * the subset (docs/grafana.md lists it).
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';
export type NumberOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** `|= "a" or "b"`: any of the values (a negative filter: none of them). */
export interface LineFilter {
  op: '|=' | '!=' | '|~' | '!~';
  values: string[];
}

export type LabelPredicate =
  | { type: 'match'; matcher: LabelMatcher }
  | { type: 'number'; name: string; op: NumberOp; value: number }
  | { type: 'and' | 'or'; left: LabelPredicate; right: LabelPredicate };

/** A line_format / label_format template: literal text and `{{.label}}` / `{{__line__}}` references. */
export type TemplatePart = { text: string } | { label: string } | { line: true };

export type Stage =
  | { type: 'line'; filter: LineFilter }
  | { type: 'parser'; parser: 'json' | 'logfmt' }
  | { type: 'label'; predicate: LabelPredicate }
  | { type: 'line_format'; template: TemplatePart[] }
  | { type: 'label_format'; items: { dst: string; src?: string; template?: TemplatePart[] }[] }
  | { type: 'drop' | 'keep'; names: string[]; matchers: LabelMatcher[] };

/** A stream selector and its pipeline. */
export interface LogSelection {
  selector: LabelMatcher[];
  stages: Stage[];
}

export interface LogQuery extends LogSelection {
  kind: 'log';
}

export interface Grouping {
  without: boolean;
  labels: string[];
}

export const RANGE_FUNCTIONS = [
  'count_over_time',
  'rate',
  'bytes_over_time',
  'bytes_rate',
  'absent_over_time',
  'sum_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'quantile_over_time',
] as const;
export type RangeFunction = (typeof RANGE_FUNCTIONS)[number];

export interface RangeAggregation extends LogSelection {
  kind: 'range';
  fn: RangeFunction;
  /** quantile_over_time's φ. */
  param?: number;
  /** The window, in nanoseconds. */
  rangeNs: bigint;
  /** `| unwrap <label>`: the numeric label the *_over_time functions read. */
  unwrap?: string;
  grouping?: Grouping;
}

export const VECTOR_OPS = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk'] as const;
export type VectorOp = (typeof VECTOR_OPS)[number];

export interface VectorAggregation {
  kind: 'vector_agg';
  op: VectorOp;
  /** topk/bottomk's k. */
  param?: number;
  grouping?: Grouping;
  expr: MetricExpr;
}

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | '==' | '!=' | '>' | '>=' | '<' | '<=';

export interface BinaryExpr {
  kind: 'binop';
  op: BinaryOp;
  /** `> bool`: comparisons give 0/1 instead of filtering. */
  bool: boolean;
  /** `on (…)` / `ignoring (…)`. */
  matching?: { on: boolean; labels: string[] };
  left: MetricExpr;
  right: MetricExpr;
}

export type MetricExpr = RangeAggregation | VectorAggregation | BinaryExpr | { kind: 'literal'; value: number } | { kind: 'vector'; value: number };

export type LogqlExpr = LogQuery | MetricExpr;

/** A query outside the subset or not LogQL at all: a 400 whose message names the construct. */
export class LogqlError extends Error {}
