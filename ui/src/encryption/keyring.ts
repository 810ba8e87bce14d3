/**
 * The decryption keys loaded into this page (docs/encryption.md, "In the
 * explorer"): what every page needs to know of them — which keys, the
 * Decryptor holding the private keys, the blind-token tokenizers — and
 * forgetting them. Loading a key file is key-loading.ts, loaded with the
 * Encryption page or the first encrypted record. They live in this module's
 * memory only: nothing is written to localStorage, IndexedDB, sessionStorage
 * or a cookie, nothing is sent, and a reload forgets them.
 */
import { computed, signal } from '@preact/signals';
import type { BlindTokenizer, Decryptor } from '../../../sdk/src/encryption/index.ts';

/** The SDK's encryption, loaded with the first encrypted record or key file (a chunk of its own: most pages never need it). */
export const encryptionSdk = () => import('../../../sdk/src/encryption/index.ts');

export interface LoadedKey {
  kid: string;
  /** The file's name for it, when it has one. */
  name: string;
  /** The file had a search secret: blind-token search is possible with it. */
  searchable: boolean;
}

/** The keys loaded, in the order they were; the page shows their kids. */
export const loadedKeys = signal<readonly LoadedKey[]>([]);
/** Holds every loaded private key (non-extractable); replaced, never mutated, so whoever read the last one sees a consistent set. */
export const decryptor = signal<Decryptor | null>(null);
/** One tokenizer per distinct search secret (a rotation may keep the secret or change it). */
export const tokenizers = signal<readonly BlindTokenizer[]>([]);
export const canSearchBlind = computed(() => tokenizers.value.length > 0);

/** Forgets every key: the CryptoKeys and the token keys are dropped (the browser frees them). */
export function forgetKeys(): void {
  decryptor.value = null;
  tokenizers.value = [];
  loadedKeys.value = [];
}

/** A kid shortened for a badge (the whole one is in its title). */
export function shortKid(kid: string): string {
  return kid.length > 12 ? `${kid.slice(0, 10)}…` : kid;
}
