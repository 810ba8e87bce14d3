/**
 * The notification outbox of one tenant's AlertEvaluator (issue 16): a
 * notification is a row here before anything is sent, so the decision
 * survives a crash; it is sent with its dedup key (the receiver's idempotency
 * key), retried on the schedule of shared/alerts/delivery-schedule.ts, and
 * ends `sent`, `failed` (with the reason) or `suppressed` (muted, flapping).
 *
 * Exactly once, as receivers can tell: a crash after the send and before the
 * row is marked sends again after the restart — with the same dedup key and
 * the same body, so the receiver (PagerDuty's dedup_key, Alertmanager's
 * labels, the webhook's Idempotency-Key, Resend's Idempotency-Key) counts it
 * once. Slack's incoming webhooks take no key: there a crash in that window
 * can show a message twice (docs/alerts.md says so).
 */
import { classifyResponse, type DeliveryOutcome, nextDelivery, parseRetryAfter } from '../../shared/alerts/delivery-schedule.ts';
import { type AlertNotification, buildTargetRequest, type TargetConfig, type TargetDeployment } from '../../shared/alerts/targets/index.ts';
import { oneLine } from '../../shared/alerts/targets/notification.ts';
import { checkOutboundUrl } from '../../shared/outbound-url.ts';

/** How long one attempt may take before it counts as a timeout. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The most of a receiver's answer that is read (the rest is cancelled): we only keep a snippet. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Firing notifications of one rule per hour (each firing counted once, whatever its targets); more are suppressed (flap damping). */
export const MAX_NOTIFICATIONS_PER_RULE_PER_HOUR = 30;

export type OutboxState = 'pending' | 'sent' | 'failed' | 'suppressed';

/**
 * Rows that may be sent now: pending, and — for a resolve — not while the firing it closes is still
 * pending for the same target. Receivers must see firing before resolved (a resolve that overtakes
 * its firing leaves PagerDuty or Alertmanager with an open alert); after a crash the firing's retry
 * is due later than a resolve decided meanwhile, so order is kept here, not by time.
 */
const SENDABLE = `state = 'pending' AND NOT (status = 'resolved' AND EXISTS (
  SELECT 1 FROM outbox f WHERE f.dedup_key = o.dedup_key AND f.target_id = o.target_id AND f.status = 'firing' AND f.state = 'pending'))`;

export interface OutboxRow {
  id: number;
  dedupKey: string;
  status: 'firing' | 'resolved';
  targetId: string;
  ruleId: string;
  notification: AlertNotification;
  attempts: number;
  firstAttemptAt: number | null;
}

export class Outbox {
  constructor(private readonly sql: SqlStorage) {}

  /** Queues a notification for a target (once per dedup key, status and target: deciding twice queues once). Returns whether it was new. */
  enqueue(notification: AlertNotification, targetId: string, state: 'pending' | 'suppressed', now: number, detail: string | null = null): boolean {
    const cursor = this.sql.exec(
      `INSERT OR IGNORE INTO outbox (dedup_key, status, target_id, rule_id, notification, state, next_at, created_at, last_error, done_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      notification.dedupKey,
      notification.status,
      targetId,
      notification.ruleId,
      JSON.stringify(notification),
      state,
      now,
      now,
      detail,
      state === 'suppressed' ? now : null,
    );
    return cursor.rowsWritten > 0;
  }

  /** Whether the firing this resolve belongs to was sent (or is being sent) to the target: only then is its resolve worth sending. */
  firingWasNotified(dedupKey: string, targetId: string): boolean {
    return (
      this.sql
        .exec<{ n: number }>(
          "SELECT count(*) AS n FROM outbox WHERE dedup_key = ? AND target_id = ? AND status = 'firing' AND state IN ('pending', 'sent')",
          dedupKey,
          targetId,
        )
        .one().n > 0
    );
  }

  /**
   * When firings of a rule were queued to be sent in the last hour (flap damping counts them): one per
   * firing, however many targets it went to; resolves are not counted (they are always sent).
   */
  queuedTimes(ruleId: string, since: number): number[] {
    return this.sql
      .exec<{ t: number }>(
        "SELECT min(created_at) AS t FROM outbox WHERE rule_id = ? AND created_at >= ? AND status = 'firing' AND state != 'suppressed' GROUP BY dedup_key",
        ruleId,
        since,
      )
      .toArray()
      .map((r) => r.t);
  }

  due(now: number, limit: number): OutboxRow[] {
    return this.sql
      .exec<{
        id: number;
        dedup_key: string;
        status: string;
        target_id: string;
        rule_id: string;
        notification: string;
        attempts: number;
        first_attempt_at: number | null;
      }>(
        `SELECT id, dedup_key, status, target_id, rule_id, notification, attempts, first_attempt_at FROM outbox o WHERE ${SENDABLE} AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
        now,
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        dedupKey: r.dedup_key,
        status: r.status as OutboxRow['status'],
        targetId: r.target_id,
        ruleId: r.rule_id,
        notification: JSON.parse(r.notification) as AlertNotification,
        attempts: r.attempts,
        firstAttemptAt: r.first_attempt_at,
      }));
  }

  nextAt(): number | null {
    return this.sql.exec<{ t: number | null }>(`SELECT min(next_at) AS t FROM outbox o WHERE ${SENDABLE}`).one().t;
  }

  /**
   * Before an attempt: counts it and pushes the row's next try past the attempt's timeout, so that a
   * crash during the send retries it (from the alarm) rather than forgetting it.
   */
  startAttempt(row: OutboxRow, now: number): { attempts: number; firstAttemptAt: number } {
    const attempts = row.attempts + 1;
    const firstAttemptAt = row.firstAttemptAt ?? now;
    this.sql.exec(
      'UPDATE outbox SET attempts = ?, first_attempt_at = ?, next_at = ? WHERE id = ?',
      attempts,
      firstAttemptAt,
      now + DELIVERY_TIMEOUT_MS + 5_000,
      row.id,
    );
    return { attempts, firstAttemptAt };
  }

  finish(id: number, state: 'sent' | 'failed', now: number, detail: string | null): void {
    this.sql.exec('UPDATE outbox SET state = ?, done_at = ?, last_error = ? WHERE id = ?', state, now, detail, id);
  }

  retryAt(id: number, at: number, detail: string): void {
    this.sql.exec('UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?', at, detail, id);
  }

  /** Done rows older than `before` are dropped (history keeps what happened). */
  prune(before: number): void {
    this.sql.exec("DELETE FROM outbox WHERE state != 'pending' AND done_at < ?", before);
  }
}

