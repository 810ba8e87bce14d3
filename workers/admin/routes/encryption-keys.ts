/**
 * /v1/admin/tenants/{tenantId}/encryption-keys — register, list and revoke
 * the public keys of a tenant's zero-knowledge encryption (docs/encryption.md).
 * Only public keys ever arrive here: a JWK with a private part is refused.
 * The key id is computed here (RFC 7638 thumbprint), not taken from the client.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { calculateJwkThumbprint } from 'jose';
import { ApiError } from '../../../shared/api-error.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { encryptionKeys, tenants } from '../../../shared/control-plane/schema.ts';
import { checkPublicJwk } from '../../../shared/encryption-envelope.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { assertCanManage } from '../admin-auth.ts';
import type { AdminApp } from '../env.ts';
import { EncryptionKey, EncryptionKeyParams, RegisterEncryptionKey, TenantIdParam } from '../schemas.ts';

export const encryptionKeyRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

type Row = typeof encryptionKeys.$inferSelect;
const toEncryptionKey = (row: Row): z.infer<typeof EncryptionKey> => ({
  kid: row.kid,
  name: row.name,
  publicKey: row.publicJwk,
  createdAt: row.createdAt.toISOString(),
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

encryptionKeyRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/{tenantId}/encryption-keys',
    summary: 'Register the public key of a zero-knowledge encryption key pair (the private key stays with the tenant)',
    security: BEARER_SECURITY,
    request: { params: TenantIdParam, body: { content: { 'application/json': { schema: RegisterEncryptionKey } }, required: true } },
    responses: {
      201: { description: 'Registered', content: { 'application/json': { schema: EncryptionKey } } },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const admin = c.get('admin');
    const { tenantId } = c.req.valid('param');
    assertCanManage(admin, tenantId);
    const body = c.req.valid('json');
    const jwk = checkPublicJwk(body.publicKey);
    if (typeof jwk === 'string') throw new ApiError(400, 'invalid_request', `publicKey: ${jwk}`, { field: 'publicKey' });
    try {
      // A point on the curve, not just two strings of the right length.
      await crypto.subtle.importKey('jwk', jwk, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
    } catch {
      throw new ApiError(400, 'invalid_request', 'publicKey: x and y are not a point on P-256', { field: 'publicKey' });
    }
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const db = drizzle(c.env.CONTROL_DB);
    if ((await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1)).length === 0) {
      throw new ApiError(404, 'not_found', `no tenant "${tenantId}"`);
    }
    const where = and(eq(encryptionKeys.tenantId, tenantId), eq(encryptionKeys.kid, kid));
    if ((await db.select({ kid: encryptionKeys.kid }).from(encryptionKeys).where(where).limit(1)).length > 0) {
      throw new ApiError(
        409,
        'conflict',
        `the key "${kid}" is already registered for tenant "${tenantId}" (a revoked key cannot be registered again: make a new one)`,
        {
          field: 'publicKey',
        },
      );
    }
    await db.batch([
      db.insert(encryptionKeys).values({ tenantId, kid, name: body.name, publicJwk: jwk }),
      auditStatement(c.env.CONTROL_DB, {
        actor: admin.actor,
        credential: admin.credential,
        tenantId,
        action: 'encryption_key.register',
        details: { kid, name: body.name },
        requestId: c.get('requestId'),
      }),
    ]);
    return c.json(toEncryptionKey((await db.select().from(encryptionKeys).where(where).limit(1))[0]!), 201);
  },
);

encryptionKeyRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/{tenantId}/encryption-keys',
    summary: "List a tenant's encryption keys (public keys only: NeuralLog never has the private ones)",
    security: BEARER_SECURITY,
    request: { params: TenantIdParam },
    responses: {
      200: { description: 'Keys', content: { 'application/json': { schema: z.object({ keys: z.array(EncryptionKey) }) } } },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.req.valid('param');
    assertCanManage(c.get('admin'), tenantId);
    const rows = await drizzle(c.env.CONTROL_DB).select().from(encryptionKeys).where(eq(encryptionKeys.tenantId, tenantId)).orderBy(encryptionKeys.createdAt);
    return c.json({ keys: rows.map(toEncryptionKey) }, 200);
  },
);

encryptionKeyRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/{tenantId}/encryption-keys/{kid}',
    summary: 'Revoke an encryption key: new records under it are refused within NEURALLOG_KEY_CACHE_TTL_MS; stored ones stay readable with its private key',
    security: BEARER_SECURITY,
    request: { params: EncryptionKeyParams },
    responses: { 200: { description: 'The revoked key', content: { 'application/json': { schema: EncryptionKey } } }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const admin = c.get('admin');
    const { tenantId, kid } = c.req.valid('param');
    assertCanManage(admin, tenantId);
    const db = drizzle(c.env.CONTROL_DB);
    const where = and(eq(encryptionKeys.tenantId, tenantId), eq(encryptionKeys.kid, kid));
    const row = (await db.select().from(encryptionKeys).where(where).limit(1))[0];
    if (!row) throw new ApiError(404, 'not_found', `no encryption key "${kid}" for tenant "${tenantId}"`);
    if (row.revokedAt === null) {
      await db.batch([
        db.update(encryptionKeys).set({ revokedAt: new Date() }).where(where),
        auditStatement(c.env.CONTROL_DB, {
          actor: admin.actor,
          credential: admin.credential,
          tenantId,
          action: 'encryption_key.revoke',
          details: { kid },
          requestId: c.get('requestId'),
        }),
      ]);
    }
    return c.json(toEncryptionKey((await db.select().from(encryptionKeys).where(where).limit(1))[0]!), 200);
  },
);
