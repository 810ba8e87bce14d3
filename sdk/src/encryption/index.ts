/**
 * @neurallog/sdk/encryption — zero-knowledge encryption for the SDK
 * (docs/encryption.md): records' bodies and chosen attributes encrypted in
 * the client for the tenant's public key, with blind tokens so exact words
 * stay searchable; and decryption where the private key is. Web-standard
 * APIs only (WebCrypto), plus @stablelib/blake2s for the per-word keyed PRF.
 *
 *   const encryption = await createEncryption({ publicKey, searchSecret });
 *   const log = createLogger({ endpoint, apiKey, transform: encryption.transform });
 */
import type { RecordTransform } from '../options.ts';
import type { Attributes, LogRecord } from '../record.ts';
import { decodeUtf8, fromBase64url, toBase64url, utf8 } from './base64url.ts';
import { BlindTokenizer } from './blind-tokens.ts';
import { bindClearFields, differingFields, readClearFields } from './clear-fields.ts';
import { DecryptionError, type Envelope, keyId, Opener, type P256PublicJwk, publicJwkOf, readProtectedHeader, SealingBatch } from './jwe.ts';

export { attributeTerm, BlindTokenizer, TOKEN_KEY_INFO, type TokenizerTuning, WORD_SEPARATORS, wordsOf } from './blind-tokens.ts';
export { TOKEN_SCHEME, type TermPrf, type TermPrfFactory } from './token-prf.ts';
export { ALG, CTY, DecryptionError, ENC, type Envelope, keyId, type P256PublicJwk } from './jwe.ts';
export { CLEAR_FIELDS_VERSION, readClearFields, storedTimestamp } from './clear-fields.ts';
export { type KeyFile, keyFileOf, keyFileText } from './key-file.ts';

export interface EncryptionOptions {
  /** The tenant's public key (a P-256 JWK), registered with NeuralLog (`npm run encryption-key -- create`). */
  publicKey: JsonWebKey;
  /** The search secret kept with the private key: blind tokens are made with a key derived from it. Without it, no tokens (encrypted text is not searchable). */
  searchSecret?: string;
  /**
   * Top-level attribute names to encrypt with the body, or 'all' (the default): the others stay clear and
   * searchable as usual. `error` (where the logger puts an Error: its message again, and its stack) is always encrypted.
   */
  encryptAttributes?: readonly string[] | 'all';
  /** Blind tokens per record at most (default 64; the ingest takes 128): attributes first, then the body's words in order. */
  maxTokens?: number;
  /** Records sealed under one ephemeral key (and one content key, unless contentKeyPerRecord) before a new one (default 1,000). */
  batchRecords?: number;
  /** Longest one batch's keys are used (ms, default 60,000). */
  batchMaxAgeMs?: number;
  /** A fresh content key for every record, wrapped for the batch (default false: one per batch; about 3× the CPU per record). */
  contentKeyPerRecord?: boolean;
}

/** A record as the ingest takes it when encrypted: `encrypted` instead of `message`. */
export type EncryptedLogRecord = Omit<LogRecord, 'message'> & { encrypted: Envelope };

export interface Encryption {
  /** The key id records are sealed under (RFC 7638 thumbprint of the public key). */
  kid: string;
  /** createLogger's `transform`: every record's body and chosen attributes replaced by an envelope. */
  transform: RecordTransform;
  /** Seals one record (the transform without the type the logger's hook needs). */
  encryptRecord(record: LogRecord): Promise<EncryptedLogRecord>;
  /** The blind tokens to search for a term (words, or `name=value` of an encrypted attribute); empty without a search secret. */
  searchTokens(term: string): string[];
}

