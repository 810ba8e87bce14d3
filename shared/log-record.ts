/**
 * The log model: one row of the ClickHouse `logs` table (its columns:
 * log-columns.ts), as the ingest path builds it and as
 * it travels — serialised once as JSONCompactEachRow (row-format.ts) — through the tenant actor's
 * buffer to ClickHouse and to the R2 archive.
 *
 * Optional fields are left out of a LogRow when empty; its serialised row
 * holds the column's empty value instead.
 */
import type { RowShape, SearchedShape } from './log-columns.ts';
import { clickHouseTimeToRfc3339 } from './timestamp.ts';

/**
 * One row: the columns of shared/log-columns.ts's ROW_COLUMNS, the optional
 * ones optional. Times are ClickHouse's text form, `YYYY-MM-DD
 * hh:mm:ss.nnnnnnnnn`, UTC; ScopeName, ScopeVersion, ScopeAttributes and the
 * schema URLs are OpenTelemetry's (OTLP only).
 */
export interface LogRow extends RowShape {}

/** The columns search, context and tail read back (ClickHouse names; times in ClickHouse text form): those with `search` in log-columns.ts. */
export interface StoredLog extends SearchedShape {}

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
  /**
   * The record's pattern (docs/analytics.md): the current id of its message's template — a record
   * mined under a template that has since generalised shows the general one. Empty for records
   * stored before patterns were mined.
   */
  patternId: string;
  /** The template (`Connection from <*> closed`), when known; empty otherwise. */
  pattern: string;
}

/** A stored PatternId's current pattern: its id and template. */
export type PatternTemplates = ReadonlyMap<string, { id: string; template: string }>;
const NO_TEMPLATES: PatternTemplates = new Map();

export function toLogView(row: StoredLog, templates: PatternTemplates = NO_TEMPLATES): LogView {
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
    patternId: templates.get(row.PatternId)?.id ?? row.PatternId,
    pattern: templates.get(row.PatternId)?.template ?? '',
  };
}
