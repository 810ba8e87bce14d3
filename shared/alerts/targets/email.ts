/**
 * The email target, through an HTTP mail API: **Resend**'s send-email call
 * (resend.com/docs, "Send Email" and "Idempotency Keys"; the shape of
 * resend/resend-node's `CreateEmailOptions`).
 *
 *   POST https://api.resend.com/emails                  (overridable: the local stand-in in tests)
 *   Authorization: Bearer <API key>
 *   content-type: application/json
 *   Idempotency-Key: <dedupKey>:<status>:<16 hex of the recipients>
 *
 *   { "from", "to": [ … ], "subject", "text", "tags": [ { "name", "value" } ] }
 *
 * Why Resend rather than Postmark or SendGrid (all three take JSON over
 * HTTPS): it honours an `Idempotency-Key` header (up to 256 characters, kept
 * 24 hours) on POST /emails, so a delivery whose answer was lost is retried
 * without a second email — the exactly-once promise of issue 16 holds for email
 * too. Postmark's /email has no idempotency key.
 *
 * - Which mail API, its key and the sender are the deployment's (`MailApi`,
 *   configured at deploy), never a tenant's: a tenant's email target names only
 *   recipients, so it cannot point our API key at a URL of its choosing.
 * - Recipients: 1 to 50 (Resend's maximum), each a plain address
 *   (`local@domain`, no display name, no spaces, commas, angle brackets or
 *   quotes, at most 254 characters). A target outside that is refused with a
 *   TypeError (the API validates targets with `validateEmailRecipients` first,
 *   so this is a bug guard, not a delivery-time surprise).
 * - The idempotency key includes a hash of the tenant and the sorted
 *   recipients: two email targets that receive the same alert are two emails,
 *   and Resend refuses one key reused with another body. Keys over 256
 *   characters or not printable ASCII are sent as `sha256-<hex>`.
 * - Subject: `[FIRING] critical: <rule> (<group>)` on one line, at most 200
 *   characters. Body: plain text — the message (at most 4,000 characters), the
 *   value, group, labels, times and the explorer link.
 */
import {
  type AlertNotification,
  type OutboundRequest,
  boundNotification,
  boundedKey,
  formatEntries,
  formatValue,
  oneLine,
  sha256Hex,
  truncate,
} from './notification.ts';

export interface EmailTarget {
  kind: 'email';
  /** Recipient addresses, 1 to MAX_EMAIL_RECIPIENTS. */
  to: string[];
}

/** The deployment's mail API (Resend): not part of any tenant's configuration. */
export interface MailApi {
  /** Defaults to RESEND_EMAILS_URL. */
  url?: string;
  apiKey: string;
  /** The sender: `alerts@example.com` or `NeuralLog <alerts@example.com>` (a verified domain). */
  from: string;
}

export const RESEND_EMAILS_URL = 'https://api.resend.com/emails';
export const MAX_EMAIL_RECIPIENTS = 50;
export const EMAIL_LIMITS = { subject: 200, address: 254, idempotencyKey: 256 } as const;

export interface ResendEmail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  tags: Array<{ name: string; value: string }>;
}

const ADDRESS_RE = /^[^\s@,;:<>"()[\]\\]+@[^\s@,;:<>"()[\]\\]+\.[^\s@,;:<>"()[\]\\]+$/;

/** True for a plain `local@domain.tld` address that cannot smuggle in another recipient or a header. */
export function isValidEmailAddress(address: string): boolean {
  return typeof address === 'string' && address.length <= EMAIL_LIMITS.address && ADDRESS_RE.test(address);
}

/** Null when `to` is a valid recipient list; otherwise why not (for the API's 400). */
export function validateEmailRecipients(to: unknown): string | null {
  if (!Array.isArray(to) || to.length === 0) return 'at least one recipient is required';
  if (to.length > MAX_EMAIL_RECIPIENTS) return `at most ${MAX_EMAIL_RECIPIENTS} recipients`;
  const bad = to.findIndex((address) => !isValidEmailAddress(address));
  return bad < 0 ? null : `not a plain email address: ${JSON.stringify(truncate(String(to[bad]), 100))}`;
}

export function emailSubject(notification: AlertNotification): string {
  const n = boundNotification(notification);
  const group = formatEntries(n.group);
  const subject = `[${notification.status.toUpperCase()}] ${notification.severity}: ${n.ruleName}${group === '' ? '' : ` (${group})`}`;
  return truncate(oneLine(subject), EMAIL_LIMITS.subject);
}

export function emailText(notification: AlertNotification): string {
  const n = boundNotification(notification);
  const threshold = notification.threshold === undefined ? '' : ` (threshold ${formatValue(notification.threshold)})`;
  const lines = [`${notification.status.toUpperCase()}: ${oneLine(n.ruleName)} (${notification.severity})`, ''];
  if (n.message.trim() !== '') lines.push(n.message, '');
  lines.push(`Value:   ${formatValue(notification.value)}${threshold}`);
  lines.push(`Group:   ${formatEntries(n.group) || '(none)'}`);
  if (n.labels.length > 0) lines.push(`Labels:  ${formatEntries(n.labels)}`);
  lines.push(`Started: ${notification.startsAt}`);
  if (notification.endsAt !== undefined) lines.push(`Ended:   ${notification.endsAt}`);
  lines.push(`Tenant:  ${notification.tenantId}`, `Rule id: ${notification.ruleId}`);
  if (n.explorerUrl !== undefined) lines.push('', `Open in the explorer: ${n.explorerUrl}`);
  lines.push('', '-- ', 'Sent by NeuralLog alerting.');
  return lines.join('\n');
}

export async function buildEmailRequest(target: EmailTarget, notification: AlertNotification, mail: MailApi): Promise<OutboundRequest> {
  const problem = validateEmailRecipients(target.to);
  if (problem !== null) throw new TypeError(`email target: ${problem}`);
  const recipients = await sha256Hex(JSON.stringify([notification.tenantId, [...target.to].sort()]));
  const email: ResendEmail = {
    from: mail.from,
    to: [...target.to],
    subject: emailSubject(notification),
    text: emailText(notification),
    tags: [
      { name: 'category', value: 'alert' },
      { name: 'severity', value: notification.severity },
      { name: 'status', value: notification.status },
    ],
  };
  return {
    url: mail.url ?? RESEND_EMAILS_URL,
    method: 'POST',
    headers: {
      authorization: `Bearer ${mail.apiKey}`,
      'content-type': 'application/json',
      'Idempotency-Key': await boundedKey(`${notification.dedupKey}:${notification.status}:${recipients.slice(0, 16)}`, EMAIL_LIMITS.idempotencyKey),
    },
    body: JSON.stringify(email),
  };
}
