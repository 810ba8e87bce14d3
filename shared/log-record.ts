/**
 * The log model: one row of the ClickHouse `logs` table
 * (migrations/clickhouse/0001_logs.sql), as the ingest path builds it and as
 * it travels — serialised once as JSONCompactEachRow (row-format.ts) — through the tenant actor's
 * buffer to ClickHouse and to the R2 archive.
 *
 * Optional fields are left out of the JSON when empty; ClickHouse fills the
 * column defaults, and the buffer and archive stay smaller.
 */
import { clickHouseTimeToRfc3339 } from './timestamp.ts';

export interface LogRow {
  TenantId: string;
  /** `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`, UTC. */
  Timestamp: string;
  ObservedTimestamp: string;
  LogId: string;
  TraceId?: string;
  SpanId?: string;
  TraceFlags?: number;
  SeverityText?: string;
  SeverityNumber?: number;
  ServiceName?: string;
  Body: string;
  ResourceAttributes?: Record<string, string>;
  LogAttributes?: Record<string, string>;
  RetentionDays: number;
  /** OpenTelemetry's instrumentation scope and schema URLs (OTLP only). */
  ScopeName?: string;
  ScopeVersion?: string;
  ScopeAttributes?: Record<string, string>;
  ResourceSchemaUrl?: string;
  ScopeSchemaUrl?: string;
}

/** The columns search, context and tail read back (ClickHouse names; times in ClickHouse text form). */
export interface StoredLog {
  LogId: string;
  Timestamp: string;
  ObservedTimestamp: string;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  Body: string;
  TraceId: string;
  SpanId: string;
  LogAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: Record<string, string>;
}

/** A stored log as the search API returns it. */
export interface LogView {
  id: string;
  timestamp: string;
  observedTimestamp: string;
  severityText: string;
  severityNumber: number;
  service: string;
  body: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
  /** The OpenTelemetry instrumentation scope; empty strings and {} when the record had none. */
  scope: { name: string; version: string; attributes: Record<string, string> };
}

export function toLogView(row: StoredLog): LogView {
  return {
    id: row.LogId,
    timestamp: clickHouseTimeToRfc3339(row.Timestamp),
    observedTimestamp: clickHouseTimeToRfc3339(row.ObservedTimestamp),
    severityText: row.SeverityText,
    severityNumber: row.SeverityNumber,
    service: row.ServiceName,
    body: row.Body,
    traceId: row.TraceId,
    spanId: row.SpanId,
    attributes: row.LogAttributes,
    resource: row.ResourceAttributes,
    scope: { name: row.ScopeName, version: row.ScopeVersion, attributes: row.ScopeAttributes },
  };
}
