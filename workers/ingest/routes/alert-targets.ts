/**
 * /v1/alerts/targets — where a tenant's alert rules send notifications
 * (webhook, Slack, PagerDuty, Alertmanager, email; shared/alerts/target-definition.ts):
 * list, create, read, replace, rotate a webhook's secret, delete. Reading
 * needs `alerts:read`, changing `alerts:write` (`admin` grants both); the
 * tenant is the credential's, as everywhere.
 *
 * - Secrets (a webhook's signing secret, a Slack URL, a PagerDuty routing
 *   key) are sealed before they are stored and never returned: a webhook
 *   secret the server generates is shown once, in the answer that made it.
 * - Target URLs pass checkOutboundUrl (no private, loopback or metadata
 *   address; https only) unless NEURALLOG_ALERTS_ALLOW_LOOPBACK is set.
 * - Every change is written with its audit entry in one D1 batch (the entry
 *   names the target, never a secret), and bumps the version. The statements
 *   carry their own conditions — the tenant's cap in the INSERT, the version
 *   read in an UPDATE, "no rule lists it" in the DELETE — so concurrent
 *   requests cannot pass them, and the audit entry is written only when its
 *   change is.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { and, asc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import {
  AlertTargetInput,
  AlertTargetReplacement,
  AlertTargetView,
  GENERATED_SECRET_BYTES,
  MAX_ALERT_TARGETS,
  type TargetParts,
  alertTargetView,
  sealTargetSecret,
  targetParts,
} from '../../../shared/alerts/target-definition.ts';
import { ApiError, type ErrorDetails } from '../../../shared/api-error.ts';
import { type Principal, auditActor, requirePrincipal } from '../../../shared/auth.ts';
import { loadConfig, secretsKey } from '../../../shared/config.ts';
import { alertTargets } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { credentialName, randomToken } from '../../../shared/session.ts';
import type { IngestApp } from '../env.ts';
import { requireAlertScope } from './alert-scope.ts';

const AlertTargetCreated = AlertTargetView.extend({
  signingSecret: z.string().optional().openapi({
    description: 'A webhook signing secret the server generated: shown in this answer only, never again (store it in the receiver now)',
  }),
}).openapi('AlertTargetCreated');

const IdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

/** How many of the rules that use a target a 409 names (a tenant may have 1,000 rules). */
const MAX_RULES_NAMED = 50;

type Row = typeof alertTargets.$inferSelect;

async function findTarget(db: D1Database, tenantId: string, id: string): Promise<Row> {
  const row = (
    await drizzle(db)
      .select()
      .from(alertTargets)
      .where(and(eq(alertTargets.id, id), eq(alertTargets.tenantId, tenantId)))
      .limit(1)
  )[0];
  if (!row) throw new ApiError(404, 'not_found', `no alert target "${id}"`);
  return row;
}

function nameTaken(err: unknown, name: string): never {
  if (/UNIQUE constraint failed/.test((err as Error).message))
    throw new ApiError(409, 'already_exists', `an alert target named "${name}" exists`, { field: 'name' });
  throw err;
}

/** The production rules for target URLs, unless this deployment allows local receivers. */
function urlMode(c: Context<IngestApp>): { production: boolean } {
  return { production: !loadConfig(c.env).alerts.allowLoopback };
}

/** The sealed `secret` column for `parts`: sealed anew, the stored value kept, or null. */
async function secretColumn(c: Context<IngestApp>, parts: TargetParts, tenantId: string, id: string, stored: string | null): Promise<string | null> {
  switch (parts.secret.action) {
    case 'set':
      return sealTargetSecret(parts.secret.value, secretsKey(loadConfig(c.env)), tenantId, id);
    case 'keep':
      return stored;
    case 'none':
      return null;
  }
}

/**
 * An audit entry written only if `condition` (SQL over ?1 = target id, ?2 = tenant, then `binds`)
 * holds: placed before the change it records, in the same batch, with the change's own condition.
 */
