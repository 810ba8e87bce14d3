/**
 * The query worker: tenant-scoped search over ClickHouse.
 */
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { handleError, handleNotFound } from '../../shared/api-error.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import type { QueryApp } from './env.ts';
import { logsRoutes } from './routes/logs.ts';

const app = new Hono<QueryApp>();
app.use(requestId());
app.onError(handleError);
app.notFound(handleNotFound);

/** Ready when ClickHouse answers: without it there is nothing to search. */
app.get('/healthz', async (c) => {
  const ping = await clickHouseClient(loadConfig(c.env).clickhouse).ping();
  if (!ping.success) return c.json({ status: 'unavailable', component: 'query', reason: 'clickhouse unreachable' }, 503);
  return c.json({ status: 'ok', component: 'query' });
});
app.route('/v1/logs', logsRoutes);

export default app;
