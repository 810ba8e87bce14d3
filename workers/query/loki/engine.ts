/**
 * LogQL against ClickHouse: a log query is one SELECT of rows; a metric
 * query is one GROUP BY per range aggregation, finished in the worker by
 * shared/logql/series.ts (the same code the in-memory evaluator finishes with).
 *
 * A range aggregation's windows are (t − range, t] for the steps
 * t = start + k·step. Each row is counted in the window of every step whose
 * window holds it — `arrayJoin(range(first k, last k + 1))`, or one k when the
 * range equals the step (Grafana's `[$__interval]`, every row in exactly one
 * window) — so ClickHouse returns one aggregate per (step, series).
 *
 * Series are grouped by every entry label (their columns: the service, the
 * level, the resource and the attributes), or — when a sum/min/max by (…)
 * over an additive range function asks for it, or the range aggregation has
 * its own `by` — by those labels alone, in SQL: `sum by (level)
 * (count_over_time(…))` reads no map at all.
 *
 * Counts the per-minute summary holds (summaryPlan): a count_over_time or
 * rate grouped by level and/or service, selected by level and/or service
 * only, with no filter, over windows whose edges are whole minutes (the
 * range, the step and the start) — Grafana's volume histogram — are read from
 * the table's per-minute projection (ClickHouse migration 0006, which the
 * native histogram reads too), instead of the rows. Windows are (t − range, t], a
 * minute's counts [m, m + 1 min): the projection
 * counts the records exactly on a minute apart, and those are moved to the
 * window ending there, so the answer is the rows' to the record.
 */
import type { Context } from 'hono';
import type { LabelMatcher, LogQuery, MetricExpr, RangeAggregation } from '../../../shared/logql/ast.ts';
import { applyFormatting, type EvalRow, type StepGrid, type Stream, toStreams } from '../../../shared/logql/evaluate.ts';
import { entryLabels, labelsKey } from '../../../shared/logql/labels.ts';
import {
  binary,
  checkSeriesCount,
  emptyAggregate,
  groupLabels,
  mergeAggregate,
  rangeSeries,
  type Value,
  vectorAggregate,
  type WindowAggregate,
} from '../../../shared/logql/series.ts';
import { checkRangeStages, entryLabelSql, hasFormatting, selectionSql, selectorSql, SqlParams, unwrapSql } from '../../../shared/logql/sql.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { formatClickHouseTime } from '../../../shared/timestamp.ts';
import type { QueryApp } from '../env.ts';
import { runBoundedQuery, runQuery } from '../run-query.ts';

const NS_PER_S = 1_000_000_000n;

/** ns since the epoch → ClickHouse's DateTime64(9) text. */
export function nsToClickHouse(ns: bigint): string {
  const seconds = ns / NS_PER_S;
  return formatClickHouseTime({ seconds: Number(seconds), nanos: Number(ns - seconds * NS_PER_S) });
}

/** Tenant first, then the time bounds on the key's whole-second column and the exact ones. */
function timeWhere(tenantId: string, fromNs: bigint, toNs: bigint, toInclusive: boolean, fromExclusive: boolean) {
  const params: Record<string, string | number | string[]> = { tenant: tenantId, from: nsToClickHouse(fromNs), to: nsToClickHouse(toNs) };
  const where = [
    'TenantId = {tenant:String}',
    "TimestampTime >= toDateTime({from:DateTime64(9, 'UTC')})",
    "TimestampTime <= toDateTime({to:DateTime64(9, 'UTC')})",
    `Timestamp ${fromExclusive ? '>' : '>='} {from:DateTime64(9, 'UTC')}`,
    `Timestamp ${toInclusive ? '<=' : '<'} {to:DateTime64(9, 'UTC')}`,
  ];
  return { where, params };
}

interface LogRowOut {
  ns: string;
  LogId: string;
  Body: string;
  ServiceName: string;
  SeverityNumber: number;
  ResourceAttributes: Record<string, string>;
  LogAttributes: Record<string, string>;
}

