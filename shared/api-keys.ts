/**
 * API keys: `nlk_<key id>_<secret><checksum>`.
 *
 * - `nlk_` makes a leaked key recognisable (secret scanners, log scrubbers);
 * - the key id (12 base62 characters) is public: it finds the key's record
 *   without the secret ever being an index;
 * - the secret is 32 base62 characters (190 bits) from crypto.getRandomValues;
 * - the checksum (6 base62 characters of CRC-32 over everything before it, as
 *   GitHub's tokens do) rejects a typo or a truncated key without a database
 *   look-up.
 *
 * Only SHA-256 of the whole key is stored; a presented key is hashed and
 * compared with `crypto.subtle.timingSafeEqual`.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RE = /^nlk_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

export interface ParsedApiKey {
  keyId: string;
  /** The whole key, as presented. */
  key: string;
}

function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniformly likely.
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function formatApiKey(keyId: string, secret: string): string {
  const body = `nlk_${keyId}_${secret}`;
  return body + checksum(body);
}

export function generateApiKey(): { keyId: string; key: string } {
  const keyId = randomBase62(12);
  return { keyId, key: formatApiKey(keyId, randomBase62(32)) };
}

/** The key's parts, or null when it is not a well-formed key with a valid checksum. */
export function parseApiKey(key: string): ParsedApiKey | null {
  const m = KEY_RE.exec(key);
  if (!m) return null;
  const body = key.slice(0, -6);
  if (checksum(body) !== m[3]) return null;
  return { keyId: m[1]!, key };
}

export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
