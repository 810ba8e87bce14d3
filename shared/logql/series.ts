/**
 * Metric values over the steps of a query, and what LogQL does with them once
 * the range aggregations have their samples: the functions' values from a
 * window's aggregate, vector aggregations (sum, topk…), binary operations.
 * Shared by the worker (which gets window aggregates from ClickHouse) and the
 * in-memory evaluator (which builds them from rows), so both finish a query
 * the same way.
 */
import { type BinaryExpr, type Grouping, LogqlError, type RangeAggregation, type VectorAggregation } from './ast.ts';
import { labelsKey } from './labels.ts';

/** At most this many series in one answer (Loki's max_query_series default). */
export const MAX_SERIES = 500;

export interface Series {
  labels: Map<string, string>;
  /** Step index → value; a step without a sample is absent. */
  points: Map<number, number>;
}

export type Value = { type: 'scalar'; value: number } | { type: 'vector'; series: Series[] };

/** What a window of one series holds: enough to give every range function its value. */
export interface WindowAggregate {
  n: number;
  bytes: number;
  sum: number;
  min: number;
  max: number;
  /** The unwrapped values, kept for quantile_over_time only. */
  values?: number[];
}

export function emptyAggregate(keepValues: boolean): WindowAggregate {
  return { n: 0, bytes: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, ...(keepValues ? { values: [] } : {}) };
}

export function mergeAggregate(into: WindowAggregate, from: WindowAggregate): void {
  into.n += from.n;
  into.bytes += from.bytes;
  into.sum += from.sum;
  into.min = Math.min(into.min, from.min);
  into.max = Math.max(into.max, from.max);
  if (into.values && from.values) for (const v of from.values) into.values.push(v);
}

/** A range function's value for one window (absent_over_time is handled by the caller). */
export function rangeValue(node: RangeAggregation, agg: WindowAggregate): number {
  const seconds = Number(node.rangeNs) / 1e9;
  switch (node.fn) {
    case 'count_over_time':
      return agg.n;
    case 'rate':
      return (node.unwrap ? agg.sum : agg.n) / seconds;
    case 'bytes_over_time':
      return agg.bytes;
    case 'bytes_rate':
      return agg.bytes / seconds;
    case 'sum_over_time':
      return agg.sum;
    case 'avg_over_time':
      return agg.sum / agg.n;
    case 'min_over_time':
      return agg.min;
    case 'max_over_time':
      return agg.max;
    case 'quantile_over_time':
      return quantile(node.param!, agg.values ?? []);
    case 'absent_over_time':
      return 1;
  }
}

/** Prometheus's quantile: linear interpolation between the closest ranks. */
export function quantile(phi: number, values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = phi * (sorted.length - 1);
  const lo = Math.max(0, Math.floor(rank));
  const hi = Math.min(sorted.length - 1, lo + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lo]! * (1 - weight) + sorted[hi]! * weight;
}

/** Series of window aggregates (by label set) → the range function's series. */
export function rangeSeries(
  node: RangeAggregation,
  groups: Map<string, { labels: Map<string, string>; windows: Map<number, WindowAggregate> }>,
  steps: number,
): Series[] {
  if (node.fn === 'absent_over_time') {
    // One series, labelled by the selector's equality matchers, at the steps where nothing matched.
    const seen = new Set<number>();
    for (const g of groups.values()) for (const [k, w] of g.windows) if (w.n > 0) seen.add(k);
    const labels = new Map<string, string>();
    for (const m of node.selector) if (m.op === '=' && m.name !== 'level' && m.name !== 'service') labels.set(m.name, m.value);
    const points = new Map<number, number>();
    for (let k = 0; k < steps; k++) if (!seen.has(k)) points.set(k, 1);
    return points.size > 0 ? [{ labels, points }] : [];
  }
  const out: Series[] = [];
  for (const g of groups.values()) {
    const points = new Map<number, number>();
    for (const [k, w] of [...g.windows].sort((a, b) => a[0] - b[0])) if (w.n > 0) points.set(k, rangeValue(node, w));
    if (points.size > 0) out.push({ labels: g.labels, points });
  }
  checkSeriesCount(out.length);
  return out;
}

export function checkSeriesCount(n: number): void {
  if (n > MAX_SERIES) throw new LogqlError(`maximum of series (${MAX_SERIES}) reached for a single query; aggregate with sum by (…) or narrow the selector`);
}

/** The labels a grouping keeps. */
export function groupLabels(labels: ReadonlyMap<string, string>, grouping: Grouping | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!grouping) return out;
  if (grouping.without) {
    const drop = new Set(grouping.labels);
    for (const [k, v] of labels) if (!drop.has(k)) out.set(k, v);
  } else {
    for (const name of grouping.labels) {
      const v = labels.get(name);
      if (v !== undefined && v !== '') out.set(name, v);
    }
  }
  return out;
}

