/**
 * DELETE /v1/logs?from=&to=[&q=&level=&service=] — erase the caller's logs in
 * a range (needs the `admin` scope): GDPR erasure, a leaked secret, a noisy
 * bug. `from` and `to` are required, so nothing is deleted by a forgotten
 * parameter.
 *
 * It lives with ingest because erasure is a write, and the tenant's actors —
 * which this worker hosts — hold the records not yet flushed:
 * 1. every actor of the tenant removes the buffered records in the scope
 *    (those of flushes waiting out a ClickHouse outage included), then waits
 *    for its flushes in flight, which may carry records read before;
 * 2. ClickHouse: a lightweight DELETE with the same scope (tenant first,
 *    parameters only, like every search), which also catches what those
 *    flushes stored;
 * 3. the tenant's data generation is bumped in D1 — after the delete, so no
 *    cached search answer computed before it stays reachable — and the erasure
 *    is written to the audit trail.
 * When ClickHouse cannot be reached, the buffered records are erased and the
 * answer is a 503 saying so: the DELETE is retried to finish.
 *
 * The R2 archive is not rewritten: it is the immutable record of what was
 * accepted, expired by the bucket's lifecycle rule (README "Archive").
 */
import { createRoute, z } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { auditActor, requirePrincipal, type Principal } from '../../../shared/auth.ts';
import { clickHouseClient, LOGS_TABLE } from '../../../shared/clickhouse.ts';
import { loadConfig } from '../../../shared/config.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { tenants } from '../../../shared/control-plane/schema.ts';
import { logEvent } from '../../../shared/logger.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { PLANS } from '../../../shared/plans.ts';
import { invalid } from '../../../shared/request-params.ts';
import { compileScope, parseScope, type SearchScope } from '../../../shared/search-scope.ts';
import { shardName } from '../../../shared/sharding.ts';
import { formatClickHouseTime } from '../../../shared/timestamp.ts';
import type { IngestApp, IngestEnv } from '../env.ts';
import { withPatternFamilies } from '../pattern-families.ts';

export const deleteLogsDoc = createRoute({
  method: 'delete',
  path: '/v1/logs',
  summary: "Erase the caller's logs in a range, stored and still buffered (needs admin; from and to required)",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      from: z.string().openapi({ description: 'RFC 3339, Unix epoch, now or now-15m' }),
      to: z.string(),
      q: z.string().optional().openapi({ description: 'The query language (docs/query-language.md)' }),
      level: z.string().optional(),
      service: z.string().optional(),
    }),
  },
  responses: {
    200: {
      description: 'Erased; the erasure is audited',
      content: {
        'application/json': {
          schema: z.object({
            deleted: z.number().int().openapi({ description: 'stored + buffered' }),
            stored: z.number().int().openapi({ description: 'Records deleted from ClickHouse' }),
            buffered: z.number().int().openapi({ description: "Records removed from the tenant's actors before they were flushed" }),
          }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 503),
  },
});

/** Every actor a tenant's records may sit in: its plan's shards, and as many as any plan has (a plan lowered since). */
function shardsOf(principal: Principal): number {
  return Math.max(principal.plan.shardCount, ...Object.values(PLANS).map((p) => p.shardCount));
}

async function eraseBuffered(env: IngestEnv, principal: Principal, scope: SearchScope, now: number): Promise<number> {
  const erase = {
    tenantId: principal.tenantId,
    from: formatClickHouseTime(scope.from),
    to: formatClickHouseTime(scope.to),
    query: scope.query,
    severityRanges: scope.severityRanges,
    services: scope.services,
    now,
  };
  const reports = await Promise.all(
    Array.from({ length: shardsOf(principal) }, (_, k) => env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(principal.tenantId, k))).erase(erase)),
  );
  return reports.reduce((n, r) => n + r.erased, 0);
}

export const deleteLogsRoutes = new Hono<IngestApp>();

deleteLogsRoutes.delete('/', requirePrincipal('admin'), async (c) => {
  const query = new URL(c.req.url).searchParams;
  for (const name of ['from', 'to']) if (!query.get(name)) throw invalid(name, 'is required to delete: say which range to erase');
  const principal = c.get('principal');
  const now = Date.now();
  const scope = parseScope(query, now);
  // `pattern:<id>` erases every record of the pattern, those mined under its earlier templates too.
  scope.query = await withPatternFamilies(c.env, principal.tenantId, scope.query, { required: true });
  const buffered = await eraseBuffered(c.env, principal, scope, now);

  const { where, params } = compileScope(principal.tenantId, scope, now);
  const client = clickHouseClient(loadConfig(c.env).clickhouse);
  let stored: number;
  try {
    const counted = await client.query({
      query: `SELECT count() AS n FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    stored = Number((await counted.json<{ n: string }>())[0]?.n ?? 0);
    await client.command({
      query: `DELETE FROM ${LOGS_TABLE} WHERE ${where.join(' AND ')}`,
      query_params: params,
      clickhouse_settings: { lightweight_deletes_sync: '2' },
    });
  } catch (err) {
    logEvent('error', 'logs.delete_failed', { requestId: c.get('requestId'), tenant: principal.tenantId, buffered, error: (err as Error).message });
    throw new ApiError(
      503,
      'unavailable',
      `the log store cannot be reached: the ${buffered} buffered records in the range were erased, the stored ones were not; send the DELETE again`,
      { buffered },
      { 'Retry-After': '5' },
    );
  }

  const db = drizzle(c.env.CONTROL_DB);
  await db.batch([
    db
      .update(tenants)
      .set({ dataGeneration: sql`${tenants.dataGeneration} + 1` })
      .where(eq(tenants.id, principal.tenantId)),
    auditStatement(c.env.CONTROL_DB, {
      ...auditActor(principal),
      tenantId: principal.tenantId,
      action: 'logs.delete',
      details: {
        from: params.from,
        to: params.to,
        q: query.get('q') ?? '',
        level: query.get('level') ?? '',
        service: query.get('service') ?? '',
        stored,
        buffered,
      },
      requestId: c.get('requestId'),
    }),
  ]);
  logEvent('info', 'logs.deleted', { requestId: c.get('requestId'), tenant: principal.tenantId, stored, buffered });
  return c.json({ deleted: stored + buffered, stored, buffered });
});
