/**
 * The TenantActor's SQLite schema, as versioned migrations
 * (durable-objects/sqlite-migrations.ts). Released migrations are frozen:
 * change the schema by appending one.
 */
import type { SchemaMigration } from '../sqlite-migrations.ts';
import { USAGE_METER_TABLES_V1 } from '../usage-meter.ts';
import { PATTERN_TABLES_V3 } from './patterns.ts';

export const TENANT_ACTOR_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    // The tables as every actor created them before migrations were versioned
    // (`IF NOT EXISTS`: on those actors this changes nothing and only records v1).
    name: 'baseline: buffer, pending flushes, idempotency keys, rate, quota and usage counters',
    sql: `
      CREATE TABLE IF NOT EXISTS actor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS accepted_batches (
        idempotency_key TEXT PRIMARY KEY,
        accepted_at     INTEGER NOT NULL,
        rows            INTEGER NOT NULL,
        bytes           INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS accepted_batches_at ON accepted_batches (accepted_at);
      CREATE TABLE IF NOT EXISTS buffered_chunks (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id    TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        rows        INTEGER NOT NULL,
        bytes       INTEGER NOT NULL,
        data        TEXT    NOT NULL
      );
      CREATE TABLE IF NOT EXISTS pending_flushes (
        batch_id        TEXT    PRIMARY KEY,
        first_seq       INTEGER NOT NULL,
        last_seq        INTEGER NOT NULL,
        rows            INTEGER NOT NULL,
        bytes           INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error      TEXT
      );
      CREATE TABLE IF NOT EXISTS rate_limiter (dimension TEXT PRIMARY KEY, tat REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS usage_windows (period TEXT PRIMARY KEY, bytes INTEGER NOT NULL, records INTEGER NOT NULL);
      ${USAGE_METER_TABLES_V1}
    `,
  },
  {
    version: 2,
    // The idempotency ledger keeps what a key was used for (so the same key with
    // another body is refused) and until when; it also holds every batch under its
    // id for a few minutes (so a worker that lost the actor's answer can ask again).
    // A flush split to find the rows ClickHouse refuses records what it learnt of
    // each part, so that its retries send each row once (tenant-actor/flush.ts).
    name: 'idempotency ledger: fingerprint and expiry per key; outcomes of the parts of a flush split to find refused rows',
    sql: `
      ALTER TABLE accepted_batches ADD COLUMN fingerprint TEXT;
      ALTER TABLE accepted_batches ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
      UPDATE accepted_batches SET idempotency_key = 'k:' || idempotency_key, expires_at = accepted_at + 86400000;
      DROP INDEX IF EXISTS accepted_batches_at;
      CREATE INDEX accepted_batches_expiry ON accepted_batches (expires_at);
      CREATE TABLE flush_ranges (
        batch_id TEXT    NOT NULL,
        lo       INTEGER NOT NULL,
        hi       INTEGER NOT NULL,
        outcome  TEXT    NOT NULL,
        reason   TEXT,
        PRIMARY KEY (batch_id, lo, hi)
      );
    `,
  },
  {
    version: 3,
    // The pattern book (tenant-actor/patterns.ts): the templates mined so far, so a restart
    // mines the same ids, and what ClickHouse does not hold yet.
    name: 'pattern book: templates and aliases, published or not',
    sql: PATTERN_TABLES_V3,
  },
];
