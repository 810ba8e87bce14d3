/**
 * The ingest worker: authenticates, reads logs in the formats clients speak,
 * and hands each batch to its tenant's actor. It also hosts the TenantActor
 * Durable Object class.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import { requestMetrics } from '../../shared/platform-metrics/http-middleware.ts';
import { boundedBody, JSON_BODY_MAX_BYTES } from '../../shared/body-limit.ts';
import type { IngestApp } from './env.ts';
import { elasticsearchRoutes } from './routes/elasticsearch.ts';
import { limitsDoc, limitsRoutes } from './routes/limits.ts';
import { logsRoutes, postLogsDoc } from './routes/logs.ts';
import { lokiRoutes } from './routes/loki.ts';
import { lokiTailRoutes } from './routes/loki-tail.ts';
import { otlpRoutes } from './routes/otlp.ts';
import { syslogRoutes } from './routes/syslog.ts';
import { tailDoc, tailRoutes } from './routes/tail.ts';
import { usageDoc, usageRoutes } from './routes/usage.ts';
import { deadLetterDoc, deadLettersDoc, deadLettersRoutes } from './routes/dead-letters.ts';
import { deleteLogsDoc, deleteLogsRoutes } from './routes/delete-logs.ts';
import { alertRuleRoutes } from './routes/alert-rules.ts';
import { alertTargetRoutes } from './routes/alert-targets.ts';
import { alertsRoutes } from './routes/alerts.ts';
import { registerBearerScheme } from '../../shared/openapi.ts';
import { esDocs, lokiPushDoc, otlpLogsDoc, syslogDoc } from './protocol-docs.ts';

export { AlertEvaluator } from '../../durable-objects/alert-evaluator.ts';
export { PlatformMetrics } from '../../durable-objects/platform-metrics.ts';
export { QuotaCoordinator } from '../../durable-objects/quota-coordinator.ts';
export { TailHub } from '../../durable-objects/tail-hub.ts';
export { TenantActor } from '../../durable-objects/tenant-actor.ts';

// Not strict about a trailing slash: shippers configured with a base URL ending in /es call /es/.
const app = new OpenAPIHono<IngestApp>({ strict: false });
// First: rate, errors and latency per route pattern, whatever answers (shared/platform-metrics/).
app.use(requestMetrics('ingest'));
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

app.get('/healthz', (c) => c.json({ status: 'ok', component: 'ingest' }));
// The alerting API's JSON bodies are bounded before a route reads them; the log paths bound theirs
// while reading, counted after decompression (request-body.ts).
app.use('/v1/alerts/*', boundedBody(JSON_BODY_MAX_BYTES));
app.route('/v1/logs', logsRoutes);
app.route('/v1/logs', deleteLogsRoutes);
app.route('/v1/limits', limitsRoutes);
app.route('/es', elasticsearchRoutes);
app.route('/otlp', otlpRoutes);
app.route('/loki/api/v1/tail', lokiTailRoutes);
app.route('/loki', lokiRoutes);
app.route('/v1/syslog', syslogRoutes);
app.route('/v1/tail', tailRoutes);
app.route('/v1/usage', usageRoutes);
app.route('/v1/dead-letters', deadLettersRoutes);
app.route('/v1/alerts/rules', alertRuleRoutes);
app.route('/v1/alerts/targets', alertTargetRoutes);
app.route('/v1/alerts', alertsRoutes);
app.openAPIRegistry.registerPath(postLogsDoc);
app.openAPIRegistry.registerPath(limitsDoc);
for (const doc of [otlpLogsDoc, lokiPushDoc, syslogDoc, tailDoc, usageDoc, deadLettersDoc, deadLetterDoc, deleteLogsDoc, ...esDocs])
  app.openAPIRegistry.registerPath(doc);
registerBearerScheme(app.openAPIRegistry);
app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'NeuralLog ingest', version: '1' } });

export default app;
