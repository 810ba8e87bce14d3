/**
 * Loki's read API under /loki/api/v1 — what Grafana's Loki data source,
 * Explore, dashboards, Logs Drilldown and Grafana-managed alerts call — over
 * the caller's NeuralLog logs. The tenant is the credential's (a Bearer
 * token, or the API key as the Basic-auth password Grafana sends);
 * X-Scope-OrgID is ignored. Shapes follow Loki's HTTP API documentation;
 * errors are Loki's `{"status": "error", "code", "message"}`, 400 for a query
 * outside the LogQL subset (naming the construct), never a wrong answer.
 * docs/grafana.md describes what works where.
 */
import { ClickHouseError } from '@clickhouse/client-web';
import { type Context, Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { loadConfig } from '../../../shared/config.ts';
import { type LabelMatcher, type LogqlExpr, LogqlError, type LogQuery } from '../../../shared/logql/ast.ts';
import { isReservedLabel, labelNameOf, labelsKey, labelsObject, streamLabels } from '../../../shared/logql/labels.ts';
import { LABEL_NAME_RE, parseDurationNs, parseLogql } from '../../../shared/logql/parse.ts';
import { lokiErrorResponse } from '../../../shared/logql/loki-error.ts';
import { formatSample, type Value } from '../../../shared/logql/series.ts';
import { parseLokiTime } from '../../../shared/logql/time.ts';
import { entryLabelSql, SqlParams, selectionSql, selectorSql, streamLabelSql } from '../../../shared/logql/sql.ts';
import type { QueryApp } from '../env.ts';
import { nsToClickHouse, runLogQuery, runMetric } from '../loki/engine.ts';
import { aliasGraph, templatesOf } from '../patterns.ts';
import { checkRange, runQuery } from '../run-query.ts';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const HOUR_NS = 3_600n * NS_PER_S;
/** Loki's max_entries_limit_per_query default. */
const MAX_ENTRIES = 5_000;
/** Prometheus's and Loki's limit of points per series. */
const MAX_POINTS = 11_000;
const MAX_LABEL_VALUES = 5_000;
const LOKI_VERSION = '3.4.0-neurallog';

export const lokiQueryRoutes = new Hono<QueryApp>();

/** Loki's error shape (shared/logql/loki-error.ts); RE2's refusal of a regular expression is a 400 too. */
lokiQueryRoutes.onError(function lokiError(err, c) {
  if (err instanceof ClickHouseError && err.code === '427') {
    return lokiErrorResponse(c, err, { status: 400, message: `invalid regular expression: ${err.message.split('\n')[0]!.slice(0, 300)}`, headers: {} });
  }
  return lokiErrorResponse(c, err);
});

lokiQueryRoutes.use('/api/v1/*', requirePrincipal('logs:read'));

/** GET query string, or POST form body (Loki takes both for queries, series, stats and volume). */
async function params(c: Context<QueryApp>): Promise<URLSearchParams> {
  const query = new URL(c.req.url).searchParams;
  if (c.req.method === 'POST') {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/x-www-form-urlencoded') {
      const text = await c.req.text();
      if (text.length > 1 << 20) throw new LogqlError('the form body is larger than 1 MiB');
      for (const [k, v] of new URLSearchParams(text)) query.append(k, v);
    }
  }
  return query;
}

function bad(message: string): LogqlError {
  return new LogqlError(message);
}

/** A step: a duration (15s, 1m, 15000ms) or float seconds. */
function parseStep(text: string): bigint {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return parseLokiTime('step', t.includes('.') ? t : `${t}.0`);
  return parseDurationNs(t);
}

interface Range {
  startNs: bigint;
  endNs: bigint;
}

/** start/end/since as Loki reads them (defaults: end now, start `defaultNs` before it). */
function parseRange(c: Context<QueryApp>, q: URLSearchParams, defaultNs: bigint): Range {
  const now = BigInt(Date.now()) * NS_PER_MS;
  const endNs = q.get('end') ? parseLokiTime('end', q.get('end')!) : now;
  let startNs = endNs - (q.get('since') ? parseDurationNs(q.get('since')!) : defaultNs);
  if (q.get('start')) startNs = parseLokiTime('start', q.get('start')!);
  if (endNs < startNs) throw bad('invalid start and end: end must be after start');
  if (startNs < 0n || endNs > 4_294_967_295n * NS_PER_S) throw bad('start and end must be between 1970 and 2106');
  const principal = c.get('principal');
  checkRange(principal, { from: { seconds: Number(startNs / NS_PER_S), nanos: 0 }, to: { seconds: Number(endNs / NS_PER_S), nanos: 0 } } as never);
  return { startNs, endNs };
}

