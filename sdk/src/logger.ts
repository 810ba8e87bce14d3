/**
 * createLogger: the logging surface (levels, child loggers with bound
 * attributes, errors) over one Shipper. Nothing here throws into the
 * application: a record that cannot be built is reported as a drop, a
 * failure of the network never reaches the caller.
 */
import { browser } from './browser-globals.ts';
import { type Level, LEVELS, levelRank } from './levels.ts';
import { DEFAULTS, type LoggerOptions, type ShipperStats } from './options.ts';
import { indexedDbStore } from './persistence.ts';
import { assignSafe, type Attributes, type LogRecord, serializeError, toJsonSafe } from './record.ts';
import { canGzip, Shipper } from './shipper.ts';

/** What adapters hand to the logger: a record from another library, with its own time and level. */
export interface LogInput {
  level: Level;
  message: string;
  /** Date, epoch milliseconds or an RFC 3339 string; now when absent. */
  timestamp?: Date | number | string;
  attributes?: Attributes;
  service?: string;
  trace_id?: string;
  span_id?: string;
  resource?: Attributes;
}

type LogMethod = (message: string | Error, attributes?: Attributes | Error) => void;

export interface Logger {
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  log(level: Level, message: string | Error, attributes?: Attributes | Error): void;
  /** A prepared record (adapters). */
  write(input: LogInput): void;
  /** A logger adding `attributes` to every record (and, optionally, of another service), sharing this one's queue. */
  child(attributes: Attributes, options?: { service?: string }): Logger;
  isLevelEnabled(level: Level): boolean;
  /** Resolves true once every record logged before the call was acknowledged or dropped (false after timeoutMs). */
  flush(options?: { timeoutMs?: number }): Promise<boolean>;
  /** Sends what is left and stops; records logged afterwards are dropped (reason `closed`). */
  close(options?: { timeoutMs?: number }): Promise<boolean>;
  stats(): ShipperStats;
}

export function createLogger(options: LoggerOptions): Logger {
  const shipper = new Shipper({
    url: logsUrl(options.endpoint),
    apiKey: options.apiKey,
    maxBatchRecords: options.maxBatchRecords ?? DEFAULTS.maxBatchRecords,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
    flushIntervalMs: options.flushIntervalMs ?? DEFAULTS.flushIntervalMs,
    maxQueueRecords: options.maxQueueRecords ?? DEFAULTS.maxQueueRecords,
    maxQueueBytes: options.maxQueueBytes ?? DEFAULTS.maxQueueBytes,
    dropPolicy: options.dropPolicy ?? DEFAULTS.dropPolicy,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
    gzip: options.compression === undefined ? canGzip : options.compression === 'gzip' && canGzip,
    retry: { ...DEFAULTS.retry, ...options.retry },
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    ...(options.onDrop && { onDrop: options.onDrop }),
    ...(options.transform && { transform: options.transform }),
    transformConcurrency: Math.max(1, Math.floor(options.transformConcurrency ?? DEFAULTS.transformConcurrency)),
    // Bound: a bare `fetch` reference called as a method of another object throws "Illegal invocation" in browsers.
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
  });
  const stopListening = inBrowser() ? watchPage(shipper, options) : undefined;
  const minRank = levelRank(options.level ?? DEFAULTS.level);
  const resource = options.resource ? (toJsonSafe(options.resource) as Attributes) : undefined;

  /** `bound`: the logger's attributes, already JSON-safe (made so once, when the child is created). */
  const make = (service: string | undefined, bound: Attributes): Logger => {
    const hasBound = Object.keys(bound).length > 0;
    const write = (input: LogInput) => {
      try {
        if (levelRank(input.level) < minRank) return;
        const record: LogRecord = { timestamp: timestampOf(input.timestamp), level: input.level, message: input.message };
        const recordService = input.service ?? service;
        if (recordService !== undefined) record.service = recordService;
        if (input.trace_id) record.trace_id = input.trace_id;
        if (input.span_id) record.span_id = input.span_id;
        const attributes = input.attributes ? mergeAttributes(bound, hasBound, input.attributes) : hasBound ? bound : undefined;
        if (attributes && Object.keys(attributes).length > 0) record.attributes = attributes;
        const recordResource = input.resource ? (toJsonSafe(input.resource) as Attributes) : resource;
        if (recordResource) record.resource = recordResource;
        shipper.accept(record);
      } catch {
        // never into the application
      }
    };
    const log = (level: Level, message: string | Error, attributes?: Attributes | Error) => {
      if (levelRank(level) < minRank) return;
      try {
        let attrs: Attributes | undefined = attributes instanceof Error ? { error: attributes } : attributes;
        let text: string;
        if (message instanceof Error) {
          attrs = { error: message, ...attrs };
          const { name, message: what } = serializeError(message);
          text = what || name;
        } else text = typeof message === 'string' ? message : String(message);
        if (attrs && (Object.hasOwn(attrs, 'trace_id') || Object.hasOwn(attrs, 'span_id'))) {
          const { trace_id, span_id, ...rest } = attrs;
          write({
            level,
            message: text,
            attributes: rest,
            ...(typeof trace_id === 'string' && { trace_id }),
            ...(typeof span_id === 'string' && { span_id }),
          });
        } else write(attrs ? { level, message: text, attributes: attrs } : { level, message: text });
      } catch {
        // never into the application
      }
    };
    const logger: Logger = {
      trace: (m, a) => log('trace', m, a),
      debug: (m, a) => log('debug', m, a),
      info: (m, a) => log('info', m, a),
      warn: (m, a) => log('warn', m, a),
      error: (m, a) => log('error', m, a),
      fatal: (m, a) => log('fatal', m, a),
      log: (level, m, a) => log(level, m, a),
      write,
      child: (attributes, childOptions) => make(childOptions?.service ?? service, assignSafe({ ...bound }, attributes ?? {})),
      isLevelEnabled: (level) => levelRank(level) >= minRank,
      flush: async (o) => {
        try {
          return await shipper.flush(o?.timeoutMs);
        } catch {
          return false;
        }
      },
      close: async (o) => {
        try {
          stopListening?.();
          return await shipper.close(o?.timeoutMs);
        } catch {
          return false;
        }
      },
      stats: () => shipper.stats(),
    };
    return logger;
  };
  return make(options.service, assignSafe({}, options.attributes ?? {}));
}

