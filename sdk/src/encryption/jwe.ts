/**
 * The envelope: one JWE per record in flattened JSON serialisation (RFC 7516
 * §7.2.2) — ECDH-ES+A256KW over P-256 (RFC 7518 §4.6), content A256GCM — made
 * with WebCrypto only, so any JOSE library decrypts it with the private key.
 *
 * The costly part runs once per *batch* of records: a fresh ephemeral key
 * pair, ECDH with the tenant's public key, the Concat KDF to the key-wrapping
 * key, the protected header. Per record: a fresh 96-bit IV and one AES-GCM
 * call under the batch's content key (the default), or, with
 * `contentKeyPerRecord`, a fresh content key wrapped per record (two more
 * WebCrypto calls: about 3× the cost — docs/benchmarks.md, ADR 0017).
 */
import { decodeUtf8, fromBase64url, toBase64url, utf8 } from './base64url.ts';

export const ALG = 'ECDH-ES+A256KW';
export const ENC = 'A256GCM';
export const CTY = 'vnd.neurallog.record+json';

export interface P256PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** The encrypted part of a record as the ingest takes it (`encrypted`), blind tokens included. */
export interface Envelope {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
  /** base64url of the record's clear fields, canonically encoded (clear-fields.ts): authenticated by AES-GCM with the ciphertext. */
  aad: string;
  tokens?: string[];
}

/** RFC 7516 §5.1 step 14: the GCM's additional data is ASCII(protected header) '.' ASCII(aad) — both base64url, so ASCII. */
function additionalData(protectedHeader: string, aad: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(protectedHeader.length + 1 + aad.length);
  let at = 0;
  for (let i = 0; i < protectedHeader.length; i++) bytes[at++] = protectedHeader.charCodeAt(i);
  bytes[at++] = 0x2e;
  for (let i = 0; i < aad.length; i++) bytes[at++] = aad.charCodeAt(i);
  return bytes;
}

/** The public members of a P-256 JWK, checked (a private JWK's `d` is left out). */
export function publicJwkOf(jwk: JsonWebKey): P256PublicJwk {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new TypeError('an encryption key is an EC P-256 JWK (kty "EC", crv "P-256", x, y)');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** RFC 7638 SHA-256 thumbprint: the key id (`kid`) the server computes alike. */
export async function keyId(jwk: JsonWebKey): Promise<string> {
  const { crv, kty, x, y } = publicJwkOf(jwk);
  const canonical = `{"crv":"${crv}","kty":"${kty}","x":"${x}","y":"${y}"}`;
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(canonical))));
}

const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;

/** ECDH with a peer's public key (the parameter's type is spelled differently by the DOM's and the Workers' definitions). */
const ecdhWith = (peer: CryptoKey) => ({ name: 'ECDH', public: peer }) as unknown as Parameters<typeof crypto.subtle.deriveBits>[0];

/** RFC 7518 §4.6.2: Concat KDF (SHA-256, one round: 256 bits) of the shared secret for ECDH-ES+A256KW. */
async function keyWrappingKey(sharedSecret: ArrayBuffer, usages: ('wrapKey' | 'unwrapKey')[]): Promise<CryptoKey> {
  const alg = utf8.encode(ALG);
  const info = new Uint8Array(4 + 32 + 4 + alg.length + 4 + 4 + 4);
  const view = new DataView(info.buffer);
  let at = 0;
  view.setUint32(at, 1); // round 1
  at += 4;
  info.set(new Uint8Array(sharedSecret), at);
  at += 32;
  view.setUint32(at, alg.length); // AlgorithmID
  at += 4;
  info.set(alg, at);
  at += alg.length;
  view.setUint32(at, 0); // PartyUInfo (apu): empty
  at += 4;
  view.setUint32(at, 0); // PartyVInfo (apv): empty
  at += 4;
  view.setUint32(at, 256); // SuppPubInfo: key length in bits
  const kek = await crypto.subtle.digest('SHA-256', info);
  return crypto.subtle.importKey('raw', kek, 'AES-KW', false, usages);
}

