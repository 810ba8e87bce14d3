/**
 * Zero-knowledge encryption, the server's side (docs/encryption.md, ADR
 * 0017): a native record (`POST /v1/logs`) may carry `encrypted` — one JWE
 * in flattened JSON serialisation (RFC 7516 §7.2.2), ECDH-ES+A256KW over
 * P-256 with A256GCM, its `aad` binding the record's clear fields, plus the
 * record's blind tokens — instead of `message`.
 * The server checks the envelope's shape, sizes and algorithms, and that its
 * key id is an active key of the tenant (the caller's look-up), and stores it
 * as the row's Body: compact JSON, tokens included, so full-text search finds
 * a blind token as a word. It never decrypts (it cannot: it has no private
 * key), and the row gets no pattern (PatternId '' — nothing to mine).
 *
 * Everything here reads request data: member names are checked against
 * fixed lists and never used to index an object.
 */
import { setAttribute } from './attributes.ts';
import type { LogRow } from './log-record.ts';
import { type NormalizeContext, normalizeRecord, RecordError } from './normalize.ts';

export const ENVELOPE_ALG = 'ECDH-ES+A256KW';
export const ENVELOPE_ENC = 'A256GCM';
/** The protected header's `cty` (RFC 7515 §4.1.10: `application/` left out). Optional. */
export const ENVELOPE_CTY = 'vnd.neurallog.record+json';

/** Blind tokens one record may carry (the SDK sends at most 64 by default). */
export const MAX_TOKENS = 128;
/** Longest protected header, base64url characters (ours are about 330). */
export const MAX_PROTECTED_CHARS = 1024;
/** An A256KW-wrapped 256-bit key is 40 bytes: 54 base64url characters. */
const ENCRYPTED_KEY_CHARS = 54;
/** A 96-bit GCM IV: 16 characters. */
const IV_CHARS = 16;
/** A 128-bit GCM tag: 22 characters. */
const TAG_CHARS = 22;
/** A SHA-256 JWK thumbprint, or a P-256 coordinate: 32 bytes, 43 characters. */
const B64URL_32_RE = /^[A-Za-z0-9_-]{43}$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;

const ENVELOPE_MEMBERS: ReadonlySet<string> = new Set(['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag', 'aad', 'tokens']);
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['alg', 'enc', 'kid', 'epk', 'cty']);
const EPK_MEMBERS: ReadonlySet<string> = new Set(['kty', 'crv', 'x', 'y']);
/** The body's aliases (shared/normalize.ts): a record carries its body encrypted or in clear, not both. */
const MESSAGE_ALIASES = ['message', 'msg', 'body'];

export interface P256PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** A checked protected header. */
export interface EnvelopeHeader {
  kid: string;
  epk: P256PublicJwk;
}

/**
 * A public P-256 JWK, or why not (for the key registry and the header's
 * `epk`). A JWK with `d` is a private key: refused, so a private key sent by
 * mistake is not stored. Members other than kty/crv/x/y/d (`kid`, `use`,
 * `key_ops`, `alg`, `ext`) are ignored; only kty/crv/x/y are kept.
 */
export function checkPublicJwk(value: unknown, strict = false): P256PublicJwk | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be a JSON object (a JWK)';
  if (Object.hasOwn(value, 'd')) return 'is a private key (it has "d"); register the public key only — the private key never leaves you';
  if (strict) for (const name of Object.keys(value)) if (!EPK_MEMBERS.has(name)) return `has member "${name}"; only kty, crv, x and y are allowed`;
  const jwk = value as Record<string, unknown>;
  const kty = Object.hasOwn(jwk, 'kty') ? jwk.kty : undefined;
  const crv = Object.hasOwn(jwk, 'crv') ? jwk.crv : undefined;
  const x = Object.hasOwn(jwk, 'x') ? jwk.x : undefined;
  const y = Object.hasOwn(jwk, 'y') ? jwk.y : undefined;
  if (kty !== 'EC') return 'must have kty "EC"';
  if (crv !== 'P-256') return 'must have crv "P-256"';
  if (typeof x !== 'string' || !B64URL_32_RE.test(x)) return 'must have x: 32 bytes, base64url (43 characters)';
  if (typeof y !== 'string' || !B64URL_32_RE.test(y)) return 'must have y: 32 bytes, base64url (43 characters)';
  return { kty, crv, x, y };
}

