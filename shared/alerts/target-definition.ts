/**
 * A notification target as a tenant configures it (`/v1/alerts/targets`),
 * how it is stored, and how the alert evaluator reads it back.
 *
 * A target has a public part and a secret part, stored apart:
 *
 *   kind          public (`config` column)          secret (`secret` column, sealed)
 *   webhook       {url}                             {secret}  the HMAC signing secret
 *   slack         {urlHost}                         {url}     the incoming-webhook URL is the credential
 *   pagerduty     {url, routingKeyEnds}             {routingKey}
 *   alertmanager  {url}                             —
 *   email         {to}                              —
 *
 * The secret part is sealed with shared/secret-box.ts under the context
 * `<tenantId>:<targetId>`, so a sealed value copied into another row does not
 * open. The API never returns a secret: views show the public part only (a
 * webhook's generated signing secret is returned once, by the call that made
 * it). Only `loadTargets`, for the evaluator, opens them.
 *
 * URLs are checked with checkOutboundUrl (shared/outbound-url.ts) when a
 * target is saved, and stored in the normalised form `fetch` will use.
 */
import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ApiError } from '../api-error.ts';
import { alertTargets } from '../control-plane/schema.ts';
import { MAX_OUTBOUND_URL_LENGTH, checkOutboundUrl } from '../outbound-url.ts';
import { openSecret, sealSecret } from '../secret-box.ts';
import { randomToken } from '../session.ts';
import { EMAIL_LIMITS, MAX_EMAIL_RECIPIENTS, isValidEmailAddress } from './targets/email.ts';
import { TARGET_KINDS, type TargetConfig, type TargetKind } from './targets/index.ts';
import { PAGERDUTY_EVENTS_URL } from './targets/pagerduty.ts';

/** Most targets one tenant keeps (held in the INSERT, so concurrent creates cannot pass it). */
export const MAX_ALERT_TARGETS = 50;
export const MIN_WEBHOOK_SECRET_CHARS = 16;
export const MAX_WEBHOOK_SECRET_CHARS = 256;
export const MAX_ROUTING_KEY_CHARS = 64;
/** Bytes of a generated webhook signing secret (sent as base64url: 43 characters). */
export const GENERATED_SECRET_BYTES = 32;

const Name = z.string().trim().min(1).max(200).openapi({ description: '1–200 characters, unique within the tenant' });
const TargetUrl = z
  .string()
  .min(1)
  .max(MAX_OUTBOUND_URL_LENGTH)
  .openapi({ description: 'https:// to a public host (checked when saved: no private, loopback or metadata address)' });
const WebhookSecret = z
  .string()
  .min(MIN_WEBHOOK_SECRET_CHARS)
  .max(MAX_WEBHOOK_SECRET_CHARS)
  .openapi({ description: `The HMAC-SHA256 signing secret (≥ ${MIN_WEBHOOK_SECRET_CHARS} characters); left out: one is generated` });
const RoutingKey = z.string().min(1).max(MAX_ROUTING_KEY_CHARS).openapi({ description: 'The integration key of a PagerDuty Events API v2 integration' });
const Recipients = z
  .array(z.string().max(EMAIL_LIMITS.address).refine(isValidEmailAddress, 'not a plain email address (local@domain.tld, no display name)'))
  .min(1)
  .max(MAX_EMAIL_RECIPIENTS);

const WebhookInput = z
  .object({ kind: z.literal('webhook'), name: Name, url: TargetUrl, secret: WebhookSecret.optional() })
  .strict()
  .openapi({ description: 'A signed JSON POST to `url` (NeuralLog-Signature, as Stripe signs webhooks)' });
const SlackInput = z
  .object({
    kind: z.literal('slack'),
    name: Name,
    url: TargetUrl.openapi({ description: 'A Slack incoming-webhook URL (the credential: stored encrypted, never shown)' }),
  })
  .strict();
const PagerDutyInput = z
  .object({
    kind: z.literal('pagerduty'),
    name: Name,
    routingKey: RoutingKey,
    url: TargetUrl.optional().openapi({ description: `The Events API v2 endpoint (default ${PAGERDUTY_EVENTS_URL})` }),
  })
  .strict();
const AlertmanagerInput = z
  .object({ kind: z.literal('alertmanager'), name: Name, url: TargetUrl.openapi({ description: "Alertmanager's base URL; /api/v2/alerts is appended" }) })
  .strict();
const EmailInput = z.object({ kind: z.literal('email'), name: Name, to: Recipients }).strict();

/** A new target (POST). */
export const AlertTargetInput = z
  .discriminatedUnion('kind', [WebhookInput, SlackInput, PagerDutyInput, AlertmanagerInput, EmailInput])
  .openapi('AlertTargetInput');
export type AlertTargetInput = z.infer<typeof AlertTargetInput>;

