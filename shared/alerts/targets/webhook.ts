/**
 * The generic webhook target: the notification as versioned JSON, signed the
 * way Stripe signs its webhooks, so a receiver can tell our requests from
 * anyone else's and refuse a replayed one.
 *
 *   POST <url>
 *   content-type: application/json
 *   Idempotency-Key: <dedupKey>:<status>
 *   NeuralLog-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 *   {"version":"1","tenantId":…,"ruleId":…,"ruleName":…,"severity":…,"status":…,
 *    "group":{…},"labels":{…},"value":…,"threshold":…,"message":…,"startsAt":…,
 *    "endsAt":…,"explorerUrl":…,"dedupKey":…}
 *
 * - The signed string is the timestamp, a dot and the exact body bytes: a
 *   receiver verifies the raw body before parsing it. The timestamp is signed
 *   with it, so an old request replayed later fails the tolerance check
 *   (`verifyWebhookSignature`, 5 minutes by default, either side of the
 *   receiver's clock).
 * - `v1` names the scheme. A header may carry several `v1=` (a secret being
 *   rotated: one signature per secret); any one matching is enough.
 * - Every attempt is signed afresh (a new `t`); the body and the
 *   Idempotency-Key stay the same, so a receiver deduplicates retries by the
 *   key. The key is `<dedupKey>:<status>` (a firing and its resolve share the
 *   dedup key but are two deliveries); one that is longer than 255 characters
 *   or not printable ASCII is sent as `sha256-<hex>` of itself (the body keeps
 *   the raw `dedupKey`).
 * - The body's numbers are JSON numbers; a non-finite value is `null`.
 *   `threshold`, `endsAt` and `explorerUrl` are left out when absent (an
 *   explorer URL that is not http(s) or is over 4,096 characters counts as
 *   absent). Group and labels are objects with their keys sorted.
 *
 * Comparison of signatures is constant-time: `crypto.subtle.verify` recomputes
 * the HMAC and compares inside WebCrypto, in workerd, Deno, browsers and Node
 * alike (`crypto.subtle.timingSafeEqual` is a Workers extension).
 */
import { type AlertNotification, type OutboundRequest, boundNotification, boundedKey, jsonNumber, recordOf, toHex } from './notification.ts';

export interface WebhookTarget {
  kind: 'webhook';
  url: string;
  /** The shared secret the receiver verifies with. */
  secret: string;
}

export const WEBHOOK_PAYLOAD_VERSION = '1';
export const WEBHOOK_SIGNATURE_HEADER = 'NeuralLog-Signature';
export const WEBHOOK_DEFAULT_TOLERANCE_SECONDS = 300;
const IDEMPOTENCY_KEY_MAX = 255;

/** The JSON body of a webhook delivery (version 1). */
export interface WebhookPayload {
  version: typeof WEBHOOK_PAYLOAD_VERSION;
  tenantId: string;
  ruleId: string;
  ruleName: string;
  severity: AlertNotification['severity'];
  status: AlertNotification['status'];
  group: Record<string, string>;
  labels: Record<string, string>;
  value: number | null;
  threshold?: number | null;
  message: string;
  startsAt: string;
  endsAt?: string;
  explorerUrl?: string;
  dedupKey: string;
}

export function webhookPayload(notification: AlertNotification): WebhookPayload {
  const n = boundNotification(notification);
  const payload: WebhookPayload = {
    version: WEBHOOK_PAYLOAD_VERSION,
    tenantId: notification.tenantId,
    ruleId: notification.ruleId,
    ruleName: n.ruleName,
    severity: notification.severity,
    status: notification.status,
    group: recordOf(n.group),
    labels: recordOf(n.labels),
    value: jsonNumber(notification.value) ?? null,
    message: n.message,
    startsAt: notification.startsAt,
    dedupKey: notification.dedupKey,
  };
  if (notification.threshold !== undefined) payload.threshold = jsonNumber(notification.threshold);
  if (notification.endsAt !== undefined) payload.endsAt = notification.endsAt;
  if (n.explorerUrl !== undefined) payload.explorerUrl = n.explorerUrl;
  return payload;
}

export async function buildWebhookRequest(target: WebhookTarget, notification: AlertNotification, now: number = Date.now()): Promise<OutboundRequest> {
  const body = JSON.stringify(webhookPayload(notification));
  const timestamp = Math.floor(now / 1000);
  return {
    url: target.url,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'Idempotency-Key': await boundedKey(`${notification.dedupKey}:${notification.status}`, IDEMPOTENCY_KEY_MAX),
      [WEBHOOK_SIGNATURE_HEADER]: await signWebhookPayload(target.secret, body, timestamp),
    },
    body,
  };
}

/** The `NeuralLog-Signature` header value for `body` sent at `timestampSeconds`. */
export async function signWebhookPayload(secret: string, body: string | Uint8Array, timestampSeconds: number): Promise<string> {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new RangeError('the signature timestamp must be a non-negative integer');
  const key = await hmacKey(secret, 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, signedBytes(timestampSeconds, body));
  return `t=${timestampSeconds},v1=${toHex(mac)}`;
}

/**
 * The receivers' reference check: true when `header` (the
 * `NeuralLog-Signature` value) carries a `v1` signature of `body` — the raw
 * request body, before any parsing — made with `secret`, and its timestamp is
 * within `toleranceSeconds` of `nowSeconds` (either way, for clock skew).
 * Anything malformed is false, never an exception.
 */
export async function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  nowSeconds: number,
  toleranceSeconds: number = WEBHOOK_DEFAULT_TOLERANCE_SECONDS,
): Promise<boolean> {
  const parsed = parseSignatureHeader(header);
  if (parsed === null) return false;
  if (!(Math.abs(nowSeconds - parsed.timestamp) <= toleranceSeconds)) return false;
  try {
    const key = await hmacKey(secret, 'verify');
    const data = signedBytes(parsed.timestamp, body);
    let valid = false;
    // Every candidate is checked (no early exit), each comparison inside WebCrypto.
    for (const signature of parsed.signatures) {
      if (await crypto.subtle.verify('HMAC', key, signature, data)) valid = true;
    }
    return valid;
  } catch {
    // An unusable secret (WebCrypto refuses an empty HMAC key): nothing verifies.
    return false;
  }
}

interface ParsedSignature {
  timestamp: number;
  signatures: Uint8Array<ArrayBuffer>[];
}

const MAX_HEADER_LENGTH = 4_096;

function parseSignatureHeader(header: string | null | undefined): ParsedSignature | null {
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return null;
  let timestamp: number | null = null;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't') {
      // One timestamp only: two would leave the receiver guessing which was signed.
      if (timestamp !== null || !/^\d{1,15}$/.test(value)) return null;
      timestamp = Number(value);
    } else if (name === 'v1') {
      const bytes = fromHex(value);
      if (bytes !== null && bytes.length === 32) signatures.push(bytes);
    }
    // Other schemes (a future v2) are skipped, as Stripe's receivers do.
  }
  if (timestamp === null || signatures.length === 0) return null;
  return { timestamp, signatures };
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function hmacKey(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

/** `<t>.` followed by the body's bytes (UTF-8 when it is a string). */
function signedBytes(timestampSeconds: number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const prefix = encoder.encode(`${timestampSeconds}.`);
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const out = new Uint8Array(prefix.length + bytes.length);
  out.set(prefix, 0);
  out.set(bytes, prefix.length);
  return out;
}
