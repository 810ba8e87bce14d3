/**
 * The control plane's data, in D1 (SQLite), through drizzle-orm. Migrations
 * under migrations/d1/ are generated from this file by drizzle-kit
 * (`npm run db:generate`); never edit them by hand, except the plan seed,
 * which scripts/generate-plan-seed.ts writes from shared/plans.ts.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Mirror of shared/plans.ts, for SQL and the admin API. */
export const plans = sqliteTable('plans', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  ingestRecordsPerSecond: integer('ingest_records_per_second').notNull(),
  ingestRecordsBurst: integer('ingest_records_burst').notNull(),
  ingestBytesPerSecond: integer('ingest_bytes_per_second').notNull(),
  ingestBytesBurst: integer('ingest_bytes_burst').notNull(),
  dailyBytes: integer('daily_bytes').notNull(),
  monthlyBytes: integer('monthly_bytes').notNull(),
  retentionDays: integer('retention_days').notNull(),
  queryConcurrency: integer('query_concurrency').notNull(),
  shardCount: integer('shard_count').notNull(),
  dedicated: integer('dedicated', { mode: 'boolean' }).notNull(),
});

export const tenants = sqliteTable('tenants', {
  /** Validated by isValidTenantId (shared/config.ts): a DNS label. */
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  planId: text('plan_id')
    .notNull()
    .references(() => plans.id),
  status: text('status', { enum: ['active', 'suspended'] })
    .notNull()
    .default('active'),
  retentionDays: integer('retention_days').notNull(),
  /** Overrides the plan's shard count for this tenant (a very hot tenant, or a benchmark). */
  shardCount: integer('shard_count'),
  /**
   * Bumped whenever the tenant's logs are deleted: part of every edge-cache
   * key of its searches, so no cached result outlives the data it came from.
   */
  dataGeneration: integer('data_generation').notNull().default(0),
  /**
   * Billing's hold: from this moment the tenant's ingest is refused (search
   * keeps working). Set by a failed payment (now + the plan's grace period) or
   * a cancelled subscription (now), cleared by a paid invoice. Kept apart from
   * `status`, which only a platform admin changes, so a payment never lifts an
   * admin's suspension.
   */
  suspendAt: integer('suspend_at', { mode: 'timestamp_ms' }),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    /** The key id embedded in the key (public; lets a key be found without its secret). */
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    /** JSON array of scopes (shared/scopes.ts). */
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    /** SHA-256 of the whole key, hex. The key itself is never stored. */
    secretHash: text('secret_hash').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('api_keys_tenant').on(t.tenantId)],
);

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    /** Who: `platform-admin`, `key:<id>`, `jwt:<sub>`, or `session:<id>` (a signed-in person, then `credential` says with what). */
    actor: text('actor').notNull(),
    /** For a session actor, the credential the session was opened with (`key:<id>` or `jwt:<sub>`); else null. */
    credential: text('credential'),
    /** The tenant acted on, when there is one. */
    tenantId: text('tenant_id'),
    action: text('action').notNull(),
    /** What changed, as JSON (never a secret). */
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>(),
    requestId: text('request_id'),
  },
  (t) => [index('audit_log_tenant_at').on(t.tenantId, t.at)],
);

/**
 * Usage per tenant per closed UTC hour, rolled up from the actors that count
 * it (`source`: `ingest:<shard>` for a TenantActor, `query` for the QueryGate).
 * A roll-up writes a closed hour's final value (not an increment), so writing
 * the same hour again changes nothing.
 */
