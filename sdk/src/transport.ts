/**
 * One HTTP attempt: the batch as NDJSON, gzip-compressed with the platform's
 * CompressionStream, `Authorization: Bearer nlk_…`, the batch's
 * `Idempotency-Key` (the same on every attempt, so the ingest stores a retried
 * batch once), a timeout. Never throws: every outcome is an Answer.
 */
import { type Answer, parseRateLimit, parseRetryAfter, type RateState } from './decide.ts';

export interface Attempt {
  answer: Answer;
  rate?: RateState;
  /** The ingest's error JSON (`{error, message, …}`) on a non-2xx answer, when it sent one. */
  error?: Record<string, unknown>;
  /** The network error's or timeout's message. */
  failure?: string;
}

export interface PostOptions {
  url: string;
  apiKey: string;
  body: string;
  idempotencyKey: string;
  gzip: boolean;
  timeoutMs: number;
  /** `fetch(…, { keepalive: true })`: outlives the page (browsers limit such bodies to 64 KiB in total). */
  keepalive?: boolean;
  fetch: typeof fetch;
}

export async function post(options: PostOptions): Promise<Attempt> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.apiKey}`,
    'content-type': 'application/x-ndjson',
    'idempotency-key': options.idempotencyKey,
  };
  let body: string | Uint8Array = options.body;
  if (options.gzip) {
    try {
      body = await gzip(options.body);
      headers['content-encoding'] = 'gzip';
    } catch {
      body = options.body; // no CompressionStream after all: send it as it is
    }
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  try {
    const res = await options.fetch(options.url, {
      method: 'POST',
      headers,
      body: body as BodyInit,
      signal: controller.signal,
      ...(options.keepalive && { keepalive: true }),
    });
    const text = await res.text(); // drained: an unread body holds the connection
    const now = Date.now();
    const rate = parseRateLimit(res.headers.get('ratelimit'), res.headers.get('ratelimit-policy'), now);
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now);
    const attempt: Attempt = { answer: { kind: 'response', status: res.status, ...(retryAfterMs !== undefined && { retryAfterMs }) } };
    if (rate) attempt.rate = rate;
    if (!res.ok) attempt.error = errorJson(text);
    return attempt;
  } catch (err) {
    return { answer: timedOut ? { kind: 'timeout' } : { kind: 'network-error' }, failure: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

function errorJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { message: text.slice(0, 1000) };
  } catch {
    return text ? { message: text.slice(0, 1000) } : undefined;
  }
}

export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export const canGzip = typeof CompressionStream === 'function';

/** 128 random bits as hex: a batch's Idempotency-Key (getRandomValues works outside secure contexts, randomUUID does not). */
export function newBatchKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `nls-${hex}`;
}
