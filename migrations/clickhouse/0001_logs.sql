-- The log store: every tenant's records in one table, the tenant first in the
-- sort key so a tenant's query reads only that tenant's granules.
--
-- Modelled on the OpenTelemetry Collector ClickHouse exporter's otel_logs
-- (exporter/clickhouseexporter/internal/sqltemplates/logs_table.sql): the same
-- column names and types, so OTel tooling and people who know it feel at home.
-- Our additions:
--   TenantId       who the row belongs to (from the verified credential only);
--   LogId          unique per row, the tie-breaker for stable cursor pagination;
--   RetentionDays  the tenant's retention when the row was written. It is in
--                  the partition key, so with ttl_only_drop_parts the TTL drops
--                  whole parts instead of rewriting them (per-tenant retention at
--                  the cost of one partition per retention class and day).
-- Times are DateTime64(9, 'UTC'): the zone is part of the type, so a server in
-- another time zone cannot shift them.
-- The token index is on lower(Body): search is case-insensitive, and a query
-- on hasToken(lower(Body), …) can use it.
-- non_replicated_deduplication_window makes a retried insert with the same
-- insert_deduplication_token a no-op (the actor's exactly-once flush).
CREATE TABLE IF NOT EXISTS logs
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
    INDEX idx_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
)
ENGINE = MergeTree
PARTITION BY (RetentionDays, toDate(TimestampTime))
PRIMARY KEY (TenantId, TimestampTime)
ORDER BY (TenantId, TimestampTime, Timestamp)
TTL TimestampTime + toIntervalDay(RetentionDays)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;
