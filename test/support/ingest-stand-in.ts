/**
 * A stand-in for the ingest's `POST /v1/logs`, for the SDK's tests: it reads
 * bodies as the ingest does (gzip or not, NDJSON), stores each
 * Idempotency-Key's batch once and answers a replay as the first time (202,
 * `Idempotent-Replayed: true`), and answers what a test scripts — a status
 * with headers and error JSON, a dropped connection — or, when given a rate,
 * enforces it with a token bucket and sends the ingest's IETF RateLimit
 * headers (shared/rate-limit-headers.ts), refusing with 429 + Retry-After.
 * It can also serve files (the browser tests' page and bundle) from the same
 * origin.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type Scripted =
  | { status: number; headers?: Record<string, string>; body?: unknown /** The answer waits this long (a 2xx: after storing). */; delayMs?: number }
  /** The request is read (and its batch stored), then the connection is destroyed without an answer. */
  | { drop: 'after-storing' }
  /** The connection is destroyed before the body is read: nothing stored. */
  | { drop: 'before-storing' };

export interface ReceivedRequest {
  at: number;
  headers: Record<string, string | undefined>;
  /** Compressed size on the wire. */
  wireBytes: number;
  /** Bytes after decompression. */
  bytes: number;
  records: Record<string, unknown>[];
  answered: number | 'dropped';
}

export interface RateLimit {
  /** Records per second, and the burst (bucket size). */
  recordsPerSecond: number;
  burst: number;
}

export interface IngestStandIn {
  url: string;
  /** Every request, in arrival order. */
  requests: ReceivedRequest[];
  /** Records stored, each Idempotency-Key's batch once. */
  stored: Record<string, unknown>[];
  /** Answers for the next requests, in order; afterwards 202 (or the rate limit's answer). */
  script: Scripted[];
  rateLimit: RateLimit | undefined;
  /** Paths served as files: path → [content type, body]. */
  files: Map<string, [string, string | Uint8Array]>;
  close(): Promise<void>;
}

export async function startIngestStandIn(): Promise<IngestStandIn> {
  const batches = new Map<string, number>();
  let tokens = 0;
  let refilledAt = Date.now();
  const state: IngestStandIn = {
    url: '',
    requests: [],
    stored: [],
    script: [],
    rateLimit: undefined,
    files: new Map(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  const refill = (limit: RateLimit) => {
    const now = Date.now();
    tokens = Math.min(limit.burst, tokens + ((now - refilledAt) / 1000) * limit.recordsPerSecond);
    refilledAt = now;
  };

  const rateHeaders = (limit: RateLimit): Record<string, string> => ({
    'RateLimit-Policy': `"records";q=${limit.burst};w=${Math.ceil(limit.burst / limit.recordsPerSecond)}`,
    RateLimit: `"records";r=${Math.floor(tokens)};t=${Math.ceil((limit.burst - tokens) / limit.recordsPerSecond)}`,
  });

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const file = state.files.get(req.url ?? '');
    if (req.method === 'GET' && file) {
      res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
      return;
    }
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/logs')) {
      res.writeHead(404).end();
      return;
    }
    const next = state.script.shift();
    if (next && 'drop' in next && next.drop === 'before-storing') {
      state.requests.push({ at: Date.now(), headers: headersOf(req), wireBytes: 0, bytes: 0, records: [], answered: 'dropped' });
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wire = Buffer.concat(chunks);
    const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire).toString('utf8');
    const records = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const received: ReceivedRequest = {
      at: Date.now(),
      headers: headersOf(req),
      wireBytes: wire.byteLength,
      bytes: Buffer.byteLength(text),
      records,
      answered: 0,
    };
    state.requests.push(received);
    const key = req.headers['idempotency-key'] as string | undefined;

    const store = (): { replayed: boolean } => {
      if (key !== undefined && batches.has(key)) return { replayed: true };
      if (key !== undefined) batches.set(key, records.length);
      state.stored.push(...records);
      return { replayed: false };
    };

    if (next && 'drop' in next) {
      store();
      received.answered = 'dropped';
      req.socket.destroy();
      return;
    }
    if (next && 'status' in next) {
      received.answered = next.status;
      if (next.status >= 200 && next.status < 300) store();
      if (next.delayMs) await new Promise((r) => setTimeout(r, next.delayMs));
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers }).end(JSON.stringify(next.body ?? {}));
      return;
    }
    const limit = state.rateLimit;
    if (limit) {
      refill(limit);
      if (!(key !== undefined && batches.has(key)) && records.length > tokens) {
        const retryAfter = Math.max(1, Math.ceil((records.length - tokens) / limit.recordsPerSecond));
        received.answered = 429;
        res
          .writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfter), ...rateHeaders(limit) })
          .end(JSON.stringify({ error: 'rate_limited', message: 'over the rate', dimension: 'records' }));
        return;
      }
    }
    const { replayed } = store();
    if (limit && !replayed) tokens -= records.length;
    received.answered = 202;
    res
      .writeHead(202, { 'content-type': 'application/json', ...(replayed && { 'idempotent-replayed': 'true' }), ...(limit && rateHeaders(limit)) })
      .end(JSON.stringify({ accepted: records.length, batchId: 'standin' }));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.defineProperty(state, 'rateLimit', {
    get: () => limitValue,
    set: (value: RateLimit | undefined) => {
      limitValue = value;
      tokens = value?.burst ?? 0;
      refilledAt = Date.now();
    },
  });
  let limitValue: RateLimit | undefined;
  return state;
}

function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(req.headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}
