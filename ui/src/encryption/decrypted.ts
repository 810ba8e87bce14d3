/**
 * What the page shows for a record whose body is an encrypted envelope:
 * decrypted here with a loaded key, or why not (no key loaded for its kid,
 * another key loaded, tampered with). Records are decrypted when they are
 * drawn (the results list draws only the rows in view) and remembered until
 * the keys change; the SDK's Decryptor derives each batch's key once.
 */
import { signal } from '@preact/signals';
import type { ReadRecord } from '../../../sdk/src/encryption/index.ts';
import { currentDecryptor, decryptor, encryptionSdk, loadedKeys } from './keyring.ts';

export type Decryption =
  /** Not sent encrypted: shown as it is. */
  | { state: 'clear' }
  | { state: 'pending' }
  | { state: 'decrypted'; kid: string; message: string; attributes: Record<string, string> }
  /** No key loaded for it. */
  | { state: 'locked'; kid: string }
  /** Another key loaded, tampered with, or not a record's envelope: `message` says which, naming the kid. */
  | { state: 'failed'; kid: string; message: string };

const CLEAR: Decryption = { state: 'clear' };
const PENDING: Decryption = { state: 'pending' };
/** The most records remembered; past it the memory starts again (the rows in view are decrypted again, cheaply). */
const MAX_REMEMBERED = 20_000;

let remembered = new Map<string, Decryption>();
let rememberedFor: unknown = null;
/** Bumped when a decryption settles: the components that showed it pending draw again. */
const settled = signal(0);

/** A decrypted attribute as the explorer shows attributes (text; anything else as JSON). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The record's decryption (reading it subscribes the component: it redraws when it settles or the keys change). */
export function decryptionOf(record: { id: string; body: string }): Decryption {
  const keys = decryptor.value;
  void settled.value;
  if (!record.body.startsWith('{"protected":')) return CLEAR;
  if (rememberedFor !== keys) {
    remembered = new Map();
    rememberedFor = keys;
  }
  const known = remembered.get(record.id);
  if (known) return known;
  if (remembered.size >= MAX_REMEMBERED) remembered = new Map();
  const mine = remembered;
  mine.set(record.id, PENDING);
  void decrypt(record).then((outcome) => {
    if (remembered !== mine) return; // the keys changed meanwhile
    mine.set(record.id, outcome);
    settled.value++;
  });
  return PENDING;
}

async function decrypt(record: { id: string; body: string }): Promise<Decryption> {
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
