/**
 * One record decrypted for the page (decrypted.ts draws it): the SDK's
 * Decryptor with the keys loaded, and what to show when it cannot — no key
 * loaded for its kid, another key, tampered with (the ciphertext, or a clear
 * field bound to it). Loaded with the first encrypted record drawn.
 */
import type { ReadRecord } from '../../../sdk/src/encryption/index.ts';
import type { Decryption } from './decrypted.ts';
import { currentDecryptor } from './key-loading.ts';
import { encryptionSdk, loadedKeys } from './keyring.ts';

const CLEAR: Decryption = { state: 'clear' };

/** A decrypted attribute as the explorer shows attributes (text; anything else as JSON). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export async function decryptRecord(record: { id: string; body: string }): Promise<Decryption> {
  const { DecryptionError, envelopeOf } = await encryptionSdk();
  // A body that only starts like an envelope (a clear message can) is shown as it is.
  if (!envelopeOf(record as unknown as ReadRecord)) return CLEAR;
  try {
    const opened = await (await currentDecryptor()).decrypt(record as unknown as ReadRecord);
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(opened.attributes)) attributes[name] = asText(value);
    return { state: 'decrypted', kid: opened.kid, message: opened.message, attributes };
  } catch (err) {
    if (!(err instanceof DecryptionError)) return { state: 'failed', kid: '?', message: `Cannot decrypt: ${(err as Error).message}` };
    const kid = err.kid ?? '?';
    if (err.code === 'wrong_key' && loadedKeys.peek().length === 0) return { state: 'locked', kid };
    if (err.code === 'wrong_key') {
      const loaded = loadedKeys
        .peek()
        .map((k) => k.kid)
        .join(', ');
      return { state: 'failed', kid, message: `Cannot decrypt: encrypted for key ${kid}, and the keys loaded are ${loaded}. Load the key file of ${kid}.` };
    }
    if (err.code === 'tampered') return { state: 'failed', kid, message: `Cannot decrypt with key ${kid}: TAMPERED — ${err.message}` };
    return { state: 'failed', kid, message: `Cannot decrypt (key ${kid}): ${err.message}` };
  }
}