function parseExpr(q: URLSearchParams): LogqlExpr {
  const text = q.get('query');
  if (text === null) throw bad('the query parameter is required');
  return parseLogql(text);
}

/** A stream selector where Loki takes one (labels, series, stats, volume, patterns, detected_*). */
function parseSelector(text: string): LogQuery {
  const expr = parseLogql(text);
  if (expr.kind !== 'log') throw bad('expected a stream selector such as {service_name="api"}, not a metric query');
  return expr;
}

function seconds(ns: bigint): number {
  return Number(ns / NS_PER_MS) / 1000;
}

function matrixOrVector(value: Value, grid: { startNs: bigint; stepNs: bigint }, instant: boolean) {
  const t = (k: number) => seconds(grid.startNs + BigInt(k) * grid.stepNs);
  if (value.type === 'scalar') {
    return instant
      ? { resultType: 'scalar', result: [t(0), formatSample(value.value)] }
      : { resultType: 'matrix', result: [{ metric: {}, values: [[t(0), formatSample(value.value)]] }] };
  }
  if (instant) {
    return {
      resultType: 'vector',
      result: value.series.filter((s) => s.points.has(0)).map((s) => ({ metric: labelsObject(s.labels), value: [t(0), formatSample(s.points.get(0)!)] })),
    };
  }
  return {
    resultType: 'matrix',
    result: value.series.map((s) => ({
      metric: labelsObject(s.labels),
      values: [...s.points].sort((a, b) => a[0] - b[0]).map(([k, v]) => [t(k), formatSample(v)]),
    })),
  };
}

function stats(started: number) {
  return { summary: { execTime: (Date.now() - started) / 1000, queueTime: 0, totalEntriesReturned: 0 } };
}

async function queryRange(c: Context<QueryApp>) {
  const started = Date.now();
  const q = await params(c);
  const expr = parseExpr(q);
  const range = parseRange(c, q, HOUR_NS);
  const tenantId = c.get('principal').tenantId;
  if (expr.kind === 'log') {
    if (q.get('interval')) throw bad('the interval parameter of log queries is not supported');
    const limit = parseLimit(q.get('limit'), 100, MAX_ENTRIES);
    const direction = parseDirection(q.get('direction'));
    const streams = await runLogQuery(c, tenantId, expr, { ...range, limit, direction, maxBytes: loadConfig(c.env).searchMaxBytes });
    return c.json({
      status: 'success',
      data: {
        resultType: 'streams',
        result: streams.map((s) => ({ stream: labelsObject(s.labels), values: s.entries.map(([ns, line]) => [ns.toString(), line]) })),
        stats: stats(started),
      },
    });
  }
  const stepText = q.get('step');
  const span = range.endNs - range.startNs;
  // Loki's default step: the range / 250, at least a second.
  let stepNs = stepText ? parseStep(stepText) : ((span / 250n + NS_PER_S - 1n) / NS_PER_S) * NS_PER_S;
  if (stepNs <= 0n) stepNs = NS_PER_S;
  if (span / stepNs + 1n > BigInt(MAX_POINTS))
    throw bad(`exceeded maximum resolution of ${MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)`);
  const grid = { startNs: range.startNs, stepNs, steps: Number(span / stepNs) + 1 };
  const value = await runMetric(c, tenantId, expr, grid);
  return c.json({ status: 'success', data: { ...matrixOrVector(value, grid, false), stats: stats(started) } });
}

async function queryInstant(c: Context<QueryApp>) {
  const started = Date.now();
  const q = await params(c);
  const expr = parseExpr(q);
  if (expr.kind === 'log') throw bad('log queries are not supported as an instant query type, please change your query to a range query type');
  const timeNs = q.get('time') ? parseLokiTime('time', q.get('time')!) : BigInt(Date.now()) * NS_PER_MS;
  checkRange(c.get('principal'), { from: { seconds: Number(timeNs / NS_PER_S) - 1, nanos: 0 }, to: { seconds: Number(timeNs / NS_PER_S), nanos: 0 } } as never);
  const grid = { startNs: timeNs, stepNs: NS_PER_S, steps: 1 };
  const value = await runMetric(c, c.get('principal').tenantId, expr, grid);
  return c.json({ status: 'success', data: { ...matrixOrVector(value, grid, true), stats: stats(started) } });
}

