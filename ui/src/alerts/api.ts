/**
 * The alerting API as the Alerts page uses it (/v1/alerts, /v1/alerts/history,
 * /v1/alerts/rules, /v1/alerts/targets — workers/ingest/routes/alert*.ts):
 * the shapes it answers with, the calls, and the rule definition the form
 * sends (shared/alerts/rule.ts, AlertRuleDefinition). Reading needs
 * `alerts:read`; changing needs `alerts:write` or `admin`.
 */
import type { AlertCondition } from '../../../shared/alerts/condition.ts';
import { json, query, request } from '../api.ts';

// The condition's shapes and words are the API's own (dependency-free, so the bundle takes only them).
export { ANOMALY_KINDS, type AlertCondition, type AnomalyKind, type Comparison, describeCondition } from '../../../shared/alerts/condition.ts';

export type AlertState = 'pending' | 'firing' | 'resolved' | 'inactive';
export type Severity = 'critical' | 'warning' | 'info';

export interface CurrentAlert {
  ruleId: string;
  ruleName: string;
  severity: string;
  state: AlertState;
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

export interface CurrentAlerts {
  alerts: CurrentAlert[];
  rules: RuleStatus[];
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

export interface HistoryPage {
  events: HistoryEvent[];
  next: number | null;
}

export interface AlertRuleDefinition {
  name: string;
  query: string;
  groupBy: string[];
  condition: AlertCondition;
  interval: string;
  for: string;
  severity: Severity;
  labels: Record<string, string>;
  message?: string;
  targets: string[];
}

export interface AlertRule {
  id: string;
  version: number;
  mutedUntil: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  rule: AlertRuleDefinition;
}

export interface AlertTarget {
  id: string;
  name: string;
  kind: 'webhook' | 'slack' | 'pagerduty' | 'alertmanager' | 'email';
  config: Record<string, unknown>;
}

export interface TestDelivery {
  targetId: string;
  delivered: boolean;
  detail: string;
}

const RULES = '/v1/alerts/rules';
const rulePath = (id: string) => `${RULES}/${encodeURIComponent(id)}`;

export const loadCurrent = () => json<CurrentAlerts>('/v1/alerts');
export const loadHistory = (options: { rule?: string; before?: number | null; limit?: number }) =>
  json<HistoryPage>(`/v1/alerts/history${query({ rule: options.rule, before: options.before, limit: options.limit })}`);
export const loadRules = () => json<{ rules: AlertRule[] }>(RULES).then((a) => a.rules);
export const loadTargets = () => json<{ targets: AlertTarget[] }>('/v1/alerts/targets').then((a) => a.targets);
export const createRule = (rule: AlertRuleDefinition) => json<AlertRule>(RULES, { method: 'POST', body: JSON.stringify(rule) });
export const replaceRule = (id: string, rule: AlertRuleDefinition) => json<AlertRule>(rulePath(id), { method: 'PUT', body: JSON.stringify(rule) });
export const deleteRule = async (id: string): Promise<void> => {
  await request(rulePath(id), { method: 'DELETE' });
};
/** `until` null unmutes. */
export const muteRule = (id: string, until: string | null) => json<AlertRule>(`${rulePath(id)}/mute`, { method: 'POST', body: JSON.stringify({ until }) });
export const testRule = (id: string) => json<{ deliveries: TestDelivery[] }>(`${rulePath(id)}/test`, { method: 'POST' }).then((a) => a.deliveries);

/** `YYYY-MM-DD HH:MM:SS` (UTC, as the other pages show times). */
export function utc(iso: string | null): string {
  return iso ? iso.slice(0, 19).replace('T', ' ') : '';
}

/** How long ago, roughly: `40 s`, `12 min`, `3 h`, `2 d`. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** `service=checkout, level=error`, or `—` without group-by. */
export function groupText(group: Record<string, string>): string {
  const entries = Object.entries(group);
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}
