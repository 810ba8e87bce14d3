/**
 * The query worker: tenant-scoped search over ClickHouse — search, histogram,
 * facets, context, export — with the edge cache and the plan's query limits;
 * and the tenants' saved searches (D1).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
export { QueryGate } from '../../durable-objects/query-gate.ts';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import { requestMetrics } from '../../shared/platform-metrics/http-middleware.ts';
import { boundedBody, JSON_BODY_MAX_BYTES, LARGE_BODY_MAX_BYTES } from '../../shared/body-limit.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import type { QueryApp } from './env.ts';
import { logsRoutes, searchLogsDoc } from './routes/logs.ts';
import { contextRoutes } from './routes/context.ts';
import { fieldsRoutes } from './routes/fields.ts';
import { histogramRoutes } from './routes/histogram.ts';
import { exportDoc, exportRoutes } from './routes/export.ts';
import { savedSearchRoutes } from './routes/saved-searches.ts';
import { patternsDoc, patternsRoutes } from './routes/patterns.ts';
import { mcpRoutes } from './mcp.ts';
import { anomaliesDoc, anomaliesRoutes } from './routes/anomalies.ts';
import { lokiQueryRoutes } from './routes/loki.ts';
import { lokiReadDocs } from './loki/openapi-docs.ts';
import { registerBearerScheme } from '../../shared/openapi.ts';
import { contextDoc, fieldsDoc, fieldValuesDoc, histogramDoc, mcpDoc } from './endpoint-docs.ts';

const app = new OpenAPIHono<QueryApp>();
// First: rate, errors and latency per route pattern, whatever answers (shared/platform-metrics/).
app.use(requestMetrics('query'));
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

/** Ready when ClickHouse answers: without it there is nothing to search. */
app.get('/healthz', async (c) => {
  const ping = await clickHouseClient(loadConfig(c.env).clickhouse).ping();
  if (!ping.success) return c.json({ status: 'unavailable', component: 'query', reason: 'clickhouse unreachable' }, 503);
  return c.json({ status: 'ok', component: 'query' });
});
// Every body is bounded before a route reads it (shared/body-limit.ts); the search routes take none.
app.use('/v1/saved-searches/*', boundedBody(JSON_BODY_MAX_BYTES));
app.use('/mcp/*', boundedBody(LARGE_BODY_MAX_BYTES));
app.use('/loki/*', boundedBody(LARGE_BODY_MAX_BYTES));
app.route('/v1/logs/histogram', histogramRoutes);
app.route('/v1/logs/fields', fieldsRoutes);
app.route('/v1/logs/context', contextRoutes);
app.route('/v1/logs/export', exportRoutes);
app.route('/v1/logs', logsRoutes);
app.route('/v1/saved-searches', savedSearchRoutes);
app.route('/v1/patterns', patternsRoutes);
app.route('/v1/anomalies', anomaliesRoutes);
// Loki's read API, for Grafana's Loki data source (docs/grafana.md).
app.route('/loki', lokiQueryRoutes);
// The MCP server's tools call the routes above, inside this worker, with the agent's credential.
app.route(
  '/mcp',
  mcpRoutes((request, c) => Promise.resolve(app.fetch(request, c.env, c.executionCtx))),
);
app.openAPIRegistry.registerPath(searchLogsDoc);
app.openAPIRegistry.registerPath(patternsDoc);
app.openAPIRegistry.registerPath(anomaliesDoc);
for (const doc of [histogramDoc, fieldsDoc, fieldValuesDoc, contextDoc, exportDoc, mcpDoc, ...lokiReadDocs]) app.openAPIRegistry.registerPath(doc);
registerBearerScheme(app.openAPIRegistry);
app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'NeuralLog search', version: '1' } });

export default app;