/** RFC 7638 thumbprint of a P-256 public JWK (SHA-256, base64url): the key id client and server compute alike. */
export async function jwkThumbprint(jwk: P256PublicJwk): Promise<string> {
  // The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical)));
  return base64url(digest);
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function base64urlText(value: string): string | null {
  if (value.length % 4 === 1) return null;
  try {
    const binary = atob(value.replaceAll('-', '+').replaceAll('_', '/'));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** The protected header (base64url of JSON) checked: only our algorithms, a key id, a public P-256 ephemeral key. */
export function parseProtectedHeader(encoded: string): EnvelopeHeader | string {
  const text = base64urlText(encoded);
  if (text === null) return 'is not base64url of UTF-8 text';
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    return 'is not base64url of a JSON object';
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return 'is not base64url of a JSON object';
  for (const name of Object.keys(header)) {
    if (!HEADER_MEMBERS.has(name)) return `has member "${name}"; only alg, enc, kid, epk and cty are allowed`;
  }
  const h = header as Record<string, unknown>;
  if (h.alg !== ENVELOPE_ALG) return `must have alg "${ENVELOPE_ALG}"`;
  if (h.enc !== ENVELOPE_ENC) return `must have enc "${ENVELOPE_ENC}"`;
  if (Object.hasOwn(h, 'cty') && h.cty !== ENVELOPE_CTY) return `may only have cty "${ENVELOPE_CTY}"`;
  if (typeof h.kid !== 'string' || !B64URL_32_RE.test(h.kid)) return 'must have kid: a key id (an RFC 7638 thumbprint, 43 base64url characters)';
  const epk = checkPublicJwk(Object.hasOwn(h, 'epk') ? h.epk : undefined, true);
  if (typeof epk === 'string') return `must have epk, an ephemeral public P-256 JWK: it ${epk}`;
  return { kid: h.kid, epk };
}

/**
 * A record's `encrypted` member checked, as the Body to store (compact JSON
 * in a fixed member order), or a RecordError naming the field. `headers`
 * remembers the protected headers already parsed in this request: the SDK
 * sends one per batch of records.
 */
export function envelopeBody(
  value: unknown,
  index: number,
  maxRecordBytes: number,
  headers: Map<string, EnvelopeHeader>,
): { body: string; protectedHeader: string; header: EnvelopeHeader } {
  const fail = (field: string, message: string): never => {
    throw new RecordError(index, field, `record ${index}: field "${field}" ${message}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('encrypted', 'must be an object (a JWE in flattened JSON serialisation)');
  const envelope = value as Record<string, unknown>;
  for (const name of Object.keys(envelope)) {
    if (!ENVELOPE_MEMBERS.has(name)) fail('encrypted', `has member "${name}"; only protected, encrypted_key, iv, ciphertext, tag, aad and tokens are allowed`);
  }
  const member = (name: string, min: number, max: number): string => {
    const v = Object.hasOwn(envelope, name) ? envelope[name] : undefined;
    const field = `encrypted.${name}`;
    if (typeof v !== 'string') return fail(field, 'must be a base64url string');
    if (v.length < min || v.length > max)
      return fail(field, min === max ? `must be ${min} base64url characters` : `must be ${min}–${max} base64url characters`);
    if (!B64URL_RE.test(v) || v.length % 4 === 1) return fail(field, 'must be base64url (A–Z a–z 0–9 - _, no padding)');
    return v;
  };
  const protectedHeader = member('protected', 1, MAX_PROTECTED_CHARS);
  const encryptedKey = member('encrypted_key', ENCRYPTED_KEY_CHARS, ENCRYPTED_KEY_CHARS);
  const iv = member('iv', IV_CHARS, IV_CHARS);
  const ciphertext = member('ciphertext', 1, maxRecordBytes);
  const tag = member('tag', TAG_CHARS, TAG_CHARS);
  // The record's clear fields, bound by the client (AES-GCM authenticates them with the ciphertext): required, so
  // no record is stored that a reader would refuse; opaque here — only a reader can check them, with the key.
  const aad = member('aad', 1, maxRecordBytes);
  const rawTokens = Object.hasOwn(envelope, 'tokens') ? envelope.tokens : [];
  if (!Array.isArray(rawTokens)) fail('encrypted.tokens', 'must be an array of blind tokens');
  const tokens = rawTokens as unknown[];
  if (tokens.length > MAX_TOKENS) fail('encrypted.tokens', `holds ${tokens.length} tokens; the limit is ${MAX_TOKENS}`);
  for (const [i, token] of tokens.entries()) {
    if (typeof token !== 'string' || !TOKEN_RE.test(token)) fail(`encrypted.tokens.${i}`, 'must be a blind token: 32 lowercase hexadecimal characters');
  }
  let header = headers.get(protectedHeader);
  if (header === undefined) {
    const parsed = parseProtectedHeader(protectedHeader);
    if (typeof parsed === 'string') fail('encrypted.protected', parsed);
    header = parsed as EnvelopeHeader;
    headers.set(protectedHeader, header);
  }
  // Fixed order, values already checked to need no escaping: the stored Body is the envelope and nothing else.
  const body =
    `{"protected":"${protectedHeader}","encrypted_key":"${encryptedKey}","iv":"${iv}","ciphertext":"${ciphertext}","tag":"${tag}","aad":"${aad}",` +
    `"tokens":[${(tokens as string[]).map((t) => `"${t}"`).join(',')}]}`;
  if (body.length > maxRecordBytes) fail('encrypted', `is ${body.length} bytes; the limit for a record is ${maxRecordBytes}`);
  return { body, protectedHeader, header };
}

/**
 * The encrypted records of one request: each normalised like any record
 * (timestamp, level, service, clear attributes) with the envelope as its
 * Body and no pattern; their key ids and ephemeral keys are checked
 * afterwards, once per distinct protected header (`check`).
 */
export class EncryptedRecords {
  readonly #headers = new Map<string, EnvelopeHeader>();
  /** Protected header → the first record that used it (the one an error names). */
  readonly #firstUse = new Map<string, number>();

  constructor(private readonly maxRecordBytes: number) {}

  /** Whether a parsed record carries an envelope (an own `encrypted` member). */
  static carries(record: unknown): boolean {
    return record !== null && typeof record === 'object' && !Array.isArray(record) && Object.hasOwn(record, 'encrypted');
  }

  get size(): number {
    return this.#firstUse.size;
  }

  normalize(raw: object, index: number, ctx: NormalizeContext): LogRow {
    const record = raw as Record<string, unknown>;
    for (const alias of MESSAGE_ALIASES) {
      if (Object.hasOwn(record, alias)) {
        throw new RecordError(index, alias, `record ${index}: field "${alias}" cannot be sent with "encrypted": an encrypted record's body is in its envelope`);
      }
    }
    const { body, protectedHeader } = envelopeBody(record.encrypted, index, this.maxRecordBytes, this.#headers);
    if (!this.#firstUse.has(protectedHeader)) this.#firstUse.set(protectedHeader, index);
    // The record without its envelope, so `encrypted` does not become an attribute.
    const clear: Record<string, unknown> = {};
    for (const key of Object.keys(record)) if (key !== 'encrypted') setAttribute(clear, key, record[key]);
    const row = normalizeRecord(clear, index, ctx);
    row.Body = body;
    row.PatternId = ''; // no pattern: nothing readable to mine, and the row is sealed as it is (shared/row-format.ts)
    return row;
  }

  /**
   * Every distinct protected header's key id is an active key of the tenant
   * (`isActive`, cached by the caller) and its ephemeral key a point on
   * P-256; otherwise the RecordError names the first record using it.
   */
  async check(isActive: (kid: string) => Promise<boolean>): Promise<void> {
    for (const [protectedHeader, index] of this.#firstUse) {
      const header = this.#headers.get(protectedHeader)!;
      if (!(await isActive(header.kid))) {
        throw new RecordError(
          index,
          'encrypted.protected',
          `record ${index}: field "encrypted.protected" names key id "${header.kid}", which is not an active encryption key of this tenant (unknown or revoked)`,
        );
      }
      try {
        await crypto.subtle.importKey('jwk', { ...header.epk, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      } catch {
        throw new RecordError(index, 'encrypted.protected', `record ${index}: field "encrypted.protected" has an epk that is not a point on P-256`);
      }
    }
  }
}
