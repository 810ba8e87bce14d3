/**
 * Blind tokens: the searchable trace of encrypted text. Each normalised word
 * of an encrypted body, and each `name=value` of an encrypted attribute,
 * becomes HMAC-SHA-256 under a key derived from the tenant's search secret,
 * cut to 128 bits and written as 32 lowercase hex characters — a word of its
 * own to ClickHouse's token index, which splits on everything but letters and
 * digits. The same word always gives the same token (that is what makes it
 * searchable, and what it leaks: docs/encryption.md).
 *
 * HMAC per word runs in JavaScript (@noble/hashes) with the keyed state
 * computed once: a WebCrypto `sign` per word cost about 4× as much in Node
 * (an asynchronous call each; docs/benchmarks.md), and a record has many words.
 */
import { _HMAC } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64url, utf8 } from './base64url.ts';

/** The search tokenizer's separators (shared/query-language/fields.ts SEPARATORS): every ASCII character but letters and digits. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ClickHouse's separators include the control characters.
export const WORD_SEPARATORS = /[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]+/;

/** HKDF info of the token key: changing it changes every token. */
const TOKEN_KEY_INFO = 'neurallog blind tokens v1';
/** Terms whose tokens a tokenizer remembers, per generation (the plaintext words stay in the client's memory, as the records do). */
const CACHE_ENTRIES = 8192;

/** The words a text is searched by: split as the search splits, lower-cased (Unicode), NFC. */
export function wordsOf(text: string): string[] {
  return text
    .normalize('NFC')
    .toLowerCase()
    .split(WORD_SEPARATORS)
    .filter((w) => w !== '');
}

/** What an encrypted attribute is searched by: `name=value`, the value as the ingest stores it (text as is, anything else as JSON). */
export function attributeTerm(name: string, value: unknown): string {
  return `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

/** The HMAC with its key absorbed (both pads hashed once). */
type Keyed = _HMAC<ReturnType<typeof sha256.create>>;

export class BlindTokenizer {
  readonly #keyed: Keyed;
  /** Two generations, so values seen once (ids, counters) do not flush the frequent words out: a hit in the old one is kept. */
  #cache = new Map<string, string>();
  #previous = new Map<string, string>();
  #scratch: Keyed | undefined;
  readonly #digest = new Uint8Array(32);

  private constructor(key: Uint8Array) {
    this.#keyed = new _HMAC(sha256, key);
  }

  /** From the search secret (base64url, ≥ 16 bytes; generateEncryptionKey makes 32): the token key by HKDF-SHA-256. */
  static async fromSecret(searchSecret: string): Promise<BlindTokenizer> {
    let secret: Uint8Array<ArrayBuffer>;
    try {
      secret = fromBase64url(searchSecret);
    } catch {
      throw new TypeError('searchSecret must be base64url (as generateEncryptionKey makes it)');
    }
    if (secret.length < 16) throw new TypeError('searchSecret must hold at least 16 bytes');
    const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
    const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8.encode(TOKEN_KEY_INFO) }, ikm, 256);
    return new BlindTokenizer(new Uint8Array(bits));
  }

  /** The token of one term (a normalised word, or `name=value`). */
  token(term: string): string {
    const hit = this.#cache.get(term);
    if (hit !== undefined) return hit;
    const old = this.#previous.get(term);
    if (old !== undefined) {
      this.#remember(term, old);
      return old;
    }
    // The keyed state copied into one reused instance, the digest into one reused buffer: no allocation per word.
    const mac = this.#keyed._cloneInto(this.#scratch);
    this.#scratch = mac;
    mac.update(utf8.encode(term));
    mac.digestInto(this.#digest);
    const digest = this.#digest;
    let hex = '';
    for (let i = 0; i < 16; i++) hex += HEX[digest[i]!];
    this.#remember(term, hex);
    return hex;
  }

  #remember(term: string, token: string): void {
    if (this.#cache.size >= CACHE_ENTRIES) {
      this.#previous = this.#cache;
      this.#cache = new Map();
    }
    this.#cache.set(term, token);
  }

  /** A record's tokens: its encrypted attributes' `name=value` first, then its body's words; deduplicated, at most `max`. */
  recordTokens(message: string, attributes: Record<string, unknown> | undefined, max: number): string[] {
    const tokens = new Set<string>();
    if (attributes) {
      for (const name of Object.keys(attributes)) {
        if (tokens.size >= max) return [...tokens];
        tokens.add(this.token(attributeTerm(name, attributes[name])));
      }
    }
    for (const word of wordsOf(message)) {
      if (tokens.size >= max) break;
      tokens.add(this.token(word));
    }
    return [...tokens];
  }

  /**
   * What to search for a term over encrypted records: the tokens of its words
   * (all must match), or, for `name=value`, the one token of that attribute.
   */
  queryTokens(term: string): string[] {
    const eq = term.indexOf('=');
    if (eq > 0) return [this.token(term)];
    return [...new Set(wordsOf(term).map((w) => this.token(w)))];
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
