/**
 * AlertEvaluator — one per tenant: evaluates the tenant's alert rules and
 * delivers their notifications (issue 16, docs/alerts.md).
 *
 * - **Rules** live in D1 (/v1/alerts/rules); the route tells this object after
 *   every change (`sync`), and the object re-reads them every RESYNC_MS while
 *   it has any, so a missed call heals itself.
 * - **Scheduled path**: the alarm is the scheduler. Each rule is measured at
 *   its interval (aligned, shared/alerts/evaluation-schedule.ts) against
 *   ClickHouse over a window that ends NEURALLOG_ALERT_EVALUATION_DELAY_S before now, so that
 *   records still in the actors' buffers or arriving late are counted; rules
 *   due together that share a window and group-by are one query
 *   (shared/alerts/evaluation-query.ts). A failing query marks its rules in
 *   error (visible in GET /v1/alerts and the history) and backs off.
 * - **Fast path**: while the tenant has threshold rules a partial count can
 *   prove, the object holds a lease on the tenant's actors (every shard) to be
 *   sent each batch they store (the feed live tail uses), counts matching
 *   records in memory (alert-evaluator/fast-path.ts) and fires as soon as a
 *   threshold is crossed — before the flush.
 * - **States** follow Prometheus (shared/alerts/alert-state.ts), one instance
 *   per (rule, group); every transition goes to the history.
 * - **Notifications** are written to the outbox in the same transaction as the
 *   transition that causes them, then sent with their dedup key and retried
 *   (alert-evaluator/outbox.ts) — exactly once as the receiver counts.
 */
import { DurableObject } from 'cloudflare:workers';
import { type AlertInstance, nextAlertState, notificationsAllowed, NOTIFICATION_WINDOW_MS, notifies } from '../shared/alerts/alert-state.ts';
import { nextEvaluationAt, nextWakeAt, tenantOffsetMs } from '../shared/alerts/evaluation-schedule.ts';
import {
  batchRules,
  batchSql,
  fastPathEligible,
  type GroupCounts,
  groupKey,
  type MeasuredRule,
  readBatch,
  verdictOf,
} from '../shared/alerts/evaluation-query.ts';
import { describeCondition } from '../shared/alerts/condition.ts';
import { AlertRuleDefinition, anomalyServices, parseDuration, renderMessage } from '../shared/alerts/rule.ts';
import type { Anomaly } from '../shared/analytics/anomalies.ts';
import { anomalyInterval, findAnomalies, type RunQuery } from '../shared/analytics/find-anomalies.ts';
import { instantFromMillis } from '../shared/timestamp.ts';
import { loadTargets } from '../shared/alerts/target-definition.ts';
import type { AlertNotification, TargetDeployment } from '../shared/alerts/targets/index.ts';
import { planOf } from '../shared/auth.ts';
import { clickHouseClient } from '../shared/clickhouse.ts';
import { type ConfigBindings, loadConfig, secretsKey } from '../shared/config.ts';
import { logEvent } from '../shared/logger.ts';
import { AliasGraph, aliasesQuery, expandPatternTerms, hasPatternTerm } from '../shared/patterns/aliases.ts';
import { fnv1a64 } from '../shared/patterns/pattern-id.ts';
import type { QueryNode } from '../shared/query-language/ast.ts';
import { compileMatcher } from '../shared/query-language/evaluate.ts';
import { resolveField } from '../shared/query-language/fields.ts';
import { parseQuery } from '../shared/query-language/parse.ts';
import { decodeStoredRow } from '../shared/row-format.ts';
import { shardName } from '../shared/sharding.ts';
import { Alarm } from './alarm.ts';
import { type FastRule, FastPathCounters } from './alert-evaluator/fast-path.ts';
import {
  afterAttempt,
  batchesAlerts,
  MAX_NOTIFICATIONS_PER_RULE_PER_HOUR,
  Outbox,
  type OutboxRow,
  sendNotification,
  sendNotifications,
} from './alert-evaluator/outbox.ts';
import { ALERT_EVALUATOR_MIGRATIONS } from './alert-evaluator/schema.ts';
import { migrateSchema } from './sqlite-migrations.ts';
import type { TenantActor } from './tenant-actor.ts';

export interface AlertEvaluatorEnv extends ConfigBindings {
  CONTROL_DB: D1Database;
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
}

/** The range anomaly rules look at (finished intervals only; 5-minute intervals for an hour). */
export const ANOMALY_RANGE_SECONDS = 3_600;
const ANOMALY_MIN_INTERVAL_MS = 300_000;
const ANOMALY_KINDS = ['volume', 'new_pattern', 'error_ratio', 'silence'] as const;
/** Rules re-read from D1 at least this often while the tenant has any. */
export const RESYNC_MS = 300_000;
/** How long actors keep feeding this object after a lease (renewed at half). */
export const FEED_LEASE_MS = 300_000;
/** History rows kept per tenant (oldest dropped first). */
export const HISTORY_MAX_ROWS = 10_000;
/** Finished outbox rows and quiet instances are kept this long. */
const RETAIN_MS = 86_400_000;
/** Deliveries started per alarm run (the rest wait for the next, a moment later). */
const DELIVERIES_PER_RUN = 50;

/** A rule as this object uses it: the stored definition with its parsed parts and schedule. */
interface LiveRule {
  id: string;
  name: string;
  version: number;
  definition: AlertRuleDefinition;
  /** The definition as stored: what tells a redefined rule from the same one. */
  definitionText: string;
  mutedUntil: number | null;
  intervalMs: number;
  forMs: number;
  /** Null for anomaly rules (measured by the anomaly hook, not by a count). */
  measured: MeasuredRule | null;
  fast: FastRule | null;
  nextEvalAt: number;
  consecutiveErrors: number;
  error: string | null;
}

type RuleRow = {
  id: string;
  version: number;
  definition: string;
  muted_until: number | null;
  next_eval_at: number;
  last_eval_at: number | null;
  consecutive_errors: number;
  error: string | null;
  error_since: number | null;
};

export interface CurrentAlert {
  ruleId: string;
  ruleName: string;
  severity: string;
  state: AlertInstance['state'];
  group: Record<string, string>;
  value: number;
  activeSince: string | null;
  firedAt: string | null;
  resolvedAt: string | null;
  lastEvaluatedAt: string;
  muted: boolean;
}

