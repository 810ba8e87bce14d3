/**
 * LogQL text → the syntax tree of ast.ts, with Grafana's own grammar
 * (@grafana/lezer-logql, the one its query editor uses). That grammar is an
 * editor's: it accepts everything LogQL has and leaves binary operators
 * without precedence (`1 + 2 * 3` comes out as `(1 + 2) * 3`), so this file
 * re-associates them by PromQL's precedence, checks what the editor leaves
 * loose (durations, label names, strings) and refuses what we do not answer.
 *
 * Bounded: the text at most MAX_QUERY_CHARS, nesting at most MAX_DEPTH.
 */
import { parser } from '@grafana/lezer-logql';
import { matchesEmpty } from './sql.ts';
import type { SyntaxNode } from '@lezer/common';
import {
  type BinaryOp,
  type Grouping,
  type LabelMatcher,
  type LabelPredicate,
  type LineFilter,
  type LogqlExpr,
  LogqlError,
  type LogSelection,
  type MatchOp,
  type MetricExpr,
  type NumberOp,
  RANGE_FUNCTIONS,
  type RangeFunction,
  type Stage,
  type TemplatePart,
  VECTOR_OPS,
  type VectorOp,
} from './ast.ts';

export const MAX_QUERY_CHARS = 16_384;
const MAX_DEPTH = 64;
/** Label names as Prometheus and Loki write them. */
export const LABEL_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseLogql(text: string): LogqlExpr {
  if (text.length > MAX_QUERY_CHARS) throw new LogqlError(`the query is ${text.length} characters long; at most ${MAX_QUERY_CHARS} are accepted`);
  if (text.trim() === '') throw new LogqlError('the query is empty');
  const tree = parser.parse(text);
  let error: SyntaxNode | null = null;
  tree.iterate({
    enter(node) {
      if (error) return false;
      if (node.type.isError) error = node.node;
      return undefined;
    },
  });
  if (error) throw syntaxError(text, (error as SyntaxNode).from);
  const top = tree.topNode.firstChild;
  if (top?.name !== 'Expr') throw syntaxError(text, 0);
  return new Converter(text).expr(top, 0);
}

function syntaxError(text: string, offset: number): LogqlError {
  const before = text.slice(0, offset).split('\n');
  const found = offset >= text.length ? 'end of input' : JSON.stringify(text.slice(offset, offset + 12));
  return new LogqlError(`parse error at line ${before.length}, col ${before[before.length - 1]!.length + 1}: syntax error: unexpected ${found}`);
}

const RANGE_FN_OF_NODE: ReadonlyMap<string, RangeFunction> = new Map(
  RANGE_FUNCTIONS.map((fn) => [
    fn === 'rate' ? 'Rate' : fn === 'bytes_rate' ? 'BytesRate' : fn.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()),
    fn,
  ]),
);
const VECTOR_OP_OF_NODE: ReadonlyMap<string, VectorOp> = new Map(VECTOR_OPS.map((op) => [op[0]!.toUpperCase() + op.slice(1), op]));
const BINARY_OP_OF_NODE: ReadonlyMap<string, BinaryOp> = new Map([
  ['Add', '+'],
  ['Sub', '-'],
  ['Mul', '*'],
  ['Div', '/'],
  ['Mod', '%'],
  ['Pow', '^'],
  ['Eql', '=='],
  ['Neq', '!='],
  ['Gtr', '>'],
  ['Gte', '>='],
  ['Lss', '<'],
  ['Lte', '<='],
]);
/** PromQL's precedence, loosest first (and/or/unless are refused). */
const PRECEDENCE: Record<BinaryOp, number> = { '==': 1, '!=': 1, '>': 1, '>=': 1, '<': 1, '<=': 1, '+': 2, '-': 2, '*': 3, '/': 3, '%': 3, '^': 4 };
const MATCH_OP_OF_NODE: ReadonlyMap<string, MatchOp> = new Map([
  ['Eq', '='],
  ['Neq', '!='],
  ['Re', '=~'],
  ['Nre', '!~'],
]);
const NUMBER_OP_OF_NODE: ReadonlyMap<string, NumberOp> = new Map([
  ['Eq', '=='],
  ['Eql', '=='],
  ['Neq', '!='],
  ['Gtr', '>'],
  ['Gte', '>='],
  ['Lss', '<'],
  ['Lte', '<='],
]);

