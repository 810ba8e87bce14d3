/** The options of createLogger, their defaults, and what the SDK reports. */
import type { DropReason, RetryPolicy } from './decide.ts';
import type { Level } from './levels.ts';
import type { Attributes, LogRecord } from './record.ts';

/**
 * A per-record hook, applied to every record before it is queued; it may be
 * async. Return the record to send (changed or not), or null to discard it
 * (not counted as a drop). A hook that throws or rejects drops the record,
 * reported with reason `transform_failed`. Calls start in the order records
 * were logged and up to `transformConcurrency` (16) run at once — an async
 * hook's calls overlap — and records are queued in the order they were logged
 * whatever order the calls finish in.
 *
 * This is the seam client-side (zero-knowledge) encryption will plug into
 * (issue 18, designed separately): a transform that replaces the body and
 * chosen attributes with an envelope. Nothing else in the SDK depends on what
 * a transform does.
 */
export type RecordTransform = (record: LogRecord) => LogRecord | null | Promise<LogRecord | null>;

export interface DropEvent {
  reason: DropReason;
  /** How many records were dropped. */
  records: number;
  /** The HTTP status that made the SDK give up, if an answer did. */
  status?: number;
  /** The ingest's error JSON (`{error, message, …details, requestId}`), as it sent it. */
  error?: Record<string, unknown>;
  /** What happened, in words. */
  message: string;
}

export interface LoggerOptions {
  /** The NeuralLog origin (`https://logs.example.com`); records go to `<endpoint>/v1/logs`. A URL already ending in `/v1/logs` is used as it is. */
  endpoint: string;
  /** An API key with the `logs:write` scope (`nlk_…`). */
  apiKey: string;
  /** The service every record is from (searchable as `service:`). */
  service?: string;
  /** The least severe level sent (default `info`). */
  level?: Level;
  /** Attributes on every record (child loggers add theirs). */
  attributes?: Attributes;
  /** Resource attributes on every record (`host.name`, `service.version`…), as OpenTelemetry's resource. */
  resource?: Attributes;
  /** Records in one request (default 1,000; the ingest takes at most NEURALLOG_MAX_RECORDS_PER_REQUEST, 10,000 by default). */
  maxBatchRecords?: number;
  /** Uncompressed bytes in one request (default 1 MiB; the ingest takes at most NEURALLOG_MAX_REQUEST_BYTES, 10 MiB by default). */
  maxBatchBytes?: number;
  /** Longest a record waits in the queue before its batch is sent (ms, default 1,000). */
  flushIntervalMs?: number;
  /** Records the queue holds (default 10,000); past it the drop policy chooses. */
  maxQueueRecords?: number;
  /** Bytes the queue holds (default 8 MiB). */
  maxQueueBytes?: number;
  /** Which records go when the queue is full: the oldest queued (default) or the one being logged. */
  dropPolicy?: 'drop-oldest' | 'drop-newest';
  /** Largest record, serialised (default 256 KiB, the ingest's NEURALLOG_MAX_RECORD_BYTES); larger ones are dropped (`record_too_large`). */
  maxRecordBytes?: number;
  /** gzip request bodies (default: where CompressionStream exists). */
  compression?: 'gzip' | 'none';
  /** Retries of a batch (429, 503 and other 5xx, network errors, timeouts). */
  retry?: Partial<RetryPolicy>;
  /** One attempt's timeout (ms, default 30,000). */
  requestTimeoutMs?: number;
  /** Called when records are dropped, with why; never called twice for the same record. */
  onDrop?: (event: DropEvent) => void;
  /** The per-record hook (see RecordTransform): the seam for client-side encryption. */
  transform?: RecordTransform;
  /**
   * Calls of `transform` running at once (default 16; 1 awaits each before the next). Overlapping them is what
   * makes WebCrypto affordable per record: each call's dispatch to the runtime's crypto threads overlaps the
   * others' (docs/benchmarks.md, "Client-side encryption"). Records are queued in logging order either way.
   */
  transformConcurrency?: number;
  /** The fetch to send with (default globalThis.fetch): a service binding's fetch in Workers, a test's stand-in. */
  fetch?: typeof fetch;
  /** Browsers only: send what is queued with `fetch(…, {keepalive: true})` when the page is hidden (default true). */
  flushOnPageHide?: boolean;
  /**
   * Browsers only: keep unsent batches in IndexedDB when the page is hidden and send them on the next load
   * under the same Idempotency-Key (stored once even if the page's last send got through). `true` or the database name.
   */
  persist?: boolean | string;
}

export interface ShipperStats {
  /** Records given to the logger at or above its level. */
  logged: number;
  /** Records acknowledged by the ingest (202). */
  acknowledged: number;
  /** Records dropped, all reasons. */
  dropped: number;
  droppedByReason: Record<DropReason, number>;
  /** Records waiting in the queue (not yet in a request). */
  queued: number;
  /** Records in requests not yet answered (or waiting to be retried). */
  inFlight: number;
  /** Requests acknowledged. */
  batches: number;
  /** Attempts that were retried. */
  retries: number;
  /** 429 answers received. */
  rateLimited: number;
  /** Time spent waiting for the rate limit to allow a batch (ms), as the RateLimit headers asked. */
  pacedMs: number;
}

export const DEFAULTS = {
  level: 'info' as Level,
  maxBatchRecords: 1_000,
  maxBatchBytes: 1024 * 1024,
  flushIntervalMs: 1_000,
  maxQueueRecords: 10_000,
  transformConcurrency: 16,
  maxQueueBytes: 8 * 1024 * 1024,
  dropPolicy: 'drop-oldest' as const,
  maxRecordBytes: 256 * 1024,
  requestTimeoutMs: 30_000,
  retry: { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10, maxRetryAfterMs: 5 * 60_000 } satisfies RetryPolicy,
};
