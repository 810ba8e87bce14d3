/**
 * The PagerDuty target: an alert event of the Events API v2
 * (PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md).
 *
 *   POST https://events.pagerduty.com/v2/enqueue        (overridable: a stand-in in tests, an EU account)
 *   content-type: application/json
 *
 *   trigger: { "routing_key", "event_action": "trigger", "dedup_key",
 *              "payload": { "summary", "source", "severity", "timestamp", "component"?, "class", "custom_details" },
 *              "links": [ { "href", "text" } ], "client": "NeuralLog", "client_url"? }
 *   resolve: { "routing_key", "event_action": "resolve", "dedup_key" }
 *
 * - `dedup_key` is the notification's dedupKey, the same for a firing and its
 *   resolve: PagerDuty applies the resolve to the alert the trigger opened, and
 *   a retried trigger with the same key is one alert, not two. PagerDuty allows
 *   255 characters; a longer key is sent as `sha256-<hex>` of itself (a cut
 *   key could merge two alerts).
 * - A resolve carries only the three fields PagerDuty reads for it.
 * - `summary` (required, at most 1,024 characters) is `<rule>: <message>` on one
 *   line; `source` (required) is `neurallog/<tenant>`; `component` is the
 *   group's `service` when there is one. Severities map one to one (ours have no
 *   `error`). `timestamp` is when the instance started firing.
 * - `custom_details` carries the rest for the incident page: rule, status,
 *   value, threshold, group, labels, the full (capped) message.
 * - `links` is the explorer search; `client_url` too.
 */
import { type AlertNotification, type OutboundRequest, boundNotification, boundedKey, jsonNumber, oneLine, recordOf, truncate } from './notification.ts';

export interface PagerDutyTarget {
  kind: 'pagerduty';
  /** The integration key of an Events API v2 integration (32 characters). */
  routingKey: string;
  /** Defaults to PAGERDUTY_EVENTS_URL. */
  url?: string;
}

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** PagerDuty's documented limits (characters). */
export const PAGERDUTY_LIMITS = { summary: 1_024, dedupKey: 255 } as const;

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp: string;
    component?: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  links?: Array<{ href: string; text: string }>;
  client?: string;
  client_url?: string;
}

export async function pagerDutyEvent(target: PagerDutyTarget, notification: AlertNotification): Promise<PagerDutyEvent> {
  // In the JSON body, not a header: any text will do, only the length is PagerDuty's.
  const dedupKey = await boundedKey(notification.dedupKey, PAGERDUTY_LIMITS.dedupKey, { headerSafe: false });
  if (notification.status === 'resolved') return { routing_key: target.routingKey, event_action: 'resolve', dedup_key: dedupKey };

  const n = boundNotification(notification);
  const message = oneLine(n.message);
  const ruleName = oneLine(n.ruleName);
  // The group's service as PagerDuty's component: read as data, from the bounded pairs.
  const service = n.group.find(([key]) => key === 'service')?.[1];
  const event: PagerDutyEvent = {
    routing_key: target.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: truncate(message === '' ? ruleName : `${ruleName}: ${message}`, PAGERDUTY_LIMITS.summary),
      source: `neurallog/${notification.tenantId}`,
      severity: notification.severity,
      timestamp: notification.startsAt,
      class: 'log alert',
      custom_details: {
        rule: n.ruleName,
        rule_id: notification.ruleId,
        status: notification.status,
        value: jsonNumber(notification.value),
        ...(notification.threshold === undefined ? {} : { threshold: jsonNumber(notification.threshold) }),
        group: recordOf(n.group),
        labels: recordOf(n.labels),
        message: n.message,
      },
    },
    client: 'NeuralLog',
  };
  if (service !== undefined && service !== '') event.payload!.component = service;
  if (n.explorerUrl !== undefined) {
    event.links = [{ href: n.explorerUrl, text: 'Open in NeuralLog explorer' }];
    event.client_url = n.explorerUrl;
  }
  return event;
}

export async function buildPagerDutyRequest(target: PagerDutyTarget, notification: AlertNotification, _now?: number): Promise<OutboundRequest> {
  return {
    url: target.url ?? PAGERDUTY_EVENTS_URL,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(await pagerDutyEvent(target, notification)),
  };
}
