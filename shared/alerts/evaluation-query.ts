/**
 * How the alert evaluator measures rules against ClickHouse (issue 16,
 * docs/alerts.md): the rules of a tenant that are due together and share a
 * window and a group-by become ONE query — one scan of the tenant's rows in
 * the window, one `countIf` per rule (two for a ratio) — so a tenant with
 * fifty 5-minute rules costs one query a minute, not fifty.
 *
 * Pure: SQL text and parameters out, rows in, verdicts out. Nothing from a
 * rule is ever SQL text: queries compile through the query language's
 * compiler (every value a `{qN:Type}` parameter), group-by attribute keys are
 * parameters too, and the tenant predicate comes first from the caller's
 * verified tenant.
 *
 * Windows are whole seconds on the sort-key column `TimestampTime`: a rule's
 * window is `[end − window, end)` where `end` is a whole second the evaluator
 * picks (now minus the evaluation delay, which lets late records arrive).
 */
import type { QueryNode } from '../query-language/ast.ts';
import { compileQuery, SqlParams } from '../query-language/compile-sql.ts';
import type { MatchableRecord } from '../query-language/evaluate.ts';
import { resolveField } from '../query-language/fields.ts';
import { LEVEL_NAMES } from '../severity.ts';
import type { AlertConditionValue } from './rule.ts';

/** A rule ready to measure: its queries parsed (and pattern terms expanded by the caller). */
export interface MeasuredRule {
  id: string;
  query: QueryNode;
  /** The ratio's denominator; null for other conditions. */
  denominator: QueryNode | null;
  groupBy: readonly string[];
  condition: Exclude<AlertConditionValue, { kind: 'anomaly' }>;
  windowSeconds: number;
}

/** Rules measured by one query. */
export interface EvaluationBatch {
  windowSeconds: number;
  /**
   * Seconds scanned before the window: an absence rule with a group-by must know which groups
   * exist to say one went quiet, so it looks at the window before its own (a group that logged
   * then and not now counts 0). 0 for every other rule.
   */
  lookbackSeconds: number;
  groupBy: readonly string[];
  rules: MeasuredRule[];
}

/** Most groups one query returns; more are left out (and said so) rather than flood a receiver. */
export const MAX_GROUPS_PER_QUERY = 1_000;

export function lookbackOf(rule: Pick<MeasuredRule, 'condition' | 'groupBy' | 'windowSeconds'>): number {
  return rule.condition.kind === 'absence' && rule.groupBy.length > 0 ? rule.windowSeconds : 0;
}

/** Rules grouped into batches that can share one scan: same window, lookback and group-by. */
export function batchRules(rules: readonly MeasuredRule[]): EvaluationBatch[] {
  const batches = new Map<string, EvaluationBatch>();
  for (const rule of rules) {
    const lookbackSeconds = lookbackOf(rule);
    const key = JSON.stringify([rule.windowSeconds, lookbackSeconds, rule.groupBy]);
    let batch = batches.get(key);
    if (!batch) {
      batch = { windowSeconds: rule.windowSeconds, lookbackSeconds, groupBy: rule.groupBy, rules: [] };
      batches.set(key, batch);
    }
    batch.rules.push(rule);
  }
  return [...batches.values()];
}

export interface BatchQuery {
  sql: string;
  params: Record<string, string | number>;
}

/** One query for a batch, its window ending at `endSeconds` (exclusive, Unix seconds). */
export function batchSql(tenantId: string, batch: EvaluationBatch, endSeconds: number, now = Date.now()): BatchQuery {
  const params = new SqlParams();
  const values: Record<string, string | number> = {
    tenant: tenantId,
    scanStart: endSeconds - batch.windowSeconds - batch.lookbackSeconds,
    windowStart: endSeconds - batch.windowSeconds,
    end: endSeconds,
  };
  const inWindow = batch.lookbackSeconds > 0 ? 'TimestampTime >= toDateTime({windowStart:UInt32}) AND ' : '';
  const groups = batch.groupBy.map((field, i) => `${groupExpression(field, params)} AS g${i}`);
  const counts: string[] = [];
  const filters: string[] = [];
  batch.rules.forEach((rule, i) => {
    const filter = compileQuery(rule.query, params, now);
    filters.push(filter);
    counts.push(`countIf(${inWindow}${filter}) AS n${i}`);
    if (rule.denominator) {
      const denominator = compileQuery(rule.denominator, params, now);
      filters.push(denominator);
      counts.push(`countIf(${inWindow}${denominator}) AS d${i}`);
    }
  });
  const where = [
    'TenantId = {tenant:String}',
    'TimestampTime >= toDateTime({scanStart:UInt32})',
    'TimestampTime < toDateTime({end:UInt32})',
    // Only rows some rule counts: the index answers a selective query, and a catch-all skips the OR.
    ...(filters.includes('1') ? [] : [`(${filters.join(' OR ')})`]),
  ];
  const groupBy = batch.groupBy.length > 0 ? ` GROUP BY ${batch.groupBy.map((_, i) => `g${i}`).join(', ')} LIMIT ${MAX_GROUPS_PER_QUERY + 1}` : '';
  return {
    sql: `SELECT ${[...groups, ...counts].join(', ')} FROM logs WHERE ${where.join(' AND ')}${groupBy}`,
    params: { ...values, ...params.values },
  };
}

/**
 * The SQL of a group-by field. Level is grouped by its range index (0 unknown, 1 trace … 6 fatal)
 * and named in groupValue; attribute keys are parameters, read as the query language reads them.
 */
