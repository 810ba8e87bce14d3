/**
 * LogQL over records in memory: the reference the SQL path is tested against
 * (test/query/logql-differential.test.ts) and the matcher of live tail, where
 * records are matched as they are accepted. Clause by clause it follows the
 * definitions the SQL compiler (sql.ts) follows — labels from labels.ts,
 * regular expressions as regex.ts restricts them, numbers as NUMBER_RE reads
 * them — and finishes metric queries with the same series.ts.
 */
import type { LabelMatcher, LabelPredicate, LineFilter, LogSelection, LogQuery, MetricExpr, Stage, TemplatePart } from './ast.ts';
import { entryLabel, entryLabels, type LabelSource, labelsKey, streamLabel } from './labels.ts';
import { jsRegExp } from './regex.ts';
import {
  binary,
  checkSeriesCount,
  emptyAggregate,
  groupLabels,
  mergeAggregate,
  rangeSeries,
  type Series,
  type Value,
  vectorAggregate,
  type WindowAggregate,
} from './series.ts';
import { checkRangeStages, checkStages, matchesEmpty, NUMBER_RE } from './sql.ts';

export interface EvalRow extends LabelSource {
  /** Nanoseconds since the epoch. */
  ns: bigint;
  LogId: string;
  Body: string;
  LogAttributes: Record<string, string>;
}

function matcherTest(m: LabelMatcher): (value: string) => boolean {
  switch (m.op) {
    case '=':
      return (v) => v === m.value;
    case '!=':
      return (v) => v !== m.value;
    case '=~': {
      const re = jsRegExp(m.value, true);
      return (v) => re.test(v);
    }
    case '!~': {
      const re = jsRegExp(m.value, true);
      return (v) => !re.test(v);
    }
  }
}

function lineTest(f: LineFilter): (line: string) => boolean {
  const tests = f.values.map((v): ((line: string) => boolean) => {
    if (f.op === '|=' || f.op === '!=') return (line) => line.includes(v);
    const re = jsRegExp(v, false);
    return (line) => re.test(line);
  });
  const any = (line: string) => tests.some((t) => t(line));
  return f.op === '|=' || f.op === '|~' ? any : (line) => !any(line);
}

function predicateTest(p: LabelPredicate): (row: EvalRow) => boolean {
  switch (p.type) {
    case 'and': {
      const [a, b] = [predicateTest(p.left), predicateTest(p.right)];
      return (r) => a(r) && b(r);
    }
    case 'or': {
      const [a, b] = [predicateTest(p.left), predicateTest(p.right)];
      return (r) => a(r) || b(r);
    }
    case 'match': {
      if (p.matcher.name === '__error__' || p.matcher.name === '__error_details__') {
        const result = matchesEmpty(p.matcher);
        return () => result;
      }
      const test = matcherTest(p.matcher);
      const name = p.matcher.name;
      return (r) => test(entryLabel(r, name));
    }
    case 'number': {
      const { name, op, value } = p;
      return (r) => {
        const n = numberOf(entryLabel(r, name));
        if (n === null) return false;
        switch (op) {
          case '==':
            return n === value;
          case '!=':
            return n !== value;
          case '>':
            return n > value;
          case '>=':
            return n >= value;
          case '<':
            return n < value;
          case '<=':
            return n <= value;
        }
      };
    }
  }
}

export function numberOf(text: string): number | null {
  return NUMBER_RE.test(text) ? Number(text) : null;
}

/** The selection as a predicate over one record (the rows a query reads before formatting). */
export function compileSelection(selection: LogSelection): (row: EvalRow) => boolean {
  checkStages(selection.stages);
  const tests: ((row: EvalRow) => boolean)[] = selection.selector.map((m) => {
    const test = matcherTest(m);
    return (r) => test(streamLabel(r, m.name));
  });
  for (const stage of selection.stages) {
    if (stage.type === 'line') {
      const test = lineTest(stage.filter);
      tests.push((r) => test(r.Body));
    } else if (stage.type === 'label') tests.push(predicateTest(stage.predicate));
  }
  return (r) => tests.every((t) => t(r));
}

function render(template: TemplatePart[], labels: ReadonlyMap<string, string>, line: string): string {
  return template.map((p) => ('text' in p ? p.text : 'line' in p ? line : (labels.get(p.label) ?? ''))).join('');
}

