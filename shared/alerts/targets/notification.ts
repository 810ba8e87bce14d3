/**
 * What every notification target is built from (issue 16): one alert instance
 * — one (rule, group value) pair — that started firing or resolved, already
 * rendered by the caller, and the HTTP request a builder makes of it.
 *
 * The builders in this folder are pure: no network I/O, no clock unless it is
 * passed in (`now`, milliseconds since the epoch), WebCrypto only for HMACs and
 * hashes. The delivery pipeline records a notification, builds its request
 * with these functions, sends it (timeout, response-size cap, retries) and
 * records the outcome.
 *
 * Decisions shared by every target:
 * - **Deterministic bodies.** A retry of the same notification builds the same
 *   body, byte for byte: maps are emitted sorted by key, and nothing in a body
 *   depends on `now` (the webhook's signature timestamp is a header; an
 *   Alertmanager resolve without `endsAt` is the one exception, and it is
 *   idempotent by labels). Idempotency keys that a receiver compares against
 *   the payload (Resend answers 409 to the same key with another body) stay
 *   valid across retries.
 * - **Bounded sizes** (`LIMITS`, UTF-16 code units, so never more characters
 *   than the receiver counts): text is cut at a code point boundary and ends
 *   with "…" when cut. Targets cap further to their own documented limits. A
 *   URL is never cut (a cut URL points elsewhere): one that is too long or not
 *   http(s) is left out.
 * - **User-supplied keys are data.** Group and label keys come from users (a
 *   log field can be called `__proto__`). They are read with `Object.keys` on
 *   the record itself, never looked up by name for logic, and written with
 *   `Object.fromEntries` (which defines own properties: a key `__proto__`
 *   stays a key and never becomes a prototype).
 * - **Header-safe keys.** Idempotency and dedup keys travel in HTTP headers and
 *   in receivers with length limits; a key that is too long, or is not
 *   printable ASCII (a group value in it may be any text, and `fetch` refuses
 *   such header values), is replaced by `sha256-<hex>` of itself: stable
 *   across retries, distinct per key (`boundedKey`).
 */

export type AlertSeverity = 'critical' | 'warning' | 'info';
export type AlertNotificationStatus = 'firing' | 'resolved';

export interface AlertNotification {
  tenantId: string;
  ruleId: string;
  ruleName: string;
  severity: AlertSeverity;
  status: AlertNotificationStatus;
  /** The group this instance is for (`group_by service` → `{ service: 'api' }`); empty without group_by. Keys come from users. */
  group: Record<string, string>;
  /** The rule's labels. Keys come from users. */
  labels: Record<string, string>;
  /** The measured value (count, ratio…). */
  value: number;
  threshold?: number;
  /** The rule's message template, already rendered. */
  message: string;
  /** RFC 3339: when this firing instance started firing. */
  startsAt: string;
  /** RFC 3339: when it resolved (status `resolved`). */
  endsAt?: string;
  /** The explorer search behind the alert. */
  explorerUrl: string;
  /** Derived by the caller from (rule, group, firing instance): the same for a firing and its resolve, stable across retries. */
  dedupKey: string;
}

export interface OutboundRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/** Caps applied to every notification before a target formats it (UTF-16 code units). */
export const LIMITS = {
  /** The rule's name. */
  ruleName: 256,
  /** The rendered message (webhook, email, Alertmanager description). */
  message: 4_000,
  /** Group or label entries kept (sorted by key; the rest are left out). */
  mapEntries: 64,
  mapKey: 128,
  mapValue: 1_024,
  /** A longer URL is left out rather than cut. */
  url: 4_096,
} as const;

const ELLIPSIS = '…';

/** `text` cut to at most `max` code units, ending with "…" when cut, never splitting a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let end = max - ELLIPSIS.length;
  // Do not leave half of a surrogate pair at the cut.
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end--;
  return text.slice(0, end) + ELLIPSIS;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * `text` escaped piece by piece (`escape` maps one code point to its escaped
 * form) and cut so that the escaped result is at most `max` code units: an
 * escape sequence is never cut in half.
 */
export function truncateEscaped(text: string, max: number, escapeCodePoint: (codePoint: string) => string): string {
  const pieces: string[] = [];
  let length = 0;
  for (const cp of text) {
    const piece = escapeCodePoint(cp);
    pieces.push(piece);
    length += piece.length;
  }
  if (length <= max) return pieces.join('');
  let out = '';
  for (const piece of pieces) {
    if (out.length + piece.length > max - ELLIPSIS.length) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/**
 * A user-keyed record as sorted `[key, value]` pairs, bounded (LIMITS). Only
 * the record's own enumerable string keys are read (`Object.keys`), so a key
 * such as `__proto__` or `constructor` is one more entry, never inherited
 * behaviour. Values that are not strings are turned into strings.
 */
export function boundedEntries(record: Record<string, string> | null | undefined): Array<[string, string]> {
  if (record === null || typeof record !== 'object') return [];
  const seen = new Set<string>();
  const entries: Array<[string, string]> = [];
  for (const key of Object.keys(record).sort()) {
    const value: unknown = record[key];
    const k = truncate(key, LIMITS.mapKey);
    // Two long keys that share a prefix would cut to the same key: keep the first.
    if (seen.has(k)) continue;
    seen.add(k);
    entries.push([k, truncate(typeof value === 'string' ? value : String(value), LIMITS.mapValue)]);
    if (entries.length === LIMITS.mapEntries) break;
  }
  return entries;
}

/** Pairs back into a plain record, as own data properties (safe for any key). */
export function recordOf(entries: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  return Object.fromEntries(entries);
}

/** `key=value, key=value` for people to read; empty string for no entries. */
export function formatEntries(entries: ReadonlyArray<readonly [string, string]>): string {
  return entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

/** The URL if it is http(s) and at most LIMITS.url long; undefined otherwise. */
export function boundedUrl(url: string): string | undefined {
  if (typeof url !== 'string' || url.length > LIMITS.url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A number for people to read: integers as they are, others to 6 significant digits. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

/** A number for JSON: a non-finite value becomes null (JSON has no NaN). */
export function jsonNumber(value: number | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  return Number.isFinite(value) ? value : null;
}

/** Text on one line (control characters, CR and LF become spaces), as for a summary or an email subject. */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * `key` if it is at most `max` long and — for a header (`headerSafe`, the
 * default) — printable ASCII without spaces; else `sha256-<64 hex>` of its
 * UTF-8 bytes: what goes into idempotency headers and into dedup keys of
 * receivers with length limits. `max` must be at least 71.
 */
export async function boundedKey(key: string, max: number, { headerSafe = true }: { headerSafe?: boolean } = {}): Promise<string> {
  if (key.length <= max && (!headerSafe || PRINTABLE_ASCII.test(key))) return key;
  return `sha256-${await sha256Hex(key)}`;
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

export function toHex(buffer: ArrayBuffer): string {
  let out = '';
  for (const byte of new Uint8Array(buffer)) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** The notification with its shared caps applied (LIMITS): what every target formats. */
export interface BoundedNotification {
  source: AlertNotification;
  ruleName: string;
  message: string;
  group: Array<[string, string]>;
  labels: Array<[string, string]>;
  explorerUrl: string | undefined;
}

export function boundNotification(n: AlertNotification): BoundedNotification {
  return {
    source: n,
    ruleName: truncate(n.ruleName, LIMITS.ruleName),
    message: truncate(n.message, LIMITS.message),
    group: boundedEntries(n.group),
    labels: boundedEntries(n.labels),
    explorerUrl: boundedUrl(n.explorerUrl),
  };
}