function auditIf(
  c: Context<IngestApp>,
  principal: Principal,
  targetId: string,
  action: string,
  details: Record<string, unknown>,
  condition: string,
  binds: unknown[],
) {
  const { actor, credential } = auditActor(principal);
  return c.env.CONTROL_DB.prepare(
    `INSERT INTO audit_log (at, actor, credential, tenant_id, action, details, request_id)
     SELECT ?${binds.length + 3}, ?${binds.length + 4}, ?${binds.length + 5}, ?2, ?${binds.length + 6}, ?${binds.length + 7}, ?${binds.length + 8}
     WHERE ${condition}`,
  ).bind(targetId, principal.tenantId, ...binds, Date.now(), actor, credential, action, JSON.stringify(details), c.get('requestId') ?? null);
}

/** Names of the tenant's rules whose `targets` list `id` (by name, at most MAX_RULES_NAMED), and how many there are. */
async function rulesUsing(db: D1Database, tenantId: string, id: string): Promise<{ names: string[]; count: number }> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT r.name AS name FROM alert_rules r, json_each(r.definition, '$.targets') t
       WHERE r.tenant_id = ?1 AND t.value = ?2 ORDER BY r.name`,
    )
    .bind(tenantId, id)
    .all<{ name: string }>();
  return { names: results.slice(0, MAX_RULES_NAMED).map((r) => r.name), count: results.length };
}

/** After a conditional change that changed nothing: the target is gone (404), or another request changed it first (409). */
async function notChanged(db: D1Database, tenantId: string, id: string): Promise<never> {
  await findTarget(db, tenantId, id);
  throw new ApiError(409, 'conflict', `alert target "${id}" was changed by another request meanwhile: read it again and retry`);
}

export const alertTargetRoutes = new OpenAPIHono<IngestApp>({ defaultHook: validationHook });
alertTargetRoutes.use('*', requirePrincipal());
alertTargetRoutes.on(['POST', 'PUT', 'DELETE'], '*', requireAlertScope('alerts:write'));
alertTargetRoutes.on(['GET', 'HEAD'], '*', requireAlertScope('alerts:read'));

alertTargetRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: "The tenant's notification targets, by name (needs alerts:read)",
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'Targets (no secret)', content: { 'application/json': { schema: z.object({ targets: z.array(AlertTargetView) }) } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const rows = await drizzle(c.env.CONTROL_DB).select().from(alertTargets).where(eq(alertTargets.tenantId, tenantId)).orderBy(asc(alertTargets.name));
    return c.json({ targets: rows.map(alertTargetView) }, 200);
  },
);

alertTargetRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/',
    summary: 'Create a notification target (needs alerts:write)',
    description:
      `Names are unique per tenant (409 \`already_exists\`); at most ${MAX_ALERT_TARGETS} targets per tenant (409 \`too_many_alert_targets\`). ` +
      'URLs must be https:// to a public host (400 `invalid_request` with `field` and `reason`). ' +
      'A webhook created without `secret` gets a generated one, returned once as `signingSecret`.',
    security: BEARER_SECURITY,
    request: { body: { content: { 'application/json': { schema: AlertTargetInput } }, required: true } },
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: AlertTargetCreated } } },
      ...errorResponses(400, 401, 403, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const input = c.req.valid('json');
    const parts = targetParts(input, urlMode(c), null);
    const id = `tgt_${crypto.randomUUID()}`;
    const secret = await secretColumn(c, parts, principal.tenantId, id, null);
    const now = Date.now();
    let changes: number;
    try {
      // The count and the insert in one statement: D1 runs it alone, so the cap holds under concurrent creates.
      const [insert] = await c.env.CONTROL_DB.batch([
        c.env.CONTROL_DB.prepare(
          `INSERT INTO alert_targets (id, tenant_id, name, kind, config, secret, version, created_at, created_by, updated_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?7 WHERE (SELECT count(*) FROM alert_targets WHERE tenant_id = ?2) < ?9`,
        ).bind(
          id,
          principal.tenantId,
          input.name,
          parts.kind,
          JSON.stringify(parts.config),
          secret,
          now,
          credentialName(principal.credential),
          MAX_ALERT_TARGETS,
        ),
        // Audited only if the target was stored (the row exists now).
        auditIf(
          c,
          principal,
          id,
          'alert_target.create',
          { targetId: id, name: input.name, kind: parts.kind },
          'EXISTS (SELECT 1 FROM alert_targets WHERE id = ?1)',
          [],
        ),
      ]);
      changes = insert!.meta.changes;
    } catch (err) {
      nameTaken(err, input.name);
    }
    if (changes === 0) {
      throw new ApiError(409, 'too_many_alert_targets', `this tenant has ${MAX_ALERT_TARGETS} alert targets, the most it may keep: delete one first`, {
        limit: MAX_ALERT_TARGETS,
      });
    }
    const view = alertTargetView(await findTarget(c.env.CONTROL_DB, principal.tenantId, id));
    return c.json(parts.generatedSecret === undefined ? view : { ...view, signingSecret: parts.generatedSecret }, 201);
  },
);

alertTargetRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{id}',
    summary: 'One notification target, without its secret (needs alerts:read)',
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 200: { description: 'The target', content: { 'application/json': { schema: AlertTargetView } } }, ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const row = await findTarget(c.env.CONTROL_DB, c.get('principal').tenantId, c.req.valid('param').id);
    return c.json(alertTargetView(row), 200);
  },
);

alertTargetRoutes.openapi(
  createRoute({
    method: 'put',
    path: '/{id}',
    summary: 'Replace a notification target (needs alerts:write)',
    description:
      'The whole target, checked as on create; the version goes up by one. While the kind stays, the secret field ' +
      "(a webhook's `secret`, a Slack `url`, a PagerDuty `routingKey`) may be left out to keep the stored one. " +
      'A target that becomes a webhook without `secret` gets a generated one, returned once as `signingSecret`. ' +
      '409 `conflict` when another request changed the target meanwhile.',
    security: BEARER_SECURITY,
    request: { params: IdParam, body: { content: { 'application/json': { schema: AlertTargetReplacement } }, required: true } },
    responses: {
      200: { description: 'Replaced', content: { 'application/json': { schema: AlertTargetCreated } } },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const stored = await findTarget(c.env.CONTROL_DB, principal.tenantId, id); // 404 before anything is written or audited
    const parts = targetParts(input, urlMode(c), stored);
    const secret = await secretColumn(c, parts, principal.tenantId, id, stored.secret);
    const db = drizzle(c.env.CONTROL_DB);
    let changes = 0;
    try {
      const [, update] = await c.env.CONTROL_DB.batch([
        auditIf(
          c,
          principal,
          id,
          'alert_target.update',
          { targetId: id, name: input.name, kind: parts.kind, secretReplaced: parts.secret.action === 'set' },
          'EXISTS (SELECT 1 FROM alert_targets WHERE id = ?1 AND tenant_id = ?2 AND version = ?3)',
          [stored.version],
        ),
        // Only over the version read: a kept secret or key suffix belongs to the row as it was read.
        c.env.CONTROL_DB.prepare(
          `UPDATE alert_targets SET name = ?3, kind = ?4, config = ?5, secret = ?6, version = version + 1, updated_at = ?7
           WHERE id = ?1 AND tenant_id = ?2 AND version = ?8`,
        ).bind(id, principal.tenantId, input.name, parts.kind, JSON.stringify(parts.config), secret, Date.now(), stored.version),
      ]);
      changes = update!.meta.changes;
    } catch (err) {
      nameTaken(err, input.name);
    }
    if (changes === 0) await notChanged(c.env.CONTROL_DB, principal.tenantId, id);
    const row = (await db.select().from(alertTargets).where(eq(alertTargets.id, id)).limit(1))[0]!;
    const view = alertTargetView(row);
    return c.json(parts.generatedSecret === undefined ? view : { ...view, signingSecret: parts.generatedSecret }, 200);
  },
);

alertTargetRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/{id}/rotate-secret',
    summary: "Replace a webhook target's signing secret with a generated one (needs alerts:write)",
    description:
      'The new secret is in this answer only (`signingSecret`); requests are signed with it from now on. ' +
      'Other kinds have no generated secret (400): replace their credential with PUT.',
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: {
      200: { description: 'Rotated', content: { 'application/json': { schema: AlertTargetCreated } } },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const stored = await findTarget(c.env.CONTROL_DB, principal.tenantId, id);
    if (stored.kind !== 'webhook') {
      throw new ApiError(400, 'invalid_request', `alert target "${id}" is a ${stored.kind} target: only a webhook target has a signing secret to rotate`, {
        kind: stored.kind,
      });
    }
    const signingSecret = randomToken(GENERATED_SECRET_BYTES);
    const secret = await sealTargetSecret({ secret: signingSecret }, secretsKey(loadConfig(c.env)), principal.tenantId, id);
    const [, update] = await c.env.CONTROL_DB.batch([
      auditIf(
        c,
        principal,
        id,
        'alert_target.rotate_secret',
        { targetId: id, name: stored.name },
        "EXISTS (SELECT 1 FROM alert_targets WHERE id = ?1 AND tenant_id = ?2 AND version = ?3 AND kind = 'webhook')",
        [stored.version],
      ),
      c.env.CONTROL_DB.prepare(
        `UPDATE alert_targets SET secret = ?3, version = version + 1, updated_at = ?4
         WHERE id = ?1 AND tenant_id = ?2 AND version = ?5 AND kind = 'webhook'`,
      ).bind(id, principal.tenantId, secret, Date.now(), stored.version),
    ]);
    if (update!.meta.changes === 0) await notChanged(c.env.CONTROL_DB, principal.tenantId, id);
    return c.json({ ...alertTargetView(await findTarget(c.env.CONTROL_DB, principal.tenantId, id)), signingSecret }, 200);
  },
);

alertTargetRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/{id}',
    summary: 'Delete a notification target (needs alerts:write)',
    description: `409 \`target_in_use\` while any of the tenant's alert rules lists it (\`rules\`: their names, at most ${MAX_RULES_NAMED}; \`ruleCount\`).`,
    security: BEARER_SECURITY,
    request: { params: IdParam },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404, 409) },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const stored = await findTarget(c.env.CONTROL_DB, principal.tenantId, id);
    // "No rule of the tenant lists it" is part of the DELETE itself: a rule saved meanwhile cannot be left pointing at nothing by this request.
    const unused = `NOT EXISTS (SELECT 1 FROM alert_rules r, json_each(r.definition, '$.targets') t WHERE r.tenant_id = ?2 AND t.value = ?1)`;
    const [, deleted] = await c.env.CONTROL_DB.batch([
      auditIf(
        c,
        principal,
        id,
        'alert_target.delete',
        { targetId: id, name: stored.name, kind: stored.kind },
        `EXISTS (SELECT 1 FROM alert_targets WHERE id = ?1 AND tenant_id = ?2) AND ${unused}`,
        [],
      ),
      c.env.CONTROL_DB.prepare(`DELETE FROM alert_targets WHERE id = ?1 AND tenant_id = ?2 AND ${unused}`).bind(id, principal.tenantId),
    ]);
    if (deleted!.meta.changes === 0) {
      const { names, count } = await rulesUsing(c.env.CONTROL_DB, principal.tenantId, id);
      if (count === 0) throw new ApiError(404, 'not_found', `no alert target "${id}"`);
      throw new ApiError(
        409,
        'target_in_use',
        `alert target "${id}" is used by ${count} alert rule${count === 1 ? '' : 's'}: remove it from their targets first`,
        // A list of names: the envelope spreads details as they are (ErrorDetails types flat values only).
        { rules: names, ruleCount: count } as unknown as ErrorDetails,
      );
    }
    return c.body(null, 204);
  },
);
