/**
 * Normalisation: any JSON log record a client sends → one LogRow.
 *
 * Clients name the same thing many ways (pino's `msg` and numeric `level`,
 * Bunyan's `time`, Logstash's `@timestamp`, OTel's `severity_text`…). Each
 * well-known field has a list of aliases in priority order; the first one
 * present wins, and every other key — including a losing alias — is kept as an
 * attribute, so nothing the client sent is dropped.
 */
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

type Slot =
  | 'timestamp' | 'observedTimestamp' | 'level' | 'severityNumber' | 'message' | 'service'
  | 'traceId' | 'spanId' | 'traceFlags' | 'attributes' | 'resource';

const ALIASES: Record<Slot, readonly string[]> = {
  timestamp: ['timestamp', '@timestamp', 'time', 'ts'],
  observedTimestamp: ['observed_timestamp', 'observedTimestamp'],
  level: ['level', 'severity', 'severity_text', 'severityText'],
  severityNumber: ['severity_number', 'severityNumber'],
  message: ['message', 'msg', 'body'],
  service: ['service', 'service.name', 'service_name', 'serviceName'],
  traceId: ['trace_id', 'traceId', 'trace.id'],
  spanId: ['span_id', 'spanId', 'span.id'],
  traceFlags: ['trace_flags', 'traceFlags'],
  attributes: ['attributes'],
  resource: ['resource'],
};

/** key → [slot, priority]; built once. */
const SLOT_OF_KEY = new Map<string, [Slot, number]>();
for (const [slot, keys] of Object.entries(ALIASES) as [Slot, readonly string[]][]) {
  keys.forEach((key, priority) => SLOT_OF_KEY.set(key, [slot, priority]));
}

/** Nesting deeper than this is kept as a JSON string instead of more dotted keys. */
const MAX_FLATTEN_DEPTH = 8;
const HEX32_RE = /^[0-9a-fA-F]{32}$/;
const HEX16_RE = /^[0-9a-fA-F]{16}$/;

export function normalizeRecord(raw: unknown, index: number, ctx: NormalizeContext): LogRow {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RecordError(index, null, `record ${index} must be a JSON object`);
  }
  const record = raw as Record<string, unknown>;

  // Pick the winning key of every slot.
  const chosen: Partial<Record<Slot, [string, number]>> = {};
  for (const key in record) {
    const hit = SLOT_OF_KEY.get(key);
    if (!hit) continue;
    const [slot, priority] = hit;
    const current = chosen[slot];
    if (!current || priority < current[1]) chosen[slot] = [key, priority];
  }
  const winner = (slot: Slot): string | undefined => chosen[slot]?.[0];
  const fail = (slot: Slot, message: string): never => {
    const key = winner(slot)!;
    throw new RecordError(index, key, `record ${index}: field "${key}" ${message}`);
  };

  const row: LogRow = {
    TenantId: ctx.tenantId,
    Timestamp: ctx.receivedAt,
    ObservedTimestamp: ctx.receivedAt,
    LogId: `${ctx.batchId}-${index}`,
    Body: '',
    RetentionDays: ctx.retentionDays,
  };

  for (const slot of ['timestamp', 'observedTimestamp'] as const) {
    const key = winner(slot);
    if (key === undefined || record[key] === null || record[key] === '') continue;
    try {
      const text = formatClickHouseTime(parseTimestamp(record[key]));
      if (slot === 'timestamp') row.Timestamp = text;
      else row.ObservedTimestamp = text;
    } catch (err) {
      if (err instanceof TimestampError) fail(slot, err.message);
      throw err;
    }
  }

  const levelKey = winner('level');
  if (levelKey !== undefined && record[levelKey] !== null) {
    const level = record[levelKey];
    if (typeof level === 'string') {
      row.SeverityText = level;
      row.SeverityNumber = severityNumberFromText(level);
    } else if (typeof level === 'number') {
      row.SeverityNumber = severityNumberFromLevelNumber(level);
      row.SeverityText = severityTextFromNumber(row.SeverityNumber) || String(level);
    } else {
      fail('level', 'must be a string or a number');
    }
  }
  const severityKey = winner('severityNumber');
  if (severityKey !== undefined && record[severityKey] !== null) {
    const n = record[severityKey];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 24) fail('severityNumber', 'must be an integer from 0 to 24');
    row.SeverityNumber = n as number;
    row.SeverityText ??= severityTextFromNumber(n as number);
  }

  const messageKey = winner('message');
  if (messageKey !== undefined) row.Body = stringifyValue(record[messageKey]);

  const traceKey = winner('traceId');
  if (traceKey !== undefined && record[traceKey] !== null && record[traceKey] !== '') {
    const id = record[traceKey];
    if (typeof id !== 'string' || !HEX32_RE.test(id)) fail('traceId', 'must be 32 hexadecimal characters');
    row.TraceId = (id as string).toLowerCase();
  }
  const spanKey = winner('spanId');
  if (spanKey !== undefined && record[spanKey] !== null && record[spanKey] !== '') {
    const id = record[spanKey];
    if (typeof id !== 'string' || !HEX16_RE.test(id)) fail('spanId', 'must be 16 hexadecimal characters');
    row.SpanId = (id as string).toLowerCase();
  }
  const flagsKey = winner('traceFlags');
  if (flagsKey !== undefined && record[flagsKey] !== null) {
    const flags = record[flagsKey];
    if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255) fail('traceFlags', 'must be an integer from 0 to 255');
    row.TraceFlags = flags as number;
  }

  // Attributes: the explicit `attributes` object first, then every key no slot took.
  const attributes: Record<string, string> = {};
  const attributesKey = winner('attributes');
  if (attributesKey !== undefined && record[attributesKey] !== null) {
    const value = record[attributesKey];
    if (typeof value !== 'object' || Array.isArray(value)) fail('attributes', 'must be an object');
    flattenInto(attributes, '', value, 0);
  }
  const resourceKey = winner('resource');
  let resource: Record<string, string> | undefined;
  if (resourceKey !== undefined && record[resourceKey] !== null) {
    const value = record[resourceKey];
    if (typeof value !== 'object' || Array.isArray(value)) fail('resource', 'must be an object');
    resource = {};
    flattenInto(resource, '', value, 0);
    row.ResourceAttributes = resource;
  }
  for (const key in record) {
    const hit = SLOT_OF_KEY.get(key);
    if (hit && chosen[hit[0]]?.[0] === key) continue;
    flattenInto(attributes, key, record[key], 1);
  }
  for (const _ in attributes) {
    row.LogAttributes = attributes;
    break;
  }

  const serviceKey = winner('service');
  if (serviceKey !== undefined && record[serviceKey] !== null) {
    const service = record[serviceKey];
    if (typeof service !== 'string') fail('service', 'must be a string');
    row.ServiceName = service as string;
  } else if (resource?.['service.name'] !== undefined) {
    row.ServiceName = resource['service.name'];
  }
  return row;
}

/** Nested objects become dotted keys (`http.status`); arrays and deep values stay JSON text. */
function flattenInto(target: Record<string, string>, prefix: string, value: unknown, depth: number): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < MAX_FLATTEN_DEPTH) {
    let empty = true;
    for (const key in value as Record<string, unknown>) {
      empty = false;
      flattenInto(target, prefix === '' ? key : `${prefix}.${key}`, (value as Record<string, unknown>)[key], depth + 1);
    }
    if (!empty || prefix === '') return;
  }
  target[prefix] = stringifyValue(value);
}

function stringifyValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