export interface RuleStatus {
  id: string;
  name: string;
  health: 'ok' | 'error' | 'unknown';
  error: string | null;
  errorSince: string | null;
  lastEvaluatedAt: string | null;
  nextEvaluationAt: string;
  fastPath: boolean;
}

export interface EvaluationStats {
  /** When this tenant's rules were first evaluated (null: never). */
  since: string | null;
  /** ClickHouse queries run (rules sharing a window and group-by share one). */
  queries: number;
  /** Rule evaluations those queries answered. */
  ruleEvaluations: number;
  /** Time spent waiting for ClickHouse (ms). */
  queryMs: number;
}

export interface HistoryEvent {
  seq: number;
  at: string;
  ruleId: string;
  ruleName: string;
  group: Record<string, string>;
  event: string;
  value: number | null;
  detail: string | null;
}

export interface TestDelivery {
  targetId: string;
  delivered: boolean;
  detail: string;
}

export class AlertEvaluator extends DurableObject<AlertEvaluatorEnv> {
  readonly #outbox: Outbox;
  readonly #alarm: Alarm;
  readonly #fast = new FastPathCounters();
  #rules = new Map<string, LiveRule>();
  #tenantId: string | null;
  /** Outbox rows being sent now (the alarm and a fast-path firing may both start deliveries). */
  readonly #sending = new Set<number>();
  /** When the actors' feed lease was last renewed (in memory: after a restart it is renewed at once). */
  #leaseRenewedAt = 0;
  /** When firing alerts were last re-posted to Alertmanager targets; null while none is firing there. */
  #repostedAt: number | null = null;
  /** NEURALLOG_ALERTMANAGER_REPOST_S: how often firing alerts are posted again to Alertmanager targets. */
  readonly #repostMs: number;

