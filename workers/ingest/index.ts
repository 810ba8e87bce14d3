/**
 * The ingest worker: authenticates, reads logs in the formats clients speak,
 * and hands each batch to its tenant's actor. It also hosts the TenantActor
 * Durable Object class.
 */
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import type { IngestApp } from './env.ts';
import { logsRoutes } from './routes/logs.ts';

export { TenantActor } from '../../durable-objects/tenant-actor.ts';

const app = new Hono<IngestApp>();
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

app.get('/healthz', (c) => c.json({ status: 'ok', component: 'ingest' }));
app.route('/v1/logs', logsRoutes);

export default app;
