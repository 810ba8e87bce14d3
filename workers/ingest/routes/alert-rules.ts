/**
 * /v1/alerts/rules — a tenant's alert rules (shared/alerts/rule.ts,
 * docs/alerts.md): list, create, read, replace, delete, mute. Reading needs
 * `alerts:read`, changing `alerts:write` (`admin` grants both); the tenant is
 * the credential's, as everywhere. Every change is written together with its
 * audit entry (one D1 batch), and bumps the rule's version.
 *
 * A rule is stored only if it would run: its queries parse (400
 * `query_syntax` with the field and position), its durations read and respect
 * the plan's shortest interval, and the plan's rule count holds — checked in
 * the INSERT itself, so concurrent creates cannot pass it.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { AlertRuleDefinition, checkRule, LABEL_NAME } from '../../../shared/alerts/rule.ts';
import { ApiError } from '../../../shared/api-error.ts';
import { auditActor, requirePrincipal } from '../../../shared/auth.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { alertRules } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { credentialName } from '../../../shared/session.ts';
import type { Context } from 'hono';
import { logEvent } from '../../../shared/logger.ts';
import type { IngestApp } from '../env.ts';
import { requireAlertScope } from './alert-scope.ts';

const AlertRule = z
  .object({
    id: z.string(),
    version: z.number().int().openapi({ description: 'Incremented by every change' }),
    mutedUntil: z.string().nullable().openapi({ format: 'date-time', description: 'No notification before this time' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string(),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    rule: AlertRuleDefinition,
  })
  .openapi('AlertRule');

const IdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

type Row = typeof alertRules.$inferSelect;

const toAlertRule = (row: Row): z.infer<typeof AlertRule> => ({
  id: row.id,
  version: row.version,
  mutedUntil: row.mutedUntil ? row.mutedUntil.toISOString() : null,
  createdAt: row.createdAt.toISOString(),
  createdBy: row.createdBy,
  updatedAt: row.updatedAt.toISOString(),
  rule: row.definition as z.infer<typeof AlertRuleDefinition>,
});

/**
 * Tells the tenant's AlertEvaluator that its rules changed. The rule is stored either way: if the
 * call fails, the evaluator re-reads its rules within a minute (RESYNC_MS) — unless it never ran, so
 * the failure is logged for operators.
 */
async function syncEvaluator(c: Context<IngestApp>, tenantId: string): Promise<void> {
  try {
    await c.env.ALERT_EVALUATOR.get(c.env.ALERT_EVALUATOR.idFromName(tenantId)).sync(tenantId, new URL(c.req.url).origin);
  } catch (err) {
    logEvent('error', 'alerts.sync_failed', { tenant: tenantId, error: (err as Error).message });
  }
}

/** Every target a rule names must be one of the tenant's (400 naming the first that is not). */
async function checkTargets(db: D1Database, tenantId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = await db
    .prepare(`SELECT id FROM alert_targets WHERE tenant_id = ? AND id IN (${ids.map(() => '?').join(', ')})`)
    .bind(tenantId, ...ids)
    .all<{ id: string }>();
  const known = new Set(found.results.map((r) => r.id));
  const missing = ids.findIndex((id) => !known.has(id));
  if (missing >= 0)
    throw new ApiError(400, 'invalid_request', `targets.${missing}: no notification target "${ids[missing]!.slice(0, 100)}" (see /v1/alerts/targets)`, {
      field: `targets.${missing}`,
    });
}

async function findRule(db: D1Database, tenantId: string, id: string): Promise<Row> {
  const row = (
    await drizzle(db)
      .select()
      .from(alertRules)
      .where(and(eq(alertRules.id, id), eq(alertRules.tenantId, tenantId)))
      .limit(1)
  )[0];
  if (!row) throw new ApiError(404, 'not_found', `no alert rule "${id}"`);
  return row;
}

function nameTaken(err: unknown, name: string): never {
  if (/UNIQUE constraint failed/.test((err as Error).message))
    throw new ApiError(409, 'already_exists', `an alert rule named "${name}" exists`, { field: 'name' });
  throw err;
}

export const alertRuleRoutes = new OpenAPIHono<IngestApp>({ defaultHook: validationHook });
alertRuleRoutes.use('*', requirePrincipal());
alertRuleRoutes.on(['POST', 'PUT', 'DELETE'], '*', requireAlertScope('alerts:write'));
alertRuleRoutes.on(['GET', 'HEAD'], '*', requireAlertScope('alerts:read'));
// Label names are checked on the body as sent, before the schema: a record parser drops an own
// `__proto__` key in silence, and a rule must never be stored with less than it was given.
alertRuleRoutes.on(['POST', 'PUT'], ['/', '/:id'], async (c, next) => {
  const body: unknown = await c.req.json().catch(() => null);
  const labels = body !== null && typeof body === 'object' && Object.hasOwn(body, 'labels') ? (body as { labels: unknown }).labels : null;
  if (labels !== null && typeof labels === 'object') {
    for (const name of Object.keys(labels)) {
      if (!LABEL_NAME.test(name))
        throw new ApiError(400, 'invalid_request', `labels: "${name.slice(0, 64)}" is not a label name (${LABEL_NAME.source})`, {
          field: `labels.${name.slice(0, 64)}`,
        });
    }
  }
  await next();
});

alertRuleRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: "The tenant's alert rules, by name (needs alerts:read)",
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'Alert rules', content: { 'application/json': { schema: z.object({ rules: z.array(AlertRule) }) } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const rows = await drizzle(c.env.CONTROL_DB).select().from(alertRules).where(eq(alertRules.tenantId, tenantId)).orderBy(asc(alertRules.name));
    return c.json({ rules: rows.map(toAlertRule) }, 200);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/',
    summary: 'Create an alert rule (needs alerts:write)',
    description:
      'Names are unique per tenant (409 `already_exists`); the plan bounds the rule count (409 `too_many_alert_rules`) and the shortest interval (400). Queries must parse (400 `query_syntax` with `field` and `position`).',
    security: BEARER_SECURITY,
    request: { body: { content: { 'application/json': { schema: AlertRuleDefinition } }, required: true } },
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: AlertRule } } },
      ...errorResponses(400, 401, 403, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const rule = c.req.valid('json');
    checkRule(rule, principal.plan);
    await checkTargets(c.env.CONTROL_DB, principal.tenantId, rule.targets);
    const id = crypto.randomUUID();
    const now = Date.now();
    const db = drizzle(c.env.CONTROL_DB);
    let changes: number;
    try {
      // The count and the insert in one statement: D1 runs it alone, so the plan's cap holds under concurrent creates.
      const [insert] = await c.env.CONTROL_DB.batch([
        c.env.CONTROL_DB.prepare(
          `INSERT INTO alert_rules (id, tenant_id, name, definition, version, created_at, created_by, updated_at)
           SELECT ?1, ?2, ?3, ?4, 1, ?5, ?6, ?5 WHERE (SELECT count(*) FROM alert_rules WHERE tenant_id = ?2) < ?7`,
        ).bind(id, principal.tenantId, rule.name, JSON.stringify(rule), now, credentialName(principal.credential), principal.plan.alertRules),
        // Audited only if the rule was stored (the same condition: the row exists now).
        c.env.CONTROL_DB.prepare(
          `INSERT INTO audit_log (at, actor, credential, tenant_id, action, details, request_id)
           SELECT ?1, ?2, ?3, ?4, 'alert_rule.create', ?5, ?6 WHERE EXISTS (SELECT 1 FROM alert_rules WHERE id = ?7)`,
        ).bind(
          now,
          auditActor(principal).actor,
          auditActor(principal).credential,
          principal.tenantId,
          JSON.stringify({ ruleId: id, name: rule.name }),
          c.get('requestId') ?? null,
          id,
        ),
      ]);
      changes = insert!.meta.changes;
    } catch (err) {
      nameTaken(err, rule.name);
    }
    if (changes === 0) {
      throw new ApiError(
        409,
        'too_many_alert_rules',
        `this tenant has ${principal.plan.alertRules} alert rules, the most the ${principal.plan.name} plan allows: delete one first`,
        { limit: principal.plan.alertRules },
      );
    }
    const row = (await db.select().from(alertRules).where(eq(alertRules.id, id)).limit(1))[0]!;
    await syncEvaluator(c, principal.tenantId);
    return c.json(toAlertRule(row), 201);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'One alert rule (needs alerts:read)',
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 200: { description: 'The rule', content: { 'application/json': { schema: AlertRule } } }, ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const row = await findRule(c.env.CONTROL_DB, c.get('principal').tenantId, c.req.valid('param').id);
    return c.json(toAlertRule(row), 200);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'put',
    path: '/{id}',
    summary: 'Replace an alert rule (needs alerts:write)',
    description: 'The whole definition, checked as on create; the version goes up by one.',
    security: BEARER_SECURITY,
    request: { params: IdParam, body: { content: { 'application/json': { schema: AlertRuleDefinition } }, required: true } },
    responses: {
      200: { description: 'Replaced', content: { 'application/json': { schema: AlertRule } } },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const rule = c.req.valid('json');
    checkRule(rule, principal.plan);
    await checkTargets(c.env.CONTROL_DB, principal.tenantId, rule.targets);
    await findRule(c.env.CONTROL_DB, principal.tenantId, id); // 404 before anything is written or audited
    const db = drizzle(c.env.CONTROL_DB);
    let changes = 0;
    try {
      const [update] = await db.batch([
        db
          .update(alertRules)
          .set({ name: rule.name, definition: rule, version: sql`${alertRules.version} + 1`, updatedAt: new Date() })
          .where(and(eq(alertRules.id, id), eq(alertRules.tenantId, principal.tenantId))),
        auditStatement(c.env.CONTROL_DB, {
          ...auditActor(principal),
          tenantId: principal.tenantId,
          action: 'alert_rule.update',
          details: { ruleId: id, name: rule.name },
          requestId: c.get('requestId'),
        }),
      ]);
      changes = update.meta.changes;
    } catch (err) {
      nameTaken(err, rule.name);
    }
    if (changes === 0) throw new ApiError(404, 'not_found', `no alert rule "${id}"`);
    await syncEvaluator(c, principal.tenantId);
    return c.json(toAlertRule(await findRule(c.env.CONTROL_DB, principal.tenantId, id)), 200);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/{id}/mute',
    summary: 'Mute an alert rule until a time, or unmute it with `until: null` (needs alerts:write)',
    description: 'A muted rule is still evaluated (its alerts keep their states) but sends no notification before `until`.',
    security: BEARER_SECURITY,
    request: {
      params: IdParam,
      body: {
        content: {
          'application/json': {
            schema: z
              .object({ until: z.string().datetime({ offset: true }).nullable() })
              .strict()
              .openapi('AlertRuleMute'),
          },
        },
        required: true,
      },
    },
    responses: { 200: { description: 'Muted', content: { 'application/json': { schema: AlertRule } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const { until } = c.req.valid('json');
    const mutedUntil = until === null ? null : new Date(until);
    if (mutedUntil && mutedUntil.getTime() <= Date.now()) throw new ApiError(400, 'invalid_request', 'until: must be in the future', { field: 'until' });
    await findRule(c.env.CONTROL_DB, principal.tenantId, id);
    const db = drizzle(c.env.CONTROL_DB);
    const [update] = await db.batch([
      db
        .update(alertRules)
        .set({ mutedUntil, version: sql`${alertRules.version} + 1`, updatedAt: new Date() })
        .where(and(eq(alertRules.id, id), eq(alertRules.tenantId, principal.tenantId))),
      auditStatement(c.env.CONTROL_DB, {
        ...auditActor(principal),
        tenantId: principal.tenantId,
        action: until === null ? 'alert_rule.unmute' : 'alert_rule.mute',
        details: { ruleId: id, until },
        requestId: c.get('requestId'),
      }),
    ]);
    if (update.meta.changes === 0) throw new ApiError(404, 'not_found', `no alert rule "${id}"`);
    await syncEvaluator(c, principal.tenantId);
    return c.json(toAlertRule(await findRule(c.env.CONTROL_DB, principal.tenantId, id)), 200);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/{id}',
    summary: 'Delete an alert rule (needs alerts:write)',
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    await findRule(c.env.CONTROL_DB, principal.tenantId, id);
    const db = drizzle(c.env.CONTROL_DB);
    const [deleted] = await db.batch([
      db.delete(alertRules).where(and(eq(alertRules.id, id), eq(alertRules.tenantId, principal.tenantId))),
      auditStatement(c.env.CONTROL_DB, {
        ...auditActor(principal),
        tenantId: principal.tenantId,
        action: 'alert_rule.delete',
        details: { ruleId: id },
        requestId: c.get('requestId'),
      }),
    ]);
    if (deleted.meta.changes === 0) throw new ApiError(404, 'not_found', `no alert rule "${id}"`);
    await syncEvaluator(c, principal.tenantId);
    return c.body(null, 204);
  },
);

alertRuleRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/{id}/test',
    summary: "Send a test notification to each of the rule's targets now (needs alerts:write)",
    description:
      'The notification is marked as a test (label `test=true`, a dedup key of its own) and is not an alert: it changes no state and is not retried. ' +
      'The answer says, per target, whether the receiver took it and what it answered; the history records it.',
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: {
      200: {
        description: 'One result per target of the rule',
        content: {
          'application/json': {
            schema: z.object({ deliveries: z.array(z.object({ targetId: z.string(), delivered: z.boolean(), detail: z.string() })) }),
          },
        },
      },
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const { id } = c.req.valid('param');
    await findRule(c.env.CONTROL_DB, tenantId, id);
    const evaluator = c.env.ALERT_EVALUATOR.get(c.env.ALERT_EVALUATOR.idFromName(tenantId));
    await evaluator.sync(tenantId, new URL(c.req.url).origin);
    return c.json({ deliveries: await evaluator.testFire(tenantId, id) }, 200);
  },
);
