/**
 * Blind search's state in the page: the switch, the last refusal, and the
 * words typed for each query sent as tokens (shown in the bar, marked in the
 * decrypted messages) — in memory only, forgotten with the keys. The query
 * rewriting itself (blind-query.ts, with the query language's parser) is
 * loaded when a blind search is first made.
 */
import { effect, signal } from '@preact/signals';
import { loadedKeys } from './keyring.ts';

export class BlindQueryError extends Error {}

/** The explorer's Blind search switch (only offered while a search secret is loaded). */
export const blindMode = signal(false);
/** Why the last blind search could not be made (shown under the query bar). */
export const blindError = signal<string | null>(null);

/** The query sent for each blind search, and what was typed. */
let typed = new Map<string, string>();

export function rememberTyped(sent: string, text: string): void {
  typed.set(sent, text);
}

/** What the person typed for a query the page sent (a blind search's), or the query itself. */
export function typedQuery(sent: string): string {
  return typed.get(sent) ?? sent;
}

/** Is this query one the page made from a blind search (its typed words are known here)? */
export function isBlindQuery(sent: string): boolean {
  return typed.has(sent);
}

// Forgetting the keys forgets the words searched with them too.
effect(() => {
  if (loadedKeys.value.length > 0) return;
  typed = new Map();
  blindMode.value = false;
  blindError.value = null;
});