/** Constructs of the grammar we refuse, by node name → how the 400 names them. */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['LabelReplaceExpr', 'label_replace'],
  ['LabelAggregationExpr', 'approx_count_distinct'],
  ['OffsetExpr', 'offset'],
  ['DecolorizeExpr', '| decolorize'],
  ['IpLabelFilter', 'ip() label filters'],
  ['UnitFilter', 'duration and bytes label filters'],
  ['DurationFilter', 'duration label filters'],
  ['BytesFilter', 'bytes label filters'],
  ['JsonExpressionParser', '| json with parameters'],
  ['LogfmtExpressionParser', '| logfmt with parameters'],
  ['LogfmtParserFlags', '| logfmt flags'],
]);

interface BinChain {
  operands: MetricExpr[];
  ops: { op: BinaryOp; bool: boolean; matching?: { on: boolean; labels: string[] } }[];
}

class Converter {
  constructor(private readonly text: string) {}

  private src(node: SyntaxNode): string {
    return this.text.slice(node.from, node.to);
  }

  private children(node: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  }

  private child(node: SyntaxNode, name: string): SyntaxNode | null {
    return this.children(node).find((c) => c.name === name) ?? null;
  }

  private refuse(node: SyntaxNode, what: string): never {
    throw new LogqlError(`${what} is not supported by NeuralLog's LogQL (at col ${node.from + 1}); see docs/grafana.md for the subset`);
  }

  private deeper(depth: number): number {
    if (depth >= MAX_DEPTH) throw new LogqlError(`the query nests deeper than ${MAX_DEPTH} levels`);
    return depth + 1;
  }

  expr(node: SyntaxNode, depth: number): LogqlExpr {
    const inner = node.firstChild;
    if (!inner) throw syntaxError(this.text, node.from);
    if (inner.name === 'LogExpr') return { kind: 'log', ...this.logSelection(inner) };
    if (inner.name === 'MetricExpr') return this.metric(inner, this.deeper(depth));
    return this.refuse(inner, this.src(inner));
  }

  private metricOfExpr(node: SyntaxNode, depth: number): MetricExpr {
    const e = this.expr(node, depth);
    if (e.kind === 'log')
      throw new LogqlError(
        'a log query cannot be an operand of a binary operation or an aggregation: wrap it in a range aggregation such as count_over_time({…}[1m])',
      );
    return e;
  }