export const usageHourly = sqliteTable(
  'usage_hourly',
  {
    tenantId: text('tenant_id').notNull(),
    source: text('source').notNull(),
    /** Start of the UTC hour, ms since the epoch. */
    hour: integer('hour').notNull(),
    /** shared/billing/prices.ts USAGE_METRICS. */
    metric: text('metric').notNull(),
    /** Why records were rejected (records_rejected only), else ''. */
    reason: text('reason').notNull().default(''),
    value: integer('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.source, t.hour, t.metric, t.reason] }), index('usage_hourly_hour').on(t.hour)],
);

/** A tenant's Stripe customer and subscription (tenants created with billing). */
export const billingAccounts = sqliteTable('billing_accounts', {
  tenantId: text('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  email: text('email').notNull(),
  stripeCustomerId: text('stripe_customer_id').notNull(),
  stripeSubscriptionId: text('stripe_subscription_id').notNull(),
  /** The subscription items of the plan's monthly fee and of its metered bytes (both swapped on a plan change). */
  stripeFeeItemId: text('stripe_fee_item_id').notNull(),
  stripeMeteredItemId: text('stripe_metered_item_id'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
});

/**
 * Meter events sent to Stripe, one per tenant, meter and closed hour. The
 * identifier is Stripe's deduplication key too, so a report retried after a
 * crash is counted once on both sides.
 */
export const meterReports = sqliteTable(
  'meter_reports',
  {
    identifier: text('identifier').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    meter: text('meter').notNull(),
    /** The usage_hourly row reported: its source, hour and metric. */
    source: text('source').notNull(),
    hour: integer('hour').notNull(),
    metric: text('metric').notNull(),
    value: integer('value').notNull(),
    reportedAt: integer('reported_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  },
  (t) => [index('meter_reports_usage').on(t.tenantId, t.hour, t.source, t.metric)],
);

/** Stripe webhook events already handled: a redelivery is a no-op. */
export const stripeEvents = sqliteTable('stripe_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
});

/**
 * Sessions of the web explorer (POST /v1/session): the cookie holds a signed
 * token naming one of these rows, and a session works only while its row says
 * so — signing out (revoked_at) ends it even though the token is still signed.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    /** The token's `jti`: random, 128 bits. */
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** The credential it was opened with: `key:<id>` or `jwt:<sub>` (never a secret). */
    credential: text('credential').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [index('sessions_tenant').on(t.tenantId), index('sessions_expires_at').on(t.expiresAt)],
);

/** A tenant's saved searches (the explorer's, and any API client's): a name and the search's parameters. */
export const savedSearches = sqliteTable(
  'saved_searches',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    /** The search: `{q?, from?, to?, level?, service?, columns?}` as JSON, validated when saved. */
    params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    /** Who saved it: `key:<id>` or `jwt:<sub>` (through a session too: the credential behind it). */
    createdBy: text('created_by').notNull(),
  },
  (t) => [uniqueIndex('saved_searches_tenant_name').on(t.tenantId, t.name), index('saved_searches_tenant_created').on(t.tenantId, t.createdAt)],
);

/**
 * A tenant's alert rules (shared/alerts/rule.ts): the definition as the
 * tenant wrote it (JSON, checked when stored), a version that every change
 * increments (the evaluator reloads a rule whose version moved), and the mute.
 */
export const alertRules = sqliteTable(
  'alert_rules',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    definition: text('definition', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    version: integer('version').notNull().default(1),
    /** No notification before this time (ms); null: not muted. Evaluation goes on, so states stay true. */
    mutedUntil: integer('muted_until', { mode: 'timestamp_ms' }),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    createdBy: text('created_by').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  },
  (t) => [uniqueIndex('alert_rules_tenant_name').on(t.tenantId, t.name)],
);

/**
 * A tenant's notification targets (shared/alerts/target-definition.ts): where
 * alert rules (their `targets`) send notifications. `config` holds what may be
 * shown (a webhook's URL, a Slack URL's host, a PagerDuty key's last four
 * characters); `secret` holds the credential part sealed by shared/secret-box.ts
 * under `<tenant_id>:<id>` (null for kinds without one). The unique
 * (tenant_id, name) index is also the index of every per-tenant read.
 */
export const alertTargets = sqliteTable(
  'alert_targets',
  {
    /** `tgt_<uuid>`. */
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['webhook', 'slack', 'pagerduty', 'alertmanager', 'email'] }).notNull(),
    /** The public part, as JSON (never a secret). */
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The secret part as sealed JSON (`v1.<iv>.<ciphertext>`), or null. */
    secret: text('secret'),
    version: integer('version').notNull().default(1),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    createdBy: text('created_by').notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  },
  (t) => [uniqueIndex('alert_targets_tenant_name').on(t.tenantId, t.name)],
);

/**
 * Public keys of a tenant's zero-knowledge encryption (docs/encryption.md):
 * the SDK encrypts records for one of them; the private part never reaches
 * NeuralLog. `kid` is the RFC 7638 thumbprint of the public JWK, recomputed
 * by the server on registration, so client and server name a key alike
 * without asking each other. Keyed by (tenant, kid): a public key is public,
 * and another tenant registering the same one gets a row of its own. A
 * revoked key refuses new records under it; records already stored under it
 * stay as they are (readable with its private key).
 */
export const encryptionKeys = sqliteTable(
  'encryption_keys',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** RFC 7638 SHA-256 JWK thumbprint, base64url (43 characters). */
    kid: text('kid').notNull(),
    name: text('name').notNull(),
    /** The public JWK as JSON: `{kty: "EC", crv: "P-256", x, y}` (nothing else is kept). */
    publicJwk: text('public_jwk', { mode: 'json' }).$type<{ kty: 'EC'; crv: 'P-256'; x: string; y: string }>().notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.kid] })],
);
