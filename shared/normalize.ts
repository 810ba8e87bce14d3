/**
 * Normalisation: any JSON log record a client sends → one LogRow.
 *
 * Clients name the same thing many ways (pino's `msg` and numeric `level`,
 * Bunyan's `time`, Logstash's `@timestamp`, OTel's `severity_text`…). Each
 * well-known field has a list of aliases in priority order; the first one
 * present wins, and every other key — including a losing alias — is kept as an
 * attribute, so nothing the client sent is dropped.
 */
import { setAttribute } from './attributes.ts';
import type { LogRow } from './log-record.ts';
import { severityNumberFromLevelNumber, severityNumberFromText, severityTextFromNumber } from './severity.ts';
import { formatClickHouseTime, parseTimestamp, TimestampError } from './timestamp.ts';

/** A record (or a field of it) that cannot be accepted; the request is rejected as a whole. */
export class RecordError extends Error {
  constructor(
    readonly record: number,
    readonly field: string | null,
    message: string,
  ) {
    super(message);
  }
}

export interface NormalizeContext {
  tenantId: string;
  retentionDays: number;
  /** Receive time in ClickHouse text form: the timestamp of records without one. */
  receivedAt: string;
  /** Prefix of the LogIds of this request's rows. */
  batchId: string;
}

/** The well-known fields, by number (indexes into the per-record slot table). */
// biome-ignore format: slot numbers, one table
const Slot = {
  Timestamp: 0, ObservedTimestamp: 1, Level: 2, SeverityNumber: 3, Message: 4, Service: 5, TraceId: 6, SpanId: 7,
  TraceFlags: 8, Attributes: 9, Resource: 10,
} as const;
const SLOT_COUNT = 11;

const ALIASES: readonly (readonly string[])[] = [
  /* Timestamp */ ['timestamp', '@timestamp', 'time', 'ts'],
  /* ObservedTimestamp */ ['observed_timestamp', 'observedTimestamp'],
  /* Level */ ['level', 'severity', 'severity_text', 'severityText'],
  /* SeverityNumber */ ['severity_number', 'severityNumber'],
  /* Message */ ['message', 'msg', 'body'],
  /* Service */ ['service', 'service.name', 'service_name', 'serviceName'],
  /* TraceId */ ['trace_id', 'traceId', 'trace.id'],
  /* SpanId */ ['span_id', 'spanId', 'span.id'],
  /* TraceFlags */ ['trace_flags', 'traceFlags'],
  /* Attributes */ ['attributes'],
  /* Resource */ ['resource'],
];

/** key → slot * 16 + priority; built once. */
const SLOT_OF_KEY = new Map<string, number>();
for (const [slot, keys] of ALIASES.entries()) for (const [priority, key] of keys.entries()) SLOT_OF_KEY.set(key, slot * 16 + priority);

/** Nesting deeper than this is kept as a JSON string instead of more dotted keys. */
const MAX_FLATTEN_DEPTH = 8;
const HEX32_RE = /^[0-9a-fA-F]{32}$/;
const HEX16_RE = /^[0-9a-fA-F]{16}$/;

// The winning key (and its priority) of each slot for the record being
// normalised. Reused across calls: normalisation is synchronous, and reusing
// them keeps the per-record cost to what the record itself needs.
const winners: (string | undefined)[] = new Array(SLOT_COUNT);
const priorities: number[] = new Array(SLOT_COUNT);

function fail(index: number, key: string, message: string): never {
  throw new RecordError(index, key, `record ${index}: field "${key}" ${message}`);
}