/** The SQL of a log query: rows in [start, end), in the direction's order, at most `limit`. */
export function compileLogQuery(tenantId: string, query: LogQuery, opts: { startNs: bigint; endNs: bigint; limit: number; direction: 'forward' | 'backward' }) {
  const { where, params } = timeWhere(tenantId, opts.startNs, opts.endNs, false, false);
  const sqlParams = new SqlParams();
  where.push(...selectionSql(query, sqlParams));
  Object.assign(params, sqlParams.values);
  params.limit = opts.limit;
  const order = opts.direction === 'forward' ? 'ASC' : 'DESC';
  return {
    sql:
      'SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, LogId, Body, ServiceName, SeverityNumber, ResourceAttributes, LogAttributes ' +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} ORDER BY TimestampTime ${order}, Timestamp ${order}, LogId ${order} LIMIT {limit:UInt32}`,
    params,
  };
}

export async function runLogQuery(
  c: Context<QueryApp>,
  tenantId: string,
  query: LogQuery,
  opts: { startNs: bigint; endNs: bigint; limit: number; direction: 'forward' | 'backward'; maxBytes: number },
): Promise<Stream[]> {
  const { sql, params } = compileLogQuery(tenantId, query, opts);
  const { rows } = await runBoundedQuery<LogRowOut>(c, sql, params, opts.maxBytes);
  return toStreams(query.stages, rows.map(toEvalRow));
}

export function toEvalRow(r: LogRowOut): EvalRow {
  return { ...r, ns: BigInt(r.ns) };
}

/** Grouping pushed into SQL: the labels a series is kept by, or null for every entry label. */
type SqlGrouping = string[] | null;

interface RangeRow {
  k: string | number;
  n: string | number;
  bytes: string | number;
  s?: number;
  lo?: number;
  hi?: number;
  vs?: number[];
  sn?: string;
  lvl?: number;
  ra?: Record<string, string>;
  la?: Record<string, string>;
  [group: `g${number}`]: string;
}

/** `level` and `service` are aliases in matchers only: as grouping labels they are nothing. */
function groupLabelSql(name: string, params: SqlParams): string {
  return name === 'level' || name === 'service' ? "''" : entryLabelSql(name, params);
}

/** The SQL of one range aggregation over a step grid. */
export function compileRange(tenantId: string, node: RangeAggregation, grid: StepGrid, grouping: SqlGrouping) {
  const lastNs = grid.startNs + BigInt(grid.steps - 1) * grid.stepNs;
  const { where, params } = timeWhere(tenantId, grid.startNs - node.rangeNs, lastNs, true, true);
  const sqlParams = new SqlParams();
  where.push(...selectionSql(node, sqlParams));
  params.startNs = grid.startNs.toString();
  params.rangeNs = node.rangeNs.toString();
  params.stepNs = grid.stepNs.toString();
  params.lastK = grid.steps - 1;
  // e > 0 for every row read: it is after start − range.
  const e = 'toUnixTimestamp64Nano(Timestamp) - {startNs:Int64} + {rangeNs:Int64}';
  let k: string;
  if (grid.steps === 1) k = '0';
  else if (node.rangeNs === grid.stepNs) k = `intDiv(${e} - 1, {stepNs:Int64})`;
  else {
    const first = `if(${e} > {rangeNs:Int64}, intDiv(${e} - {rangeNs:Int64} - 1, {stepNs:Int64}) + 1, 0)`;
    const last = `least(intDiv(${e} - 1, {stepNs:Int64}), {lastK:Int64})`;
    k = `arrayJoin(range(toInt64(${first}), toInt64(${last}) + 1))`;
  }
  const inner = [`${k} AS k`, 'length(Body) AS len'];
  const groupNames: string[] = [];
  if (grouping) {
    grouping.forEach((name, i) => {
      inner.push(`${groupLabelSql(name, sqlParams)} AS g${i}`);
      groupNames.push(`g${i}`);
    });
  } else {
    inner.push('ServiceName AS sn', 'least(intDiv(SeverityNumber + 3, 4), 6) AS lvl', 'ResourceAttributes AS ra', 'LogAttributes AS la');
    groupNames.push('sn', 'lvl', 'ra', 'la');
  }
  // Body is the widest column: read only by the functions of bytes.
  const aggregates = ['count() AS n', node.fn === 'bytes_over_time' || node.fn === 'bytes_rate' ? 'sum(len) AS bytes' : '0 AS bytes'];
  let outerWhere = '';
  if (node.unwrap) {
    inner.push(`${unwrapSql(node.unwrap, sqlParams)} AS v`);
    outerWhere = ' WHERE v IS NOT NULL';
    aggregates.push('sum(assumeNotNull(v)) AS s', 'min(assumeNotNull(v)) AS lo', 'max(assumeNotNull(v)) AS hi');
    if (node.fn === 'quantile_over_time') aggregates.push('groupArray(assumeNotNull(v)) AS vs');
  }
  Object.assign(params, sqlParams.values);
  const keys = ['k', ...groupNames].join(', ');
  return {
    sql:
      `SELECT ${keys}, ${aggregates.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')})` +
      `${outerWhere} GROUP BY ${keys}`,
    params,
  };
}

/** Range functions whose value over a merged group is the sum (or min, max) of the members' values. */
const SUMMABLE = new Set(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'sum_over_time']);