/** A whole target in place of the stored one (PUT): the secret field may be left out to keep the stored secret, when the kind stays. */
export const AlertTargetReplacement = z
  .discriminatedUnion('kind', [
    WebhookInput,
    SlackInput.extend({ url: TargetUrl.optional().openapi({ description: 'Left out: the stored URL is kept' }) }),
    PagerDutyInput.extend({ routingKey: RoutingKey.optional().openapi({ description: 'Left out: the stored key is kept' }) }),
    AlertmanagerInput,
    EmailInput,
  ])
  .openapi('AlertTargetReplacement');
export type AlertTargetReplacement = z.infer<typeof AlertTargetReplacement>;

/** The secret part of a target, sealed as JSON. */
export type TargetSecret = { secret: string } | { url: string } | { routingKey: string };

/** What a target's input becomes in the table. */
export interface TargetParts {
  kind: TargetKind;
  /** The public part (the `config` column). */
  config: Record<string, unknown>;
  /** The secret part: a new one to seal, the stored one kept, or none for this kind. */
  secret: { action: 'set'; value: TargetSecret } | { action: 'keep' } | { action: 'none' };
  /** A webhook signing secret generated here: returned once to the caller, never again. */
  generatedSecret?: string;
}

/** The stored row a replacement starts from. */
export interface StoredTarget {
  kind: TargetKind;
  config: Record<string, unknown>;
}

/**
 * Checks an input's URLs and splits it into its public and secret parts.
 * `stored` is the row a PUT replaces (null on create): when the kind stays, a
 * left-out secret field keeps the stored secret. A webhook without a secret
 * that has none to keep gets a generated one. Throws 400 `invalid_request`
 * naming the field.
 */
export function targetParts(input: AlertTargetReplacement, mode: { production: boolean }, stored: StoredTarget | null): TargetParts {
  const keeps = stored !== null && stored.kind === input.kind;
  switch (input.kind) {
    case 'webhook': {
      const url = checkedUrl('url', input.url, mode);
      if (input.secret !== undefined) return { kind: 'webhook', config: { url }, secret: { action: 'set', value: { secret: input.secret } } };
      if (keeps) return { kind: 'webhook', config: { url }, secret: { action: 'keep' } };
      const generated = randomToken(GENERATED_SECRET_BYTES);
      return { kind: 'webhook', config: { url }, secret: { action: 'set', value: { secret: generated } }, generatedSecret: generated };
    }
    case 'slack': {
      if (input.url === undefined) {
        if (!keeps) throw missing('url', 'slack');
        return { kind: 'slack', config: { urlHost: storedString(stored.config, 'urlHost') }, secret: { action: 'keep' } };
      }
      const url = checkedUrl('url', input.url, mode);
      return { kind: 'slack', config: { urlHost: new URL(url).host }, secret: { action: 'set', value: { url } } };
    }
    case 'pagerduty': {
      const url = input.url === undefined ? PAGERDUTY_EVENTS_URL : checkedUrl('url', input.url, mode);
      if (input.routingKey === undefined) {
        if (!keeps) throw missing('routingKey', 'pagerduty');
        return { kind: 'pagerduty', config: { url, routingKeyEnds: storedString(stored.config, 'routingKeyEnds') }, secret: { action: 'keep' } };
      }
      return {
        kind: 'pagerduty',
        config: { url, routingKeyEnds: input.routingKey.slice(-4) },
        secret: { action: 'set', value: { routingKey: input.routingKey } },
      };
    }
    case 'alertmanager':
      return { kind: 'alertmanager', config: { url: checkedUrl('url', input.url, mode) }, secret: { action: 'none' } };
    case 'email':
      return { kind: 'email', config: { to: [...input.to] }, secret: { action: 'none' } };
    default: {
      const unknownKind: never = input;
      throw new TypeError(`unknown target kind: ${JSON.stringify((unknownKind as { kind?: unknown }).kind)}`);
    }
  }
}

function checkedUrl(field: string, text: string, mode: { production: boolean }): string {
  const verdict = checkOutboundUrl(text, mode);
  if (!verdict.ok) throw new ApiError(400, 'invalid_request', `${field}: ${verdict.reason}`, { field, reason: verdict.reason });
  return verdict.url.href;
}

function missing(field: string, kind: TargetKind): ApiError {
  return new ApiError(400, 'invalid_request', `${field}: required (only a ${kind} target that stays one keeps its stored ${field} when it is left out)`, {
    field,
  });
}

/** The context a target's secret is sealed under: the same secret in another tenant's or target's row does not open. */
export function targetSecretContext(tenantId: string, targetId: string): string {
  return `${tenantId}:${targetId}`;
}

export function sealTargetSecret(secret: TargetSecret, rootSecret: string, tenantId: string, targetId: string): Promise<string> {
  return sealSecret(JSON.stringify(secret), rootSecret, targetSecretContext(tenantId, targetId));
}

// ---------------------------------------------------------------- views

