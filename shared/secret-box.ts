/**
 * Secrets kept at rest in D1 (a webhook's signing secret, a Slack webhook
 * URL, a PagerDuty routing key), sealed with a key only the workers hold, so
 * a copy of the database — a backup, an export, a support query — does not
 * give away credentials to a tenant's systems.
 *
 *   sealed = "v1." base64url(iv) "." base64url(AES-256-GCM ciphertext ‖ 16-byte tag)
 *
 * - The key: HKDF-SHA256 over the root secret (NEURALLOG_SECRETS_KEY, see
 *   `secretsKey` in shared/config.ts) with the fixed salt `SALT` and the info
 *   `neurallog/secret-box/v1`. The root secret is long and random, so a fixed,
 *   public salt is enough (RFC 5869 §3.1: the salt adds strength to weak input
 *   keys, not to strong ones); the info keeps this key apart from anything
 *   else a future caller derives from the same root.
 * - A fresh random 12-byte IV per seal: with 96-bit random IVs, one key stays
 *   safe for far more seals than a control plane will ever make (NIST SP
 *   800-38D §8.3 bounds it at 2^32).
 * - `context` is the additional authenticated data: callers pass what the
 *   secret belongs to (`<tenantId>:<targetId>`). A sealed value copied into
 *   another row — another tenant's target, or another target of the same
 *   tenant — then fails to open instead of lending its secret there: someone
 *   able to write a row but not to read the key cannot move secrets around.
 * - Opening with the wrong key or context, or a value altered in any way,
 *   throws a SecretBoxError (GCM authenticates the whole ciphertext); nothing
 *   half-decrypted is ever returned.
 *
 * Rotating the root secret: every sealed value must be opened with the old
 * key and sealed again with the new one (a pass over the rows, with both
 * keys at hand) before the workers switch to the new one; a value sealed
 * under a key that is gone cannot be recovered, only set again by its tenant.
 * The `v1` prefix leaves room for a later format that names its key, so two
 * keys could be live during a rotation.
 *
 * WebCrypto only: it runs in the workers and in Node alike.
 */

export const SECRET_BOX_VERSION = 'v1';
/** HKDF info: what the derived key is for (RFC 5869 §3.2). */
export const SECRET_BOX_INFO = 'neurallog/secret-box/v1';
/** HKDF salt: fixed and public (see the header comment for why that is enough). */
export const SECRET_BOX_SALT = 'neurallog/secret-box/salt/2026';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value that does not open: wrong key, wrong context, altered, or not a sealed value at all. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

const encoder = new TextEncoder();
// Derived keys by root secret: deriving is a few microseconds of work, but it is done for every target of every evaluation.
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 4;

function boxKey(rootSecret: string): Promise<CryptoKey> {
  if (rootSecret === '') throw new SecretBoxError('secret box: the root secret is empty');
  let key = keys.get(rootSecret);
  if (key === undefined) {
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    key = crypto.subtle
      .importKey('raw', encoder.encode(rootSecret), 'HKDF', false, ['deriveKey'])
      .then((root) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(SECRET_BOX_SALT), info: encoder.encode(SECRET_BOX_INFO) },
          root,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      );
    keys.set(rootSecret, key);
  }
  return key;
}

/** Seals `plaintext` under a key derived from `rootSecret`, bound to `context` (e.g. `<tenantId>:<targetId>`). */
export async function sealSecret(plaintext: string, rootSecret: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(context), tagLength: TAG_BYTES * 8 },
    await boxKey(rootSecret),
    encoder.encode(plaintext),
  );
  return `${SECRET_BOX_VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
}

/** The plaintext of a value `sealSecret` made with the same root secret and context; throws a SecretBoxError otherwise. */
export async function openSecret(sealed: string, rootSecret: string, context: string): Promise<string> {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 3 || parts[0] !== SECRET_BOX_VERSION)
    throw new SecretBoxError(`not a sealed secret (expected "${SECRET_BOX_VERSION}.<iv>.<ciphertext>")`);
  const iv = fromBase64Url(parts[1]!);
  const ciphertext = fromBase64Url(parts[2]!);
  if (iv === null || iv.length !== IV_BYTES || ciphertext === null || ciphertext.length < TAG_BYTES)
    throw new SecretBoxError('not a sealed secret (malformed iv or ciphertext)');
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(context), tagLength: TAG_BYTES * 8 },
      await boxKey(rootSecret),
      ciphertext,
    );
  } catch (cause) {
    throw new SecretBoxError('the sealed secret does not open: another root secret or context sealed it, or it was altered', { cause });
  }
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(plaintext);
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