/** `<origin>/v1/logs`, unless the endpoint already names it. */
export function logsUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/logs') ? trimmed : `${trimmed}/v1/logs`;
}

/**
 * The bound attributes (already JSON-safe) and a call's. Object spread defines properties (a "__proto__"
 * key stays data) and keeps V8's fast objects; only values that are not plain JSON are rewritten. A
 * throwing getter makes spread throw: then the careful copy.
 */
function mergeAttributes(bound: Attributes, hasBound: boolean, attributes: Attributes): Attributes {
  let merged: Attributes;
  try {
    merged = hasBound ? { ...bound, ...attributes } : { ...attributes };
  } catch {
    return assignSafe(hasBound ? { ...bound } : {}, attributes);
  }
  for (const key of Object.keys(merged)) {
    const value = merged[key];
    const type = typeof value;
    if (type === 'string' || type === 'boolean' || value === null || (type === 'number' && Number.isFinite(value))) continue;
    const safe = toJsonSafe(value);
    if (safe === undefined) delete merged[key];
    else Object.defineProperty(merged, key, { value: safe, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

let lastMillis = -1;
let lastIso = '';

function timestampOf(value: Date | number | string | undefined): string {
  if (value === undefined) {
    // toISOString is a visible share of a log() call: once per millisecond is enough.
    const now = Date.now();
    if (now !== lastMillis) {
      lastMillis = now;
      lastIso = new Date(now).toISOString();
    }
    return lastIso;
  }
  if (typeof value === 'string') return value;
  const date = typeof value === 'number' ? new Date(value) : value;
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

function inBrowser(): boolean {
  return browser.document !== undefined && typeof browser.addEventListener === 'function';
}

/** Page hide (tab hidden, navigation, close) sends what is queued; persistence saves it, and restores the last page's. */
function watchPage(shipper: Shipper, options: LoggerOptions): (() => void) | undefined {
  if (options.persist) {
    const name = typeof options.persist === 'string' ? options.persist : `neurallog-sdk:${logsUrl(options.endpoint)}:${keyId(options.apiKey)}`;
    const store = indexedDbStore(name);
    if (store) {
      shipper.store = store;
      shipper.restore(() => store.load());
    }
  }
  if (options.flushOnPageHide === false && !options.persist) return undefined;
  const page = browser.document!;
  const onVisibility = () => {
    if (page.visibilityState === 'hidden') shipper.pageHidden();
  };
  const onPageHide = () => shipper.pageHidden();
  page.addEventListener('visibilitychange', onVisibility);
  browser.addEventListener?.('pagehide', onPageHide);
  return () => {
    page.removeEventListener('visibilitychange', onVisibility);
    browser.removeEventListener?.('pagehide', onPageHide);
  };
}

/** The key's public id (`nlk_<id>_…`): names the IndexedDB database without storing the secret. */
function keyId(apiKey: string): string {
  return /^nlk_([0-9A-Za-z]{12})_/.exec(apiKey)?.[1] ?? 'default';
}

export { LEVELS };
