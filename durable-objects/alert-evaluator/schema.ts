/**
 * The AlertEvaluator's SQLite schema (durable-objects/sqlite-migrations.ts:
 * frozen once released, only followed by new migrations).
 *
 * - `rules`: the tenant's rules as last read from D1 (D1 is the truth; this is
 *   the evaluator's copy with its schedule and error state).
 * - `instances`: one row per (rule, group): the alert state machine's
 *   instance (shared/alerts/alert-state.ts) as JSON. Kept while the rule
 *   exists: a firing's dedup key must never be reused.
 * - `history`: what happened, newest last (transitions, errors, deliveries),
 *   bounded by HISTORY_MAX_ROWS.
 * - `outbox`: notifications decided and not yet delivered, written in the same
 *   transaction as the transition that caused them, so a crash between "fire"
 *   and "sent" sends after the restart; one row per (rule, group, firing,
 *   status, target), so deciding twice never queues twice.
 * - `meta`: the tenant id, the shard count, when rules were last read.
 */
import type { SchemaMigration } from '../sqlite-migrations.ts';

export const ALERT_EVALUATOR_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'rules, instances, history, outbox',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE rules (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        muted_until INTEGER,
        next_eval_at INTEGER NOT NULL,
        last_eval_at INTEGER,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        error_since INTEGER
      );
      CREATE TABLE instances (
        rule_id TEXT NOT NULL,
        group_key TEXT NOT NULL,
        group_json TEXT NOT NULL,
        instance TEXT NOT NULL,
        PRIMARY KEY (rule_id, group_key)
      );
      CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        group_json TEXT NOT NULL,
        event TEXT NOT NULL,
        value REAL,
        detail TEXT
      );
      CREATE INDEX history_rule ON history (rule_id, seq);
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key TEXT NOT NULL,
        status TEXT NOT NULL,
        target_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        notification TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        first_attempt_at INTEGER,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER,
        UNIQUE (dedup_key, status, target_id)
      );
      CREATE INDEX outbox_due ON outbox (state, next_at);
      CREATE INDEX outbox_rule ON outbox (rule_id, created_at);
    `,
  },
];