/** The JWE's `aad` member for a text (the clear fields' encoding): base64url of its UTF-8. */
export function aadMember(text: string): string {
  return toBase64url(utf8Bytes(text));
}

/** UTF-8 of a short text, written into one reused buffer (TextEncoder.encode allocates per call): a view valid until the next call. */
let textBuffer = new Uint8Array(1024);
function utf8Bytes(text: string): Uint8Array {
  if (textBuffer.length < text.length * 3) textBuffer = new Uint8Array(text.length * 3);
  return textBuffer.subarray(0, encoder.encodeInto(text, textBuffer).written);
}
const encoder = new TextEncoder();

/** Random 96-bit IVs drawn 512 at a time (one getRandomValues call per record measured 5 % of the record's CPU); each used once. */
let ivPool = new Uint8Array(0);
let ivAt = 0;
function freshIv(): Uint8Array<ArrayBuffer> {
  if (ivAt === ivPool.length) {
    ivPool = crypto.getRandomValues(new Uint8Array(12 * 512));
    ivAt = 0;
  }
  ivAt += 12;
  return ivPool.subarray(ivAt - 12, ivAt);
}

/** One batch's keys: records sealed with it share the protected header (and, by default, the content key). */
export class SealingBatch {
  records = 0;
  readonly startedAt = Date.now();

  private constructor(
    private readonly protectedHeader: string,
    private readonly kek: CryptoKey,
    private readonly shared: { key: CryptoKey; wrapped: string } | null,
  ) {}

  static async open(recipient: CryptoKey, kid: string, contentKeyPerRecord: boolean): Promise<SealingBatch> {
    const ephemeral = (await crypto.subtle.generateKey(ECDH, true, ['deriveBits'])) as CryptoKeyPair;
    const epk = publicJwkOf((await crypto.subtle.exportKey('jwk', ephemeral.publicKey)) as JsonWebKey);
    const z = await crypto.subtle.deriveBits(ecdhWith(recipient), ephemeral.privateKey, 256);
    const kek = await keyWrappingKey(z, ['wrapKey']);
    const header = { alg: ALG, enc: ENC, kid, epk: { kty: epk.kty, crv: epk.crv, x: epk.x, y: epk.y }, cty: CTY };
    const protectedHeader = toBase64url(utf8.encode(JSON.stringify(header)));
    const shared = contentKeyPerRecord ? null : await SealingBatch.contentKey(kek);
    return new SealingBatch(protectedHeader, kek, shared);
  }

  private static async contentKey(kek: CryptoKey): Promise<{ key: CryptoKey; wrapped: string }> {
    // Extractable only so AES-KW can wrap it; the reference is dropped with the batch.
    const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', true, ['encrypt']);
    const wrapped = toBase64url(new Uint8Array(await crypto.subtle.wrapKey('raw', key, kek, 'AES-KW')));
    return { key, wrapped };
  }

  /** One record's plaintext sealed, with `aad` (the clear fields' encoding, as text) authenticated beside it: a complete JWE of its own. */
  async seal(plaintext: Uint8Array<ArrayBuffer>, aadText: string): Promise<Envelope> {
    this.records++;
    const content = this.shared ?? (await SealingBatch.contentKey(this.kek));
    const iv = freshIv();
    const aad = aadMember(aadText);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(this.protectedHeader, aad), tagLength: 128 }, content.key, plaintext),
    );
    return {
      protected: this.protectedHeader,
      encrypted_key: content.wrapped,
      iv: toBase64url(iv),
      ciphertext: toBase64url(sealed.subarray(0, sealed.length - 16)),
      tag: toBase64url(sealed.subarray(sealed.length - 16)),
      aad,
    };
  }
}