  constructor(ctx: DurableObjectState, env: AlertEvaluatorEnv) {
    super(ctx, env);
    migrateSchema(ctx.storage, ALERT_EVALUATOR_MIGRATIONS);
    this.#outbox = new Outbox(ctx.storage.sql);
    this.#repostMs = loadConfig(env).alerts.alertmanagerRepostMs;
    this.#alarm = new Alarm(ctx.storage);
    this.#tenantId = this.#meta('tenant_id');
    this.#loadRules();
    ctx.blockConcurrencyWhile(() => this.#alarm.load());
  }

  // ── RPC ────────────────────────────────────────────────────────────────

  /** The tenant's rules changed (or may have): re-read them from D1 and schedule. `origin` is the public URL explorer links use. */
  async sync(tenantId: string, origin?: string): Promise<void> {
    this.#bindTenant(tenantId);
    if (origin) this.#setMeta('origin', origin);
    await this.#resync(Date.now());
    // The feed first: a rule is live for records accepted once the API said it was stored.
    await this.#renewFeed(Date.now());
    await this.#scheduleAlarm(Date.now());
  }

  /** Rows an actor just stored (JSONCompactEachRow text): the fast path. */
  async observe(tenantId: string, rows: string): Promise<void> {
    if (this.#tenantId !== tenantId) return;
    const fastRules = [...this.#rules.values()].filter((r) => r.fast !== null);
    if (fastRules.length === 0) return;
    const records = rows
      .trimEnd()
      .split('\n')
      .filter((line) => line !== '')
      .map(decodeStoredRow);
    const now = Date.now();
    let queued = false;
    for (const rule of fastRules) {
      const fast = rule.fast!;
      let counts: ReturnType<FastPathCounters['add']>;
      try {
        counts = this.#fast.add(fast, records, now);
      } catch (err) {
        logEvent('warn', 'alerts.fast_path_failed', { tenant: tenantId, rule: rule.id, error: (err as Error).message });
        continue;
      }
      for (const { groupKey: key, group, count } of counts) {
        const verdict = verdictOf(rule.measured!.condition, { numerator: count, denominator: 0 });
        // Only a breach is news here: a partial count never proves the condition has cleared.
        if (!verdict.breaching) continue;
        queued = this.#observe(rule, key, group, { at: now, breaching: true, value: count }, 'fast path') || queued;
      }
    }
    if (queued) this.ctx.waitUntil(this.#deliverDue(Date.now()));
  }

  /** Current alerts (pending, firing, resolved in the last hour) and each rule's health. */
  async current(tenantId: string): Promise<{ alerts: CurrentAlert[]; rules: RuleStatus[]; evaluation: EvaluationStats }> {
    this.#bindTenant(tenantId);
    if (this.#rules.size === 0) await this.#resync(Date.now());
    const now = Date.now();
    const alerts: CurrentAlert[] = [];
    for (const row of this.ctx.storage.sql
      .exec<{ rule_id: string; group_json: string; instance: string }>('SELECT rule_id, group_json, instance FROM instances ORDER BY rule_id, group_key')
      .toArray()) {
      const rule = this.#rules.get(row.rule_id);
      if (!rule) continue;
      const instance = JSON.parse(row.instance) as AlertInstance;
      const recent = instance.state === 'resolved' && instance.resolvedAt !== null && now - instance.resolvedAt < NOTIFICATION_WINDOW_MS;
      if (instance.state !== 'pending' && instance.state !== 'firing' && !recent) continue;
      alerts.push({
        ruleId: rule.id,
        ruleName: rule.name,
        severity: rule.definition.severity,
        state: instance.state,
        group: Object.fromEntries(JSON.parse(row.group_json) as [string, string][]),
        value: instance.value,
        activeSince: iso(instance.activeSince),
        firedAt: iso(instance.firedAt),
        resolvedAt: iso(instance.resolvedAt),
        lastEvaluatedAt: new Date(instance.lastEvaluatedAt).toISOString(),
        muted: rule.mutedUntil !== null && rule.mutedUntil > now,
      });
    }
    const stored = new Map(this.#ruleRows().map((r) => [r.id, r]));
    const rules = [...this.#rules.values()].map((rule): RuleStatus => {
      const row = stored.get(rule.id);
      return {
        id: rule.id,
        name: rule.name,
        health: rule.error ? 'error' : row?.last_eval_at ? 'ok' : 'unknown',
        error: rule.error,
        errorSince: iso(row?.error_since ?? null),
        lastEvaluatedAt: iso(row?.last_eval_at ?? null),
        nextEvaluationAt: new Date(rule.nextEvalAt).toISOString(),
        fastPath: rule.fast !== null,
      };
    });
    return { alerts, rules: rules.sort((a, b) => a.name.localeCompare(b.name)), evaluation: this.#stats() };
  }

  /** History, newest first: `before` a sequence number, optionally of one rule. */
  async history(tenantId: string, options: { ruleId?: string; before?: number; limit: number }): Promise<{ events: HistoryEvent[]; next: number | null }> {
    this.#bindTenant(tenantId);
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    const rows = (
      options.ruleId === undefined
        ? this.ctx.storage.sql.exec<HistoryRow>('SELECT * FROM history WHERE seq < ? ORDER BY seq DESC LIMIT ?', before, options.limit + 1)
        : this.ctx.storage.sql.exec<HistoryRow>(
            'SELECT * FROM history WHERE rule_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
            options.ruleId,
            before,
            options.limit + 1,
          )
    ).toArray();
    const events = rows.slice(0, options.limit).map(
      (r): HistoryEvent => ({
        seq: r.seq,
        at: new Date(r.at).toISOString(),
        ruleId: r.rule_id,
        ruleName: r.rule_name,
        group: Object.fromEntries(JSON.parse(r.group_json) as [string, string][]),
        event: r.event,
        value: r.value,
        detail: r.detail,
      }),
    );
    return { events, next: rows.length > options.limit ? events[events.length - 1]!.seq : null };
  }

  /**
   * A test notification to each of the rule's targets, now, outside the outbox (a test is not an
   * alert: no state, no retry), so a tenant can check a target's setup. Recorded in the history.
   */
  async testFire(tenantId: string, ruleId: string): Promise<TestDelivery[]> {
    this.#bindTenant(tenantId);
    await this.#resync(Date.now());
    const rule = this.#rules.get(ruleId);
    if (!rule) return [];
    const now = Date.now();
    const notification = this.#notification(rule, [], 'firing', { value: 0, firedAt: now, resolvedAt: null }, `test:${crypto.randomUUID()}`);
    notification.labels = { ...notification.labels, test: 'true' };
    notification.message = `Test notification of "${rule.name}": ${notification.message}`;
    const targets = await this.#targets(rule.definition.targets);
    const results: TestDelivery[] = [];
    for (const targetId of rule.definition.targets) {
      const target = targets.get(targetId);
      if (!target) {
        results.push({ targetId, delivered: false, detail: 'no such target' });
        continue;
      }
      const sent = await sendNotification(target.config, notification, this.#sendOptions(now));
      results.push({ targetId, delivered: sent.outcome.kind === 'delivered', detail: sent.detail });
      this.#history(now, rule, [], sent.outcome.kind === 'delivered' ? 'test_sent' : 'test_failed', null, `${target.name}: ${sent.detail}`);
    }
    return results;
  }

  // ── The alarm: evaluate what is due, deliver what is due, keep the feed, sleep ──

  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    try {
      if (this.#tenantId === null) return;
      if (now - Number(this.#meta('synced_at') ?? 0) >= RESYNC_MS) await this.#resync(now);
      await this.#evaluateDue(now);
      await this.#renewFeed(now);
      await this.#deliverDue(Date.now());
      await this.#repostToAlertmanager(Date.now());
      this.#prune(now);
    } finally {
      await this.#scheduleAlarm(Date.now());
    }
  }

  async #scheduleAlarm(now: number): Promise<void> {
    const rules = [...this.#rules.values()];
    const hasFast = rules.some((r) => r.fast !== null);
    const at = nextWakeAt(
      {
        nextEvaluationAt: rules.length > 0 ? Math.min(...rules.map((r) => r.nextEvalAt)) : null,
        nextDeliveryAt: this.#outbox.nextAt(),
        leaseRenewAt: hasFast ? this.#leaseRenewedAt + FEED_LEASE_MS / 2 : null,
        repostAt: this.#repostedAt === null ? null : this.#repostedAt + this.#repostMs,
        resyncAt: rules.length > 0 ? Number(this.#meta('synced_at') ?? 0) + RESYNC_MS : null,
      },
      now,
    );
    await this.#alarm.bringForward(at);
  }

  // ── Rules ────────────────────────────────────────────────────────────────

  /** Reads the tenant's rules from D1 and reconciles this object's copy. */
  async #resync(now: number): Promise<void> {
    const tenantId = this.#tenantId;
    if (tenantId === null) return;
    const [rules, tenant] = await this.env.CONTROL_DB.batch([
      this.env.CONTROL_DB.prepare('SELECT id, version, definition, muted_until FROM alert_rules WHERE tenant_id = ?').bind(tenantId),
      this.env.CONTROL_DB.prepare('SELECT plan_id, shard_count FROM tenants WHERE id = ?').bind(tenantId),
    ]);
    const fresh = (rules!.results as { id: string; version: number; definition: string; muted_until: number | null }[]) ?? [];
    const tenantRow = (tenant!.results as { plan_id: string; shard_count: number | null }[])[0];
    // The actors that accept the tenant's records: as many as its plan (or its own override) says.
    const shards = tenantRow ? planOf(tenantRow.plan_id, tenantRow.shard_count).shardCount : 1;
    const sql = this.ctx.storage.sql;
    const stored = new Map(this.#ruleRows().map((r) => [r.id, r]));
    const wanted = new Set<string>();
    for (const row of fresh) {
      wanted.add(row.id);
      const old = stored.get(row.id);
      const definition = typeof row.definition === 'string' ? row.definition : JSON.stringify(row.definition);
      // Muting changes the version, not the definition: states and schedule carry on.
      if (old && old.definition === definition) {
        if (old.version !== row.version || old.muted_until !== row.muted_until)
          sql.exec('UPDATE rules SET version = ?, muted_until = ? WHERE id = ?', row.version, row.muted_until, row.id);
        continue;
      }
      // New or changed: what it fired under the old definition ends here (its groups or condition may differ).
      if (old) this.#endInstances(old, now, 'the rule was changed');
      this.#fast.forget(row.id);
      sql.exec(
        `INSERT INTO rules (id, version, definition, muted_until, next_eval_at, consecutive_errors) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, definition = excluded.definition, muted_until = excluded.muted_until,
           next_eval_at = excluded.next_eval_at, consecutive_errors = 0, error = NULL, error_since = NULL`,
        row.id,
        row.version,
        definition,
        row.muted_until,
        now, // measured at once: a new rule shows its state without waiting an interval
      );
    }
    for (const old of stored.values()) {
      if (wanted.has(old.id)) continue;
      this.#endInstances(old, now, 'the rule was deleted');
      sql.exec('DELETE FROM rules WHERE id = ?', old.id);
      this.#fast.forget(old.id);
    }
    this.#setMeta('shards', String(shards));
    this.#setMeta('synced_at', String(now));
    this.#loadRules();
  }

  /** Resolves a rule's firing instances (their resolve notifications are queued) and forgets its instances. */
  #endInstances(row: RuleRow, now: number, reason: string): void {
    const rule = this.#liveRule(row);
    this.ctx.storage.transactionSync(() => {
      for (const inst of this.#instances(row.id)) {
        if (rule && inst.instance.state === 'firing') {
          const resolved: AlertInstance = { ...inst.instance, state: 'resolved', resolvedAt: now, keptFiringSince: null, lastEvaluatedAt: now };
          this.#transition(rule, inst.group, resolved, 'resolved', now, reason);
        }
      }
      this.ctx.storage.sql.exec('DELETE FROM instances WHERE rule_id = ?', row.id);
    });
  }

  #loadRules(): void {
    const rules = new Map<string, LiveRule>();
    for (const row of this.#ruleRows()) {
      const rule = this.#liveRule(row);
      if (rule) rules.set(rule.id, rule);
    }
    this.#rules = rules;
  }

  #ruleRows(): RuleRow[] {
    return this.ctx.storage.sql.exec<RuleRow>('SELECT * FROM rules').toArray();
  }

  /** A stored rule made ready to measure; null (and logged) if it no longer parses — the API checked it, so this is a bug, not a tenant error. */
  #liveRule(row: RuleRow): LiveRule | null {
    try {
      const definition = AlertRuleDefinition.parse(JSON.parse(row.definition));
      const name = definition.name;
      const condition = definition.condition;
      const windowSeconds = condition.kind === 'anomaly' ? null : parseDuration(condition.window)!;
      const query = parseQuery(definition.query);
      const measured: MeasuredRule | null =
        condition.kind === 'anomaly'
          ? null
          : {
              id: row.id,
              query,
              denominator: condition.kind === 'ratio' ? parseQuery(condition.denominator) : null,
              groupBy: definition.groupBy,
              condition,
              windowSeconds: windowSeconds!,
            };
      const fast: FastRule | null =
        measured && fastPathEligible(measured) && !hasPatternTerm(query)
          ? { id: row.id, matches: compileMatcher(query), groupBy: definition.groupBy, windowSeconds: windowSeconds! }
          : null;
      return {
        id: row.id,
        name,
        version: row.version,
        definition,
        definitionText: row.definition,
        mutedUntil: row.muted_until,
        // The detector's intervals are 5 minutes: measuring an anomaly rule more often would re-read the same ones.
        intervalMs: Math.max(parseDuration(definition.interval)! * 1000, condition.kind === 'anomaly' ? ANOMALY_MIN_INTERVAL_MS : 0),
        forMs: parseDuration(definition.for)! * 1000,
        measured,
        fast,
        nextEvalAt: row.next_eval_at,
        consecutiveErrors: row.consecutive_errors,
        error: row.error,
      };
    } catch (err) {
      logEvent('error', 'alerts.rule_unreadable', { tenant: this.#tenantId, rule: row.id, error: (err as Error).message });
      return null;
    }
  }

  // ── Scheduled evaluation ─────────────────────────────────────────────────

  async #evaluateDue(now: number): Promise<void> {
    const due = [...this.#rules.values()].filter((r) => r.nextEvalAt <= now);
    if (due.length === 0) return;
    const tenantId = this.#tenantId!;
    const client = clickHouseClient(loadConfig(this.env).clickhouse);
    const measured = due.filter((r) => r.measured !== null);
    // Pattern terms follow aliases, as in search; grouping by pattern counts aliased ids under their current one.
    let graph: AliasGraph | null = null;
    const anomalyRules = due.some((r) => r.measured === null);
    if (anomalyRules || measured.some((r) => hasPatternTerm(r.measured!.query) || r.measured!.groupBy.some((f) => resolveField(f).kind === 'patternId'))) {
      try {
        const { query, params } = aliasesQuery(tenantId);
        const rows = await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<{ FromId: string; ToId: string }>();
        graph = new AliasGraph(rows.map((r) => [r.FromId, r.ToId] as const));
      } catch (err) {
        logEvent('warn', 'alerts.aliases_failed', { tenant: tenantId, error: (err as Error).message });
      }
    }
    const expand = (node: QueryNode): QueryNode => (graph ? expandPatternTerms(node, graph) : node);
    const batches = batchRules(
      measured.map((r) => ({ ...r.measured!, query: expand(r.measured!.query), denominator: r.measured!.denominator && expand(r.measured!.denominator) })),
    );
    // The window ends NEURALLOG_ALERT_EVALUATION_DELAY_S behind now: records not flushed yet or sent late are still counted.
    const end = Math.floor((now - loadConfig(this.env).alerts.evaluationDelayMs) / 1000);
    for (const batch of batches) {
      const byId = new Map(due.map((r) => [r.id, r]));
      const rules = batch.rules.map((m) => byId.get(m.id)!);
      try {
        const { sql, params } = batchSql(tenantId, batch, end, now);
        const started = Date.now();
        const result = await client.query({
          query: sql,
          query_params: params,
          format: 'JSONEachRow',
          clickhouse_settings: { max_execution_time: 30 },
        });
        const rows = await result.json<Record<string, unknown>>();
        this.#count(1, rules.length, Date.now() - started);
        const { counts, truncated } = readBatch(batch, rows, graph ? (id) => graph!.canonical(id) : undefined);
        const at = Date.now();
        // A rule changed or deleted while its query ran: this measurement is of what it was, so it is dropped.
        for (const rule of rules.filter((r) => this.#unchanged(r))) {
          this.#applyMeasurement(rule, counts.get(rule.id)!, at);
          this.#measured(rule, at, truncated ? 'more groups than one evaluation reads: some were left out' : null);
        }
      } catch (err) {
        for (const rule of rules.filter((r) => this.#unchanged(r))) this.#failed(rule, Date.now(), evaluationError(err));
      }
    }
    await this.#evaluateAnomalyRules(
      due.filter((r) => r.measured === null),
      graph,
      now,
    );
  }

  /**
   * Anomaly rules: the anomaly detector's findings (shared/analytics/find-anomalies.ts, as GET
   * /v1/anomalies) over the last ANOMALY_RANGE_SECONDS of finished intervals, for the rule's
   * services. A finding is current when it reaches the last finished interval (a new pattern: when
   * it was first seen in the range) and is an alarm (score ≥ 1); each (kind, service, pattern) is
   * one alert, which resolves when the finding is gone. Rules with the same services share one run.
   */
  async #evaluateAnomalyRules(rules: LiveRule[], graph: AliasGraph | null, now: number): Promise<void> {
    if (rules.length === 0) return;
    const tenantId = this.#tenantId!;
    const client = clickHouseClient(loadConfig(this.env).clickhouse);
    const interval = anomalyInterval(ANOMALY_RANGE_SECONDS);
    const to = Math.floor((now - loadConfig(this.env).alerts.evaluationDelayMs) / 1000 / interval) * interval;
    const runs = new Map<string, Promise<Anomaly[]>>();
    for (const rule of rules) {
      const services = anomalyServices(parseQuery(rule.definition.query)) ?? [];
      const key = JSON.stringify([...services].sort());
      let run = runs.get(key);
      if (!run) {
        let queries = 0;
        const started = Date.now();
        const runQuery: RunQuery = async <T>(sql: string, params: Record<string, unknown>) => {
          queries++;
          const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: { max_execution_time: 30 } });
          return result.json<T>();
        };
        run = findAnomalies(runQuery, graph ?? new AliasGraph([]), {
          tenantId,
          from: instantFromMillis((to - ANOMALY_RANGE_SECONDS) * 1000),
          to: instantFromMillis(to * 1000),
          services,
        }).then((found) => {
          this.#count(queries, 0, Date.now() - started);
          return found.anomalies;
        });
        runs.set(key, run);
      }
      try {
        const anomalies = await run;
        const kinds = new Set(rule.definition.condition.kind === 'anomaly' ? (rule.definition.condition.kinds ?? ANOMALY_KINDS) : ANOMALY_KINDS);
        const counts = new Map<string, GroupCounts>();
        const summaries = new Map<string, string>();
        for (const a of anomalies) {
          const current = a.kind === 'new_pattern' || Date.parse(a.end) >= to * 1000;
          if (!current || a.score < 1 || !kinds.has(a.kind)) continue;
          const group: [string, string][] = [
            ['kind', a.kind],
            ['service', a.service],
            ['pattern', a.patternId ?? ''],
          ];
          const key = groupKey(group.map(([, v]) => v));
          counts.set(key, { group, numerator: a.actual, denominator: 0 });
          summaries.set(key, a.summary);
        }
        const at = Date.now();
        this.#count(0, 1, 0);
        if (!this.#unchanged(rule)) continue;
        this.#applyFindings(rule, counts, summaries, at);
        this.#measured(rule, at, null);
      } catch (err) {
        if (this.#unchanged(rule)) this.#failed(rule, Date.now(), evaluationError(err));
      }
    }
  }

  /** Whether a rule read before an await is still the tenant's rule as it is now (not deleted or redefined meanwhile). */
  #unchanged(rule: LiveRule): boolean {
    const now = this.#rules.get(rule.id);
    return now !== undefined && now.definitionText === rule.definitionText;
  }

  /** Findings of an anomaly rule applied: each one found breaches; an alert whose finding is gone clears. */
  #applyFindings(rule: LiveRule, found: Map<string, GroupCounts>, summaries: Map<string, string>, at: number): void {
    for (const [key, c] of found) this.#observe(rule, key, c.group, { at, breaching: true, value: c.numerator }, summaries.get(key) ?? null);
    for (const inst of this.#instances(rule.id)) {
      if (!found.has(inst.key) && inst.instance.state !== 'inactive') this.#observe(rule, inst.key, inst.group, { at, breaching: false, value: 0 }, null);
    }
  }

  /** One scheduled measurement of a rule, every group it found and every group it had, applied. */
  #applyMeasurement(rule: LiveRule, counts: Map<string, GroupCounts>, at: number): void {
    const measured = rule.measured!;
    const observations = new Map<string, { group: [string, string][]; counts: Pick<GroupCounts, 'numerator' | 'denominator'> }>();
    for (const [key, c] of counts) observations.set(key, { group: c.group, counts: c });
    // Groups it knew and did not find now count 0 (a service that went quiet resolves, or fires an absence).
    for (const inst of this.#instances(rule.id)) {
      if (!observations.has(inst.key) && inst.instance.state !== 'inactive')
        observations.set(inst.key, { group: inst.group, counts: { numerator: 0, denominator: 0 } });
    }
    const fastFor = new Map(rule.fast ? this.#fast.groups(rule.id, measured.windowSeconds, at).map((f) => [f.groupKey, f]) : []);
    for (const [key, f] of fastFor) if (!observations.has(key)) observations.set(key, { group: f.group, counts: { numerator: 0, denominator: 0 } });
    for (const [key, { group, counts: c }] of observations) {
      const scheduled = verdictOf(measured.condition, c);
      // The fast path counts what ClickHouse does not have yet: a breach it proves stands.
      const fast = fastFor.get(key);
      const fastVerdict = fast ? verdictOf(measured.condition, { numerator: fast.count, denominator: 0 }) : null;
      const breaching = scheduled.breaching || (fastVerdict?.breaching ?? false);
      const value = fastVerdict?.breaching ? Math.max(fastVerdict.value, scheduled.value) : scheduled.value;
      this.#observe(rule, key, group, { at, breaching, value }, null);
    }
  }

  /** Applies one observation to one instance; returns whether a notification was queued. */
  #observe(
    rule: LiveRule,
    key: string,
    group: [string, string][],
    observation: { at: number; breaching: boolean; value: number },
    via: string | null,
  ): boolean {
    const stored = this.ctx.storage.sql
      .exec<{ instance: string }>('SELECT instance FROM instances WHERE rule_id = ? AND group_key = ?', rule.id, key)
      .toArray()[0];
    const previous = stored ? (JSON.parse(stored.instance) as AlertInstance) : null;
    const step = nextAlertState(previous, observation, { forMs: rule.forMs });
    if (step.instance === previous) return false;
    // Quiet groups are not stored: only those that were or are active.
    if (previous === null && step.instance.state === 'inactive') return false;
    let queued = false;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        'INSERT INTO instances (rule_id, group_key, group_json, instance) VALUES (?, ?, ?, ?) ON CONFLICT (rule_id, group_key) DO UPDATE SET instance = excluded.instance',
        rule.id,
        key,
        JSON.stringify(group),
        JSON.stringify(step.instance),
      );
      if (step.transition) queued = this.#transition(rule, group, step.instance, step.transition, observation.at, via);
    });
    return queued;
  }

  /** A transition: to the history, and for firing/resolved to the outbox (muted and flapping rules' are suppressed). */
  #transition(rule: LiveRule, group: [string, string][], instance: AlertInstance, transition: string, at: number, detail: string | null): boolean {
    this.#history(at, rule, group, transition, instance.value, detail);
    if (!notifies(transition as Parameters<typeof notifies>[0])) return false;
    const status = transition as 'firing' | 'resolved';
    const dedupKey = this.#dedupKey(rule, group, instance);
    const notification = this.#notification(rule, group, status, instance, dedupKey);
    let queued = false;
    const muted = rule.mutedUntil !== null && rule.mutedUntil > at;
    const flapping =
      status === 'firing' && !notificationsAllowed(this.#outbox.queuedTimes(rule.id, at - NOTIFICATION_WINDOW_MS), at, MAX_NOTIFICATIONS_PER_RULE_PER_HOUR);
    for (const targetId of rule.definition.targets) {
      // A resolve closes what was opened: sent wherever its firing went out — muted or not, flapping
      // or not (an incident left open is worse than one more message) — and nowhere else.
      const reason =
        status === 'resolved'
          ? this.#outbox.firingWasNotified(dedupKey, targetId)
            ? null
            : 'its firing notification was not sent'
          : muted
            ? `muted until ${new Date(rule.mutedUntil!).toISOString()}`
            : flapping
              ? `more than ${MAX_NOTIFICATIONS_PER_RULE_PER_HOUR} firing notifications of this rule in an hour (flapping)`
              : null;
      if (reason === null) {
        queued = this.#outbox.enqueue(notification, targetId, 'pending', at) || queued;
        // Wake to re-post it if the target is an Alertmanager (#repostToAlertmanager checks the kind).
        if (status === 'firing' && this.#repostedAt === null) this.#repostedAt = at;
      } else if (this.#outbox.enqueue(notification, targetId, 'suppressed', at, reason)) {
        this.#history(at, rule, group, 'notification_suppressed', instance.value, `${targetId}: ${reason}`);
      }
    }
    return queued;
  }

  /** (rule, group, firing instance): the same for a firing and its resolve, stable across retries and restarts, new for each firing. */
  #dedupKey(rule: LiveRule, group: [string, string][], instance: Pick<AlertInstance, 'firedAt'>): string {
    return `${rule.id}:${fnv1a64(new TextEncoder().encode(groupKey(group.map(([, v]) => v))))}:${instance.firedAt}`;
  }

  #notification(
    rule: LiveRule,
    group: [string, string][],
    status: 'firing' | 'resolved',
    instance: Pick<AlertInstance, 'value' | 'firedAt' | 'resolvedAt'>,
    dedupKey: string,
  ): AlertNotification {
    const definition = rule.definition;
    const condition = definition.condition;
    const threshold =
      condition.kind === 'threshold'
        ? condition.value
        : condition.kind === 'ratio'
          ? condition.value
          : condition.kind === 'absence'
            ? condition.below
            : undefined;
    const link = this.#explorerUrl(definition.query, rule, group);
    const groupText = group.map(([k, v]) => `${k}=${v}`).join(', ');
    const values = new Map<string, string>([
      ['rule', definition.name],
      ['value', String(Number.isInteger(instance.value) ? instance.value : Number(instance.value.toPrecision(6)))],
      ['threshold', threshold === undefined ? '' : String(threshold)],
      ['condition', describeCondition(condition)],
      ['group', groupText],
      ['window', condition.kind === 'anomaly' ? '' : condition.window],
      ['link', link],
    ]);
    return {
      tenantId: this.#tenantId!,
      ruleId: rule.id,
      ruleName: definition.name,
      severity: definition.severity,
      status,
      group: Object.fromEntries(group),
      labels: { ...definition.labels },
      value: instance.value,
      threshold,
      message: renderMessage(definition.message, values),
      startsAt: new Date(instance.firedAt ?? Date.now()).toISOString(),
      endsAt: status === 'resolved' && instance.resolvedAt !== null ? new Date(instance.resolvedAt).toISOString() : undefined,
      explorerUrl: link,
      dedupKey,
    };
  }

  /** The explorer search behind an alert: the rule's query narrowed to the group, over its window. */
  #explorerUrl(query: string, rule: LiveRule, group: [string, string][]): string {
    const origin = this.#meta('origin') ?? '';
    // An anomaly's alert links to the anomalies of its service.
    if (rule.measured === null) {
      const service = group.find(([field]) => field === 'service')?.[1];
      return `${origin}/anomalies${service ? `?${new URLSearchParams({ service })}` : ''}`;
    }
    const terms = group.map(([field, value]) => `${field}:"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
    const q = [query.trim() === '' ? null : `(${query})`, ...terms].filter((t) => t !== null).join(' ');
    const window = rule.measured ? rule.measured.windowSeconds : 3600;
    const params = new URLSearchParams({ q, from: `now-${Math.max(window, 900)}s` });
    return `${origin}/?${params}`;
  }

  #measured(measuredRule: LiveRule, at: number, warning: string | null): void {
    // The live object: a resync during the query may have rebuilt it (same definition, new object).
    const rule = this.#rules.get(measuredRule.id) ?? measuredRule;
    const sql = this.ctx.storage.sql;
    if (rule.error !== null) this.#history(at, rule, [], 'recovered', null, null);
    rule.consecutiveErrors = 0;
    rule.error = null;
    rule.nextEvalAt = nextEvaluationAt({ intervalMs: rule.intervalMs, offsetMs: tenantOffsetMs(this.#tenantId!, rule.intervalMs), consecutiveErrors: 0 }, at);
    sql.exec(
      'UPDATE rules SET last_eval_at = ?, next_eval_at = ?, consecutive_errors = 0, error = NULL, error_since = NULL WHERE id = ?',
      at,
      rule.nextEvalAt,
      rule.id,
    );
    if (warning) logEvent('warn', 'alerts.groups_truncated', { tenant: this.#tenantId, rule: rule.id });
  }

  #failed(failedRule: LiveRule, at: number, reason: string): void {
    const rule = this.#rules.get(failedRule.id) ?? failedRule;
    const firstOrNew = rule.error !== reason;
    rule.consecutiveErrors += 1;
    rule.error = reason;
    rule.nextEvalAt = nextEvaluationAt(
      { intervalMs: rule.intervalMs, offsetMs: tenantOffsetMs(this.#tenantId!, rule.intervalMs), consecutiveErrors: rule.consecutiveErrors },
      at,
    );
    this.ctx.storage.sql.exec(
      'UPDATE rules SET next_eval_at = ?, consecutive_errors = ?, error = ?, error_since = coalesce(error_since, ?) WHERE id = ?',
      rule.nextEvalAt,
      rule.consecutiveErrors,
      reason,
      at,
      rule.id,
    );
    if (firstOrNew) {
      this.#history(at, rule, [], 'error', null, reason);
      logEvent('warn', 'alerts.rule_failed', { tenant: this.#tenantId, rule: rule.id, error: reason });
    }
  }

  // ── Fast path feed ───────────────────────────────────────────────────────

  /** Keeps every shard of the tenant's actors feeding this object while a rule can use it. */
  async #renewFeed(now: number): Promise<void> {
    const hasFast = [...this.#rules.values()].some((r) => r.fast !== null);
    // The last fast-path rule is gone: the actors stop publishing now rather than when the lease runs out.
    const revoke = !hasFast && this.#leaseRenewedAt > 0;
    if (!revoke && (!hasFast || now - this.#leaseRenewedAt < FEED_LEASE_MS / 2)) return;
    const tenantId = this.#tenantId!;
    const shards = Number(this.#meta('shards') ?? 1);
    const until = revoke ? 0 : now + FEED_LEASE_MS;
    const results = await Promise.allSettled(
      Array.from({ length: shards }, (_, shard) =>
        this.env.TENANT_ACTOR.get(this.env.TENANT_ACTOR.idFromName(shardName(tenantId, shard))).alertFeedUntil(tenantId, until),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === 0) this.#leaseRenewedAt = revoke ? 0 : now;
    else logEvent('warn', 'alerts.feed_lease_failed', { tenant: tenantId, failed: failed.length, error: String((failed[0] as PromiseRejectedResult).reason) });
  }

  // ── Delivery ─────────────────────────────────────────────────────────────

  /**
   * Alertmanager forgets a firing alert that is not posted again within its resolve_timeout (5 min
   * by default), so every NEURALLOG_ALERTMANAGER_REPOST_S the alerts still firing are posted again to the
   * Alertmanager targets their firing went to — as Prometheus does. Idempotent (same labels, same
   * alert) and best effort: a failed re-post is tried again a minute later, and logged, not queued.
   */
  async #repostToAlertmanager(now: number): Promise<void> {
    if (this.#repostedAt !== null && now - this.#repostedAt < this.#repostMs) return;
    const reposts: { notification: AlertNotification; targetId: string }[] = [];
    for (const rule of this.#rules.values()) {
      if (rule.definition.targets.length === 0 || (rule.mutedUntil !== null && rule.mutedUntil > now)) continue;
      for (const inst of this.#instances(rule.id)) {
        // The firing itself was posted a moment ago: re-post from a minute on.
        if (inst.instance.state !== 'firing' || now - (inst.instance.firedAt ?? now) < this.#repostMs) continue;
        const dedupKey = this.#dedupKey(rule, inst.group, inst.instance);
        for (const targetId of rule.definition.targets) {
          if (this.#outbox.firingWasNotified(dedupKey, targetId))
            reposts.push({ notification: this.#notification(rule, inst.group, 'firing', inst.instance, dedupKey), targetId });
        }
      }
    }
    if (reposts.length === 0) {
      // Nothing old enough yet: look again in a minute while anything fires.
      const firing = this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM instances WHERE json_extract(instance, '$.state') = 'firing'`).one().n;
      this.#repostedAt = firing > 0 ? now : null;
      return;
    }
    this.#repostedAt = now;
    const targets = await this.#targets([...new Set(reposts.map((r) => r.targetId))]);
    const byTarget = new Map<string, AlertNotification[]>();
    for (const { notification, targetId } of reposts) byTarget.set(targetId, [...(byTarget.get(targetId) ?? []), notification]);
    await Promise.all(
      [...byTarget].map(async ([targetId, notifications]) => {
        const target = targets.get(targetId);
        if (target?.config.kind !== 'alertmanager') return;
        const sent = await sendNotifications(target.config, notifications, this.#sendOptions(Date.now()));
        if (sent.outcome.kind !== 'delivered')
          logEvent('warn', 'alerts.repost_failed', { tenant: this.#tenantId, target: targetId, alerts: notifications.length, detail: sent.detail });
      }),
    );
  }

  async #deliverDue(now: number): Promise<void> {
    const rows = this.#outbox.due(now, DELIVERIES_PER_RUN).filter((r) => !this.#sending.has(r.id));
    if (rows.length === 0) return;
    for (const row of rows) this.#sending.add(row.id);
    try {
      const targets = await this.#targets([...new Set(rows.map((r) => r.targetId))]);
      // Rows for a target that takes several alerts at once (Alertmanager) go in one request; others one each.
      const batches = new Map<string, OutboxRow[]>();
      for (const row of rows) {
        const target = targets.get(row.targetId);
        const key = target && batchesAlerts(target.config) ? row.targetId : `row:${row.id}`;
        batches.set(key, [...(batches.get(key) ?? []), row]);
      }
      await Promise.all([...batches.values()].map((batch) => this.#deliver(batch, targets)));
    } finally {
      for (const row of rows) this.#sending.delete(row.id);
      await this.#scheduleAlarm(Date.now());
    }
  }

  /** One attempt for rows to one target (several only for a target that batches), each row's outcome recorded. */
  async #deliver(rows: OutboxRow[], targets: TargetMap): Promise<void> {
    const now = Date.now();
    const target = targets.get(rows[0]!.targetId);
    const context = (row: OutboxRow) => ({
      rule: this.#rules.get(row.ruleId) ?? { id: row.ruleId, name: row.notification.ruleName },
      group: Object.entries(row.notification.group),
    });
    if (!target) {
      for (const row of rows) {
        const { rule, group } = context(row);
        this.#outbox.finish(row.id, 'failed', now, 'the target no longer exists');
        this.#history(now, rule, group, 'notification_failed', null, `${row.targetId}: the target no longer exists`);
      }
      return;
    }
    const states = rows.map((row) => this.#outbox.startAttempt(row, now));
    const sent = await sendNotifications(
      target.config,
      rows.map((r) => r.notification),
      this.#sendOptions(now),
    );
    const after = Date.now();
    const together = rows.length > 1 ? ` (one request for ${rows.length} alerts)` : '';
    rows.forEach((row, i) => {
      const { rule, group } = context(row);
      const decision = afterAttempt(states[i]!, sent, after);
      const what = `${target.name} (${target.config.kind}), ${row.status}: ${sent.detail}${together}`;
      if (decision.kind === 'done') {
        this.#outbox.finish(row.id, 'sent', after, sent.detail);
        this.#history(after, rule, group, 'notification_sent', row.notification.value, what);
      } else if (decision.kind === 'failed') {
        this.#outbox.finish(row.id, 'failed', after, `${sent.detail}; ${decision.reason}`);
        this.#history(after, rule, group, 'notification_failed', row.notification.value, `${what}; ${decision.reason}`);
      } else {
        this.#outbox.retryAt(row.id, decision.at, sent.detail);
        if (states[i]!.attempts === 1) this.#history(after, rule, group, 'notification_retrying', row.notification.value, what);
      }
    });
  }

  async #targets(ids: readonly string[]) {
    const config = loadConfig(this.env);
    return loadTargets(this.env.CONTROL_DB, secretsKey(config), this.#tenantId!, ids);
  }

  #sendOptions(now: number) {
    const config = loadConfig(this.env);
    const deployment: TargetDeployment = config.alerts.mail ? { mail: config.alerts.mail } : {};
    return { production: !config.alerts.allowLoopback, deployment, now };
  }

  // ── Storage helpers ──────────────────────────────────────────────────────

  #instances(ruleId: string): { key: string; group: [string, string][]; instance: AlertInstance }[] {
    return this.ctx.storage.sql
      .exec<{ group_key: string; group_json: string; instance: string }>('SELECT group_key, group_json, instance FROM instances WHERE rule_id = ?', ruleId)
      .toArray()
      .map((r) => ({ key: r.group_key, group: JSON.parse(r.group_json) as [string, string][], instance: JSON.parse(r.instance) as AlertInstance }));
  }

  #history(at: number, rule: { id: string; name: string }, group: [string, string][], event: string, value: number | null, detail: string | null): void {
    this.ctx.storage.sql.exec(
      'INSERT INTO history (at, rule_id, rule_name, group_json, event, value, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
      at,
      rule.id,
      rule.name,
      JSON.stringify(group),
      event,
      value !== null && Number.isFinite(value) ? value : null,
      detail?.slice(0, 1_000) ?? null,
    );
  }

  /** Bounds the history and the finished outbox rows; forgets quiet instances of a day ago (dedup keys carry the firing time, so none is reused). */
  #prune(now: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec('DELETE FROM history WHERE seq <= (SELECT max(seq) FROM history) - ?', HISTORY_MAX_ROWS);
    this.#outbox.prune(now - RETAIN_MS);
    for (const row of sql.exec<{ rule_id: string; group_key: string; instance: string }>('SELECT rule_id, group_key, instance FROM instances').toArray()) {
      const instance = JSON.parse(row.instance) as AlertInstance;
      if ((instance.state === 'inactive' || instance.state === 'resolved') && now - instance.lastEvaluatedAt > RETAIN_MS) {
        sql.exec('DELETE FROM instances WHERE rule_id = ? AND group_key = ?', row.rule_id, row.group_key);
      }
    }
  }

