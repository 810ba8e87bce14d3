/**
 * The clear fields bound to a record's envelope (docs/encryption.md, "Clear
 * fields bound to the envelope"): timestamp, level, service, trace and span
 * ids, the clear attributes and the resource travel beside the ciphertext,
 * and are put, in one canonical encoding, into the JWE's `aad` — additional
 * data that AES-GCM authenticates with the ciphertext. A reader checks the
 * `aad` with the tag, then checks that the record's clear fields as it reads
 * them are the ones bound: a server that changed one, or moved an envelope to
 * another record, is caught.
 *
 * So that the clear fields read back are exactly those bound, the SDK sends
 * them already in the form the ingest stores (shared/normalize.ts): the
 * timestamp as RFC 3339 UTC with nine fractional digits, attributes and
 * resource flattened to dotted names with text values. The ingest stores such
 * a record unchanged; the search API returns it so (shared/log-record.ts
 * LogView), and the canonical encoding of either form is the same text.
 */
import type { Attributes, LogRecord } from '../record.ts';

/** The encoding's version: the first element of the canonical array. */
export const CLEAR_FIELDS_VERSION = 'neurallog clear fields v1';

/** The ingest's depth of flattening (shared/normalize.ts MAX_FLATTEN_DEPTH): deeper values stay JSON text. */
const MAX_FLATTEN_DEPTH = 8;
const RFC3339_RE = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** The clear part of a record as sent, in the form the ingest stores it, and its canonical encoding (the `aad`'s text). */
export interface BoundFields {
  record: Omit<LogRecord, 'message'>;
  canonical: string;
}

/** A timestamp as the ingest stores and the search API returns it: UTC, nine fractional digits. */
export function storedTimestamp(timestamp: string): string {
  // What the logger makes (toISOString: milliseconds, UTC) without a regular expression.
  if (timestamp.length === 24 && timestamp.charCodeAt(23) === 0x5a && timestamp.charCodeAt(19) === 0x2e && timestamp.charCodeAt(10) === 0x54) {
    return `${timestamp.slice(0, 23)}000000Z`;
  }
  const m = RFC3339_RE.exec(timestamp);
  if (m) {
    const fraction = (m[3] ?? '').padEnd(9, '0');
    if (m[4] === 'Z' || m[4] === 'z') return `${m[1]}T${m[2]}.${fraction}Z`;
    const ms = Date.parse(`${m[1]}T${m[2]}${m[4]}`);
    if (!Number.isNaN(ms)) return `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`;
  }
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new TypeError(`the record's timestamp "${timestamp}" is not RFC 3339`);
  return `${new Date(ms).toISOString().slice(0, 23)}000000Z`;
}

/** A record's clear fields (everything but the body and the encrypted attributes) to send and to bind. */
export function bindClearFields(record: LogRecord, clearAttributes: Attributes | undefined): BoundFields {
  const attributes = clearAttributes ? flatten(clearAttributes) : undefined;
  const resource = record.resource ? flatten(record.resource) : undefined;
  // As the ingest picks the service: the record's, else the resource's service.name (sent explicitly, so it is the one stored).
  const service = record.service ?? (resource && Object.hasOwn(resource, 'service.name') ? resource['service.name']! : '');
  const sent: Omit<LogRecord, 'message'> = { timestamp: storedTimestamp(record.timestamp), level: record.level, service };
  if (record.trace_id) sent.trace_id = record.trace_id.toLowerCase();
  if (record.span_id) sent.span_id = record.span_id.toLowerCase();
  if (attributes && Object.keys(attributes).length > 0) sent.attributes = attributes;
  if (resource && Object.keys(resource).length > 0) sent.resource = resource;
  const canonical = encode(sent.timestamp, sent.level, service, sent.trace_id ?? '', sent.span_id ?? '', attributes, resource);
  return { record: sent, canonical };
}

/**
 * The canonical encoding of a record's clear fields as read back: a search or export answer's record
 * (`timestamp`, `severityText`, `service`, `traceId`, `spanId`, `attributes`, `resource`), or a record in the
 * native format as the SDK sent it (with `encrypted`).
 */
export function readClearFields(record: Record<string, unknown>): string {
  const text = (name: string): string => {
    const value = Object.hasOwn(record, name) ? record[name] : undefined;
    return typeof value === 'string' ? value : '';
  };
  const map = (name: string): Record<string, string> | undefined => {
    const value = Object.hasOwn(record, name) ? record[name] : undefined;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? flatten(value as Attributes) : undefined;
  };
  if (Object.hasOwn(record, 'encrypted')) {
    const timestamp = text('timestamp');
    return encode(
      timestamp === '' ? '' : storedTimestamp(timestamp),
      text('level'),
      text('service'),
      text('trace_id').toLowerCase(),
      text('span_id').toLowerCase(),
      map('attributes'),
      map('resource'),
    );
  }
  return encode(text('timestamp'), text('severityText'), text('service'), text('traceId'), text('spanId'), map('attributes'), map('resource'));
}

/** What differs between the fields bound (`sealed`) and those read (`read`), named for a person: "service, attributes". */
export function differingFields(sealed: string, read: string): string {
  let a: unknown[];
  let b: unknown[];
  try {
    a = JSON.parse(sealed) as unknown[];
    b = JSON.parse(read) as unknown[];
  } catch {
    return 'the bound fields are not readable';
  }
  if (!Array.isArray(a) || a[0] !== CLEAR_FIELDS_VERSION) return `the bound fields are not "${CLEAR_FIELDS_VERSION}"`;
  const names = ['version', 'timestamp', 'level', 'service', 'trace id', 'span id', 'attributes', 'resource'];
  const differ = names.filter((_, i) => JSON.stringify(a[i]) !== JSON.stringify(b[i]));
  return differ.join(', ') || 'the encoding';
}

/** A fixed-order JSON array: the version, the scalar fields, then the attribute and resource pairs sorted by name. */
function encode(
  timestamp: string,
  level: string,
  service: string,
  traceId: string,
  spanId: string,
  attributes: Record<string, string> | undefined,
  resource: Record<string, string> | undefined,
): string {
  return JSON.stringify([CLEAR_FIELDS_VERSION, timestamp, level, service, traceId, spanId, pairs(attributes), pairs(resource)]);
}

function pairs(map: Record<string, string> | undefined): [string, string][] {
  if (!map) return [];
  return Object.keys(map)
    .sort()
    .map((name) => [name, map[name]!]);
}

/**
 * As the ingest flattens (shared/normalize.ts flattenInto): nested objects to dotted names, the rest as text.
 * A plain object (JSON.stringify and V8 are much faster on them than on null-prototype ones), "__proto__"
 * defined as data, never assigned.
 */
function flatten(value: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  flattenInto(out, '', value, 0);
  return out;
}

function flattenInto(target: Record<string, string>, prefix: string, value: unknown, depth: number): boolean {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < MAX_FLATTEN_DEPTH) {
    let wrote = false;
    for (const key of Object.keys(value)) {
      wrote = flattenInto(target, prefix === '' ? key : `${prefix}.${key}`, (value as Record<string, unknown>)[key], depth + 1) || wrote;
    }
    if (wrote || prefix === '') return wrote;
  }
  if (prefix === '__proto__') Object.defineProperty(target, prefix, { value: textOf(value), enumerable: true, writable: true, configurable: true });
  else target[prefix] = textOf(value);
  return true;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