function pushdown(node: MetricExpr): { range: RangeAggregation; grouping: string[] } | null {
  if (node.kind !== 'vector_agg' || node.expr.kind !== 'range') return null;
  const range = node.expr;
  if (range.grouping || hasFormatting(range.stages) || node.grouping?.without) return null;
  const fits =
    (node.op === 'sum' && SUMMABLE.has(range.fn)) || (node.op === 'min' && range.fn === 'min_over_time') || (node.op === 'max' && range.fn === 'max_over_time');
  // No `by`: one group of everything (`sum(count_over_time(…))`, the alert rule's shape).
  return fits ? { range, grouping: node.grouping?.labels ?? [] } : null;
}

const MINUTE_NS = 60_000_000_000n;
/** The labels the per-minute summary keeps (service, level), as selector and grouping names. */
const SUMMARY_LABELS = new Set(['service_name', 'service', 'detected_level', 'level']);
/** Minutes of counts one summary read may lay out per series; past it, rows. */
const MAX_SUMMARY_MINUTES = 200_000;

/** The range aggregation's windows, read from the per-minute summary (see above), or null when only rows answer it exactly. */
export function summaryPlan(node: RangeAggregation, grid: StepGrid, grouping: SqlGrouping): { grouping: string[]; minutes: number } | null {
  if (node.fn !== 'count_over_time' && node.fn !== 'rate') return null;
  // A parser (| json, | logfmt) changes nothing here: our attributes are parsed already.
  if (node.unwrap || !node.stages.every((s) => s.type === 'parser')) return null;
  if (!node.selector.every((m: LabelMatcher) => SUMMARY_LABELS.has(m.name))) return null;
  if (grouping === null || !grouping.every((g) => SUMMARY_LABELS.has(g))) return null;
  if (node.rangeNs % MINUTE_NS !== 0n || grid.startNs % MINUTE_NS !== 0n || (grid.steps > 1 && grid.stepNs % MINUTE_NS !== 0n)) return null;
  if (grid.startNs - node.rangeNs < 0n) return null;
  const minutes = Number((node.rangeNs + BigInt(grid.steps - 1) * grid.stepNs) / MINUTE_NS) + 1;
  return minutes <= MAX_SUMMARY_MINUTES ? { grouping, minutes } : null;
}

/**
 * The summary's SQL: per minute [m, m + 1 min) and series, the count of the
 * records exactly on m (`edge`) and of the others — only the columns of the
 * per-minute projection (ClickHouse migration 0006) in WHERE and GROUP BY, so
 * ClickHouse answers it from the projection. Minutes are unix seconds.
 */
