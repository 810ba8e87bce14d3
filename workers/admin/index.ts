/**
 * The admin worker: the control plane's API, `/v1/admin/...` — tenants, plans,
 * API keys and the audit trail — and the explorer's sessions (`/v1/session`). Every route is an OpenAPI route definition, so
 * its document (served to the gateway, which merges every worker's into the
 * public `/openapi.json`) cannot drift from the code.
 *
 * It is also the billing engine: Stripe customers and subscriptions follow the
 * tenants, Stripe's webhook lands here (/v1/billing/webhook), and its hourly
 * Cron Trigger samples stored bytes and reports metered usage to Stripe.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import { requestMetrics } from '../../shared/platform-metrics/http-middleware.ts';
import { boundedBody, JSON_BODY_MAX_BYTES, LARGE_BODY_MAX_BYTES } from '../../shared/body-limit.ts';
import { registerBearerScheme, validationHook } from '../../shared/openapi.ts';
import { requireAdmin } from './admin-auth.ts';
import type { AdminApp, AdminEnv } from './env.ts';
import { encryptionKeyRoutes } from './routes/encryption-keys.ts';
import { keyRoutes } from './routes/keys.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { billingWebhookRoutes } from './routes/billing-webhook.ts';
import { sessionRoutes } from './routes/session.ts';
import { platformRoutes, prometheusRoutes } from './routes/platform.ts';
import { runBillingJob } from './billing/job.ts';

const app = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });
// First: rate, errors and latency per route pattern, whatever answers (shared/platform-metrics/).
app.use(requestMetrics('admin'));
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

app.get('/healthz', (c) => c.json({ status: 'ok', component: 'admin' }));
app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'NeuralLog admin API', version: '1' } });

// Every body is bounded before a route reads it (shared/body-limit.ts).
app.use('/v1/admin/*', boundedBody(JSON_BODY_MAX_BYTES));
app.use('/v1/session/*', boundedBody(JSON_BODY_MAX_BYTES));
app.use('/v1/billing/webhook/*', boundedBody(LARGE_BODY_MAX_BYTES));
app.use('/v1/admin/tenants/*', requireAdmin());
app.use('/v1/admin/tenants', requireAdmin());
app.route('/v1/admin/tenants', tenantRoutes);
app.route('/v1/admin/tenants', keyRoutes);
app.route('/v1/admin/tenants', encryptionKeyRoutes);
// The operator's view of the platform (platform admin only): metrics and the verbose health check.
app.use('/v1/admin/platform/*', requireAdmin());
app.route('/v1/admin/platform', platformRoutes);
// Prometheus's scrape target (the gateway forwards GET /metrics here): its own access rule (routes/platform.ts).
app.route('/', prometheusRoutes);
// Sign in, read the session, sign out: the browser explorer's sessions (shared/session.ts).
app.route('/v1/session', sessionRoutes);
// Authenticated by Stripe's signature, not a bearer credential.
app.route('/v1/billing/webhook', billingWebhookRoutes);
registerBearerScheme(app.openAPIRegistry);

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(runBillingJob(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<AdminEnv>;
