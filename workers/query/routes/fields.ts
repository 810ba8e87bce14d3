/**
 * Facets: GET /v1/logs/fields — the attribute keys seen in the scope (from,
 * to, q, level, service), by how many records carry them, as names the query
 * language takes (`attr.region`, `resource.host`); and
 * GET /v1/logs/fields/{name}/values — the top values of one field with their
 * counts, for level, service, trace/span ids and any attribute.
 */
import { Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { resolveField } from '../../../shared/query-language/fields.ts';
import { compileScope, LEVEL_SQL } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { withPatternFamilies } from '../patterns.ts';
import { checkRange, runQuery } from '../run-query.ts';
import { cachedJson } from '../edge-cache.ts';
import { invalid, parseScope } from '../search-params.ts';

const MAX_FIELDS = 500;
const MAX_VALUES = 100;
/** Columns every record has, searchable by these names. */
const BUILTIN_FIELDS = ['level', 'service', 'trace_id', 'span_id', 'pattern', 'timestamp', 'body'];

export const fieldsRoutes = new Hono<QueryApp>();

fieldsRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  const scope = parseScope(new URL(c.req.url).searchParams);
  checkRange(c.get('principal'), scope);
  scope.query = await withPatternFamilies(c, c.get('principal').tenantId, scope.query);
  return cachedJson(c, 'fields', scope, {}, async () => {
    const { where, params } = compileScope(c.get('principal').tenantId, scope);
    params.maxFields = MAX_FIELDS;
    const sql =
      'SELECT name, count() AS n FROM (' +
      "SELECT arrayJoin(arrayConcat(arrayMap(k -> concat('attr.', k), mapKeys(LogAttributes)), arrayMap(k -> concat('resource.', k), mapKeys(ResourceAttributes)))) AS name " +
      `FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}) GROUP BY name ORDER BY n DESC, name LIMIT {maxFields:UInt32}`;
    const rows = await runQuery<{ name: string; n: string }>(c, sql, params);
    return { builtin: BUILTIN_FIELDS, fields: rows.map((r) => ({ name: r.name, count: Number(r.n) })) };
  });
});

fieldsRoutes.get('/:name/values', requirePrincipal('logs:read'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  const scope = parseScope(query);
  checkRange(c.get('principal'), scope);
  scope.query = await withPatternFamilies(c, c.get('principal').tenantId, scope.query);
  const name = c.req.param('name');
  let limit = 10;
  if (query.get('limit') !== null) {
    limit = Number(query.get('limit'));
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_VALUES) throw invalid('limit', `must be an integer from 1 to ${MAX_VALUES}`);
  }
  const { where, params } = compileScope(c.get('principal').tenantId, scope);
  params.limit = limit;
  const target = resolveField(name);
  let value: string;
  switch (target.kind) {
    case 'severity':
      value = LEVEL_SQL;
      break;
    case 'service':
      value = 'ServiceName';
      where.push("ServiceName != ''");
      break;
    case 'traceId':
    case 'spanId':
    case 'patternId': {
      value = target.kind === 'traceId' ? 'TraceId' : target.kind === 'spanId' ? 'SpanId' : 'PatternId';
      where.push(`${value} != ''`);
      break;
    }
    case 'map': {
      params.fieldKey = target.key;
      where.push(`(${target.maps.map((m) => `mapContains(${m}, {fieldKey:String})`).join(' OR ')})`);
      value =
        target.maps.length === 1
          ? `${target.maps[0]}[{fieldKey:String}]`
          : 'if(mapContains(LogAttributes, {fieldKey:String}), LogAttributes[{fieldKey:String}], ResourceAttributes[{fieldKey:String}])';
      break;
    }
    default:
      throw invalid('name', `"${name}" has no list of values; facets exist for level, service, trace_id, span_id, pattern and attributes`);
  }
  const sql =
    `SELECT value, n, sum(n) OVER () AS total FROM (SELECT ${value} AS value, count() AS n FROM ${LOGS_TABLE} ` +
    `WHERE ${where.join(' AND ')} GROUP BY value) ORDER BY n DESC, value LIMIT {limit:UInt32}`;
  return cachedJson(c, 'values', scope, { field: name, limit }, async () => {
    const rows = await runQuery<{ value: string; n: string; total: string }>(c, sql, params);
    return { field: name, total: Number(rows[0]?.total ?? 0), values: rows.map((r) => ({ value: r.value, count: Number(r.n) })) };
  });
});
