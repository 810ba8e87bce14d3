-- ServiceName in the sort key, after the tenant: (TenantId, ServiceName,
-- TimestampTime, Timestamp), as the OpenTelemetry exporter's otel_logs has it.
-- `service:` is the filter people use most; with the service in the key a
-- search for one service reads that service's granules only (bench:query-engine:
-- the 24 h field filter 139 → 34 ms), and a search over every service still
-- prunes by time inside each service's range (ServiceName is LowCardinality,
-- a tenant has tens of services, not millions).
--
-- ClickHouse cannot insert a column into the middle of a sort key, so the
-- table is rebuilt: a new table with the new key takes the name `logs` and the
-- old rows are copied into it. The migrator records each step, so a run that
-- dies part-way resumes at the step it was on; the copy skips rows already
-- copied, so resuming it neither loses nor repeats a row.
--
-- Run it while nothing writes to `logs` (npm start and the tests migrate before
-- the workers start; in production pause the actors' flushes — they keep
-- buffering — or a flush racing the rename could land in the old table).
CREATE TABLE IF NOT EXISTS logs_by_service
(
    TenantId           LowCardinality(String) CODEC(ZSTD(1)),
    Timestamp          DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    TimestampTime      DateTime('UTC') DEFAULT toDateTime(Timestamp),
    ObservedTimestamp  DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    LogId              String CODEC(ZSTD(1)),
    TraceId            String CODEC(ZSTD(1)),
    SpanId             String CODEC(ZSTD(1)),
    TraceFlags         UInt8,
    SeverityText       LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber     UInt8,
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    Body               String CODEC(ZSTD(1)),
    ResourceSchemaUrl  LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl     LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName          String CODEC(ZSTD(1)),
    ScopeVersion       LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes      Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    RetentionDays      UInt16 DEFAULT 30,

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
    INDEX idx_log_id LogId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY (RetentionDays, toDate(TimestampTime))
PRIMARY KEY (TenantId, ServiceName, TimestampTime)
ORDER BY (TenantId, ServiceName, TimestampTime, Timestamp)
TTL TimestampTime + toIntervalDay(RetentionDays)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

RENAME TABLE logs TO logs_before_0003, logs_by_service TO logs;

INSERT INTO logs SELECT * FROM logs_before_0003 WHERE LogId NOT IN (SELECT LogId FROM logs);

DROP TABLE IF EXISTS logs_before_0003;