function parseLimit(text: string | null, fallback: number, max: number): number {
  if (text === null || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw bad(`invalid limit "${text.slice(0, 20)}": a positive integer`);
  if (n > max) throw bad(`max entries limit per query exceeded, limit > max_entries_limit_per_query (${n} > ${max})`);
  return n;
}

function parseDirection(text: string | null): 'forward' | 'backward' {
  const d = (text ?? '').toLowerCase();
  if (d === '' || d === 'backward') return 'backward';
  if (d === 'forward') return 'forward';
  throw bad(`invalid direction "${d.slice(0, 20)}": forward or backward`);
}

lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/query_range', queryRange);
lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/query', queryInstant);

/** Tenant, [start, end) and, when given, a selector's matchers. */
function scopeWhere(tenantId: string, range: Range, selector: LabelMatcher[] | null) {
  const params: Record<string, string | number | string[]> = { tenant: tenantId, from: nsToClickHouse(range.startNs), to: nsToClickHouse(range.endNs) };
  const where = [
    'TenantId = {tenant:String}',
    "TimestampTime >= toDateTime({from:DateTime64(9, 'UTC')})",
    "TimestampTime <= toDateTime({to:DateTime64(9, 'UTC')})",
    "Timestamp >= {from:DateTime64(9, 'UTC')}",
    "Timestamp < {to:DateTime64(9, 'UTC')}",
  ];
  const sqlParams = new SqlParams();
  if (selector) where.push(...selectorSql(selector, sqlParams));
  return { where, params, sqlParams };
}

function selectorOf(q: URLSearchParams): LabelMatcher[] | null {
  const text = q.get('query');
  if (text === null || text.trim() === '' || text.trim() === '{}') return null;
  return parseSelector(text).selector;
}

/** The stream labels' names of a scope (resource keys, service_name, detected_level). */
async function labelNames(c: Context<QueryApp>, range: Range, selector: LabelMatcher[] | null): Promise<string[]> {
  const { where, params, sqlParams } = scopeWhere(c.get('principal').tenantId, range, selector);
  Object.assign(params, sqlParams.values);
  const rows = await runQuery<{ keys: string[]; services: string | number; n: string | number }>(
    c,
    `SELECT groupUniqArrayArray(1000)(mapKeys(mapFilter((k, v) -> v != '', ResourceAttributes))) AS keys, countIf(ServiceName != '') AS services, count() AS n ` +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}`,
    params,
  );
  const row = rows[0];
  const names = new Set<string>();
  if (!row || Number(row.n) === 0) return [];
  names.add('detected_level');
  if (Number(row.services) > 0) names.add('service_name');
  for (const key of row.keys) {
    const name = labelNameOf(key);
    if (!isReservedLabel(name)) names.add(name);
  }
  return [...names].sort();
}

lokiQueryRoutes.get('/api/v1/labels', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, 6n * HOUR_NS);
  return c.json({ status: 'success', data: await labelNames(c, range, selectorOf(q)) });
});

async function labelValues(c: Context<QueryApp>, name: string, range: Range, selector: LabelMatcher[] | null): Promise<string[]> {
  if (!LABEL_NAME_RE.test(name)) throw bad(`invalid label name "${name.slice(0, 64)}"`);
  if (name !== 'service_name' && name !== 'detected_level' && isReservedLabel(name)) return [];
  const { where, params, sqlParams } = scopeWhere(c.get('principal').tenantId, range, selector);
  const read = streamLabelSql(name, sqlParams);
  Object.assign(params, sqlParams.values);
  params.max = MAX_LABEL_VALUES;
  const rows = await runQuery<{ v: string }>(
    c,
    `SELECT DISTINCT ${read} AS v FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} AND v != '' ORDER BY v LIMIT {max:UInt32}`,
    params,
  );
  return rows.map((r) => r.v);
}

lokiQueryRoutes.get('/api/v1/label/:name/values', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, 6n * HOUR_NS);
  return c.json({ status: 'success', data: await labelValues(c, c.req.param('name'), range, selectorOf(q)) });
});

interface StreamRow {
  ServiceName: string;
  lvl: number;
  ResourceAttributes: Record<string, string>;
  n: string | number;
  bytes: string | number;
}

/** Distinct streams of a scope with their entries and bytes. */
async function streamsOf(
  c: Context<QueryApp>,
  range: Range,
  selectors: LabelMatcher[][] | null,
  max = 10_000,
): Promise<Map<string, { labels: Map<string, string>; n: number; bytes: number }>> {
  const { where, params, sqlParams } = scopeWhere(c.get('principal').tenantId, range, null);
  if (selectors) where.push(`(${selectors.map((s) => `(${selectorSql(s, sqlParams).join(' AND ')})`).join(' OR ')})`);
  Object.assign(params, sqlParams.values);
  params.max = max + 1;
  const rows = await runQuery<StreamRow>(
    c,
    'SELECT ServiceName, least(intDiv(SeverityNumber + 3, 4), 6) AS lvl, ResourceAttributes, count() AS n, sum(length(Body)) AS bytes ' +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY ServiceName, lvl, ResourceAttributes LIMIT {max:UInt32}`,
    params,
  );
  if (rows.length > max) throw bad(`the selector matches more than ${max} streams: narrow it`);
  const out = new Map<string, { labels: Map<string, string>; n: number; bytes: number }>();
  for (const r of rows) {
    const labels = streamLabels({ ServiceName: r.ServiceName, SeverityNumber: Number(r.lvl) * 4, ResourceAttributes: r.ResourceAttributes });
    const key = labelsKey(labels);
    const s = out.get(key);
    if (s) {
      s.n += Number(r.n);
      s.bytes += Number(r.bytes);
    } else out.set(key, { labels, n: Number(r.n), bytes: Number(r.bytes) });
  }
  return out;
}

lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/series', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, 6n * HOUR_NS);
  const matches = q.getAll('match[]').concat(q.getAll('match'));
  if (matches.length === 0) throw bad('at least one match[] selector is required');
  if (matches.length > 64) throw bad('at most 64 match[] selectors are accepted');
  const streams = await streamsOf(
    c,
    range,
    matches.map((m) => parseSelector(m).selector),
  );
  return c.json({ status: 'success', data: [...streams.values()].map((s) => labelsObject(s.labels)) });
});

lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/index/stats', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, HOUR_NS);
  const selector = selectorOf(q);
  const streams = await streamsOf(c, range, selector ? [selector] : null);
  let entries = 0;
  let bytes = 0;
  for (const s of streams.values()) {
    entries += s.n;
    bytes += s.bytes;
  }
  // NeuralLog has no chunks: each stream counts as one.
  return c.json({ streams: streams.size, chunks: streams.size, entries, bytes });
});

/** Volume: bytes per series, aggregated by the selector's labels (or targetLabels), or per label name (aggregateBy=labels). */
async function volume(c: Context<QueryApp>, rangeQuery: boolean) {
  const q = await params(c);
  const range = parseRange(c, q, HOUR_NS);
  const text = q.get('query');
  if (!text) throw bad('the query parameter is required');
  const selector = parseSelector(text).selector;
  const limit = parseLimit(q.get('limit'), 100, 10_000);
  const aggregateBy = q.get('aggregateBy') ?? 'series';
  if (aggregateBy !== 'series' && aggregateBy !== 'labels') throw bad('aggregateBy must be series or labels');
  const targets = (q.get('targetLabels') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const t of targets) if (!LABEL_NAME_RE.test(t)) throw bad(`invalid target label "${t.slice(0, 64)}"`);
  const by =
    targets.length > 0 ? targets : [...new Set(selector.map((m) => (m.name === 'service' ? 'service_name' : m.name === 'level' ? 'detected_level' : m.name)))];
  const stepNs = rangeQuery ? (q.get('step') ? parseStep(q.get('step')!) : ((range.endNs - range.startNs) / 250n / NS_PER_S + 1n) * NS_PER_S) : 0n;
  if (rangeQuery && (range.endNs - range.startNs) / stepNs + 1n > BigInt(MAX_POINTS))
    throw bad(`exceeded maximum resolution of ${MAX_POINTS} points per timeseries`);
  const { where, params: sqlValues, sqlParams } = scopeWhere(c.get('principal').tenantId, range, selector);
  const groups = by.map((name, i) => `${streamLabelSql(name, sqlParams)} AS g${i}`);
  Object.assign(sqlValues, sqlParams.values);
  sqlValues.startNs = range.startNs.toString();
  sqlValues.stepNs = (stepNs || 1n).toString();
  const bucket = rangeQuery ? 'intDiv(toUnixTimestamp64Nano(Timestamp) - {startNs:Int64}, {stepNs:Int64}) AS k' : '0 AS k';
  const keys = ['k', ...by.map((_, i) => `g${i}`)].join(', ');
  const rows = await runQuery<Record<string, string | number>>(
    c,
    `SELECT ${bucket}, ${groups.length ? `${groups.join(', ')}, ` : ''}sum(length(Body)) AS bytes FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} GROUP BY ${keys}`,
    sqlValues,
  );
  const series = new Map<string, { labels: Map<string, string>; points: Map<number, number>; total: number }>();
  for (const row of rows) {
    const labels = new Map<string, string>();
    by.forEach((name, i) => {
      const v = String(row[`g${i}`] ?? '');
      if (v !== '') labels.set(name, aggregateBy === 'labels' ? '' : v);
    });
    if (aggregateBy === 'series' && labels.size === 0) continue;
    const entries = aggregateBy === 'labels' ? [...labels.keys()].map((k) => new Map([[k, '']])) : [labels];
    for (const l of entries) {
      const key = labelsKey(l);
      let s = series.get(key);
      if (!s) {
        s = { labels: l, points: new Map(), total: 0 };
        series.set(key, s);
      }
      const k = Number(row.k);
      s.points.set(k, (s.points.get(k) ?? 0) + Number(row.bytes));
      s.total += Number(row.bytes);
    }
  }
  const top = [...series.values()].sort((a, b) => b.total - a.total).slice(0, limit);
  const endSeconds = seconds(range.endNs);
  if (!rangeQuery) {
    return c.json({
      status: 'success',
      data: { resultType: 'vector', result: top.map((s) => ({ metric: labelsObject(s.labels), value: [endSeconds, String(s.total)] })) },
    });
  }
  return c.json({
    status: 'success',
    data: {
      resultType: 'matrix',
      result: top.map((s) => ({
        metric: labelsObject(s.labels),
        values: [...s.points].sort((a, b) => a[0] - b[0]).map(([k, v]) => [seconds(range.startNs + BigInt(k) * stepNs), String(v)]),
      })),
    },
  });
}

lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/index/volume', (c) => volume(c, false));
lokiQueryRoutes.on(['GET', 'POST'], '/api/v1/index/volume_range', (c) => volume(c, true));

lokiQueryRoutes.get('/api/v1/detected_labels', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, 6n * HOUR_NS);
  const selector = selectorOf(q);
  const streams = await streamsOf(c, range, selector ? [selector] : null);
  const values = new Map<string, Set<string>>();
  for (const s of streams.values()) {
    for (const [k, v] of s.labels) {
      let set = values.get(k);
      if (!set) {
        set = new Set();
        values.set(k, set);
      }
      set.add(v);
    }
  }
  return c.json({
    detectedLabels: [...values].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([label, set]) => ({ label, cardinality: set.size })),
  });
});

interface FieldRow {
  key: string;
  cardinality: string | number;
  nonInt: string | number;
  nonFloat: string | number;
}

/** The attributes of the matching records (our parsed fields, Loki's structured metadata), with their type and cardinality. */
lokiQueryRoutes.get('/api/v1/detected_fields', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, HOUR_NS);
  const text = q.get('query');
  const expr = text ? parseLogql(text) : null;
  if (expr && expr.kind !== 'log') throw bad('detected_fields takes a log query');
  const limit = parseLimit(q.get('limit'), 1000, 1000);
  const fields = await detectedFields(c, range, expr, limit);
  return c.json({ fields, limit });
});

async function detectedFields(c: Context<QueryApp>, range: Range, expr: LogQuery | null, limit: number) {
  const { where, params, sqlParams } = scopeWhere(c.get('principal').tenantId, range, null);
  if (expr) where.push(...selectionSql(expr, sqlParams));
  Object.assign(params, sqlParams.values);
  params.limit = limit;
  const rows = await runQuery<FieldRow>(
    c,
    "SELECT kv.1 AS key, uniq(kv.2) AS cardinality, countIf(NOT match(kv.2, '^[+-]?[0-9]+$')) AS nonInt, " +
      "countIf(NOT match(kv.2, '^[+-]?(?:[0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)(?:[eE][+-]?[0-9]+)?$')) AS nonFloat " +
      `FROM (SELECT arrayJoin(arrayZip(mapKeys(LogAttributes), mapValues(LogAttributes))) AS kv FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} LIMIT 100000) ` +
      "WHERE kv.2 != '' GROUP BY key ORDER BY key LIMIT {limit:UInt32}",
    params,
  );
  const fields = new Map<string, { label: string; type: string; cardinality: number; parsers: null }>();
  for (const r of rows) {
    const label = labelNameOf(r.key);
    if (isReservedLabel(label) || fields.has(label)) continue;
    const type = Number(r.nonInt) === 0 ? 'int' : Number(r.nonFloat) === 0 ? 'float' : 'string';
    fields.set(label, { label, type, cardinality: Number(r.cardinality), parsers: null });
  }
  return [...fields.values()];
}

