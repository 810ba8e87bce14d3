/**
 * /v1/admin/tenants/{tenantId}/keys — create (shown once), list and revoke API keys.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ApiError } from '../../../shared/api-error.ts';
import { generateApiKey, hashApiKey } from '../../../shared/api-keys.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { apiKeys, tenants } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import type { Scope } from '../../../shared/scopes.ts';
import { assertCanManage } from '../admin-auth.ts';
import type { AdminApp } from '../env.ts';
import { ApiKey, CreateApiKey, CreatedApiKey, KeyParams, TenantIdParam } from '../schemas.ts';

export const keyRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

type KeyRow = typeof apiKeys.$inferSelect;
const toApiKey = (row: KeyRow): z.infer<typeof ApiKey> => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes as Scope[],
  createdAt: row.createdAt.toISOString(),
  expiresAt: row.expiresAt?.toISOString() ?? null,
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

async function assertTenantExists(db: D1Database, tenantId: string): Promise<void> {
  const row = await drizzle(db).select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  if (row.length === 0) throw new ApiError(404, 'not_found', `no tenant "${tenantId}"`);
}

keyRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/{tenantId}/keys',
    summary: 'Create an API key; the response is the only place the key appears',
    security: BEARER_SECURITY,
    request: { params: TenantIdParam, body: { content: { 'application/json': { schema: CreateApiKey } }, required: true } },
    responses: { 201: { description: 'Created', content: { 'application/json': { schema: CreatedApiKey } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const admin = c.get('admin');
    const { tenantId } = c.req.valid('param');
    assertCanManage(admin, tenantId);
    await assertTenantExists(c.env.CONTROL_DB, tenantId);
    const body = c.req.valid('json');
    const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw new ApiError(400, 'invalid_request', 'expiresAt: must be in the future', { field: 'expiresAt' });
    const { keyId, key } = generateApiKey();
    const db = drizzle(c.env.CONTROL_DB);
    const scopes = [...new Set(body.scopes)];
    await db.batch([
      db.insert(apiKeys).values({ id: keyId, tenantId, name: body.name, scopes, secretHash: await hashApiKey(key), expiresAt }),
      auditStatement(c.env.CONTROL_DB, {
        actor: admin.actor,
        credential: admin.credential,
        tenantId,
        action: 'key.create',
        details: { keyId, name: body.name, scopes, expiresAt: body.expiresAt ?? null },
        requestId: c.get('requestId'),
      }),
    ]);
    const row = (await db.select().from(apiKeys).where(eq(apiKeys.id, keyId)).limit(1))[0]!;
    return c.json({ ...toApiKey(row), key }, 201);
  },
);

keyRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{tenantId}/keys',
    summary: "List a tenant's API keys (never their secrets)",
    security: BEARER_SECURITY,
    request: { params: TenantIdParam },
    responses: {
      200: { description: 'Keys', content: { 'application/json': { schema: z.object({ keys: z.array(ApiKey) }) } } },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.req.valid('param');
    assertCanManage(c.get('admin'), tenantId);
    const rows = await drizzle(c.env.CONTROL_DB).select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(apiKeys.createdAt);
    return c.json({ keys: rows.map(toApiKey) }, 200);
  },
);

keyRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/{tenantId}/keys/{keyId}',
    summary: 'Revoke an API key (it stops working within NEURALLOG_KEY_CACHE_TTL_MS)',
    security: BEARER_SECURITY,
    request: { params: KeyParams },
    responses: { 200: { description: 'The revoked key', content: { 'application/json': { schema: ApiKey } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const admin = c.get('admin');
    const { tenantId, keyId } = c.req.valid('param');
    assertCanManage(admin, tenantId);
    const db = drizzle(c.env.CONTROL_DB);
    const where = and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId));
    const row = (await db.select().from(apiKeys).where(where).limit(1))[0];
    if (!row) throw new ApiError(404, 'not_found', `no key "${keyId}" for tenant "${tenantId}"`);
    if (row.revokedAt === null) {
      await db.batch([
        db.update(apiKeys).set({ revokedAt: new Date() }).where(where),
        auditStatement(c.env.CONTROL_DB, {
          actor: admin.actor,
          credential: admin.credential,
          tenantId,
          action: 'key.revoke',
          details: { keyId },
          requestId: c.get('requestId'),
        }),
      ]);
    }
    return c.json(toApiKey((await db.select().from(apiKeys).where(where).limit(1))[0]!), 200);
  },
);
