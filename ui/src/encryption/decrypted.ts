/**
 * What the page shows for a record whose body is an encrypted envelope:
 * decrypted here with a loaded key, or why not (no key loaded for its kid,
 * another key loaded, tampered with). Records are decrypted when they are
 * drawn (the results list draws only the rows in view) and remembered until
 * the keys change; the SDK's Decryptor derives each batch's key once. The
 * code that decrypts (decrypt-record.ts, the SDK) loads with the first
 * encrypted record: a page of clear records never downloads it.
 */
import { signal } from '@preact/signals';
import { decryptor } from './keyring.ts';

/** The decryption itself, with the SDK: a chunk loaded with the first encrypted record drawn. */
const decrypt = (record: { id: string; body: string }) => import('./decrypt-record.ts').then((m) => m.decryptRecord(record));

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