/** The formatting stages (line_format, label_format, drop, keep) on one record's labels and line. */
export function applyFormatting(stages: Stage[], labels: Map<string, string>, line: string): { labels: Map<string, string>; line: string } {
  let out = labels;
  let text = line;
  for (const stage of stages) {
    switch (stage.type) {
      case 'line_format':
        text = render(stage.template, out, text);
        break;
      case 'label_format': {
        const next = new Map(out);
        for (const item of stage.items) {
          if (item.src !== undefined) {
            const v = out.get(item.src) ?? '';
            next.delete(item.src);
            if (v === '') next.delete(item.dst);
            else next.set(item.dst, v);
          } else {
            const v = render(item.template!, out, text);
            if (v === '') next.delete(item.dst);
            else next.set(item.dst, v);
          }
        }
        out = next;
        break;
      }
      case 'drop': {
        const next = new Map(out);
        for (const name of stage.names) next.delete(name);
        for (const m of stage.matchers) if (next.has(m.name) && matcherTest(m)(next.get(m.name)!)) next.delete(m.name);
        out = next;
        break;
      }
      case 'keep': {
        const next = new Map<string, string>();
        for (const name of stage.names) if (out.has(name)) next.set(name, out.get(name)!);
        for (const m of stage.matchers) if (out.has(m.name) && matcherTest(m)(out.get(m.name)!)) next.set(m.name, out.get(m.name)!);
        out = next;
        break;
      }
      default:
        break;
    }
  }
  return { labels: out, line: text };
}

export interface Stream {
  labels: Map<string, string>;
  entries: [bigint, string][];
}

/** Rows (already read in answer order, at most the limit) → Loki's streams: grouped by label set in order of first appearance. */
export function toStreams(stages: Stage[], rows: EvalRow[]): Stream[] {
  const streams = new Map<string, Stream>();
  for (const row of rows) {
    const { labels, line } = applyFormatting(stages, entryLabels(row), row.Body);
    const key = labelsKey(labels);
    let s = streams.get(key);
    if (!s) {
      s = { labels, entries: [] };
      streams.set(key, s);
    }
    s.entries.push([row.ns, line]);
  }
  return [...streams.values()];
}

/** The reference log query: [start, end), ordered by (time, LogId) in the direction, at most `limit`. */
export function evaluateLogQuery(
  query: LogQuery,
  rows: EvalRow[],
  opts: { startNs: bigint; endNs: bigint; limit: number; direction: 'forward' | 'backward' },
): Stream[] {
  const test = compileSelection(query);
  const picked = rows.filter((r) => r.ns >= opts.startNs && r.ns < opts.endNs && test(r));
  picked.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.LogId < b.LogId ? -1 : a.LogId > b.LogId ? 1 : 0));
  if (opts.direction === 'backward') picked.reverse();
  return toStreams(query.stages, picked.slice(0, opts.limit));
}

export interface StepGrid {
  startNs: bigint;
  stepNs: bigint;
  /** How many steps: start, start + step, … */
  steps: number;
}

/** The reference metric query: every step's window (t − range, t] read from the rows. */
export function evaluateMetric(expr: MetricExpr, rows: EvalRow[], grid: StepGrid): Value {
  switch (expr.kind) {
    case 'literal':
      return { type: 'scalar', value: expr.value };
    case 'vector': {
      const points = new Map<number, number>();
      for (let k = 0; k < grid.steps; k++) points.set(k, expr.value);
      return { type: 'vector', series: [{ labels: new Map(), points }] };
    }
    case 'vector_agg':
      return vectorAggregate(expr, evaluateMetric(expr.expr, rows, grid), grid.steps);
    case 'binop':
      return binary(expr, evaluateMetric(expr.left, rows, grid), evaluateMetric(expr.right, rows, grid));
    case 'range': {
      checkRangeStages(expr);
      const test = compileSelection(expr);
      const groups = new Map<string, { labels: Map<string, string>; windows: Map<number, WindowAggregate> }>();
      const keepValues = expr.fn === 'quantile_over_time';
      for (const row of rows) {
        if (!test(row)) continue;
        let value = 0;
        if (expr.unwrap) {
          const n = numberOf(entryLabel(row, expr.unwrap));
          if (n === null) continue;
          value = n;
        }
        let labels = applyFormatting(expr.stages, entryLabels(row), row.Body).labels;
        if (expr.grouping) labels = groupLabels(labels, expr.grouping);
        const key = labelsKey(labels);
        let g = groups.get(key);
        if (!g) {
          g = { labels, windows: new Map() };
          groups.set(key, g);
        }
        for (let k = 0; k < grid.steps; k++) {
          const t = grid.startNs + BigInt(k) * grid.stepNs;
          if (!(row.ns > t - expr.rangeNs && row.ns <= t)) continue;
          let w = g.windows.get(k);
          if (!w) {
            w = emptyAggregate(keepValues);
            g.windows.set(k, w);
          }
          mergeAggregate(w, {
            n: 1,
            bytes: new TextEncoder().encode(row.Body).byteLength,
            sum: value,
            min: value,
            max: value,
            ...(keepValues ? { values: [value] } : {}),
          });
        }
      }
      const series: Series[] = rangeSeries(expr, groups, grid.steps);
      checkSeriesCount(series.length);
      return { type: 'vector', series };
    }
  }
}
