/**
 * Turning what the application logs into the ingest's native record
 * (`POST /v1/logs`: timestamp, level, message, service, trace ids,
 * `attributes`, `resource`): every value made JSON-safe — errors with name,
 * message, stack and cause (a bounded chain, cycles safe), bigints as text,
 * cycles and depth cut — so serialising a record never throws.
 */
import type { Level } from './levels.ts';

export type Attributes = Record<string, unknown>;

/** A record in the ingest's native format, before it is serialised. */
export interface LogRecord {
  timestamp: string;
  level: Level;
  message: string;
  service?: string;
  trace_id?: string;
  span_id?: string;
  attributes?: Attributes;
  resource?: Attributes;
}

/** How deep a cause chain is followed (an error's cause's cause …). */
export const MAX_CAUSE_DEPTH = 5;
/** How deep nested attribute values are kept; deeper ones become "[Truncated]". */
const MAX_DEPTH = 8;
/** Items kept of one array. */
const MAX_ARRAY = 100;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  [property: string]: unknown;
}

/**
 * An error as a plain JSON object: name, message, stack, its own enumerable
 * properties (`code`, `status`…), and `cause` — another error followed up to
 * MAX_CAUSE_DEPTH deep, "[Circular]" when it points back into the chain.
 */
export function serializeError(err: Error, depth = 0, ancestors: WeakSet<object> = new WeakSet()): SerializedError {
  ancestors.add(err);
  const out = {} as SerializedError;
  out.name = safeString(() => err.name) || 'Error';
  out.message = safeString(() => err.message);
  const stack = safeString(() => err.stack);
  if (stack) out.stack = stack;
  for (const key of safeKeys(err)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    setOwn(out, key, toJsonSafe(readProperty(err, key), depth + 1, ancestors));
  }
  const cause = readProperty(err, 'cause');
  if (cause !== undefined) {
    if (typeof cause === 'object' && cause !== null && ancestors.has(cause)) out.cause = '[Circular]';
    else if (cause instanceof Error) out.cause = depth + 1 >= MAX_CAUSE_DEPTH ? '[Truncated]' : serializeError(cause, depth + 1, ancestors);
    else out.cause = toJsonSafe(cause, depth + 1, ancestors);
  }
  ancestors.delete(err);
  return out;
}

/** A copy of `value` that JSON.stringify serialises without throwing and without losing errors. */
export function toJsonSafe(value: unknown, depth = 0, ancestors: WeakSet<object> = new WeakSet()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return '[Circular]';
  if (object instanceof Error) return serializeError(object, 0, ancestors);
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString();
  if (depth >= MAX_DEPTH) return '[Truncated]';
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const items = object.slice(0, MAX_ARRAY).map((item) => toJsonSafe(item, depth + 1, ancestors) ?? null);
      if (object.length > MAX_ARRAY) items.push(`[${object.length - MAX_ARRAY} more]`);
      return items;
    }
    if (ArrayBuffer.isView(object)) return `[${object.constructor.name} ${object.byteLength} bytes]`;
    if (object instanceof Map) return toJsonSafe(Object.fromEntries(object), depth, ancestors);
    if (object instanceof Set) return toJsonSafe([...object], depth, ancestors);
    const toJSON = readProperty(object, 'toJSON');
    if (typeof toJSON === 'function') {
      try {
        return toJsonSafe(toJSON.call(object), depth + 1, ancestors);
      } catch {
        return '[Unserializable]';
      }
    }
    return assignSafe({}, object, depth + 1, ancestors);
  } finally {
    ancestors.delete(object);
  }
}

/**
 * Copies `source`'s properties into `target`, made JSON-safe. Property names come from the application's
 * objects: "__proto__" is defined as data, never assigned (which would set the prototype). Plain objects,
 * not null-prototype ones: JSON.stringify is markedly faster on them.
 */
export function assignSafe(target: Record<string, unknown>, source: object, depth = 0, ancestors: WeakSet<object> = new WeakSet()): Record<string, unknown> {
  for (const key of safeKeys(source)) {
    const item = toJsonSafe(readProperty(source, key), depth, ancestors);
    if (item !== undefined) setOwn(target, key, item);
  }
  return target;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function safeKeys(object: object): string[] {
  try {
    return Object.keys(object);
  } catch {
    return [];
  }
}

/** A property read that survives throwing getters and proxies. */
function readProperty(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return '[Unreadable]';
  }
}

function safeString(read: () => unknown): string {
  try {
    const value = read();
    return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  } catch {
    return '';
  }
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Bytes of a string in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
