-- Per-minute counts that also tell the records exactly on a minute apart
-- (their nanoseconds a multiple of 60 s): LogQL's windows are (t − range, t]
-- and a minute's counts [m, m + 1 min), so the records exactly on m belong to
-- the window ending at m. With this flag among the keys, Grafana's volume
-- histogram (`sum by (level) (count_over_time({…}[1m]))` over whole minutes,
-- workers/query/loki/engine.ts) is answered exactly from the projection, in
-- one read, instead of the rows. A query ClickHouse cannot answer from it
-- (parts written before it was materialised) reads the rows: the same answer.
ALTER TABLE logs ADD PROJECTION IF NOT EXISTS per_minute_edge
(
    SELECT TenantId, ServiceName, toStartOfMinute(TimestampTime), SeverityNumber, toUnixTimestamp64Nano(Timestamp) % 60000000000 = 0, count()
    GROUP BY TenantId, ServiceName, toStartOfMinute(TimestampTime), SeverityNumber, toUnixTimestamp64Nano(Timestamp) % 60000000000 = 0
);

ALTER TABLE logs MATERIALIZE PROJECTION per_minute_edge;

-- Its keys hold 0004's per_minute keys (tenant, service, minute, severity): the
-- explorer's histogram (workers/query/routes/histogram.ts) is answered from
-- this one too, re-aggregated over the flag. Two aggregate projections would
-- cost every insert twice (each is built per part: ~15 ms of engine CPU per
-- insert, docs/benchmarks.md "the engine"), so per_minute goes.
ALTER TABLE logs DROP PROJECTION IF EXISTS per_minute;
