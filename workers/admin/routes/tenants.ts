/**
 * /v1/admin/tenants — create, list, read and change tenants; read their audit trail.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ApiError } from '../../../shared/api-error.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { auditLog, billingAccounts, tenants } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { PLANS, type PlanId } from '../../../shared/plans.ts';
import { assertCanManage, assertPlatformAdmin } from '../admin-auth.ts';
import { billingConfig, type BillingConfig } from '../billing/stripe.ts';
import { changeSubscriptionPlan, openBillingAccount } from '../billing/subscriptions.ts';
import type { AdminApp } from '../env.ts';
import { AuditEntry, CreateTenant, Tenant, TenantIdParam, UpdateTenant } from '../schemas.ts';

export const tenantRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

type TenantRow = typeof tenants.$inferSelect & { billing: typeof billingAccounts.$inferSelect | null };
const toTenant = (row: TenantRow): z.infer<typeof Tenant> => ({
  id: row.id,
  name: row.name,
  plan: row.planId as PlanId,
  status: row.status,
  retentionDays: row.retentionDays,
  shardCount: row.shardCount ?? PLANS[row.planId as PlanId].shardCount,
  createdAt: row.createdAt.toISOString(),
  billing: row.billing && { email: row.billing.email, stripeCustomerId: row.billing.stripeCustomerId, stripeSubscriptionId: row.billing.stripeSubscriptionId },
  ingestSuspendedAt: row.suspendAt?.toISOString() ?? null,
});

const tenantWithBilling = (db: ReturnType<typeof drizzle>) => db.select().from(tenants).leftJoin(billingAccounts, eq(billingAccounts.tenantId, tenants.id));

async function findTenant(db: D1Database, id: string): Promise<TenantRow> {
  const row = (await tenantWithBilling(drizzle(db)).where(eq(tenants.id, id)).limit(1))[0];
  if (!row) throw new ApiError(404, 'not_found', `no tenant "${id}"`);
  return { ...row.tenants, billing: row.billing_accounts };
}

/** Billing must be configured for a request that asks for it. */
function requireBilling(env: Parameters<typeof billingConfig>[0]): BillingConfig {
  const config = billingConfig(env);
  if (!config) throw new ApiError(400, 'billing_unavailable', 'billing is not configured on this deployment (STRIPE_SECRET_KEY)', { field: 'billing' });
  return config;
}

/** A Stripe failure is the upstream's: 502, nothing changed here. */
async function viaStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(502, 'billing_unavailable', `Stripe did not accept the change: ${(err as Error).message}`, {}, { 'Retry-After': '5' });
  }
}

tenantRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/',
    summary: 'Create a tenant (platform admin)',
    security: BEARER_SECURITY,
    request: { body: { content: { 'application/json': { schema: CreateTenant } }, required: true } },
    responses: { 201: { description: 'Created', content: { 'application/json': { schema: Tenant } } }, ...errorResponses(400, 401, 403, 409) },
  }),
  async (c) => {
    const admin = c.get('admin');
    assertPlatformAdmin(admin);
    const body = c.req.valid('json');
    const db = drizzle(c.env.CONTROL_DB);
    const existing = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, body.id)).limit(1);
    if (existing.length > 0) throw new ApiError(409, 'conflict', `tenant "${body.id}" exists`, { field: 'id' });
    const row = { id: body.id, name: body.name, planId: body.plan, retentionDays: body.retentionDays ?? PLANS[body.plan].retentionDays };
    // Stripe first (its calls are idempotent per tenant, so a retried request reuses the customer), then D1 in one transaction.
    const billing =
      body.billing &&
      (await viaStripe(() => openBillingAccount(requireBilling(c.env), { id: body.id, name: body.name, plan: body.plan }, body.billing!.email)));
    await db.batch([
      db.insert(tenants).values(row),
      ...(billing ? [db.insert(billingAccounts).values(billing)] : []),
      auditStatement(c.env.CONTROL_DB, {
        actor: admin.actor,
        credential: admin.credential,
        tenantId: body.id,
        action: 'tenant.create',
        details: { ...row, ...(billing && { stripeCustomerId: billing.stripeCustomerId, stripeSubscriptionId: billing.stripeSubscriptionId }) },
        requestId: c.get('requestId'),
      }),
    ]);
    return c.json(toTenant(await findTenant(c.env.CONTROL_DB, body.id)), 201);
  },
);

tenantRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: 'List tenants (a tenant admin sees its own)',
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'Tenants', content: { 'application/json': { schema: z.object({ tenants: z.array(Tenant) }) } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const admin = c.get('admin');
    const db = drizzle(c.env.CONTROL_DB);
    const rows =
      admin.kind === 'platform-admin' ? await tenantWithBilling(db).orderBy(tenants.id) : await tenantWithBilling(db).where(eq(tenants.id, admin.tenantId));
    return c.json({ tenants: rows.map((r) => toTenant({ ...r.tenants, billing: r.billing_accounts })) }, 200);
  },
);

tenantRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{tenantId}',
    summary: 'Read a tenant',
    security: BEARER_SECURITY,
    request: { params: TenantIdParam },
    responses: { 200: { description: 'The tenant', content: { 'application/json': { schema: Tenant } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { tenantId } = c.req.valid('param');
    assertCanManage(c.get('admin'), tenantId);
    return c.json(toTenant(await findTenant(c.env.CONTROL_DB, tenantId)), 200);
  },
);

tenantRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/{tenantId}',
    summary: 'Change plan, name, retention; suspend or resume (platform admin)',
    security: BEARER_SECURITY,
    request: { params: TenantIdParam, body: { content: { 'application/json': { schema: UpdateTenant } }, required: true } },
    responses: { 200: { description: 'The tenant, changed', content: { 'application/json': { schema: Tenant } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const admin = c.get('admin');
    assertPlatformAdmin(admin);
    const { tenantId } = c.req.valid('param');
    const change = c.req.valid('json');
    const before = await findTenant(c.env.CONTROL_DB, tenantId);
    const set: Partial<typeof tenants.$inferInsert> = {};
    if (change.name !== undefined) set.name = change.name;
    if (change.plan !== undefined) set.planId = change.plan;
    if (change.status !== undefined) set.status = change.status;
    if (change.retentionDays !== undefined) set.retentionDays = change.retentionDays;
    if (change.shardCount !== undefined) set.shardCount = change.shardCount;
    if (Object.keys(set).length === 0) throw new ApiError(400, 'invalid_request', 'nothing to change', { field: null });
    // A billed tenant's subscription follows its plan; Stripe first, so a refusal there changes nothing here.
    if (change.plan !== undefined && change.plan !== before.planId && before.billing) {
      const account = before.billing;
      await viaStripe(() => changeSubscriptionPlan(requireBilling(c.env), c.env.CONTROL_DB, account, change.plan!, c.get('requestId')));
    }
    const db = drizzle(c.env.CONTROL_DB);
    const action = change.status && change.status !== before.status ? (change.status === 'suspended' ? 'tenant.suspend' : 'tenant.resume') : 'tenant.update';
    await db.batch([
      db.update(tenants).set(set).where(eq(tenants.id, tenantId)),
      auditStatement(c.env.CONTROL_DB, {
        actor: admin.actor,
        credential: admin.credential,
        tenantId,
        action,
        details: { before: { plan: before.planId, status: before.status, name: before.name, retentionDays: before.retentionDays }, change },
        requestId: c.get('requestId'),
      }),
    ]);
    return c.json(toTenant(await findTenant(c.env.CONTROL_DB, tenantId)), 200);
  },
);

tenantRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{tenantId}/audit',
    summary: "A tenant's audit trail, newest first",
    security: BEARER_SECURITY,
    request: { params: TenantIdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }) },
    responses: {
      200: { description: 'Entries', content: { 'application/json': { schema: z.object({ entries: z.array(AuditEntry) }) } } },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.req.valid('param');
    const { limit } = c.req.valid('query');
    assertCanManage(c.get('admin'), tenantId);
    const rows = await drizzle(c.env.CONTROL_DB).select().from(auditLog).where(eq(auditLog.tenantId, tenantId)).orderBy(desc(auditLog.id)).limit(limit);
    return c.json(
      {
        entries: rows.map((r) => ({
          at: r.at.toISOString(),
          actor: r.actor,
          credential: r.credential,
          action: r.action,
          details: r.details ?? null,
          requestId: r.requestId,
        })),
      },
      200,
    );
  },
);
