/**
 * DELETE /v1/logs?from=&to=[&q=&level=&service=] — erase the caller's logs in a
 * range (needs the `admin` scope): GDPR erasure, a leaked secret, a noisy
 * bug. `from` and `to` are required, so nothing is deleted by a forgotten
 * parameter. The rows go with a ClickHouse lightweight DELETE (tenant first,
 * parameters only, like every search); then the tenant's data generation is
 * bumped in D1 — after the delete, so no cached answer computed before it
 * stays reachable — and the erasure is written to the audit trail.
 *
 * Not covered: rows still in the tenant actor's buffer at that moment (the
 * last second or so) arrive afterwards; the R2 archive keeps its objects
 * (object lifecycle rules govern it).
 */
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { clickHouseClient, LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { loadConfig } from '../../../shared/config.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { tenants } from '../../../shared/control-plane/schema.ts';
import { logEvent } from '../../../shared/logger.ts';
import { canonicalQuery } from '../edge-cache.ts';
import { compileScope } from '../compile-search.ts';
import type { QueryApp } from '../env.ts';
import { runQuery } from '../run-query.ts';
import { invalid, parseScope } from '../search-params.ts';

export const deleteLogsRoutes = new Hono<QueryApp>();

deleteLogsRoutes.delete('/', requirePrincipal('admin'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  for (const name of ['from', 'to']) if (!query.get(name)) throw invalid(name, 'is required to delete: say which range to erase');
  const principal = c.get('principal');
  const scope = parseScope(query);
  const { where, params } = compileScope(principal.tenantId, scope);
  const [counted] = await runQuery<{ n: string }>(c, `SELECT count() AS n FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}`, params);
  const client = clickHouseClient(loadConfig(c.env).clickhouse);
  await client.command({ query: `DELETE FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}`, query_params: params, clickhouse_settings: { lightweight_deletes_sync: '2' } });
  const db = drizzle(c.env.CONTROL_DB);
  await db.batch([
    db.update(tenants).set({ dataGeneration: sql`${tenants.dataGeneration} + 1` }).where(eq(tenants.id, principal.tenantId)),
    auditStatement(c.env.CONTROL_DB, {
      actor: principal.credential.kind === 'api-key' ? `key:${principal.credential.keyId}` : `jwt:${principal.credential.subject}`,
      tenantId: principal.tenantId,
      action: 'logs.delete',
      details: { from: params.from, to: params.to, query: canonicalQuery(scope.query), rows: Number(counted?.n ?? 0) },
      requestId: c.get('requestId'),
    }),
  ]);
  logEvent('info', 'logs.deleted', { requestId: c.get('requestId'), tenant: principal.tenantId, rows: Number(counted?.n ?? 0) });
  return c.json({ deleted: Number(counted?.n ?? 0) });
});