  metric(node: SyntaxNode, depth: number): MetricExpr {
    const inner = node.firstChild;
    if (!inner) throw syntaxError(this.text, node.from);
    const unsupported = UNSUPPORTED.get(inner.name);
    if (unsupported) return this.refuse(inner, unsupported);
    switch (inner.name) {
      case 'MetricExpr':
        return this.metric(inner, this.deeper(depth)); // ( … )
      case 'RangeAggregationExpr':
        return this.rangeAggregation(inner);
      case 'VectorAggregationExpr':
        return this.vectorAggregation(inner, depth);
      case 'BinOpExpr':
        return this.binary(inner, depth);
      case 'LiteralExpr':
        return { kind: 'literal', value: this.literal(inner) };
      case 'VectorExpr': {
        const n = this.child(inner, 'Number');
        if (!n) throw syntaxError(this.text, inner.from);
        return { kind: 'vector', value: this.number(n) };
      }
      default:
        return this.refuse(inner, this.src(inner).split(/[\s(]/)[0] || inner.name);
    }
  }

  private literal(node: SyntaxNode): number {
    const n = this.child(node, 'Number');
    if (!n) throw syntaxError(this.text, node.from);
    const sign = this.child(node, 'Sub') ? -1 : 1;
    return sign * this.number(n);
  }

  private number(node: SyntaxNode): number {
    const value = Number(this.src(node));
    if (Number.isNaN(value)) throw new LogqlError(`${this.src(node)} is not a number`);
    return value;
  }

  /** `a op b op c …`: the grammar nests left without precedence; flatten, then rebuild by precedence. */
  private binary(node: SyntaxNode, depth: number): MetricExpr {
    const chain: BinChain = { operands: [], ops: [] };
    this.flatten(node, chain, depth);
    return this.climb(chain, 0, chain.operands.length - 1);
  }

  private flatten(node: SyntaxNode, chain: BinChain, depth: number): void {
    const parts = this.children(node);
    const [left, opNode, modifier, right] = [parts[0], parts[1], parts[2], parts[3]];
    if (!left || !opNode || !right || !modifier) throw syntaxError(this.text, node.from);
    if (opNode.name === 'And' || opNode.name === 'Or' || opNode.name === 'Unless') this.refuse(opNode, `the set operator ${this.src(opNode)}`);
    const op = BINARY_OP_OF_NODE.get(opNode.name);
    if (!op) this.refuse(opNode, this.src(opNode));
    // The left operand, when itself an unparenthesised binary expression, belongs to the same chain.
    const leftMetric = left.firstChild;
    const leftBin = leftMetric?.name === 'MetricExpr' ? leftMetric.firstChild : null;
    if (leftBin?.name === 'BinOpExpr') this.flatten(leftBin, chain, this.deeper(depth));
    else chain.operands.push(this.metricOfExpr(left, this.deeper(depth)));
    chain.ops.push({ op, ...this.modifier(modifier, op) });
    chain.operands.push(this.metricOfExpr(right, this.deeper(depth)));
  }

  private modifier(node: SyntaxNode, op: BinaryOp): { bool: boolean; matching?: { on: boolean; labels: string[] } } {
    let bool = false;
    let matching: { on: boolean; labels: string[] } | undefined;
    for (const c of this.children(node)) {
      if (c.name === 'Bool') {
        if (PRECEDENCE[op] !== 1) this.refuse(c, `bool with ${op}`);
        bool = true;
      } else if (c.name === 'OnOrIgnoringModifier') {
        for (const m of this.children(c)) {
          if (m.name === 'GroupLeft' || m.name === 'GroupRight') this.refuse(m, this.src(m));
        }
        const labels: string[] = [];
        const list = this.child(c, 'GroupingLabels');
        if (list) collectNames(this, list, labels);
        matching = { on: this.child(c, 'On') !== null, labels };
      } else {
        this.refuse(c, this.src(c));
      }
    }
    return { bool, ...(matching ? { matching } : {}) };
  }

  /** Operands lo…hi with the operators between them → one tree; ^ is right-associative, the rest left. */
  private climb(chain: BinChain, lo: number, hi: number): MetricExpr {
    if (lo === hi) return chain.operands[lo]!;
    // The split point: the loosest operator (rightmost for left-associative ones, leftmost for ^).
    let split = -1;
    for (let i = lo; i < hi; i++) {
      const p = PRECEDENCE[chain.ops[i]!.op];
      if (split < 0) split = i;
      else {
        const best = PRECEDENCE[chain.ops[split]!.op];
        if (p < best || (p === best && p !== 4)) split = i;
      }
    }
    const { op, bool, matching } = chain.ops[split]!;
    return { kind: 'binop', op, bool, ...(matching ? { matching } : {}), left: this.climb(chain, lo, split), right: this.climb(chain, split + 1, hi) };
  }

  private grouping(node: SyntaxNode | null): Grouping | undefined {
    if (!node) return undefined;
    const labels: string[] = [];
    const list = this.child(node, 'Labels');
    if (list) collectNames(this, list, labels);
    return { without: this.child(node, 'Without') !== null, labels };
  }

  private vectorAggregation(node: SyntaxNode, depth: number): MetricExpr {
    const opNode = this.child(node, 'VectorOp')?.firstChild;
    if (!opNode) throw syntaxError(this.text, node.from);
    const op = VECTOR_OP_OF_NODE.get(opNode.name);
    if (!op) return this.refuse(opNode, this.src(opNode));
    const inner = this.child(node, 'MetricExpr');
    if (!inner) throw syntaxError(this.text, node.from);
    const numberNode = this.child(node, 'Number');
    let param: number | undefined;
    if (op === 'topk' || op === 'bottomk') {
      if (!numberNode) throw new LogqlError(`${op} needs a parameter: ${op}(5, …)`);
      param = this.number(numberNode);
      if (!Number.isInteger(param) || param < 1 || param > 10_000) throw new LogqlError(`${op}'s parameter must be an integer from 1 to 10000`);
    } else if (numberNode) {
      throw new LogqlError(`${op} takes no parameter`);
    }
    const grouping = this.grouping(this.child(node, 'Grouping'));
    return {
      kind: 'vector_agg',
      op,
      ...(param !== undefined ? { param } : {}),
      ...(grouping ? { grouping } : {}),
      expr: this.metric(inner, this.deeper(depth)),
    };
  }

  private rangeAggregation(node: SyntaxNode): MetricExpr {
    const opNode = this.child(node, 'RangeOp')?.firstChild;
    if (!opNode) throw syntaxError(this.text, node.from);
    const fn = RANGE_FN_OF_NODE.get(opNode.name);
    if (!fn) return this.refuse(opNode, this.src(opNode));
    const rangeExpr = this.child(node, 'LogRangeExpr');
    if (!rangeExpr) throw syntaxError(this.text, node.from);
    const numberNode = this.child(node, 'Number');
    let param: number | undefined;
    if (fn === 'quantile_over_time') {
      if (!numberNode) throw new LogqlError('quantile_over_time needs φ: quantile_over_time(0.99, … | unwrap <label> [5m])');
      param = this.number(numberNode);
      if (!(param >= 0 && param <= 1)) throw new LogqlError("quantile_over_time's φ must be from 0 to 1");
    } else if (numberNode) {
      throw new LogqlError(`${fn} takes no parameter`);
    }
    const parts = this.children(rangeExpr);
    for (const p of parts) {
      const unsupported = UNSUPPORTED.get(p.name);
      if (unsupported) this.refuse(p, unsupported);
    }
    const selectorNode = parts.find((p) => p.name === 'Selector');
    const rangeNode = parts.find((p) => p.name === 'Range');
    if (!selectorNode || !rangeNode) {
      // `count_over_time(({a="b"})[1m])` and other shapes the editor accepts
      return this.refuse(rangeExpr, 'this form of range expression');
    }
    const pipeline = parts.find((p) => p.name === 'PipelineExpr');
    const unwrapNode = parts.find((p) => p.name === 'UnwrapExpr');
    const selection: LogSelection = { selector: this.selector(selectorNode), stages: pipeline ? this.pipeline(pipeline) : [] };
    const durationNode = this.child(rangeNode, 'Duration');
    if (!durationNode) throw syntaxError(this.text, rangeNode.from);
    const rangeNs = parseDurationNs(this.src(durationNode));
    if (rangeNs <= 0n) throw new LogqlError(`the range [${this.src(durationNode)}] must be positive`);
    let unwrap: string | undefined;
    if (unwrapNode) {
      if (this.child(unwrapNode, 'ConvOp')) this.refuse(unwrapNode, 'unwrap with a conversion function (duration(), bytes())');
      if (this.child(unwrapNode, 'PipelineExpr') || this.child(unwrapNode, 'LabelFilter')) this.refuse(unwrapNode, 'a pipeline after unwrap');
      const id = this.child(unwrapNode, 'Identifier');
      if (!id) throw syntaxError(this.text, unwrapNode.from);
      unwrap = this.labelName(id);
    }
    const unwrapped = ['sum_over_time', 'avg_over_time', 'min_over_time', 'max_over_time', 'quantile_over_time'].includes(fn);
    if (unwrapped && !unwrap) throw new LogqlError(`${fn} needs an unwrapped label: ${fn}(… | unwrap <label> [1m])`);
    if (unwrap && !unwrapped && fn !== 'rate') throw new LogqlError(`${fn} does not take | unwrap`);
    const grouping = this.grouping(this.child(node, 'Grouping'));
    if (grouping && !unwrapped) throw new LogqlError(`${fn} takes no by/without grouping: group with an aggregation, e.g. sum by (…) (${fn}(…))`);
    return {
      kind: 'range',
      fn,
      ...(param !== undefined ? { param } : {}),
      ...selection,
      rangeNs,
      ...(unwrap ? { unwrap } : {}),
      ...(grouping ? { grouping } : {}),
    };
  }

  private logSelection(node: SyntaxNode): LogSelection {
    const parts = this.children(node);
    const selectorNode = parts.find((p) => p.name === 'Selector');
    if (!selectorNode) return this.refuse(node, 'a log expression without a stream selector');
    for (const p of parts) if (p.name !== 'Selector' && p.name !== 'PipelineExpr') this.refuse(p, this.src(p));
    const pipeline = parts.find((p) => p.name === 'PipelineExpr');
    return { selector: this.selector(selectorNode), stages: pipeline ? this.pipeline(pipeline) : [] };
  }

  selector(node: SyntaxNode): LabelMatcher[] {
    const matchers: LabelMatcher[] = [];
    const walk = (n: SyntaxNode) => {
      for (const c of this.children(n)) {
        if (c.name === 'Matchers') walk(c);
        else if (c.name === 'Matcher') matchers.push(this.matcher(c));
      }
    };
    walk(node);
    if (!matchers.some((m) => !emptyCompatible(m)))
      throw new LogqlError(
        'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will',
      );
    return matchers;
  }

  private matcher(node: SyntaxNode): LabelMatcher {
    const [id, opNode, str] = this.children(node);
    if (!id || !opNode || !str || id.name !== 'Identifier' || str.name !== 'String') throw syntaxError(this.text, node.from);
    const op = MATCH_OP_OF_NODE.get(opNode.name);
    if (!op) return this.refuse(opNode, this.src(opNode));
    return { name: this.labelName(id), op, value: this.string(str) };
  }

  private labelName(node: SyntaxNode): string {
    const name = this.src(node);
    if (!LABEL_NAME_RE.test(name) || name.length > 256) throw new LogqlError(`"${name.slice(0, 64)}" is not a label name`);
    return name;
  }

  /** A Go string literal: "…" with escapes, or `…` raw. */
  string(node: SyntaxNode): string {
    const raw = this.src(node);
    if (raw.startsWith('`')) return raw.slice(1, -1);
    try {
      const value: unknown = JSON.parse(raw.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1'));
      if (typeof value === 'string') return value;
    } catch {
      // fall through
    }
    throw new LogqlError(`${raw.slice(0, 64)} is not a valid string (escape \\ and " with a backslash)`);
  }

  pipeline(node: SyntaxNode): Stage[] {
    const stages: Stage[] = [];
    const walk = (n: SyntaxNode) => {
      for (const c of this.children(n)) {
        if (c.name === 'PipelineExpr') walk(c);
        else if (c.name === 'PipelineStage') stages.push(...this.stage(c));
        else this.refuse(c, this.src(c));
      }
    };
    walk(node);
    return stages;
  }

  private stage(node: SyntaxNode): Stage[] {
    const parts = this.children(node).filter((c) => c.name !== 'Pipe');
    const body = parts[0];
    if (!body || parts.length !== 1) throw syntaxError(this.text, node.from);
    const unsupported = UNSUPPORTED.get(body.name);
    if (unsupported) return this.refuse(body, unsupported);
    switch (body.name) {
      case 'LineFilters':
        return this.lineFilters(body);
      case 'LabelParser': {
        const kind = body.firstChild?.name;
        if (kind === 'Json') return [{ type: 'parser', parser: 'json' }];
        return this.refuse(body, `| ${this.src(body)}`);
      }
      case 'LogfmtParser':
        if (this.children(body).length !== 1) this.refuse(body, '| logfmt flags');
        return [{ type: 'parser', parser: 'logfmt' }];
      case 'LabelFilter':
        return [{ type: 'label', predicate: this.labelPredicate(body, 0) }];
      case 'LineFormatExpr': {
        const str = this.child(body, 'String');
        if (!str) throw syntaxError(this.text, body.from);
        return [{ type: 'line_format', template: this.template(str) }];
      }
      case 'LabelFormatExpr': {
        const items: { dst: string; src?: string; template?: TemplatePart[] }[] = [];
        const walk = (n: SyntaxNode) => {
          for (const c of this.children(n)) {
            if (c.name === 'LabelsFormat') walk(c);
            else if (c.name === 'LabelFormatMatcher') {
              const [dst, , value] = this.children(c);
              if (!dst || !value) throw syntaxError(this.text, c.from);
              if (value.name === 'Identifier') items.push({ dst: this.labelName(dst), src: this.labelName(value) });
              else items.push({ dst: this.labelName(dst), template: this.template(value) });
            }
          }
        };
        walk(body);
        return [{ type: 'label_format', items }];
      }
      case 'DropLabelsExpr':
      case 'KeepLabelsExpr': {
        const names: string[] = [];
        const matchers: LabelMatcher[] = [];
        const walk = (n: SyntaxNode) => {
          for (const c of this.children(n)) {
            if (c.name === 'DropLabels' || c.name === 'KeepLabels') walk(c);
            else if (c.name === 'DropLabel' || c.name === 'KeepLabel') {
              const m = this.child(c, 'Matcher');
              if (m) matchers.push(this.matcher(m));
              else {
                const id = this.child(c, 'Identifier');
                if (!id) throw syntaxError(this.text, c.from);
                names.push(this.labelName(id));
              }
            }
          }
        };
        walk(body);
        return [{ type: body.name === 'DropLabelsExpr' ? 'drop' : 'keep', names, matchers }];
      }
      default:
        return this.refuse(body, `| ${this.src(body).split(/\s/)[0]}`);
    }
  }

  private lineFilters(node: SyntaxNode): Stage[] {
    const out: Stage[] = [];
    for (const c of this.children(node)) {
      if (c.name === 'LineFilters') out.push(...this.lineFilters(c));
      else if (c.name === 'LineFilter') out.push({ type: 'line', filter: this.lineFilter(c) });
      else this.refuse(c, this.src(c));
    }
    return out;
  }

  private lineFilter(node: SyntaxNode): LineFilter {
    const opNode = this.child(node, 'Filter')?.firstChild;
    if (!opNode) throw syntaxError(this.text, node.from);
    const op = ({ PipeExact: '|=', Neq: '!=', PipeMatch: '|~', Nre: '!~' } as const)[opNode.name as 'PipeExact'];
    if (!op) return this.refuse(opNode, `the line filter ${this.src(opNode)}`);
    const values: string[] = [];
    const walk = (n: SyntaxNode) => {
      for (const c of this.children(n)) {
        if (c.name === 'String') values.push(this.string(c));
        else if (c.name === 'OrFilter') walk(c);
        else if (c.name === 'FilterOp' || c.name === 'Ip') this.refuse(c, 'ip() line filters');
        else if (c.name !== 'Filter' && c.name !== 'Or') this.refuse(c, this.src(c));
      }
    };
    walk(node);
    if (values.length === 0) throw syntaxError(this.text, node.from);
    return { op, values };
  }

  private labelPredicate(node: SyntaxNode, depth: number): LabelPredicate {
    if (depth > MAX_DEPTH) throw new LogqlError(`the query nests deeper than ${MAX_DEPTH} levels`);
    const parts = this.children(node);
    const unsupported = parts.map((p) => UNSUPPORTED.get(p.name)).find((u) => u);
    if (unsupported) return this.refuse(node, unsupported);
    const filters = parts.filter((p) => p.name === 'LabelFilter');
    if (filters.length === 2) {
      // `a and b`, `a or b`, `a, b` and `a b` (both: and)
      const type = parts.some((p) => p.name === 'Or') ? 'or' : 'and';
      return { type, left: this.labelPredicate(filters[0]!, depth + 1), right: this.labelPredicate(filters[1]!, depth + 1) };
    }
    if (filters.length === 1 && parts.length === 1) return this.labelPredicate(filters[0]!, depth + 1); // ( … )
    const only = parts[0];
    if (!only || parts.length !== 1) throw syntaxError(this.text, node.from);
    if (only.name === 'Matcher') return { type: 'match', matcher: this.matcher(only) };
    if (only.name === 'NumberFilter') {
      const [id, opNode, lit] = this.children(only);
      if (!id || !opNode || !lit) throw syntaxError(this.text, only.from);
      const op = NUMBER_OP_OF_NODE.get(opNode.name);
      if (!op) return this.refuse(opNode, this.src(opNode));
      return { type: 'number', name: this.labelName(id), op, value: this.literal(lit) };
    }
    return this.refuse(only, this.src(only));
  }

  /** `{{.name}}`, `{{ .name }}`, `{{__line__}}` and literal text; anything else in braces is refused. */
  private template(node: SyntaxNode): TemplatePart[] {
    const text = this.string(node);
    const parts: TemplatePart[] = [];
    const re = /\{\{-?\s*(.*?)\s*-?\}\}/gs;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m.index > last) parts.push({ text: text.slice(last, m.index) });
      const action = m[1]!;
      if (action === '__line__') parts.push({ line: true });
      else if (/^\.[A-Za-z_][A-Za-z0-9_]*$/.test(action)) parts.push({ label: action.slice(1) });
      else this.refuse(node, `the template action {{${action.slice(0, 40)}}} (only {{.label}} and {{__line__}} are)`);
      last = re.lastIndex;
    }
    if (last < text.length) parts.push({ text: text.slice(last) });
    if (parts.some((p) => 'text' in p && p.text.includes('{{'))) this.refuse(node, 'an unclosed template action');
    return parts;
  }
}

