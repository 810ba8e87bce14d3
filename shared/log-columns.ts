/**
 * The columns of the ClickHouse `logs` table, defined once.
 *
 * Everything that names the table's columns follows from this file: the
 * serialisation order of buffered rows and the archive's header
 * (LOG_COLUMNS, row-format.ts), the LogRow and StoredLog types
 * (log-record.ts), the columns search, context and the live tail read back
 * (SEARCH_COLUMNS, and the TailHub's decoder of buffered rows). The table
 * itself is made by the migrations (migrations/clickhouse/, frozen history);
 * a node test (test/node/embedded-clickhouse.test.ts) applies them and checks
 * `DESCRIBE TABLE logs` against this file, so a migration that adds or
 * retypes a column fails until the definition follows, and the other way
 * round.
 *
 * Adding a column: a migration `ALTER TABLE logs ADD COLUMN …`, then an entry
 * at the END of ROW_COLUMNS. Rows are JSON arrays in ROW_COLUMNS order
 * (JSONCompactEachRow), and rows buffered by an older release — in the tenant
 * actor's SQLite, or dead-lettered — have fewer values: the insert reads them
 * with the missing columns at their defaults
 * (input_format_json_compact_allow_variable_number_of_columns), which works
 * only while columns are appended, never inserted, reordered or removed.
 */

/** The empty value of a Map column in a row (shared, so frozen). */
export const EMPTY_MAP: Readonly<Record<string, string>> = Object.freeze({});

/** A column every row carries: its value travels in the JSONCompactEachRow line. */
export interface RowColumnDefinition {
  /** The ClickHouse column name (also the LogRow/StoredLog property). */
  readonly name: string;
  /** The type as `DESCRIBE TABLE logs` prints it: the DDL's type without its CODEC. */
  readonly type: string;
  /** The DDL's DEFAULT expression as DESCRIBE prints it, when it has one. */
  readonly default?: string;
  /** Every LogRow has it, and the row holds it as given; otherwise the LogRow may leave it out. */
  readonly required: boolean;
  /**
   * The column's empty value: what the row holds when the LogRow leaves the
   * column out, and what a reader of a row takes for a value the line lacks.
   */
  readonly empty: string | number | Readonly<Record<string, string>>;
  /** Search, context and tail read it back (StoredLog); the name of the field in their answers (LogView, dotted when nested). */
  readonly search?: string;
}

/** A column ClickHouse fills from its DEFAULT expression: not in rows. */
export interface ComputedColumnDefinition {
  readonly name: string;
  readonly type: string;
  readonly default: string;
  readonly computed: true;
}

/** The row's columns, in serialisation order. Append only (see above). */
export const ROW_COLUMNS = [
  { name: 'TenantId', type: 'LowCardinality(String)', required: true, empty: '' },
  /** `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`, UTC (ClickHouse's text form, like every time in a row). */
  { name: 'Timestamp', type: "DateTime64(9, 'UTC')", required: true, empty: '', search: 'timestamp' },
  { name: 'ObservedTimestamp', type: "DateTime64(9, 'UTC')", required: true, empty: '', search: 'observedTimestamp' },
  /** Unique per row, the tie-breaker of the search cursor. */
  { name: 'LogId', type: 'String', required: true, empty: '', search: 'id' },
  { name: 'TraceId', type: 'String', required: false, empty: '', search: 'traceId' },
  { name: 'SpanId', type: 'String', required: false, empty: '', search: 'spanId' },
  { name: 'TraceFlags', type: 'UInt8', required: false, empty: 0 },
  { name: 'SeverityText', type: 'LowCardinality(String)', required: false, empty: '', search: 'severityText' },
  { name: 'SeverityNumber', type: 'UInt8', required: false, empty: 0, search: 'severityNumber' },
  { name: 'ServiceName', type: 'LowCardinality(String)', required: false, empty: '', search: 'service' },
  { name: 'Body', type: 'String', required: true, empty: '', search: 'body' },
  { name: 'ResourceAttributes', type: 'Map(LowCardinality(String), String)', required: false, empty: EMPTY_MAP, search: 'resource' },
  { name: 'LogAttributes', type: 'Map(LowCardinality(String), String)', required: false, empty: EMPTY_MAP, search: 'attributes' },
  /** The tenant's retention when the row was written (the TTL and the partition key read it). */
  { name: 'RetentionDays', type: 'UInt16', default: '30', required: true, empty: 0 },
  // Appended with OpenTelemetry's instrumentation scope and schema URLs (OTLP only).
  { name: 'ScopeName', type: 'String', required: false, empty: '', search: 'scope.name' },
  { name: 'ScopeVersion', type: 'LowCardinality(String)', required: false, empty: '', search: 'scope.version' },
  { name: 'ScopeAttributes', type: 'Map(LowCardinality(String), String)', required: false, empty: EMPTY_MAP, search: 'scope.attributes' },
  { name: 'ResourceSchemaUrl', type: 'LowCardinality(String)', required: false, empty: '' },
  { name: 'ScopeSchemaUrl', type: 'LowCardinality(String)', required: false, empty: '' },
  /**
   * The template of the record's message (shared/patterns/): written by the tenant's actor, which
   * mines it as it accepts the row — the worker serialises it empty, always as the last value, so
   * the actor's one edit of a row is to fill in those last characters (tenant-actor/patterns.ts).
   */
  { name: 'PatternId', type: 'LowCardinality(String)', default: "''", required: false, empty: '', search: 'patternId' },
] as const satisfies readonly RowColumnDefinition[];

/** The table's other columns. */
export const COMPUTED_COLUMNS = [
  /** Timestamp to the second: the sort key, partition key and TTL use it. */
  { name: 'TimestampTime', type: "DateTime('UTC')", default: 'toDateTime(Timestamp)', computed: true },
] as const satisfies readonly ComputedColumnDefinition[];

/** Every column of the table. */
export const LOG_TABLE_COLUMNS: readonly (RowColumnDefinition | ComputedColumnDefinition)[] = [...ROW_COLUMNS, ...COMPUTED_COLUMNS];

type RowColumn = (typeof ROW_COLUMNS)[number];

/** The row's column names, in serialisation order (the INSERT's column list and the archive's header). */
export const LOG_COLUMNS: readonly RowColumn['name'][] = ROW_COLUMNS.map((c) => c.name);

/** The columns search, context and tail read back, in ROW_COLUMNS order. */
export const SEARCHED_COLUMNS: readonly Extract<RowColumn, { search: string }>[] = ROW_COLUMNS.filter(
  (c): c is Extract<RowColumn, { search: string }> => 'search' in c,
);

/** The JavaScript value of a ClickHouse type in a row: times are text, maps objects. */
type ValueOf<T extends string> = T extends `Map(${string}` ? Record<string, string> : T extends `UInt${string}` ? number : string;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** One row as built for the table (log-record.ts names it LogRow). */
export type RowShape = Simplify<
  { [C in Extract<RowColumn, { required: true }> as C['name']]: ValueOf<C['type']> } & {
    [C in Extract<RowColumn, { required: false }> as C['name']]?: ValueOf<C['type']>;
  }
>;

/** The columns search reads back, as read (log-record.ts names it StoredLog). */
export type SearchedShape = Simplify<{ [C in Extract<RowColumn, { search: string }> as C['name']]: ValueOf<C['type']> }>;
