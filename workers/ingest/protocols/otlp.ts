/**
 * OTLP logs → LogRows, mapped as the OpenTelemetry Collector's ClickHouse
 * exporter maps them onto the same columns (migrations/clickhouse/0001_logs.sql):
 * resource attributes, scope name/version/attributes, schema URLs, severity,
 * the body of any AnyValue type as text, attributes, trace and span ids as
 * lowercase hex, trace flags, event time and observed time.
 *
 * Decoding is @bufbuild/protobuf's, from the vendored .proto files
 * (./proto, generated into ./generated). OTLP/JSON differs from the canonical
 * protobuf JSON mapping in one way that matters: trace and span ids are hex,
 * not base64 — `hexIdsToBase64` rewrites them before `fromJson`.
 *
 * A record that cannot be stored (an id of the wrong length, a time outside
 * what ClickHouse holds) is rejected on its own: OTLP's partial success lets the
 * rest of the request through and tells the client how many were dropped.
 */
import { fromBinary, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { base64Encode } from '@bufbuild/protobuf/wire';
import { ownAttribute, setAttribute } from '../../../shared/attributes.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import type { NormalizeContext } from '../../../shared/normalize.ts';
import { severityNumberFromText, severityTextFromNumber } from '../../../shared/severity.ts';
import { formatClickHouseTime, MAX_STORABLE_SECONDS, STORABLE_RANGE } from '../../../shared/timestamp.ts';
import { ExportLogsServiceRequestSchema, type ExportLogsServiceRequest } from './generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import type { AnyValue, KeyValue } from './generated/opentelemetry/proto/common/v1/common_pb.ts';

export class OtlpDecodeError extends Error {}

/** What every row of a request shares (tenant, retention, receive time, batch id). */
export type RowContext = NormalizeContext;

export interface RejectedRecord {
  /** Position of the record in the request, counting across resources and scopes. */
  record: number;
  reason: string;
}

export interface OtlpRows {
  rows: LogRow[];
  /** The request position of each row (rows skip rejected records). */
  origin: number[];
  rejected: RejectedRecord[];
  /** Records in the request, accepted or not. */
  total: number;
}

export function decodeOtlpProtobuf(body: Uint8Array): ExportLogsServiceRequest {
  try {
    return fromBinary(ExportLogsServiceRequestSchema, body);
  } catch (err) {
    throw new OtlpDecodeError(`the body is not a valid ExportLogsServiceRequest protobuf message: ${(err as Error).message}`);
  }
}

export function decodeOtlpJson(text: string): ExportLogsServiceRequest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new OtlpDecodeError('the body must be a JSON ExportLogsServiceRequest object ({"resourceLogs": [...]})');
  }
  hexIdsToBase64(json as Record<string, unknown>);
  try {
    // OTLP/JSON receivers must ignore fields they do not know (spec: "JSON Protobuf Encoding").
    return fromJson(ExportLogsServiceRequestSchema, json as JsonValue, { ignoreUnknownFields: true });
  } catch (err) {
    throw new OtlpDecodeError(`the body is not a valid OTLP/JSON ExportLogsServiceRequest: ${(err as Error).message}`);
  }
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** OTLP/JSON sends trace/span ids as hex; protobuf JSON expects base64 for bytes. */
function hexIdsToBase64(request: Record<string, unknown>): void {
  for (const resourceLogs of arrayAt(request, 'resourceLogs', 'resource_logs')) {
    for (const scopeLogs of arrayAt(resourceLogs, 'scopeLogs', 'scope_logs')) {
      for (const record of arrayAt(scopeLogs, 'logRecords', 'log_records')) {
        for (const key of ['traceId', 'trace_id', 'spanId', 'span_id']) {
          const id = record[key];
          if (typeof id === 'string' && HEX_RE.test(id)) record[key] = base64Encode(hexToBytes(id));
        }
      }
    }
  }
}

function arrayAt(parent: unknown, camel: string, snake: string): Record<string, unknown>[] {
  if (parent === null || typeof parent !== 'object') return [];
  const value = (parent as Record<string, unknown>)[camel] ?? (parent as Record<string, unknown>)[snake];
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object') : [];
}

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const NANOS_PER_SECOND = 1_000_000_000n;
/** We accept what timestamp.ts accepts (MAX_STORABLE_SECONDS: why). */
const MAX_UNIX_NANOS = (BigInt(MAX_STORABLE_SECONDS) + 1n) * NANOS_PER_SECOND;

function nanosToClickHouse(nanos: bigint): string | null {
  if (nanos <= 0n || nanos >= MAX_UNIX_NANOS) return null;
  return formatClickHouseTime({ seconds: Number(nanos / NANOS_PER_SECOND), nanos: Number(nanos % NANOS_PER_SECOND) });
}