function collectNames(conv: Converter, node: SyntaxNode, out: string[]): void {
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (c.name === 'Identifier' || c.name === 'LabelName') {
      const name = (conv as unknown as { text: string }).text.slice(c.from, c.to);
      if (!LABEL_NAME_RE.test(name)) throw new LogqlError(`"${name.slice(0, 64)}" is not a label name`);
      out.push(name);
    } else collectNames(conv, c, out);
  }
}

/** A matcher every stream satisfies, even one without the label (`x=""`, `x=~".*"`, `x!="a"`). */
function emptyCompatible(m: LabelMatcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
    case '!~':
      return matchesEmpty(m);
  }
}

const DURATION_UNITS_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
  ['d', 86_400_000_000_000n],
  ['w', 604_800_000_000_000n],
  ['y', 31_536_000_000_000_000n],
]);

/** A Prometheus duration (`1h30m`, `15000ms`) → nanoseconds. */
export function parseDurationNs(text: string): bigint {
  const re = /(\d+)(ns|us|µs|ms|s|m|h|d|w|y)/gy;
  let total = 0n;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += BigInt(m[1]!) * DURATION_UNITS_NS.get(m[2]!)!;
    at = re.lastIndex;
  }
  if (at !== text.length || text === '') throw new LogqlError(`"${text.slice(0, 32)}" is not a duration (write 30s, 5m, 1h…)`);
  return total;
}