export interface SendOptions {
  /** Production rules for target URLs (https only, no loopback); false on a local stack. */
  production: boolean;
  deployment: TargetDeployment;
  now: number;
}

export interface SendResult {
  outcome: DeliveryOutcome;
  /** For the history: the status and the first bytes of the answer, or why nothing was sent. */
  detail: string;
}

/**
 * One attempt: the target's request built (shared/alerts/targets), its URL checked again (a target
 * stored before a rule change of ours is judged by today's rules), sent without following
 * redirects, with a timeout, reading at most MAX_RESPONSE_BYTES of the answer.
 */
export async function sendNotification(config: TargetConfig, notification: AlertNotification, options: SendOptions): Promise<SendResult> {
  return sendNotifications(config, [notification], options);
}

/** Targets that take several alerts in one request: Alertmanager's API takes an array of alerts. */
export function batchesAlerts(config: TargetConfig): boolean {
  return config.kind === 'alertmanager';
}

/**
 * One attempt for several notifications to one target that batches (batchesAlerts): their
 * requests' alert arrays joined into one request, so a storm of groups firing at once is one POST.
 * One notification: its own request, for any target.
 */
export async function sendNotifications(config: TargetConfig, notifications: readonly AlertNotification[], options: SendOptions): Promise<SendResult> {
  let request: Awaited<ReturnType<typeof buildTargetRequest>>;
  try {
    const requests = await Promise.all(notifications.map((n) => buildTargetRequest(config, n, options.now, options.deployment)));
    request = requests[0]!;
    if (requests.length > 1) {
      if (!batchesAlerts(config)) throw new Error(`${config.kind} targets take one notification per request`);
      request = { ...request, body: JSON.stringify(requests.flatMap((r) => JSON.parse(r.body) as unknown[])) };
    }
  } catch (err) {
    return { outcome: { kind: 'rejected', status: 0 }, detail: `not sent: ${(err as Error).message}` };
  }
  const verdict = checkOutboundUrl(request.url, { production: options.production });
  if (!verdict.ok) return { outcome: { kind: 'rejected', status: 0 }, detail: `not sent: the target URL ${verdict.reason}` };
  let response: Response;
  try {
    response = await fetch(verdict.url.href, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
    return {
      outcome: { kind: 'retryable' },
      detail: timedOut ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : `network error: ${(err as Error).message}`,
    };
  }
  const snippet = await readSnippet(response);
  const kind = classifyResponse(response.status);
  const detail = `HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`;
  if (kind === 'delivered') return { outcome: { kind: 'delivered' }, detail };
  if (kind === 'rejected') return { outcome: { kind: 'rejected', status: response.status }, detail };
  return { outcome: { kind: 'retryable', status: response.status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), options.now) }, detail };
}

/** What happens to the row after an attempt: the delivery schedule's decision. */
export function afterAttempt(state: { attempts: number; firstAttemptAt: number }, result: SendResult, now: number) {
  return nextDelivery(state, result.outcome, now);
}

/** The first 200 characters of an answer, read up to MAX_RESPONSE_BYTES; the rest is cancelled. */
async function readSnippet(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken answer: the status is what counts.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, MAX_RESPONSE_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.byteLength - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
    if (offset >= bytes.byteLength) break;
  }
  // Control characters of an answer never reach the history.
  return oneLine(new TextDecoder().decode(bytes)).slice(0, 200);
}
