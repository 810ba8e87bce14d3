/**
 * An alert rule as a tenant writes it (`/v1/alerts/rules`, docs/alerts.md):
 * a query in the query language, an optional group-by, one condition, how
 * often it is evaluated and how long it must hold, a severity, labels, a
 * message template and the targets to notify.
 *
 * Everything here is checked before a rule is stored, with the rules the
 * search applies (a query that would not run is refused with its position), so
 * the evaluator never meets a rule it cannot evaluate for a reason the tenant
 * could have been told at once. The plan bounds the rule count and the
 * shortest interval (shared/plans.ts): evaluation cost is per rule and interval.
 */
import { z } from '@hono/zod-openapi';
import { ANOMALY_KINDS, type AlertCondition as AlertConditionShape, COMPARISONS } from './condition.ts';
import { ApiError } from '../api-error.ts';
import type { Plan } from '../plans.ts';
import { resolveField } from '../query-language/fields.ts';
import type { QueryNode } from '../query-language/ast.ts';
import { parseQuery } from '../query-language/parse.ts';
import { parseQueryParameter } from '../search-scope.ts';

/** Durations as the query language's relative times write them: `30s`, `5m`, `1h`, `1d`. */
const DURATION = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_SECONDS = new Map([
  ['s', 1],
  ['m', 60],
  ['h', 3600],
  ['d', 86400],
]);

/** Seconds of a duration text, or null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNIT_SECONDS.get(m[2]!)!;
}

/** The shortest interval any plan may use: below it a rule costs more than it tells. */
export const MIN_INTERVAL_SECONDS = 10;
export const DEFAULT_INTERVAL = '1m';
/** The longest window, interval and `for`: a day (longer questions are reports, not alerts). */
export const MAX_WINDOW_SECONDS = 86_400;
export const MAX_GROUP_BY = 3;
const GROUPABLE = new Set(['service', 'severity', 'patternId', 'map']);
export const MAX_LABELS = 20;
export const MAX_TARGETS = 10;
export const MAX_MESSAGE_CHARS = 2_000;
/**
 * Label names as Prometheus and Alertmanager accept them, so labels pass through to them unchanged;
 * a leading `__` is theirs (reserved for internal use) — and it also keeps `__proto__` out, which a
 * record parser would drop silently rather than keep.
 */
export const LABEL_NAME = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

const Duration = z.string().max(16).openapi({ description: 'A duration: `30s`, `5m`, `1h`, `1d`', example: '5m' });
const Comparison = z.enum(COMPARISONS);

export const AlertCondition = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('threshold'),
        op: Comparison,
        value: z.number().finite().min(0),
        window: Duration,
      })
      .strict()
      .openapi({ description: 'Matching records in the window compared with `value` (`> 100 in 5m`)' }),
    z
      .object({
        kind: z.literal('ratio'),
        denominator: z.string().max(4096).openapi({ description: 'The query of the records the ratio is of (`` = all records)' }),
        op: Comparison,
        value: z.number().finite().min(0).max(1).openapi({ description: 'A fraction: 0.05 is 5 %' }),
        window: Duration,
      })
      .strict()
      .openapi({ description: "Matching records / the denominator query's records in the window, compared with `value` (`error / all > 5 % in 10m`)" }),
    z
      .object({
        kind: z.literal('absence'),
        below: z.number().int().min(1).max(1_000_000_000),
        window: Duration,
      })
      .strict()
      .openapi({ description: 'Fewer than `below` matching records in the window (a job that stopped logging)' }),
    z
      .object({
        kind: z.literal('anomaly'),
        kinds: z.array(z.enum(ANOMALY_KINDS)).min(1).max(4).optional().openapi({ description: 'Which findings of /v1/anomalies fire it (default: all)' }),
      })
      .strict()
      .openapi({ description: "The anomaly detector's findings for the rule's scope (docs/analytics.md)" }),
  ])
  .openapi('AlertCondition');

export const AlertRuleDefinition = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: '1–200 characters, unique within the tenant' }),
    query: z.string().max(4096).default('').openapi({ description: 'The records the rule counts, in the query language (`` = all)' }),
    groupBy: z
      .array(z.string().min(1).max(256))
      .max(MAX_GROUP_BY)
      .default([])
      .openapi({ description: 'One alert per value of these fields: `service`, `level`, or any field the query language names' }),
    condition: AlertCondition,
    interval: Duration.default(DEFAULT_INTERVAL).openapi({
      description: `How often it is evaluated: ${MIN_INTERVAL_SECONDS}s at least (the plan may ask more), default ${DEFAULT_INTERVAL}`,
    }),
    for: Duration.default('0s').openapi({ description: 'How long the condition must hold before the alert fires (pending until then)' }),
    severity: z.enum(['critical', 'warning', 'info']).default('warning'),
    labels: z
      .record(z.string().regex(LABEL_NAME, `label names must match ${LABEL_NAME.source}`), z.string().max(1024))
      .default({})
      .openapi({ description: `Up to ${MAX_LABELS}, names as Alertmanager accepts them (${LABEL_NAME.source})` }),
    message: z
      .string()
      .max(MAX_MESSAGE_CHARS)
      .default('{{rule}}: {{value}} matching records ({{condition}}) {{group}}')
      .openapi({ description: 'Placeholders: {{rule}} {{value}} {{threshold}} {{condition}} {{group}} {{window}} {{link}}' }),
    targets: z.array(z.string().min(1).max(100)).max(MAX_TARGETS).default([]).openapi({ description: "Ids of the tenant's notification targets" }),
  })
  .strict()
  .openapi('AlertRuleDefinition');