export async function createEncryption(options: EncryptionOptions): Promise<Encryption> {
  const publicJwk = publicJwkOf(options.publicKey);
  if ('d' in options.publicKey) throw new TypeError('publicKey is a private key (it has "d"): give the SDK the public key only');
  const kid = await keyId(publicJwk);
  const recipient = await crypto.subtle.importKey('jwk', publicJwk, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  const tokenizer = options.searchSecret === undefined ? null : await BlindTokenizer.fromSecret(options.searchSecret);
  const chosen = options.encryptAttributes ?? 'all';
  const encryptAll = chosen === 'all';
  const encryptNames = new Set(encryptAll ? [] : [...chosen, 'error']);
  const maxTokens = options.maxTokens ?? 64;
  const batchRecords = Math.max(1, options.batchRecords ?? 1_000);
  const batchMaxAgeMs = options.batchMaxAgeMs ?? 60_000;
  const perRecord = options.contentKeyPerRecord === true;
  let batch: Promise<SealingBatch> | undefined;
  let current: SealingBatch | undefined;

  const usable = (sealer: SealingBatch | undefined): sealer is SealingBatch =>
    sealer !== undefined && sealer.records < batchRecords && Date.now() - sealer.startedAt < batchMaxAgeMs;

  const sealingBatch = (): Promise<SealingBatch> => {
    if (usable(current)) return Promise.resolve(current);
    if (!batch || current) {
      current = undefined;
      batch = SealingBatch.open(recipient, kid, perRecord).then(
        (opened) => {
          current = opened;
          return opened;
        },
        (err) => {
          batch = undefined;
          throw err;
        },
      );
    }
    return batch;
  };

  const encryptRecord = async (record: LogRecord): Promise<EncryptedLogRecord> => {
    // Null prototype: attribute names are the application's, and "__proto__" must stay data.
    let secret: Attributes | undefined;
    let clear: Attributes | undefined;
    if (record.attributes) {
      for (const name of Object.keys(record.attributes)) {
        if (encryptAll || encryptNames.has(name)) {
          secret ??= Object.create(null) as Attributes;
          secret[name] = record.attributes[name];
        } else {
          clear ??= Object.create(null) as Attributes;
          clear[name] = record.attributes[name];
        }
      }
    }
    const plaintext = utf8.encode(JSON.stringify({ message: record.message, attributes: secret ?? {} }));
    // The clear fields are sent as the ingest stores them and bound to the envelope (its aad): a reader detects a change.
    const bound = bindClearFields(record, clear);
    // Records sealed at once (the shipper overlaps them) may all wait for the same new batch: those past its
    // batchRecords wait for the next one, so no batch's keys seal more than batchRecords records.
    let sealer = usable(current) ? current : await sealingBatch();
    while (sealer.records >= batchRecords) sealer = await sealingBatch();
    const envelope = await sealer.seal(plaintext, bound.canonical);
    if (tokenizer) envelope.tokens = tokenizer.recordTokens(record.message, secret, maxTokens);
    return { ...bound.record, encrypted: envelope };
  };

  return {
    kid,
    // The shipper serialises whatever the hook returns; an encrypted record is the ingest's native record with `encrypted` for `message`.
    transform: encryptRecord as unknown as RecordTransform,
    encryptRecord,
    searchTokens: (term) => (tokenizer ? tokenizer.queryTokens(term) : []),
  };
}

/** A new key pair and search secret, made here (WebCrypto): register `publicKey`, keep the rest. */
export async function generateEncryptionKey(): Promise<{ kid: string; publicKey: P256PublicJwk; privateKey: JsonWebKey; searchSecret: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
  const publicKey = publicJwkOf((await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey);
  const kid = await keyId(publicKey);
  const privateKey: JsonWebKey = { kty: 'EC', crv: 'P-256', x: privateJwk.x!, y: privateJwk.y!, d: privateJwk.d! };
  return { kid, publicKey, privateKey, searchSecret: toBase64url(crypto.getRandomValues(new Uint8Array(32))) };
}

/** A record read back from search or export (`body`, `attributes`…) or in the native format (`encrypted`). */
export type ReadRecord = Record<string, unknown>;

export interface DecryptedRecord {
  /** The key the record was sealed under. */
  kid: string;
  /** The body as logged. */
  message: string;
  /** The encrypted attributes, as logged. */
  attributes: Attributes;
}

/** The envelope of a record read back, or null when it was not sent encrypted. */
export function envelopeOf(record: ReadRecord): Envelope | null {
  const candidate = Object.hasOwn(record, 'encrypted')
    ? record.encrypted
    : typeof record.body === 'string' && record.body.startsWith('{"protected":')
      ? parse(record.body)
      : null;
  if (candidate === null || typeof candidate !== 'object') return null;
  const e = candidate as Record<string, unknown>;
  for (const name of ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag']) if (typeof e[name] !== 'string') return null;
  return e as unknown as Envelope;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Decrypts records with one or more private keys (an old key and its successor after a rotation); the private keys are imported non-extractable. */
export class Decryptor {
  private constructor(private readonly openers: ReadonlyMap<string, Opener>) {}

  static async create(privateKeys: readonly JsonWebKey[]): Promise<Decryptor> {
    const openers = new Map<string, Opener>();
    for (const jwk of privateKeys) {
      if (typeof jwk.d !== 'string') throw new TypeError('a decryption key is a private JWK (with "d")');
      const kid = await keyId(jwk);
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d },
        { name: 'ECDH', namedCurve: 'P-256' },
        false,
        ['deriveBits'],
      );
      openers.set(kid, new Opener(kid, key));
    }
    return new Decryptor(openers);
  }

  /**
   * This decryptor's keys and more (a key loaded after others, in a page that decrypts as keys arrive): a new
   * Decryptor, this one unchanged. A key already held is kept, not imported again.
   */
  async withKeys(privateKeys: readonly JsonWebKey[]): Promise<Decryptor> {
    const added = await Decryptor.create(privateKeys);
    return new Decryptor(new Map([...added.openers, ...this.openers]));
  }

  /** The key ids this decryptor holds. */
  get kids(): string[] {
    return [...this.openers.keys()];
  }

  /**
   * A record's body and encrypted attributes; throws DecryptionError (`not_encrypted`, `malformed`, `wrong_key`,
   * `tampered` — the ciphertext, its header or key, or a clear field bound to it changed).
   */
  async decrypt(record: ReadRecord): Promise<DecryptedRecord> {
    const envelope = envelopeOf(record);
    if (!envelope) throw new DecryptionError('not_encrypted', 'the record was not sent encrypted');
    const header = readProtectedHeader(envelope.protected);
    const opener = this.openers.get(header.kid);
    if (!opener) {
      throw new DecryptionError(
        'wrong_key',
        `the record is encrypted for key ${header.kid}; the key given is ${this.kids.join(', ') || 'none'} — decrypt it with the private key of ${header.kid}`,
        header.kid,
      );
    }
    const plaintext = await opener.open(envelope, header);
    // The aad is authentic now (GCM checked it): the clear fields read must be the ones it binds.
    let sealedFields: string;
    try {
      sealedFields = decodeUtf8(fromBase64url(envelope.aad));
    } catch {
      throw new DecryptionError('malformed', `the record's aad is not base64url of UTF-8 text (key ${header.kid})`, header.kid);
    }
    const readFields = readClearFields(record);
    if (sealedFields !== readFields) {
      throw new DecryptionError(
        'tampered',
        `the record's clear fields differ from those sealed with it (${differingFields(sealedFields, readFields)}): changed, or the envelope was moved from another record (key ${header.kid})`,
        header.kid,
      );
    }
    let content: { message?: unknown; attributes?: unknown };
    try {
      content = JSON.parse(decodeUtf8(plaintext));
    } catch {
      throw new DecryptionError('malformed', `the record decrypted (key ${header.kid}) but is not a NeuralLog record's JSON`, header.kid);
    }
    const attributes = content.attributes !== null && typeof content.attributes === 'object' ? (content.attributes as Attributes) : {};
    return { kid: header.kid, message: typeof content.message === 'string' ? content.message : JSON.stringify(content.message ?? ''), attributes };
  }
}

/** One record decrypted with one private key (for many, make a Decryptor: it derives each batch's key once). */
export async function decrypt(record: ReadRecord, privateKey: JsonWebKey): Promise<DecryptedRecord> {
  return (await Decryptor.create([privateKey])).decrypt(record);
}