export function vectorAggregate(node: VectorAggregation, input: Value, steps: number): Value {
  if (input.type !== 'vector') throw new LogqlError(`${node.op} takes a vector, not a scalar`);
  const groups = new Map<string, { labels: Map<string, string>; members: Series[] }>();
  for (const s of input.series) {
    const labels = groupLabels(s.labels, node.grouping);
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) {
      g = { labels, members: [] };
      groups.set(key, g);
    }
    g.members.push(s);
  }
  if (node.op === 'topk' || node.op === 'bottomk') {
    const k = node.param!;
    const kept = new Map<Series, Map<number, number>>();
    for (const g of groups.values()) {
      for (let step = 0; step < steps; step++) {
        const present = g.members.filter((s) => s.points.has(step));
        // Ties go to the smaller label set, so the answer does not depend on the order series arrived in.
        present.sort((a, b) => {
          const d = node.op === 'topk' ? b.points.get(step)! - a.points.get(step)! : a.points.get(step)! - b.points.get(step)!;
          if (d !== 0) return d;
          const [x, y] = [labelsKey(a.labels), labelsKey(b.labels)];
          return x < y ? -1 : x > y ? 1 : 0;
        });
        for (const s of present.slice(0, k)) {
          let points = kept.get(s);
          if (!points) {
            points = new Map();
            kept.set(s, points);
          }
          points.set(step, s.points.get(step)!);
        }
      }
    }
    return { type: 'vector', series: input.series.filter((s) => kept.has(s)).map((s) => ({ labels: s.labels, points: kept.get(s)! })) };
  }
  const out: Series[] = [];
  for (const g of groups.values()) {
    const points = new Map<number, number>();
    for (let step = 0; step < steps; step++) {
      const values: number[] = [];
      for (const s of g.members) {
        const v = s.points.get(step);
        if (v !== undefined) values.push(v);
      }
      if (values.length > 0) points.set(step, aggregateValues(node.op, values));
    }
    if (points.size > 0) out.push({ labels: g.labels, points });
  }
  return { type: 'vector', series: out };
}

function aggregateValues(op: VectorAggregation['op'], values: number[]): number {
  switch (op) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
    case 'max':
      return values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
    case 'count':
      return values.length;
    case 'stddev':
    case 'stdvar': {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
      return op === 'stddev' ? Math.sqrt(variance) : variance;
    }
    default:
      throw new LogqlError(`${op} cannot aggregate here`);
  }
}

const COMPARISONS = new Set(['==', '!=', '>', '>=', '<', '<=']);

function apply(op: BinaryExpr['op'], a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return a ** b;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
  }
}

export function binary(node: BinaryExpr, left: Value, right: Value): Value {
  const comparison = COMPARISONS.has(node.op);
  if (left.type === 'scalar' && right.type === 'scalar') {
    if (comparison && !node.bool) throw new LogqlError('comparisons between scalars must use the bool modifier');
    return { type: 'scalar', value: apply(node.op, left.value, right.value) };
  }
  if (left.type === 'scalar' || right.type === 'scalar') {
    const vectorOnLeft = left.type === 'vector';
    const vector = (vectorOnLeft ? left : right) as Extract<Value, { type: 'vector' }>;
    const scalar = (vectorOnLeft ? right : left) as Extract<Value, { type: 'scalar' }>;
    const series: Series[] = [];
    for (const s of vector.series) {
      const points = new Map<number, number>();
      for (const [k, v] of s.points) {
        const result = vectorOnLeft ? apply(node.op, v, scalar.value) : apply(node.op, scalar.value, v);
        if (!comparison || node.bool) points.set(k, result);
        else if (result === 1) points.set(k, v);
      }
      if (points.size > 0) series.push({ labels: s.labels, points });
    }
    return { type: 'vector', series };
  }
  // Vector with vector: one-to-one on the label sets (or on / ignoring the named labels).
  const matchKey = (labels: Map<string, string>) => {
    if (!node.matching) return labelsKey(labels);
    return labelsKey(groupLabels(labels, { without: !node.matching.on, labels: node.matching.labels }));
  };
  const rights = new Map<string, Series>();
  for (const s of right.series) {
    const key = matchKey(s.labels);
    if (rights.has(key))
      throw new LogqlError('found duplicate series for the match group on the right hand-side of the operation: many-to-many matching is not supported');
    rights.set(key, s);
  }
  const seenLeft = new Set<string>();
  const series: Series[] = [];
  for (const s of left.series) {
    const key = matchKey(s.labels);
    const other = rights.get(key);
    if (!other) continue;
    if (seenLeft.has(key))
      throw new LogqlError('found duplicate series for the match group on the left hand-side of the operation: many-to-many matching is not supported');
    seenLeft.add(key);
    const labels = node.matching ? groupLabels(s.labels, { without: !node.matching.on, labels: node.matching.labels }) : s.labels;
    const points = new Map<number, number>();
    for (const [k, v] of s.points) {
      const w = other.points.get(k);
      if (w === undefined) continue;
      const result = apply(node.op, v, w);
      if (!comparison || node.bool) points.set(k, result);
      else if (result === 1) points.set(k, v);
    }
    if (points.size > 0) series.push({ labels, points });
  }
  return { type: 'vector', series };
}

/** A sample value as Prometheus and Loki write it. */
export function formatSample(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
