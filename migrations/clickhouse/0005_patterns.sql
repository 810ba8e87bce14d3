-- Patterns (docs/analytics.md, ADR 0013): every row carries the id of its
-- message's template, mined by the tenant's actor as the row is accepted.
-- LowCardinality: a tenant has thousands of templates, not millions, and
-- GET /v1/patterns groups by it. Rows stored before this column read ''.
ALTER TABLE logs ADD COLUMN IF NOT EXISTS PatternId LowCardinality(String) DEFAULT '' CODEC(ZSTD(1));

-- The templates. An id is a hash of (service, template), so the same id
-- always names the same text: the tenant's actors (shards) and their restarts
-- write the same row, and ReplacingMergeTree keeps one. FirstSeen is the
-- earliest the row was written with (min over versions on merge is not
-- needed: it is informational; GET /v1/patterns reads first/last seen from
-- the logs themselves).
CREATE TABLE IF NOT EXISTS log_patterns
(
    TenantId    LowCardinality(String),
    PatternId   String,
    ServiceName LowCardinality(String),
    Template    String CODEC(ZSTD(1)),
    FirstSeen   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (TenantId, PatternId);

-- Aliases: a template that generalised (a constant turned out to vary) into
-- another. Each edge is a fact that never changes, so the set only grows
-- (deduplicated by its key); queries follow the edges so that `pattern:<id>`
-- finds the records mined under every earlier template of the same pattern.
CREATE TABLE IF NOT EXISTS log_pattern_aliases
(
    TenantId LowCardinality(String),
    FromId   String,
    ToId     String,
    At       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (TenantId, FromId, ToId);
