/**
 * The admin worker: the control plane's API, `/v1/admin/...` — tenants, plans,
 * API keys and the audit trail. Every route is an OpenAPI route definition, so
 * its document (served to the gateway, which merges every worker's into the
 * public `/openapi.json`) cannot drift from the code.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import { registerBearerScheme, validationHook } from '../../shared/openapi.ts';
import { requireAdmin } from './admin-auth.ts';
import type { AdminApp } from './env.ts';
import { keyRoutes } from './routes/keys.ts';
import { tenantRoutes } from './routes/tenants.ts';

const app = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

app.get('/healthz', (c) => c.json({ status: 'ok', component: 'admin' }));
app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'NeuralLog admin API', version: '1' } });

app.use('/v1/admin/tenants/*', requireAdmin());
app.use('/v1/admin/tenants', requireAdmin());
app.route('/v1/admin/tenants', tenantRoutes);
app.route('/v1/admin/tenants', keyRoutes);
registerBearerScheme(app.openAPIRegistry);

export default app;
