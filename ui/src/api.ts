/**
 * The explorer's one way to the API: same-origin fetch with the session
 * cookie, the CSRF token on every state-changing call, and every failure as
 * an ApiFailure carrying what the API said (code, message, details such as a
 * query error's position, Retry-After) — so each page shows it, never a blank
 * screen. The explorer uses only the public API: nothing it does is
 * impossible for an API client.
 */
import { signal } from '@preact/signals';

/** The session's CSRF token (from POST/GET /v1/session): sent on every unsafe call. */
export const csrfToken = signal<string | null>(null);

/** Called when the API says the session is gone (401): the app returns to sign-in. */
let onUnauthenticated: () => void = () => undefined;
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
    /** Seconds, from Retry-After (429, 503). */
    readonly retryAfter: number | null,
  ) {
    super(message);
  }

  /** One sentence for a person. */
  get explanation(): string {
    if (this.status === 429 && this.retryAfter !== null) return `${this.message} (retry in ${this.retryAfter} s)`;
    if (this.status === 0) return 'The server cannot be reached. Check your connection; the page retries when you search again.';
    return this.message;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  if (UNSAFE.has(method) && csrfToken.value) headers.set('X-CSRF-Token', csrfToken.value);
  if (init.body !== undefined && typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  let response: Response;
  try {
    response = await fetch(path, { ...init, method, headers, credentials: 'same-origin' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiFailure(0, 'network', (err as Error).message, {}, null);
  }
  if (response.ok) return response;
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON: keep the status
  }
  const retryAfter = Number(response.headers.get('Retry-After'));
  const failure = new ApiFailure(
    response.status,
    typeof body.error === 'string' ? body.error : `http_${response.status}`,
    typeof body.message === 'string' ? body.message : `${response.status} ${response.statusText}`,
    body,
    Number.isFinite(retryAfter) && response.headers.has('Retry-After') ? retryAfter : null,
  );
  if (response.status === 401 && !path.startsWith('/v1/session')) onUnauthenticated();
  throw failure;
}

export async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await request(path, init);
  return (await response.json()) as T;
}

/** A query string from parameters, leaving out the empty ones. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
