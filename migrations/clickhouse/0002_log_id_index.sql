-- A bloom filter on LogId: GET /v1/logs/context/{id} finds one record by its
-- id, and the id says nothing about where the record sits in the sort key
-- (its Timestamp is the client's), so without an index the lookup would read
-- the tenant's whole history. MATERIALIZE builds it for parts written before.
ALTER TABLE logs ADD INDEX IF NOT EXISTS idx_log_id LogId TYPE bloom_filter(0.001) GRANULARITY 1;
ALTER TABLE logs MATERIALIZE INDEX idx_log_id;