export function otlpToRows(request: ExportLogsServiceRequest, ctx: RowContext): OtlpRows {
  const rows: LogRow[] = [];
  const origin: number[] = [];
  const rejected: RejectedRecord[] = [];
  let index = 0;
  for (const resourceLogs of request.resourceLogs) {
    const resource = attributesToMap(resourceLogs.resource?.attributes ?? []);
    const serviceName = ownAttribute(resource, 'service.name');
    for (const scopeLogs of resourceLogs.scopeLogs) {
      const scope = scopeLogs.scope;
      const scopeAttributes = attributesToMap(scope?.attributes ?? []);
      for (const record of scopeLogs.logRecords) {
        const at = index++;
        if (record.traceId.length !== 0 && record.traceId.length !== 16) {
          rejected.push({ record: at, reason: `trace_id must be 16 bytes, got ${record.traceId.length}` });
          continue;
        }
        if (record.spanId.length !== 0 && record.spanId.length !== 8) {
          rejected.push({ record: at, reason: `span_id must be 8 bytes, got ${record.spanId.length}` });
          continue;
        }
        const observed = record.observedTimeUnixNano === 0n ? ctx.receivedAt : nanosToClickHouse(record.observedTimeUnixNano);
        const time = record.timeUnixNano === 0n ? observed : nanosToClickHouse(record.timeUnixNano);
        if (time === null || observed === null) {
          rejected.push({ record: at, reason: `time_unix_nano / observed_time_unix_nano is outside ${STORABLE_RANGE}` });
          continue;
        }
        const row: LogRow = {
          TenantId: ctx.tenantId,
          Timestamp: time,
          ObservedTimestamp: observed,
          LogId: `${ctx.batchId}-${rows.length}`,
          Body: record.body ? anyValueToString(record.body) : '',
          RetentionDays: ctx.retentionDays,
        };
        if (record.traceId.length === 16 && !isZero(record.traceId)) row.TraceId = toHex(record.traceId);
        if (record.spanId.length === 8 && !isZero(record.spanId)) row.SpanId = toHex(record.spanId);
        if (record.flags & 0xff) row.TraceFlags = record.flags & 0xff;
        const severity = record.severityNumber >= 1 && record.severityNumber <= 24 ? record.severityNumber : 0;
        if (record.severityText !== '') {
          row.SeverityText = record.severityText;
          row.SeverityNumber = severity || severityNumberFromText(record.severityText);
        } else if (severity) {
          row.SeverityNumber = severity;
          row.SeverityText = severityTextFromNumber(severity);
        }
        if (serviceName !== undefined) row.ServiceName = serviceName;
        const attributes = attributesToMap(record.attributes);
        if (record.eventName !== '' && !Object.hasOwn(attributes, 'event.name')) attributes['event.name'] = record.eventName;
        if (record.attributes.length > 0 || record.eventName !== '') row.LogAttributes = attributes;
        if (resourceLogs.resource) row.ResourceAttributes = resource;
        if (resourceLogs.schemaUrl) row.ResourceSchemaUrl = resourceLogs.schemaUrl;
        if (scope?.name) row.ScopeName = scope.name;
        if (scope?.version) row.ScopeVersion = scope.version;
        if (scope && scope.attributes.length > 0) row.ScopeAttributes = scopeAttributes;
        if (scopeLogs.schemaUrl) row.ScopeSchemaUrl = scopeLogs.schemaUrl;
        rows.push(row);
        origin.push(at);
      }
    }
  }
  return { rows, origin, rejected, total: index };
}

/** Attribute values become text the way the ClickHouse exporter's AsString does: scalars as written, maps and arrays as JSON. */
export function attributesToMap(attributes: KeyValue[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const { key, value } of attributes) setAttribute(map, key, value ? anyValueToString(value) : '');
  return map;
}

export function anyValueToString(value: AnyValue): string {
  const v = value.value;
  switch (v.case) {
    case 'stringValue':
      return v.value;
    case undefined:
      return '';
    case 'arrayValue':
    case 'kvlistValue':
      return JSON.stringify(anyValueToJson(value));
    default:
      return String(anyValueToJson(value));
  }
}

/** An AnyValue as plain JSON: ints that fit a double as numbers, bytes as base64. */
function anyValueToJson(value: AnyValue): unknown {
  const v = value.value;
  switch (v.case) {
    case 'stringValue':
    case 'boolValue':
      return v.value;
    case 'intValue':
      return v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : v.value.toString();
    case 'doubleValue':
      return Number.isFinite(v.value) ? v.value : String(v.value);
    case 'bytesValue':
      return base64Encode(v.value);
    case 'arrayValue':
      return v.value.values.map(anyValueToJson);
    case 'kvlistValue':
      return Object.fromEntries(v.value.values.map((kv) => [kv.key, kv.value ? anyValueToJson(kv.value) : null]));
    default:
      return null;
  }
}

function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b];
  return out;
}