export type AlertRuleDefinition = z.infer<typeof AlertRuleDefinition>;
export type AlertConditionValue = z.infer<typeof AlertCondition>;
// The schema and shared/alerts/condition.ts's types (which the explorer uses) describe the same values.
const _sameShape: (value: AlertConditionValue) => AlertConditionShape = (value) => value;
void _sameShape;

/** The durations of a rule, checked, in seconds. */
export interface RuleTiming {
  intervalSeconds: number;
  forSeconds: number;
  windowSeconds: number | null;
}

/**
 * Checks what the schema cannot: queries parse (400 `query_syntax` naming the
 * field and position), group-by fields exist, durations read and sit within
 * bounds, the plan's minimum interval, the label count (their names are the
 * schema's). Returns the timing.
 */
export function checkRule(rule: AlertRuleDefinition, plan: Plan): RuleTiming {
  parseRuleQuery('query', rule.query);
  if (rule.condition.kind === 'ratio') parseRuleQuery('condition.denominator', rule.condition.denominator);
  for (const [i, field] of rule.groupBy.entries()) {
    // Fields with few values: one alert per message, time or record id would be a flood, not a group.
    if (!GROUPABLE.has(resolveField(field).kind))
      invalid(`groupBy.${i}`, `"${field.slice(0, 64)}" is not a field to group by: use service, level, pattern or an attribute`);
  }
  const intervalSeconds = duration('interval', rule.interval);
  const minimum = Math.max(MIN_INTERVAL_SECONDS, plan.alertMinIntervalSeconds);
  if (intervalSeconds < minimum) invalid('interval', `must be at least ${minimum}s on the ${plan.name} plan`);
  if (intervalSeconds > MAX_WINDOW_SECONDS) invalid('interval', 'must be at most 1d');
  const forSeconds = duration('for', rule.for, true);
  if (forSeconds > MAX_WINDOW_SECONDS) invalid('for', 'must be at most 1d');
  let windowSeconds: number | null = null;
  if (rule.condition.kind !== 'anomaly') {
    windowSeconds = duration('condition.window', rule.condition.window);
    if (windowSeconds < MIN_INTERVAL_SECONDS || windowSeconds > MAX_WINDOW_SECONDS) invalid('condition.window', `must be from ${MIN_INTERVAL_SECONDS}s to 1d`);
  }
  if (rule.condition.kind === 'anomaly') {
    if (anomalyServices(parseQuery(rule.query)) === null)
      invalid('query', 'an anomaly rule is scoped by service only: leave it empty or use service:<name> (or several joined with OR)');
    if (rule.groupBy.length > 0) invalid('groupBy', 'an anomaly rule has one alert per finding (kind, service, pattern): it takes no groupBy');
  }
  const labels = Object.keys(rule.labels);
  if (labels.length > MAX_LABELS) invalid('labels', `at most ${MAX_LABELS}`);
  if (new Set(rule.targets).size !== rule.targets.length) invalid('targets', 'lists a target twice');
  return { intervalSeconds, forSeconds, windowSeconds };
}

/**
 * The services an anomaly rule watches: [] for all of them (an empty query), the names of a query
 * made only of `service:<name>` terms joined with OR; null for any other query (the detector judges
 * whole services and patterns, not arbitrary records).
 */
export function anomalyServices(query: QueryNode): string[] | null {
  if (query.type === 'all') return [];
  const names: string[] = [];
  const collect = (node: QueryNode): boolean => {
    if (node.type === 'or') return node.children.every(collect);
    if (node.type !== 'field' || resolveField(node.field).kind !== 'service' || node.prefix || node.value === '*') return false;
    if (node.op !== ':' && node.op !== '=') return false;
    names.push(node.value);
    return true;
  };
  return collect(query) ? names : null;
}

function parseRuleQuery(field: string, text: string): void {
  try {
    parseQueryParameter(text);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'query_syntax') throw new ApiError(400, 'query_syntax', `${field}: ${err.message}`, { ...err.details, field });
    throw err;
  }
}

function duration(field: string, text: string, zeroAllowed = false): number {
  const seconds = parseDuration(text);
  if (seconds === null) invalid(field, 'must be a duration like 30s, 5m, 1h or 1d');
  if (seconds === 0 && !zeroAllowed) invalid(field, 'must be longer than 0s');
  return seconds;
}

function invalid(field: string, reason: string): never {
  throw new ApiError(400, 'invalid_request', `${field}: ${reason}`, { field });
}

/**
 * The message with its placeholders filled. Values come from a Map (never a
 * lookup of template text in a plain object); an unknown placeholder stays as
 * written, so a typo shows in the notification instead of vanishing.
 */
export function renderMessage(template: string, values: ReadonlyMap<string, string>): string {
  return template.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (whole, name: string) => values.get(name) ?? whole).slice(0, MAX_MESSAGE_CHARS);
}