  #bindTenant(tenantId: string): void {
    if (this.#tenantId === tenantId) return;
    if (this.#tenantId !== null) throw new Error(`this alert evaluator belongs to another tenant (${this.#tenantId})`);
    this.#tenantId = tenantId;
    this.#setMeta('tenant_id', tenantId);
  }

  /** Evaluation cost, cumulative since the object's first evaluation: shown in GET /v1/alerts. */
  #count(queries: number, ruleEvaluations: number, queryMs: number): void {
    const stats = this.#stats();
    this.#setMeta(
      'stats',
      JSON.stringify({
        since: stats.since ?? new Date().toISOString(),
        queries: stats.queries + queries,
        ruleEvaluations: stats.ruleEvaluations + ruleEvaluations,
        queryMs: stats.queryMs + queryMs,
      }),
    );
  }

  #stats(): EvaluationStats {
    const stored = this.#meta('stats');
    return stored ? (JSON.parse(stored) as EvaluationStats) : { since: null, queries: 0, ruleEvaluations: 0, queryMs: 0 };
  }

  #meta(key: string): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value ?? null;
  }

  #setMeta(key: string, value: string): void {
    this.ctx.storage.sql.exec('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
  }
}

type HistoryRow = {
  seq: number;
  at: number;
  rule_id: string;
  rule_name: string;
  group_json: string;
  event: string;
  value: number | null;
  detail: string | null;
};

type TargetMap = Awaited<ReturnType<typeof loadTargets>>;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A failed evaluation in words for the tenant: ClickHouse's message without the SQL it may quote. */
function evaluationError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message
    .split('\n')[0]!
    .replace(/\(version [^)]*\)/, '')
    .trim();
  return `the evaluation query failed: ${firstLine.slice(0, 300)}`;
}
