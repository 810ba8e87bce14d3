/**
 * The Alertmanager target: the alert posted to Alertmanager's API v2, so an
 * existing Alertmanager routes, groups, silences and inhibits it like any
 * Prometheus alert (prometheus/alertmanager api/v2/openapi.yaml,
 * `postableAlerts`; prometheus.io "Alerts API").
 *
 *   POST <base>/api/v2/alerts
 *   content-type: application/json
 *
 *   [ { "labels": { "alertname": <rule name>, "severity", "tenant", "rule_id", …group, …labels },
 *       "annotations": { "summary", "description", "value", "threshold"?, "dedup_key" },
 *       "startsAt": <RFC 3339>, "endsAt"?: <RFC 3339>, "generatorURL"?: <explorer URL> } ]
 *
 * - Alertmanager identifies an alert by its whole label set, and resolves it
 *   when `endsAt` is in the past: a resolve is the same labels with `endsAt`
 *   (the notification's, or `now` when it has none). A firing alert is sent
 *   without `endsAt`; Alertmanager then considers it resolved after its
 *   `resolve_timeout` (5 m by default) unless it is posted again, so the
 *   delivery pipeline re-posts firing alerts while they fire, as Prometheus
 *   does (re-posting is idempotent: same labels, same alert).
 * - Labels: our identity labels first — `alertname` (the rule's name),
 *   `severity`, `tenant`, `rule_id` (two rules may share a name) — then the
 *   group (it tells one alert instance from another), then the rule's labels,
 *   each sorted by key.
 * - Label names must match `[a-zA-Z_][a-zA-Z0-9_]*` (Alertmanager refuses the
 *   whole request otherwise). Group and label keys are sanitised the way
 *   Prometheus' own OTLP translator does (`NormalizeLabel`): every other
 *   character becomes `_` (`service.name` → `service_name`, `k8s-pod` →
 *   `k8s_pod`); a name starting with a digit gets `key_` (`2xx` → `key_2xx`);
 *   one starting with a single `_` gets `key` (`_id` → `key_id`); an empty name
 *   is `key_`. A name that is then already taken (an identity label, or an
 *   earlier key that sanitised to the same name) becomes `exported_<name>` —
 *   Prometheus' convention for a clashing scraped label — and `_2`, `_3`… after
 *   that; a name already holding the very same value is not repeated. So no
 *   user key can overwrite `tenant` or `alertname`, and two distinct groups
 *   stay two distinct label sets.
 * - Annotations are not identifying: `summary` (`<rule>: <message>`, one line,
 *   at most 1,024 characters), `description` (the message, at most 4,000).
 */
import { type AlertNotification, type OutboundRequest, LIMITS, boundNotification, formatValue, oneLine, recordOf, truncate } from './notification.ts';

export interface AlertmanagerTarget {
  kind: 'alertmanager';
  /** Alertmanager's base URL (`https://alertmanager.example.com`, or with a path prefix); `/api/v2/alerts` is appended. */
  url: string;
}

export const ALERTMANAGER_LIMITS = { summary: 1_024, description: LIMITS.message } as const;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A key as a valid Alertmanager (Prometheus) label name — see the header comment for the rules. */
export function sanitizeLabelName(key: string): string {
  let name = '';
  for (const cp of key) name += /^[a-zA-Z0-9_]$/.test(cp) ? cp : '_';
  if (name === '') return 'key_';
  if (/^[0-9]/.test(name)) return `key_${name}`;
  if (name.startsWith('_') && !name.startsWith('__')) return `key${name}`;
  return name;
}

/** The label set of a notification: identity labels, then the group, then the rule's labels (see the header comment). */
export function alertmanagerLabels(notification: AlertNotification): Record<string, string> {
  const n = boundNotification(notification);
  // A Map, not an object: names come from users and are only ever data here.
  const labels = new Map<string, string>([
    ['alertname', n.ruleName],
    ['severity', notification.severity],
    ['tenant', notification.tenantId],
    ['rule_id', notification.ruleId],
  ]);
  for (const [key, value] of [...n.group, ...n.labels]) {
    const name = sanitizeLabelName(key);
    if (labels.get(name) === value) continue;
    labels.set(freeName(labels, name), value);
  }
  return recordOf([...labels]);
}

function freeName(labels: ReadonlyMap<string, string>, name: string): string {
  if (!labels.has(name)) return name;
  const exported = `exported_${name}`;
  if (!labels.has(exported)) return exported;
  let i = 2;
  while (labels.has(`${exported}_${i}`)) i++;
  return `${exported}_${i}`;
}

export function alertmanagerAlerts(notification: AlertNotification, now: number = Date.now()): PostableAlert[] {
  const n = boundNotification(notification);
  const message = oneLine(n.message);
  const ruleName = oneLine(n.ruleName);
  const annotations: Array<[string, string]> = [
    ['summary', truncate(message === '' ? ruleName : `${ruleName}: ${message}`, ALERTMANAGER_LIMITS.summary)],
    ['description', truncate(n.message, ALERTMANAGER_LIMITS.description)],
    ['value', formatValue(notification.value)],
  ];
  if (notification.threshold !== undefined) annotations.push(['threshold', formatValue(notification.threshold)]);
  annotations.push(['dedup_key', notification.dedupKey]);

  const alert: PostableAlert = { labels: alertmanagerLabels(notification), annotations: recordOf(annotations), startsAt: notification.startsAt };
  if (notification.status === 'resolved') alert.endsAt = notification.endsAt ?? new Date(now).toISOString();
  if (n.explorerUrl !== undefined) alert.generatorURL = n.explorerUrl;
  return [alert];
}

/** `<base>/api/v2/alerts`, whether or not the base ends with a slash or already names the endpoint. */
export function alertmanagerAlertsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/api/v2/alerts') ? trimmed : `${trimmed}/api/v2/alerts`;
}

export function buildAlertmanagerRequest(target: AlertmanagerTarget, notification: AlertNotification, now: number = Date.now()): OutboundRequest {
  const body = JSON.stringify(alertmanagerAlerts(notification, now));
  return { url: alertmanagerAlertsUrl(target.url), method: 'POST', headers: { 'content-type': 'application/json' }, body };
}

/** True when every label name of `labels` is one Alertmanager accepts (for tests and stand-ins). */
export function validLabelNames(labels: Record<string, string>): boolean {
  return Object.keys(labels).every((name) => LABEL_NAME_RE.test(name));
}