export function compileRangeSummary(tenantId: string, node: RangeAggregation, grid: StepGrid, grouping: string[]) {
  const firstNs = grid.startNs - node.rangeNs;
  const lastNs = grid.startNs + BigInt(grid.steps - 1) * grid.stepNs;
  const sqlParams = new SqlParams();
  const selector = selectorSql(node.selector, sqlParams);
  const groups = grouping.map((name, i) => `${groupLabelSql(name, sqlParams)} AS g${i}`);
  const keys = ['m', 'edge', ...grouping.map((_, i) => `g${i}`)].join(', ');
  const params: Record<string, string | number> = { ...sqlParams.values, tenant: tenantId, first: Number(firstNs / NS_PER_S), last: Number(lastNs / NS_PER_S) };
  const minute = 'toStartOfMinute(TimestampTime)';
  const where = ['TenantId = {tenant:String}', `${minute} >= toDateTime({first:UInt32})`, `${minute} <= toDateTime({last:UInt32})`, ...selector];
  return {
    sql:
      `SELECT toUnixTimestamp(${minute}) AS m, toUnixTimestamp64Nano(Timestamp) % 60000000000 = 0 AS edge, ${[...groups, 'count() AS n'].join(', ')} ` +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY ${keys}`,
    params,
  };
}

interface SummaryRow {
  m: number | string;
  edge: number | string | boolean;
  n: number | string;
  [group: `g${number}`]: string;
}

async function summaryValue(c: Context<QueryApp>, tenantId: string, node: RangeAggregation, grid: StepGrid, plan: { grouping: string[]; minutes: number }) {
  const { sql, params } = compileRangeSummary(tenantId, node, grid, plan.grouping);
  const rows = await runQuery<SummaryRow>(c, sql, params);
  const first = Number((grid.startNs - node.rangeNs) / NS_PER_S);
  // Per series, the count of each window-minute e — the records in (e − 1 min, e] — indexed from `first`.
  const series = new Map<string, { labels: Map<string, string>; counts: Float64Array }>();
  for (const row of rows) {
    // A minute's records end in the next window-minute, those exactly on it in its own.
    const onTheMinute = row.edge === true || Number(row.edge) === 1;
    const index = (Number(row.m) - first) / 60 + (onTheMinute ? 0 : 1);
    if (index < 0 || index >= plan.minutes) continue;
    const labels = new Map<string, string>();
    plan.grouping.forEach((name, i) => {
      const v = row[`g${i}`];
      if (v !== undefined && v !== '') labels.set(name, v);
    });
    const key = labelsKey(labels);
    let s = series.get(key);
    if (!s) {
      s = { labels, counts: new Float64Array(plan.minutes) };
      series.set(key, s);
      checkSeriesCount(series.size);
    }
    s.counts[index]! += Number(row.n);
  }
  const rangeMinutes = Number(node.rangeNs / MINUTE_NS);
  const stepMinutes = Number(grid.stepNs / MINUTE_NS);
  const groups = new Map<string, { labels: Map<string, string>; windows: Map<number, WindowAggregate> }>();
  for (const [key, s] of series) {
    // Window k is (t − range, t], t = start + k·step: the window-minutes first + (k·step + 1 … k·step + range).
    const prefix = new Float64Array(plan.minutes + 1);
    for (let i = 0; i < plan.minutes; i++) prefix[i + 1] = prefix[i]! + s.counts[i]!;
    const windows = new Map<number, WindowAggregate>();
    for (let k = 0; k < grid.steps; k++) {
      const lo = k * stepMinutes + 1;
      const n = prefix[Math.min(plan.minutes, lo + rangeMinutes)]! - prefix[Math.min(plan.minutes, lo)]!;
      if (n > 0) {
        const w = emptyAggregate(false);
        mergeAggregate(w, { n, bytes: 0, sum: 0, min: 0, max: 0 });
        windows.set(k, w);
      }
    }
    if (windows.size > 0) groups.set(key, { labels: s.labels, windows });
  }
  return { type: 'vector' as const, series: rangeSeries(node, groups, grid.steps) };
}

async function rangeValue(c: Context<QueryApp>, tenantId: string, node: RangeAggregation, grid: StepGrid, grouping: SqlGrouping): Promise<Value> {
  checkRangeStages(node);
  const sqlGrouping = grouping ?? (node.grouping && !node.grouping.without ? node.grouping.labels : null);
  const plan = summaryPlan(node, grid, sqlGrouping);
  if (plan) return summaryValue(c, tenantId, node, grid, plan);
  const { sql, params } = compileRange(tenantId, node, grid, sqlGrouping);
  const rows = await runQuery<RangeRow>(c, sql, params);
  const keepValues = node.fn === 'quantile_over_time';
  const groups = new Map<string, { labels: Map<string, string>; windows: Map<number, WindowAggregate> }>();
  for (const row of rows) {
    let labels: Map<string, string>;
    if (sqlGrouping) {
      labels = new Map();
      sqlGrouping.forEach((name, i) => {
        const v = row[`g${i}`];
        if (v !== undefined && v !== '') labels.set(name, v);
      });
    } else {
      const lvl = Number(row.lvl);
      const source = { ServiceName: row.sn ?? '', SeverityNumber: lvl === 0 ? 0 : lvl * 4, ResourceAttributes: row.ra ?? {}, LogAttributes: row.la ?? {} };
      labels = applyFormatting(node.stages, entryLabels(source), '').labels;
      if (node.grouping) labels = groupLabels(labels, node.grouping);
    }
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) {
      g = { labels, windows: new Map() };
      groups.set(key, g);
      checkSeriesCount(groups.size);
    }
    const k = Number(row.k);
    let w = g.windows.get(k);
    if (!w) {
      w = emptyAggregate(keepValues);
      g.windows.set(k, w);
    }
    mergeAggregate(w, {
      n: Number(row.n),
      bytes: Number(row.bytes),
      sum: row.s ?? 0,
      min: row.lo ?? 0,
      max: row.hi ?? 0,
      ...(keepValues ? { values: row.vs ?? [] } : {}),
    });
  }
  return { type: 'vector', series: rangeSeries(node, groups, grid.steps) };
}

export async function runMetric(c: Context<QueryApp>, tenantId: string, expr: MetricExpr, grid: StepGrid): Promise<Value> {
  switch (expr.kind) {
    case 'literal':
      return { type: 'scalar', value: expr.value };
    case 'vector': {
      const points = new Map<number, number>();
      for (let k = 0; k < grid.steps; k++) points.set(k, expr.value);
      return { type: 'vector', series: [{ labels: new Map(), points }] };
    }
    case 'range':
      return rangeValue(c, tenantId, expr, grid, null);
    case 'vector_agg': {
      const pushed = pushdown(expr);
      const inner = pushed ? await rangeValue(c, tenantId, pushed.range, grid, pushed.grouping) : await runMetric(c, tenantId, expr.expr, grid);
      return vectorAggregate(expr, inner, grid.steps);
    }
    case 'binop': {
      // One after the other: each holds one of the plan's concurrent query slots.
      const left = await runMetric(c, tenantId, expr.left, grid);
      return binary(expr, left, await runMetric(c, tenantId, expr.right, grid));
    }
  }
}