/** Why a record could not be decrypted. */
export class DecryptionError extends Error {
  constructor(
    readonly code: 'not_encrypted' | 'malformed' | 'wrong_key' | 'tampered',
    message: string,
    /** The key id the record names, when it could be read. */
    readonly kid?: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export interface ProtectedHeader {
  alg: string;
  enc: string;
  kid: string;
  epk: P256PublicJwk;
}

export function readProtectedHeader(encoded: string): ProtectedHeader {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(decodeUtf8(fromBase64url(encoded)));
  } catch {
    throw new DecryptionError('malformed', "the envelope's protected header is not base64url JSON");
  }
  if (header === null || typeof header !== 'object' || header.alg !== ALG || header.enc !== ENC || typeof header.kid !== 'string') {
    throw new DecryptionError('malformed', `the envelope is not ${ALG} with ${ENC} and a kid`);
  }
  try {
    return { alg: ALG, enc: ENC, kid: header.kid, epk: publicJwkOf(header.epk as JsonWebKey) };
  } catch {
    throw new DecryptionError('malformed', "the envelope's epk is not a P-256 public key", header.kid);
  }
}

/** Opens envelopes with one private key; the key-wrapping key of each protected header (one per batch) is derived once. */
export class Opener {
  readonly #keks = new Map<string, Promise<CryptoKey>>();

  constructor(
    readonly kid: string,
    private readonly privateKey: CryptoKey,
  ) {}

  /** The plaintext, with the `aad` authenticated with it (the caller compares the fields it binds). */
  async open(envelope: Envelope, header: ProtectedHeader): Promise<Uint8Array> {
    if (typeof envelope.aad !== 'string') {
      throw new DecryptionError(
        'tampered',
        `the envelope has no aad: its clear fields are not bound (the SDK always binds them; removed?) (key ${header.kid})`,
        header.kid,
      );
    }
    let kek = this.#keks.get(envelope.protected);
    if (!kek) {
      kek = (async () => {
        const epk = await crypto.subtle.importKey('jwk', header.epk, ECDH, false, []).catch(() => {
          throw new DecryptionError('malformed', "the envelope's epk is not a point on P-256", header.kid);
        });
        const z = await crypto.subtle.deriveBits(ecdhWith(epk), this.privateKey, 256);
        return keyWrappingKey(z, ['unwrapKey']);
      })();
      if (this.#keks.size >= 1024) this.#keks.clear();
      this.#keks.set(envelope.protected, kek);
    }
    let parts: { wrapped: Uint8Array<ArrayBuffer>; iv: Uint8Array<ArrayBuffer>; sealed: Uint8Array<ArrayBuffer> };
    try {
      const ciphertext = fromBase64url(envelope.ciphertext);
      const tag = fromBase64url(envelope.tag);
      const sealed = new Uint8Array(ciphertext.length + tag.length);
      sealed.set(ciphertext);
      sealed.set(tag, ciphertext.length);
      parts = { wrapped: fromBase64url(envelope.encrypted_key), iv: fromBase64url(envelope.iv), sealed };
      if (!/^[A-Za-z0-9_-]*$/.test(envelope.aad)) throw new TypeError('aad');
    } catch {
      throw new DecryptionError('malformed', 'the envelope has a member that is not base64url', header.kid);
    }
    let content: CryptoKey;
    try {
      content = await crypto.subtle.unwrapKey('raw', parts.wrapped, await kek, 'AES-KW', 'AES-GCM', false, ['decrypt']);
    } catch (err) {
      if (err instanceof DecryptionError) throw err;
      throw new DecryptionError('tampered', `the record's wrapped key or header was altered (AES-KW integrity check failed; key ${header.kid})`, header.kid);
    }
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: parts.iv, additionalData: additionalData(envelope.protected, envelope.aad), tagLength: 128 },
          content,
          parts.sealed,
        ),
      );
    } catch {
      throw new DecryptionError(
        'tampered',
        `the record's ciphertext, IV, tag, header or bound clear fields (aad) were altered (AES-GCM authentication failed; key ${header.kid})`,
        header.kid,
      );
    }
  }
}