lokiQueryRoutes.get('/api/v1/detected_field/:name/values', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, HOUR_NS);
  const name = c.req.param('name');
  if (!LABEL_NAME_RE.test(name)) throw bad(`invalid field name "${name.slice(0, 64)}"`);
  const text = q.get('query');
  const expr = text ? parseLogql(text) : null;
  if (expr && expr.kind !== 'log') throw bad('detected_field values take a log query');
  const { where, params: sqlValues, sqlParams } = scopeWhere(c.get('principal').tenantId, range, null);
  if (expr) where.push(...selectionSql(expr, sqlParams));
  const read = entryLabelSql(name, sqlParams);
  Object.assign(sqlValues, sqlParams.values);
  sqlValues.limit = parseLimit(q.get('limit'), 1000, MAX_LABEL_VALUES);
  const rows = await runQuery<{ v: string }>(
    c,
    `SELECT DISTINCT ${read} AS v FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} AND v != '' ORDER BY v LIMIT {limit:UInt32}`,
    sqlValues,
  );
  return c.json({ values: rows.map((r) => r.v) });
});

/** Patterns: the analytics' message templates (variables as Loki's <_>), counted per step. */
lokiQueryRoutes.get('/api/v1/patterns', async (c) => {
  const q = await params(c);
  const range = parseRange(c, q, HOUR_NS);
  const text = q.get('query');
  if (!text) throw bad('the query parameter is required');
  const selector = parseSelector(text).selector;
  const stepNs = q.get('step') ? parseStep(q.get('step')!) : ((range.endNs - range.startNs) / 100n / NS_PER_S + 1n) * NS_PER_S;
  if ((range.endNs - range.startNs) / stepNs + 1n > BigInt(MAX_POINTS)) throw bad(`exceeded maximum resolution of ${MAX_POINTS} points per timeseries`);
  const tenantId = c.get('principal').tenantId;
  const { where, params: sqlValues, sqlParams } = scopeWhere(tenantId, range, selector);
  Object.assign(sqlValues, sqlParams.values);
  sqlValues.startNs = range.startNs.toString();
  sqlValues.stepNs = stepNs.toString();
  const rows = await runQuery<{ PatternId: string; k: string | number; n: string | number; lvl: number }>(
    c,
    'SELECT PatternId, intDiv(toUnixTimestamp64Nano(Timestamp) - {startNs:Int64}, {stepNs:Int64}) AS k, max(least(intDiv(SeverityNumber + 3, 4), 6)) AS lvl, count() AS n ' +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')} AND PatternId != '' GROUP BY PatternId, k LIMIT 200000`,
    sqlValues,
  );
  if (rows.length === 0) return c.json({ status: 'success', data: [] });
  const graph = await aliasGraph(c, tenantId);
  const byId = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const id = graph.canonical(r.PatternId);
    let counts = byId.get(id);
    if (!counts) {
      counts = new Map();
      byId.set(id, counts);
    }
    const k = Number(r.k);
    counts.set(k, (counts.get(k) ?? 0) + Number(r.n));
  }
  const templates = await templatesOf(c, tenantId, byId.keys());
  const data = [...byId]
    .filter(([id]) => templates.has(id))
    .map(([id, counts]) => ({
      pattern: templates.get(id)!.template.replaceAll('<*>', '<_>'),
      samples: [...counts].sort((a, b) => a[0] - b[0]).map(([k, n]) => [Math.floor(seconds(range.startNs + BigInt(k) * stepNs)), n]),
      total: [...counts.values()].reduce((a, b) => a + b, 0),
    }))
    .sort((a, b) => b.total - a.total)
    .slice(0, 500)
    .map(({ pattern, samples }) => ({ pattern, samples }));
  return c.json({ status: 'success', data });
});

lokiQueryRoutes.get('/api/v1/status/buildinfo', (c) =>
  c.json({ version: LOKI_VERSION, revision: 'neurallog', branch: 'main', buildUser: 'neurallog', buildDate: '', goVersion: '' }),
);
