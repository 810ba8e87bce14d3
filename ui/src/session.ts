/**
 * The signed-in session: exchanged once from an API key or a JWT for an
 * HttpOnly cookie (POST /v1/session) — the browser never keeps the key —
 * read back on load (GET /v1/session), ended by signing out.
 */
import { computed, signal } from '@preact/signals';
import { csrfToken, json, request } from './api.ts';

export interface Session {
  tenant: { id: string; name?: string };
  scopes: string[];
  expiresAt: string;
  csrfToken: string;
}

/** undefined: not known yet (loading); null: signed out. */
export const session = signal<Session | null | undefined>(undefined);
export const scopes = computed(() => new Set(session.value?.scopes ?? []));

export function hasScope(scope: string): boolean {
  return scopes.value.has(scope);
}

function adopt(value: Session | null): void {
  session.value = value;
  csrfToken.value = value?.csrfToken ?? null;
}

export async function loadSession(): Promise<void> {
  try {
    adopt(await json<Session>('/v1/session'));
  } catch {
    adopt(null);
  }
}

export async function signIn(credential: string): Promise<void> {
  adopt(await json<Session>('/v1/session', { method: 'POST', body: JSON.stringify({ credential }) }));
}

export async function signOut(): Promise<void> {
  try {
    await request('/v1/session', { method: 'DELETE' });
  } finally {
    adopt(null);
  }
}

/** The session ended under us (expired, revoked): forget it; the app shows sign-in and comes back to this URL. */
export function sessionLost(): void {
  adopt(null);
}
