/** The admin API's request and response shapes (zod, which also documents them). */
import { z } from '@hono/zod-openapi';
import { PLANS } from '../../shared/plans.ts';
import { SCOPES } from '../../shared/scopes.ts';

const PLAN_IDS = Object.keys(PLANS) as [keyof typeof PLANS, ...(keyof typeof PLANS)[]];

export const TenantIdParam = z.object({
  tenantId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63')
    .openapi({ param: { name: 'tenantId', in: 'path' }, example: 'acme' }),
});

export const KeyParams = TenantIdParam.extend({
  keyId: z
    .string()
    .regex(/^[0-9A-Za-z]{12}$/, '12 letters or digits')
    .openapi({ param: { name: 'keyId', in: 'path' } }),
});

export const Tenant = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.enum(PLAN_IDS),
    status: z.enum(['active', 'suspended']),
    retentionDays: z.number().int(),
    shardCount: z.number().int().openapi({ description: "Actors the tenant's ingest is spread over: the plan's, unless overridden" }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    billing: z
      .object({ email: z.string(), stripeCustomerId: z.string(), stripeSubscriptionId: z.string() })
      .nullable()
      .openapi({ description: 'The Stripe customer and subscription, for tenants created with billing' }),
    ingestSuspendedAt: z
      .string()
      .nullable()
      .openapi({ description: "When billing holds (or will hold) the tenant's ingest: a failed payment's grace period ends" }),
  })
  .openapi('Tenant');

export const CreateTenant = z
  .object({
    id: TenantIdParam.shape.tenantId,
    name: z.string().min(1).max(200),
    plan: z.enum(PLAN_IDS),
    retentionDays: z.number().int().min(1).max(3650).optional().openapi({ description: "Defaults to the plan's retention" }),
    billing: z
      .object({ email: z.email() })
      .optional()
      .openapi({ description: 'Open a Stripe customer and a subscription to the plan (needs billing configured)' }),
  })
  .openapi('CreateTenant');

export const UpdateTenant = z
  .object({
    name: z.string().min(1).max(200).optional(),
    plan: z.enum(PLAN_IDS).optional(),
    status: z.enum(['active', 'suspended']).optional(),
    retentionDays: z.number().int().min(1).max(3650).optional(),
    shardCount: z.number().int().min(1).max(64).nullable().optional().openapi({ description: "Override the plan's shard count; null returns to the plan's" }),
  })
  .openapi('UpdateTenant');

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

export const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: 'The key itself. Shown once: only its SHA-256 is stored.' }),
}).openapi('CreatedApiKey');

export const CreateApiKey = z
  .object({
    name: z.string().min(1).max(100),
    scopes: z.array(z.enum(SCOPES)).min(1),
    expiresAt: z.iso.datetime().optional(),
  })
  .openapi('CreateApiKey');

export const AuditEntry = z
  .object({
    at: z.string(),
    actor: z.string().openapi({ description: '`platform-admin`, `key:<id>`, `jwt:<sub>`, `session:<id>` (a signed-in person), or `stripe`' }),
    credential: z.string().nullable().openapi({ description: 'For a session actor: the credential the session was opened with (`key:<id>` or `jwt:<sub>`)' }),
    action: z.string(),
    details: z.record(z.string(), z.unknown()).nullable(),
    requestId: z.string().nullable(),
  })
  .openapi('AuditEntry');

export const EncryptionKeyParams = TenantIdParam.extend({
  kid: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'a key id: an RFC 7638 thumbprint, 43 base64url characters')
    .openapi({ param: { name: 'kid', in: 'path' } }),
});

const PublicJwk = z
  .object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string() })
  .openapi('EncryptionPublicJwk', { description: 'An ECDH P-256 public key as a JWK (RFC 7517)' });

export const EncryptionKey = z
  .object({
    kid: z.string().openapi({ description: "RFC 7638 SHA-256 thumbprint of the public key, base64url: the envelopes' kid" }),
    name: z.string(),
    publicKey: PublicJwk,
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('EncryptionKey');

export const RegisterEncryptionKey = z
  .object({
    name: z.string().min(1).max(100),
    publicKey: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The public JWK (kty "EC", crv "P-256", x, y). A JWK with "d" (a private key) is refused.' }),
  })
  .openapi('RegisterEncryptionKey');
