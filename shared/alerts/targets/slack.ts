/**
 * The Slack target: a message for an incoming webhook
 * (`https://hooks.slack.com/services/…`), in Block Kit.
 *
 *   { "text": "[FIRING] <rule>: <message>",            ← notifications and clients without blocks
 *     "blocks": [
 *       { "type": "header", "text": { "type": "plain_text", "text": "[FIRING] <rule>" } },
 *       { "type": "section", "text": { "type": "mrkdwn", "text": "<message>" } },
 *       { "type": "section", "fields": [ { "type": "mrkdwn", "text": "*Rule*\n<rule>" }, … ] },
 *       { "type": "actions", "elements": [ { "type": "button", "text": { "type": "plain_text", "text": "Open in explorer" },
 *                                            "url": "<explorer URL>", "action_id": "neurallog_open_explorer" } ] } ] }
 *
 * Block shapes and limits from Slack's Block Kit reference (api.slack.com /
 * docs.slack.dev, "Reference: blocks" and "Button element"): a header's
 * plain_text at most 150 characters; a section's text at most 3,000; at most
 * 10 fields of at most 2,000 each; a button's text at most 75 and its url at
 * most 3,000. The fields are rule, severity, status, value (and threshold),
 * group, labels when there are any, started, and ended for a resolve.
 *
 * Escaping ("Formatting text for app surfaces", Escaping): `&`, `<` and `>`
 * are Slack's control characters in mrkdwn — `<!channel>` pings a whole
 * channel, `<https://…|text>` is a link — so every piece of text that is not
 * ours (message, rule name, group and label keys and values) has exactly those
 * three replaced with `&amp;` `&lt;` `&gt;` (nothing else: other entities would
 * show literally). Caps are applied after escaping, without cutting an entity.
 * plain_text (the header, the button) is not parsed for mentions or links and
 * is sent as it is.
 *
 * An explorer URL over 3,000 characters (or not http(s)) leaves the button
 * out rather than cut the URL. Incoming webhooks take no idempotency key: a
 * delivery whose answer was lost and is retried may post twice — the one
 * target where exactly-once cannot be promised.
 */
import {
  type AlertNotification,
  type OutboundRequest,
  boundNotification,
  formatEntries,
  formatValue,
  oneLine,
  truncate,
  truncateEscaped,
} from './notification.ts';

export interface SlackTarget {
  kind: 'slack';
  /** The incoming webhook URL (it is the credential: stored like a secret). */
  url: string;
}

/** Slack's Block Kit limits (characters). */
export const SLACK_LIMITS = {
  /** The top-level `text` is the fallback: Slack cuts it far later (40,000); a notification preview needs far less. */
  fallbackText: 3_000,
  headerText: 150,
  sectionText: 3_000,
  fields: 10,
  fieldText: 2_000,
  buttonText: 75,
  buttonUrl: 3_000,
} as const;

export interface SlackTextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: 'header'; text: SlackTextObject }
  | { type: 'section'; text: SlackTextObject }
  | { type: 'section'; fields: SlackTextObject[] }
  | { type: 'actions'; elements: Array<{ type: 'button'; text: SlackTextObject; url: string; action_id: string }> };

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const MRKDWN_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

function escapeCodePoint(cp: string): string {
  return cp === '&' || cp === '<' || cp === '>' ? MRKDWN_ESCAPES[cp]! : cp;
}

/** Text escaped for mrkdwn (`&`, `<`, `>` only), then cut to `max` characters without splitting an entity. */
export function escapeMrkdwn(text: string, max: number = Number.POSITIVE_INFINITY): string {
  return truncateEscaped(text, max, escapeCodePoint);
}

function field(label: string, value: string): SlackTextObject {
  const prefix = `*${label}*\n`;
  return { type: 'mrkdwn', text: prefix + escapeMrkdwn(value, SLACK_LIMITS.fieldText - prefix.length) };
}

export function slackMessage(notification: AlertNotification): SlackMessage {
  const n = boundNotification(notification);
  const status = notification.status.toUpperCase();
  const message = oneLine(n.message);

  const threshold = notification.threshold === undefined ? '' : ` (threshold ${formatValue(notification.threshold)})`;
  const fields = [
    field('Rule', n.ruleName),
    field('Severity', notification.severity),
    field('Status', notification.status),
    field('Value', formatValue(notification.value) + threshold),
    field('Group', formatEntries(n.group) || '(none)'),
  ];
  if (n.labels.length > 0) fields.push(field('Labels', formatEntries(n.labels)));
  fields.push(field('Started', notification.startsAt));
  if (notification.endsAt !== undefined) fields.push(field('Ended', notification.endsAt));

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`[${status}] ${oneLine(n.ruleName)}`, SLACK_LIMITS.headerText), emoji: false } },
  ];
  // A section's text must not be empty: no message, no section.
  if (n.message.trim() !== '') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(n.message, SLACK_LIMITS.sectionText) } });
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) });
  if (n.explorerUrl !== undefined && n.explorerUrl.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in explorer' }, url: n.explorerUrl, action_id: 'neurallog_open_explorer' }],
    });
  }

  const fallback = `[${status}] ${oneLine(n.ruleName)}${message === '' ? '' : `: ${message}`}`;
  return { text: escapeMrkdwn(fallback, SLACK_LIMITS.fallbackText), blocks };
}

export function buildSlackRequest(target: SlackTarget, notification: AlertNotification, _now?: number): OutboundRequest {
  return {
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(slackMessage(notification)),
  };
}