function groupExpression(field: string, params: SqlParams): string {
  const target = resolveField(field);
  switch (target.kind) {
    case 'service':
      return 'ServiceName';
    case 'severity':
      return 'least(intDiv(SeverityNumber + 3, 4), 6)';
    case 'patternId':
      return 'PatternId';
    case 'map': {
      const key = params.add(target.key, 'String');
      return target.maps.length === 1
        ? `${target.maps[0]}[${key}]`
        : `if(mapContains(LogAttributes, ${key}), LogAttributes[${key}], ResourceAttributes[${key}])`;
    }
    default:
      throw new TypeError(`not a field to group by: ${field}`);
  }
}

/** One group's counts for one rule. */
export interface GroupCounts {
  /** The group as [field, value] pairs in group-by order (empty without a group-by). */
  group: Array<[string, string]>;
  numerator: number;
  /** The ratio's denominator count; 0 for other conditions. */
  denominator: number;
}

export interface BatchResult {
  /** Per rule id, per group key (groupKey of the values), the counts. */
  counts: Map<string, Map<string, GroupCounts>>;
  /** More groups than MAX_GROUPS_PER_QUERY: some were left out. */
  truncated: boolean;
}

/** The group's identity: its values in group-by order, as JSON (any text is a safe Map key). */
export function groupKey(values: readonly string[]): string {
  return JSON.stringify(values);
}

/**
 * The rows of batchSql, per rule and group. Rows are ClickHouse JSONEachRow objects (counts may
 * be strings: UInt64). `canonicalPattern` maps a pattern id to the one its aliases count it under.
 */
export function readBatch(
  batch: EvaluationBatch,
  rows: readonly Record<string, unknown>[],
  canonicalPattern: (id: string) => string = (id) => id,
): BatchResult {
  const counts = new Map<string, Map<string, GroupCounts>>(batch.rules.map((rule) => [rule.id, new Map()]));
  const truncated = rows.length > MAX_GROUPS_PER_QUERY;
  for (const row of rows.slice(0, MAX_GROUPS_PER_QUERY)) {
    const values = batch.groupBy.map((field, i) => groupValue(field, row[`g${i}`], canonicalPattern));
    const key = groupKey(values);
    batch.rules.forEach((rule, i) => {
      const perGroup = counts.get(rule.id)!;
      const existing = perGroup.get(key);
      const numerator = Number(row[`n${i}`] ?? 0);
      const denominator = Number(row[`d${i}`] ?? 0);
      // Two aliased pattern ids fold into one group: their counts add.
      if (existing) {
        existing.numerator += numerator;
        existing.denominator += denominator;
      } else {
        perGroup.set(key, { group: batch.groupBy.map((field, j) => [field, values[j]!]), numerator, denominator });
      }
    });
  }
  return { counts, truncated };
}

function groupValue(field: string, raw: unknown, canonicalPattern: (id: string) => string): string {
  const kind = resolveField(field).kind;
  if (kind === 'severity') return LEVEL_NAMES[Number(raw)] ?? 'unknown';
  if (kind === 'patternId') return canonicalPattern(String(raw ?? ''));
  return String(raw ?? '');
}

/** A record's group values, as the SQL above computes them (the fast path groups accepted records). */
export function groupValuesOf(record: MatchableRecord, groupBy: readonly string[]): string[] {
  return groupBy.map((field) => {
    const target = resolveField(field);
    switch (target.kind) {
      case 'service':
        return record.ServiceName;
      case 'severity':
        return LEVEL_NAMES[Math.min(Math.floor((record.SeverityNumber + 3) / 4), 6)] ?? 'unknown';
      case 'patternId':
        return record.PatternId;
      case 'map':
        for (const map of target.maps) {
          const attributes = record[map];
          // Own keys only: an attribute named `__proto__` or `constructor` is data, never Object.prototype's.
          if (attributes && Object.hasOwn(attributes, target.key)) return String(attributes[target.key]);
        }
        return '';
      default:
        return '';
    }
  });
}

export interface Verdict {
  breaching: boolean;
  /** The value compared: a count, or a ratio (NaN for 0/0, which never breaches). */
  value: number;
}

/** The condition applied to a group's counts. */
export function verdictOf(condition: MeasuredRule['condition'], counts: Pick<GroupCounts, 'numerator' | 'denominator'>): Verdict {
  switch (condition.kind) {
    case 'threshold':
      return { breaching: compare(counts.numerator, condition.op, condition.value), value: counts.numerator };
    case 'ratio': {
      const value = counts.denominator === 0 ? Number.NaN : counts.numerator / counts.denominator;
      return { breaching: Number.isFinite(value) && compare(value, condition.op, condition.value), value };
    }
    case 'absence':
      return { breaching: counts.numerator < condition.below, value: counts.numerator };
  }
}

function compare(value: number, op: '>' | '>=' | '<' | '<=', bound: number): boolean {
  switch (op) {
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
  }
}

/**
 * Whether the fast path (records as the actors accept them) can decide a breach of this rule: a
 * count over accepted records is a lower bound of the stored count, so it proves "more than", never
 * "fewer than". Threshold rules with > or >= over a window of at most FAST_PATH_MAX_WINDOW_SECONDS.
 */
export function fastPathEligible(rule: Pick<MeasuredRule, 'condition' | 'windowSeconds'>): boolean {
  return rule.condition.kind === 'threshold' && (rule.condition.op === '>' || rule.condition.op === '>=') && rule.windowSeconds <= FAST_PATH_MAX_WINDOW_SECONDS;
}

/** The longest window the fast path counts in memory (per-second buckets per group). */
export const FAST_PATH_MAX_WINDOW_SECONDS = 900;
