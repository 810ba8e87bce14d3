/**
 * Blind tokens: the searchable trace of encrypted text. Each normalised word
 * of an encrypted body, and each `name=value` of an encrypted attribute,
 * becomes the keyed PRF of token-prf.ts (keyed BLAKE2s-128) under a key derived
 * from the tenant's search secret, cut to 128 bits and written as 32
 * lowercase hex characters — a word of its own to ClickHouse's token index,
 * which splits on everything but letters and digits. The same word always
 * gives the same token (that is what makes it searchable, and what it leaks:
 * docs/encryption.md).
 *
 * This class is the one place tokens are made: the SDK's transform, the
 * explorer's blind search and `npm run encryption-key -- token` all use it.
 * The PRF runs in JavaScript (@stablelib/blake2s), not WebCrypto: a WebCrypto call
 * per word costs an asynchronous round trip each (about 5× the CPU in Node;
 * docs/benchmarks.md), and a record has many words.
 */
import { fromBase64url, utf8 } from './base64url.ts';
import { keyedBlake2s128, TOKEN_SCHEME, type TermPrf, type TermPrfFactory } from './token-prf.ts';

/** The search tokenizer's separators (shared/query-language/fields.ts SEPARATORS): every ASCII character but letters and digits. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ClickHouse's separators include the control characters.
export const WORD_SEPARATORS = /[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]+/;

/**
 * HKDF info of the token key: the scheme's version and PRF. Changing it changes every token. v1 was
 * HMAC-SHA-256 (never released: no stored token needs it).
 */
export const TOKEN_KEY_INFO = `neurallog blind tokens v2: ${TOKEN_SCHEME}`;
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

/** Measurement knobs (scripts/bench-encryption): another PRF, or another cache size (0: none). Not for applications. */
export interface TokenizerTuning {
  prf?: TermPrfFactory;
  cacheEntries?: number;
}

export class BlindTokenizer {
  readonly #prf: TermPrf;
  readonly #cacheEntries: number;
  /** Two generations (an approximate LRU), so values seen once (ids, counters) do not flush the frequent words out: a hit in the old one is kept. */
  #cache = new Map<string, string>();
  #previous = new Map<string, string>();
  readonly #digest = new Uint8Array(32);
  /** The term's UTF-8 bytes, written here rather than allocated: TextEncoder.encode per term cost about as much as the PRF (docs/benchmarks.md). */
  #bytes = new Uint8Array(256);

  private constructor(key: Uint8Array, tuning: TokenizerTuning) {
    this.#prf = (tuning.prf ?? keyedBlake2s128)(key);
    this.#cacheEntries = tuning.cacheEntries ?? CACHE_ENTRIES;
  }

  /** From the search secret (base64url, ≥ 16 bytes; generateEncryptionKey makes 32): the token key by HKDF-SHA-256. */
  static async fromSecret(searchSecret: string, tuning: TokenizerTuning = {}): Promise<BlindTokenizer> {
    let secret: Uint8Array<ArrayBuffer>;
    try {
      secret = fromBase64url(searchSecret);
    } catch {
      throw new TypeError('searchSecret must be base64url (as generateEncryptionKey makes it)');
    }
    if (secret.length < 16) throw new TypeError('searchSecret must hold at least 16 bytes');
    const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
    const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8.encode(TOKEN_KEY_INFO) }, ikm, 256);
    return new BlindTokenizer(new Uint8Array(bits), tuning);
  }

  /** The token of one term (a normalised word, or `name=value`). */
  token(term: string): string {
    if (this.#cacheEntries === 0) return this.#derive(term);
    const hit = this.#cache.get(term);
    if (hit !== undefined) return hit;
    const old = this.#previous.get(term);
    if (old !== undefined) {
      this.#remember(term, old);
      return old;
    }
    const token = this.#derive(term);
    this.#remember(term, token);
    return token;
  }

  #derive(term: string): string {
    this.#prf(this.#utf8(term), this.#digest);
    const digest = this.#digest;
    let hex = '';
    for (let i = 0; i < 16; i++) hex += HEX[digest[i]!];
    return hex;
  }

  /** The term's UTF-8 bytes in the reused buffer (a view valid until the next call). */
  #utf8(term: string): Uint8Array {
    const n = term.length;
    if (this.#bytes.length < n * 3) this.#bytes = new Uint8Array(n * 3);
    const bytes = this.#bytes;
    for (let i = 0; i < n; i++) {
      const c = term.charCodeAt(i);
      if (c > 0x7f) return bytes.subarray(0, encoder.encodeInto(term, bytes).written);
      bytes[i] = c;
    }
    return bytes.subarray(0, n);
  }

  #remember(term: string, token: string): void {
    if (this.#cache.size >= this.#cacheEntries) {
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

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