const Url = z.string().openapi({ format: 'uri' });
export const TargetConfigView = z
  .union([
    z.object({ url: Url, secretSet: z.boolean() }).openapi('WebhookTargetView', { description: 'webhook: the signing secret is never shown' }),
    z.object({ urlHost: z.string() }).openapi('SlackTargetView', { description: 'slack: the URL is the credential; only its host is shown' }),
    z.object({ url: Url, routingKeyEnds: z.string() }).openapi('PagerDutyTargetView', { description: "pagerduty: the routing key's last four characters" }),
    z.object({ url: Url }).openapi('AlertmanagerTargetView'),
    z.object({ to: z.array(z.string()) }).openapi('EmailTargetView'),
  ])
  .openapi({ description: 'The public part of the target, by kind; secrets are never returned' });

export const AlertTargetView = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(TARGET_KINDS as [TargetKind, ...TargetKind[]]),
    version: z.number().int().openapi({ description: 'Incremented by every change' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string(),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    config: TargetConfigView,
  })
  .openapi('AlertTarget');
export type AlertTargetView = z.infer<typeof AlertTargetView>;

type Row = typeof alertTargets.$inferSelect;

/** The API's view of a stored target: only named public fields are copied, so nothing else stored can leak through. */
export function alertTargetView(row: Row): AlertTargetView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
    updatedAt: row.updatedAt.toISOString(),
    config: publicConfig(row),
  };
}

function publicConfig(row: Row): z.infer<typeof TargetConfigView> {
  const config = row.config;
  switch (row.kind) {
    case 'webhook':
      return { url: storedString(config, 'url'), secretSet: row.secret !== null };
    case 'slack':
      return { urlHost: storedString(config, 'urlHost') };
    case 'pagerduty':
      return { url: storedString(config, 'url'), routingKeyEnds: storedString(config, 'routingKeyEnds') };
    case 'alertmanager':
      return { url: storedString(config, 'url') };
    case 'email':
      return { to: storedStrings(config, 'to') };
    default:
      throw new TypeError(`alert target ${row.id}: unknown kind ${JSON.stringify(row.kind)}`);
  }
}

// ---------------------------------------------------------------- loading (the evaluator)

export interface LoadedTarget {
  id: string;
  name: string;
  version: number;
  config: TargetConfig;
}

/**
 * The tenant's targets among `ids`, their secrets opened: what
 * `buildTargetRequest` takes. Ids that name no target of this tenant are
 * absent from the answer (deleted since the rule was saved, or never its
 * own). A secret that does not open throws (naming the target): that is a
 * deployment whose root secret changed without the secrets being sealed
 * again, not something to skip in silence.
 */
export async function loadTargets(db: D1Database, rootSecret: string, tenantId: string, ids: readonly string[]): Promise<Map<string, LoadedTarget>> {
  const wanted = [...new Set(ids)];
  const loaded = new Map<string, LoadedTarget>();
  if (wanted.length === 0) return loaded;
  // The ids travel as one JSON parameter: D1 binds at most 100 per statement.
  const rows = await drizzle(db)
    .select()
    .from(alertTargets)
    .where(and(eq(alertTargets.tenantId, tenantId), sql`${alertTargets.id} IN (SELECT value FROM json_each(${JSON.stringify(wanted)}))`));
  for (const row of rows) {
    loaded.set(row.id, { id: row.id, name: row.name, version: row.version, config: await targetConfig(row, rootSecret) });
  }
  return loaded;
}

async function targetConfig(row: Row, rootSecret: string): Promise<TargetConfig> {
  const secret = async (): Promise<Record<string, unknown>> => {
    if (row.secret === null) throw new Error(`alert target ${row.id}: its secret is missing`);
    let plaintext: string;
    try {
      plaintext = await openSecret(row.secret, rootSecret, targetSecretContext(row.tenantId, row.id));
    } catch (cause) {
      throw new Error(`alert target ${row.id}: its secret does not open (${(cause as Error).message})`, { cause });
    }
    const parsed: unknown = JSON.parse(plaintext);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`alert target ${row.id}: its secret is not an object`);
    return parsed as Record<string, unknown>;
  };
  const config = row.config;
  switch (row.kind) {
    case 'webhook':
      return { kind: 'webhook', url: storedString(config, 'url'), secret: storedString(await secret(), 'secret') };
    case 'slack':
      return { kind: 'slack', url: storedString(await secret(), 'url') };
    case 'pagerduty':
      return { kind: 'pagerduty', routingKey: storedString(await secret(), 'routingKey'), url: storedString(config, 'url') };
    case 'alertmanager':
      return { kind: 'alertmanager', url: storedString(config, 'url') };
    case 'email':
      return { kind: 'email', to: storedStrings(config, 'to') };
    default:
      throw new TypeError(`alert target ${row.id}: unknown kind ${JSON.stringify(row.kind)}`);
  }
}

/** A string field of stored JSON (own property only), or a clear error: a row this code wrote always has it. */
function storedString(object: Record<string, unknown>, field: string): string {
  const value = Object.hasOwn(object, field) ? object[field] : undefined;
  if (typeof value !== 'string') throw new TypeError(`stored alert target: "${field}" is missing or not a string`);
  return value;
}

function storedStrings(object: Record<string, unknown>, field: string): string[] {
  const value = Object.hasOwn(object, field) ? object[field] : undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new TypeError(`stored alert target: "${field}" is not a list of strings`);
  return [...value];
}