export function normalizeRecord(raw: unknown, index: number, ctx: NormalizeContext): LogRow {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RecordError(index, null, `record ${index} must be a JSON object`);
  }
  const record = raw as Record<string, unknown>;

  // Pick the winning key of every slot.
  winners.fill(undefined);
  for (const key in record) {
    const hit = SLOT_OF_KEY.get(key);
    if (hit === undefined) continue;
    const slot = hit >> 4;
    if (winners[slot] === undefined || (hit & 15) < priorities[slot]!) {
      winners[slot] = key;
      priorities[slot] = hit & 15;
    }
  }
  const timestampKey = winners[Slot.Timestamp];
  const observedKey = winners[Slot.ObservedTimestamp];
  const levelKey = winners[Slot.Level];
  const severityKey = winners[Slot.SeverityNumber];
  const messageKey = winners[Slot.Message];
  const serviceKey = winners[Slot.Service];
  const traceKey = winners[Slot.TraceId];
  const spanKey = winners[Slot.SpanId];
  const flagsKey = winners[Slot.TraceFlags];
  const attributesKey = winners[Slot.Attributes];
  const resourceKey = winners[Slot.Resource];

  const row: LogRow = {
    TenantId: ctx.tenantId,
    Timestamp: ctx.receivedAt,
    ObservedTimestamp: ctx.receivedAt,
    LogId: `${ctx.batchId}-${index}`,
    Body: '',
    RetentionDays: ctx.retentionDays,
  };

  if (timestampKey !== undefined) row.Timestamp = readTime(record[timestampKey], ctx.receivedAt, index, timestampKey);
  if (observedKey !== undefined) row.ObservedTimestamp = readTime(record[observedKey], ctx.receivedAt, index, observedKey);

  if (levelKey !== undefined && record[levelKey] !== null) {
    const level = record[levelKey];
    if (typeof level === 'string') {
      row.SeverityText = level;
      row.SeverityNumber = severityNumberFromText(level);
    } else if (typeof level === 'number') {
      row.SeverityNumber = severityNumberFromLevelNumber(level);
      row.SeverityText = severityTextFromNumber(row.SeverityNumber) || String(level);
    } else {
      fail(index, levelKey, 'must be a string or a number');
    }
  }
  if (severityKey !== undefined && record[severityKey] !== null) {
    const n = record[severityKey];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 24) fail(index, severityKey, 'must be an integer from 0 to 24');
    row.SeverityNumber = n;
    row.SeverityText ??= severityTextFromNumber(n);
  }

  if (messageKey !== undefined) row.Body = stringifyValue(record[messageKey]);

  if (traceKey !== undefined && record[traceKey] !== null && record[traceKey] !== '') {
    const id = record[traceKey];
    if (typeof id !== 'string' || !HEX32_RE.test(id)) fail(index, traceKey, 'must be 32 hexadecimal characters');
    row.TraceId = id.toLowerCase();
  }
  if (spanKey !== undefined && record[spanKey] !== null && record[spanKey] !== '') {
    const id = record[spanKey];
    if (typeof id !== 'string' || !HEX16_RE.test(id)) fail(index, spanKey, 'must be 16 hexadecimal characters');
    row.SpanId = id.toLowerCase();
  }
  if (flagsKey !== undefined && record[flagsKey] !== null) {
    const flags = record[flagsKey];
    if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255) fail(index, flagsKey, 'must be an integer from 0 to 255');
    row.TraceFlags = flags;
  }

  // Attributes: the explicit `attributes` object first, then every key no slot took.
  const attributes: Record<string, string> = {};
  let hasAttributes = false;
  if (attributesKey !== undefined && record[attributesKey] !== null) {
    const value = record[attributesKey];
    if (typeof value !== 'object' || Array.isArray(value)) fail(index, attributesKey, 'must be an object');
    hasAttributes = flattenInto(attributes, '', value, 0) || hasAttributes;
  }
  let resource: Record<string, string> | undefined;
  if (resourceKey !== undefined && record[resourceKey] !== null) {
    const value = record[resourceKey];
    if (typeof value !== 'object' || Array.isArray(value)) fail(index, resourceKey, 'must be an object');
    resource = {};
    flattenInto(resource, '', value, 0);
    row.ResourceAttributes = resource;
  }
  for (const key in record) {
    const hit = SLOT_OF_KEY.get(key);
    if (hit !== undefined && winners[hit >> 4] === key) continue;
    flattenInto(attributes, key, record[key], 1);
    hasAttributes = true;
  }
  if (hasAttributes) row.LogAttributes = attributes;

  if (serviceKey !== undefined && record[serviceKey] !== null) {
    const service = record[serviceKey];
    if (typeof service !== 'string') fail(index, serviceKey, 'must be a string');
    row.ServiceName = service;
  } else if (resource !== undefined && Object.hasOwn(resource, 'service.name')) {
    row.ServiceName = resource['service.name']!;
  }
  return row;
}

// RFC 3339 in UTC with a 'Z' — what nearly every client sends — is turned
// into ClickHouse's text form by string surgery; the calendar check runs once
// per distinct second, not once per record.
const UTC_RFC3339_RE = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?[Zz]$/;
let lastCheckedSecond = '';

function readTime(value: unknown, fallback: string, index: number, key: string): string {
  if (value === null || value === '' || value === undefined) return fallback;
  if (typeof value === 'string') {
    const m = UTC_RFC3339_RE.exec(value);
    if (m) {
      const second = `${m[1]} ${m[2]}`;
      if (second === lastCheckedSecond) return `${second}.${(m[3] ?? '').padEnd(9, '0')}`;
    }
  }
  try {
    const text = formatClickHouseTime(parseTimestamp(value));
    if (typeof value === 'string' && UTC_RFC3339_RE.test(value)) lastCheckedSecond = text.slice(0, 19);
    return text;
  } catch (err) {
    if (err instanceof TimestampError) fail(index, key, err.message);
    throw err;
  }
}

/** Nested objects become dotted keys (`http.status`); arrays and deep values stay JSON text. */
function flattenInto(target: Record<string, string>, prefix: string, value: unknown, depth: number): boolean {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < MAX_FLATTEN_DEPTH) {
    let wrote = false;
    for (const key in value as Record<string, unknown>) {
      wrote = flattenInto(target, prefix === '' ? key : `${prefix}.${key}`, (value as Record<string, unknown>)[key], depth + 1) || wrote;
    }
    if (wrote || prefix === '') return wrote;
  }
  setAttribute(target, prefix, stringifyValue(value));
  return true;
}

function stringifyValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
