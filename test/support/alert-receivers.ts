/**
 * Local stand-ins for the services alert notifications are delivered to
 * (shared/alerts/targets/*), for end-to-end tests and benchmarks: each one
 * speaks its service's wire protocol, validates requests the way the service
 * documents it, and records everything it was sent. Node only (`node:http`),
 * one server per receiver on 127.0.0.1, random ports.
 *
 * - `webhook` — the generic signed webhook (shared/alerts/targets/webhook.ts):
 *   verifies `NeuralLog-Signature` on the raw body with
 *   `verifyWebhookSignature` (401 when missing, wrong or outside the
 *   tolerance), then the version-1 payload (400), and needs an
 *   `Idempotency-Key` (400). Behaves like a well-written receiver: a 2xx
 *   request whose key was accepted before is answered 200 again and marked
 *   `replayed`.
 * - `slack` — an incoming webhook (`/services/T…/B…/…`): 200 `ok`
 *   (text/html); 400 `invalid_payload` for a body that is not a JSON object,
 *   400 `no_text` without text or blocks, 400 `invalid_blocks` for blocks
 *   outside the Block Kit reference (types, text objects, header ≤ 150, section
 *   text ≤ 3,000, ≤ 10 fields of ≤ 2,000, ≤ 50 blocks, ≤ 25 actions elements,
 *   button text ≤ 75 / url ≤ 3,000 / action_id ≤ 255 and unique, block_id ≤
 *   255). 404 `no_service` for another path. No idempotency: the dedup key
 *   is `sha256-<hex>` of the raw body (a retry posts the same bytes).
 * - `pagerduty` — Events API v2, `POST /v2/enqueue`: 202
 *   `{status:'success', message:'Event processed', dedup_key}` (a trigger
 *   without a dedup_key gets one); 400 `{status:'invalid event', message:
 *   'Event object is invalid', errors:[…]}` listing every problem:
 *   routing_key (32 characters; `pagerdutyRoutingKeys` restricts it further),
 *   event_action (trigger | acknowledge | resolve), dedup_key (≤ 255, required
 *   to acknowledge or resolve), and for a trigger the payload: summary
 *   (1–1,024), source, severity (critical | error | warning | info), timestamp
 *   (ISO 8601), component/group/class (strings), custom_details (an object),
 *   links/images, client/client_url. Events over 512 KB are refused. Keeps
 *   each alert's state by dedup key (`pagerdutyAlerts()`).
 * - `alertmanager` — API v2, `POST /api/v2/alerts`: an array of postable
 *   alerts. As Alertmanager does: 415 without a JSON content type; 400
 *   `{code, message}` for unparsable JSON; 422 `{code, message}` for a body
 *   that fails the OpenAPI schema (not an array, labels missing, non-string
 *   label or annotation values, bad date-time); then each alert is validated
 *   (empty labels dropped, at least one label, label and annotation names
 *   `[a-zA-Z_][a-zA-Z0-9_]*`, endsAt not before startsAt): the valid ones are
 *   stored, and if any was invalid the answer is 400 with the errors joined by
 *   "; " as a JSON string; otherwise 200 with an empty body. Alerts are
 *   identified by their label-set fingerprint (FNV-1a 64, Prometheus'
 *   algorithm); `alertmanagerAlerts()` says which are firing or resolved. The
 *   dedup key of each alert is its `dedup_key` annotation (or label) when
 *   present, else `fingerprint:<hex>`.
 * - `resend` — `POST /emails`: `Authorization: Bearer <resendApiKey>` (401
 *   `missing_api_key`, 401 `validation_error` "API key is invalid");
 *   `Idempotency-Key` 1–256 characters (400 `invalid_idempotency_key`); the
 *   same key with the same body answers the first `{id}` again (marked
 *   `replayed`), with another body 409 `invalid_idempotent_request`, while the
 *   first is still held 409 `concurrent_idempotent_requests`; from, to,
 *   subject required (422 `missing_required_field`); `from` as
 *   `a@b.c` or `Name <a@b.c>` (422 `invalid_from_address`); 1–50 recipients,
 *   tags' name/value ASCII letters, digits, `_` and `-` up to 256 (422
 *   `validation_error`). Errors as `{statusCode, name, message}`; success 200
 *   `{id}`. Stand-in choice: an email with neither `text` nor `html` is a 422.
 *
 * Every receiver caps bodies (`maxBodyBytes`, 1 MiB: 413), answers 404/405
 * for other paths and methods, and never throws on hostile input (a handler
 * error is a 500 recorded with its message).
 *
 * Scripting: `failNext(receiver, [500, 500, 429], { retryAfter })` answers the
 * next requests with these statuses (in the receiver's error format, without
 * processing them); `holdNext(receiver)` keeps the next request pending until
 * `release()` (the receiver's own answer), `release(status)` (a scripted
 * answer) or `drop()` (the request is processed — the receiver accepted it —
 * and the socket destroyed without an answer: the answer was lost). Scripted
 * failures are taken before holds.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '../../shared/alerts/targets/index.ts';

export type ReceiverName = 'webhook' | 'slack' | 'pagerduty' | 'alertmanager' | 'resend';
export const RECEIVER_NAMES: readonly ReceiverName[] = ['webhook', 'slack', 'pagerduty', 'alertmanager', 'resend'];

export interface AlertReceiversOptions {
  /** The webhook receiver's shared secret (default: a generated `whsec_…`). */
  webhookSecret?: string;
  /** How far the webhook signature's timestamp may be from the receiver's clock (default 300 s). */
  webhookToleranceSeconds?: number;
  /** The only API key the Resend stand-in accepts (default: a generated `re_test_…`). */
  resendApiKey?: string;
  /** When set, the only PagerDuty routing keys accepted (otherwise any 32-character key). */
  pagerdutyRoutingKeys?: string[];
  /** Larger bodies are answered 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Alertmanager's `resolve_timeout`: a firing alert without endsAt resolves this long after it was posted (default 5 min). */
  alertmanagerResolveTimeoutMs?: number;
  /** The receivers' clock, milliseconds (default Date.now): `at`, the signature tolerance, Alertmanager's state. */
  now?: () => number;
}

/** One request a receiver got. The record is live: `status` is 0 until it is answered (a held request). */
export interface ReceivedRequest {
  receiver: ReceiverName;
  /** 1, 2, 3… across all receivers, in arrival order. */
  seq: number;
  /** When it arrived (ms, the receivers' clock). */
  at: number;
  method: string;
  /** Path and query. */
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as UTF-8 text ('' for a body over the cap). */
  rawBody: string;
  /** The body parsed as JSON (Slack: the `payload` field of a form body); undefined when it is not JSON. */
  body: unknown;
  /** The status answered (0 while held; for a dropped request, the status it would have had). */
  status: number;
  /** The answer's body ('' for none). */
  responseBody: string;
  /** The receiver processed it with a 2xx outcome — answered or dropped. Scripted answers are never accepted. */
  accepted: boolean;
  /** Answered by failNext or release(status), not by the receiver's own logic. */
  scripted: boolean;
  /** Held, then its socket destroyed without an answer. */
  dropped: boolean;
  /** An accepted repeat the receiver did not act on again (webhook: a known Idempotency-Key; Resend: an idempotent replay). */
  replayed: boolean;
  /** Why the receiver refused it (or why it failed). */
  error?: string;
  /** The first of `dedupKeys`. */
  dedupKey: string | undefined;
  /** Webhook: body.dedupKey; PagerDuty: dedup_key; Alertmanager: one per alert; Slack: sha256 of the body; Resend: Idempotency-Key. */
  dedupKeys: string[];
}

export interface FailOptions {
  /** Sent as `Retry-After` with every scripted answer (seconds or an HTTP date). */
  retryAfter?: number | string;
}

export interface HeldRequest {
  /** Resolves with the request when it arrives (it is recorded, `status` 0); rejects if the receivers are reset or closed first. */
  arrived: Promise<ReceivedRequest>;
  /** Answer it: with the receiver's own answer, or with `status` (a scripted answer: not processed). May be called before it arrives. */
  release(status?: number, options?: FailOptions): void;
  /** Process it (the receiver accepts it) and destroy the socket without answering. May be called before it arrives. */
  drop(): void;
}

export interface PagerDutyAlertState {
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** Trigger events received for this key (a retried trigger counts again; PagerDuty keeps one alert). */
  triggers: number;
  summary: string | undefined;
  severity: string | undefined;
}

export interface AlertmanagerAlertState {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** As sent (undefined while firing without an end). */
  endsAt: string | undefined;
  /** Firing until endsAt (or, without one, resolve_timeout after the last post). */
  status: 'firing' | 'resolved';
  /** How many times it was posted. */
  posts: number;
}

export interface AlertReceivers {
  urls: {
    /** POST here with the webhook target. */
    webhook: string;
    /** An incoming-webhook URL (`…/services/T…/B…/…`). */
    slack: string;
    /** Base URL: the events URL is `${pagerduty}/v2/enqueue`. */
    pagerduty: string;
    /** Base URL: the client appends `/api/v2/alerts`. */
    alertmanager: string;
    /** The full send-email URL (`…/emails`). */
    resend: string;
  };
  webhookSecret: string;
  resendApiKey: string;
  /** The next `statuses.length` requests to `receiver` are answered with these statuses, in order. */
  failNext(receiver: ReceiverName, statuses: number[], options?: FailOptions): void;
  /** Hold the next request to `receiver` (after any scripted failures). */
  holdNext(receiver: ReceiverName): HeldRequest;
  /** Every request, in arrival order (one receiver's, or all). */
  requests(receiver?: ReceiverName): ReceivedRequest[];
  /** The requests the receiver accepted (2xx outcome, including dropped answers and replays). */
  deliveries(receiver: ReceiverName): ReceivedRequest[];
  /** The distinct dedup keys of the accepted requests, in first-seen order. */
  distinctDedupKeys(receiver: ReceiverName): string[];
  pagerdutyAlerts(): PagerDutyAlertState[];
  alertmanagerAlerts(): AlertmanagerAlertState[];
  /**
   * Polls (every 10 ms) until `predicate(all requests)` returns a truthy value, and resolves with it.
   * A predicate that throws counts as not yet; rejects after `timeoutMs` listing what was received.
   */
  waitFor<T>(predicate: (requests: ReceivedRequest[]) => T, timeoutMs?: number, description?: string): Promise<Exclude<T, false | null | undefined | 0 | ''>>;
  /** One line per request (for failure messages). */
  summary(receiver?: ReceiverName): string;
  /** Forget requests, scripts and state; pending holds are dropped. */
  reset(): void;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
  error?: string;
  accepted?: boolean;
  replayed?: boolean;
  dedupKeys?: string[];
}

type Decision = { kind: 'answer'; status?: number; options?: FailOptions } | { kind: 'drop' } | { kind: 'abandon' };

interface Hold {
  arrived: (request: ReceivedRequest) => void;
  abandon: (reason: Error) => void;
  decision: Promise<Decision>;
  decide: (decision: Decision) => void;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
/** Past max(cap × 64, 16 MiB), a body is no longer even drained (so that a 413 reaches the client): the socket is destroyed. */
const DRAIN_LIMIT_FACTOR = 64;
const DRAIN_LIMIT_MIN = 16 * 1024 * 1024;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const EMAIL_RE = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/;
const RESEND_TAG_RE = /^[A-Za-z0-9_-]{1,256}$/;
const PAGERDUTY_MAX_EVENT_BYTES = 512 * 1024;
const SLACK_SERVICE_PATH = '/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const json = (value: unknown) => JSON.stringify(value);
const quote = (text: string, max = 80) => JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);

/** Prometheus' label-set fingerprint (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over sorted name, 0xff, value, 0xff. */
export function labelSetFingerprint(labels: Record<string, string>): string {
  const MASK = 0xffffffffffffffffn;
  let hash = 0xcbf29ce484222325n;
  const add = (byte: number) => {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & MASK;
  };
  // Go sorts by bytes; compare UTF-8 buffers so non-ASCII names sort the same way.
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    for (const byte of Buffer.from(name)) add(byte);
    add(0xff);
    for (const byte of Buffer.from(String(labels[name]))) add(byte);
    add(0xff);
  }
  return hash.toString(16).padStart(16, '0');
}

export async function startAlertReceivers(options: AlertReceiversOptions = {}): Promise<AlertReceivers> {
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  const resendApiKey = options.resendApiKey ?? `re_test_${randomBytes(16).toString('hex')}`;
  const toleranceSeconds = options.webhookToleranceSeconds ?? 300;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const resolveTimeoutMs = options.alertmanagerResolveTimeoutMs ?? 5 * 60_000;
  const routingKeys = options.pagerdutyRoutingKeys === undefined ? undefined : new Set(options.pagerdutyRoutingKeys);
  const now = options.now ?? Date.now;

  let records: ReceivedRequest[] = [];
  let seq = 0;
  const failures = new Map<ReceiverName, Array<{ status: number; options: FailOptions }>>();
  const holds = new Map<ReceiverName, Hold[]>();
  /** Holds whose request has arrived and waits for a decision. */
  const pending = new Set<Hold>();

  // Receiver state.
  const webhookKeys = new Set<string>();
  const resendKeys = new Map<string, { rawBody: string; id: string }>();
  const resendInFlight = new Map<string, number>();
  const pagerduty = new Map<string, PagerDutyAlertState>();
  const alertmanager = new Map<
    string,
    { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt?: string; expiresAt: number; posts: number }
  >();

  // ---------------------------------------------------------------- webhook

  async function webhook(req: ReceivedRequest, bytes: Buffer): Promise<Answer> {
    const refuse = (status: number, error: string): Answer => ({ status, body: json({ error }), contentType: 'application/json', error });
    if (req.method !== 'POST') return { ...refuse(405, 'method not allowed'), headers: { allow: 'POST' } };
    const signature = req.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()];
    if (signature === undefined) return refuse(401, `missing ${WEBHOOK_SIGNATURE_HEADER} header`);
    if (!(await verifyWebhookSignature(webhookSecret, signature, bytes, Math.floor(now() / 1000), toleranceSeconds))) {
      return refuse(401, 'invalid signature');
    }
    if (!isJsonContentType(req.headers['content-type'])) return refuse(415, 'content-type must be application/json');
    const key = req.headers['idempotency-key'];
    if (key === undefined || key.length > 255 || !PRINTABLE_ASCII.test(key)) return refuse(400, 'Idempotency-Key must be 1-255 printable ASCII characters');
    const problems = webhookPayloadProblems(req.body);
    if (problems.length > 0) return refuse(400, problems.join('; '));
    const dedupKey = (req.body as { dedupKey: string }).dedupKey;
    const replayed = webhookKeys.has(key);
    webhookKeys.add(key);
    return {
      status: 200,
      body: json(replayed ? { received: true, duplicate: true } : { received: true }),
      contentType: 'application/json',
      accepted: true,
      replayed,
      dedupKeys: [dedupKey],
    };
  }

  // ---------------------------------------------------------------- slack

  function slack(req: ReceivedRequest): Answer {
    const text = (status: number, body: string, error = body): Answer => ({ status, body, contentType: 'text/html', error });
    if (req.method !== 'POST') return { ...text(405, 'invalid_method'), headers: { allow: 'POST' } };
    if (!/^\/services\/[^/]+\/[^/]+\/[^/?]+$/.test(req.path.split('?')[0]!)) return text(404, 'no_service');
    if (!isObject(req.body)) return text(400, 'invalid_payload');
    const message = req.body;
    if (message.text !== undefined && typeof message.text !== 'string') return text(400, 'invalid_payload', 'invalid_payload: text must be a string');
    const hasText = typeof message.text === 'string' && message.text.trim() !== '';
    if (!hasText && message.blocks === undefined && message.attachments === undefined) return text(400, 'no_text');
    if (message.blocks !== undefined) {
      const problems = slackBlocksProblems(message.blocks);
      if (problems.length > 0) return text(400, 'invalid_blocks', `invalid_blocks: ${problems.join('; ')}`);
    }
    return { status: 200, body: 'ok', contentType: 'text/html', accepted: true, dedupKeys: [`sha256-${sha256(req.rawBody)}`] };
  }

  // ---------------------------------------------------------------- pagerduty

  function pagerDuty(req: ReceivedRequest, bytes: Buffer): Answer {
    const invalid = (errors: string[]): Answer => ({
      status: 400,
      body: json({ status: 'invalid event', message: 'Event object is invalid', errors }),
      contentType: 'application/json',
      error: errors.join('; '),
    });
    if (req.path.split('?')[0] !== '/v2/enqueue')
      return { status: 404, body: json({ status: 'not found', message: 'Not found' }), contentType: 'application/json', error: 'not found' };
    if (req.method !== 'POST') return { status: 405, body: '', headers: { allow: 'POST' }, error: 'method not allowed' };
    if (bytes.length > PAGERDUTY_MAX_EVENT_BYTES) return invalid([`Event object is larger than ${PAGERDUTY_MAX_EVENT_BYTES} bytes`]);
    if (req.body === undefined) return invalid(['Event object is not valid JSON']);
    const errors = pagerDutyEventProblems(req.body, routingKeys);
    if (errors.length > 0) return invalid(errors);
    const event = req.body as { event_action: 'trigger' | 'acknowledge' | 'resolve'; dedup_key?: string; payload?: { summary: string; severity: string } };
    const dedupKey = event.dedup_key ?? randomBytes(16).toString('hex');
    const state = pagerduty.get(dedupKey);
    if (event.event_action === 'trigger') {
      if (state === undefined || state.status === 'resolved') {
        pagerduty.set(dedupKey, { dedupKey, status: 'triggered', triggers: 1, summary: event.payload?.summary, severity: event.payload?.severity });
      } else {
        state.triggers++;
      }
    } else if (state !== undefined && state.status !== 'resolved') {
      // An acknowledge or resolve for a key with no open alert is accepted and does nothing, as PagerDuty's asynchronous API does.
      state.status = event.event_action === 'resolve' ? 'resolved' : 'acknowledged';
    }
    return {
      status: 202,
      body: json({ status: 'success', message: 'Event processed', dedup_key: dedupKey }),
      contentType: 'application/json',
      accepted: true,
      dedupKeys: [dedupKey],
    };
  }

  // ---------------------------------------------------------------- alertmanager

  function alertmanagerApi(req: ReceivedRequest): Answer {
    const swaggerError = (status: number, code: number, message: string): Answer => ({
      status,
      body: json({ code, message }),
      contentType: 'application/json',
      error: message,
    });
    if (req.path.split('?')[0] !== '/api/v2/alerts') return swaggerError(404, 404, `path ${req.path} was not found`);
    if (req.method !== 'POST') return { ...swaggerError(405, 405, `method ${req.method} is not allowed, but [POST] are`), headers: { allow: 'POST' } };
    if (!isJsonContentType(req.headers['content-type']))
      return swaggerError(415, 415, `unsupported media type ${quote(req.headers['content-type'] ?? '')}, only [application/json] are allowed`);
    if (req.body === undefined) return swaggerError(400, 400, 'parsing alerts body from "" failed, because the body is not valid JSON');
    const schemaProblems = postableAlertsSchemaProblems(req.body);
    if (schemaProblems.length > 0) return swaggerError(422, schemaProblems.some((p) => p.includes('is required')) ? 602 : 601, schemaProblems.join('\n'));

    const alerts = req.body as Array<{ labels: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; endsAt?: string }>;
    const received = now();
    const errors: string[] = [];
    const dedupKeys: string[] = [];
    for (const alert of alerts) {
      // removeEmptyLabels, then types.Alert.Validate (after startsAt defaulting).
      const labels = Object.fromEntries(Object.entries(alert.labels).filter(([, v]) => v !== ''));
      const annotations = Object.fromEntries(Object.entries(alert.annotations ?? {}));
      const startsAt = alert.startsAt ?? alert.endsAt ?? new Date(received).toISOString();
      const problem = alertProblem(labels, annotations, startsAt, alert.endsAt);
      if (problem !== null) {
        errors.push(problem);
        continue;
      }
      const fingerprint = labelSetFingerprint(labels);
      const expiresAt = alert.endsAt === undefined ? received + resolveTimeoutMs : Date.parse(alert.endsAt);
      const existing = alertmanager.get(fingerprint);
      alertmanager.set(fingerprint, {
        labels,
        annotations,
        // Alertmanager keeps the earliest start of an alert that is still the same (not resolved in between).
        startsAt:
          existing !== undefined && existing.expiresAt > received && Date.parse(existing.startsAt) < Date.parse(startsAt) ? existing.startsAt : startsAt,
        endsAt: alert.endsAt,
        expiresAt,
        posts: (existing?.posts ?? 0) + 1,
      });
      const key = nonEmptyString(annotations.dedup_key) ?? nonEmptyString(labels.dedup_key) ?? `fingerprint:${fingerprint}`;
      dedupKeys.push(key);
    }
    if (errors.length > 0) return { status: 400, body: json(errors.join('; ')), contentType: 'application/json', error: errors.join('; '), dedupKeys };
    return { status: 200, body: '', accepted: true, dedupKeys };
  }

  // ---------------------------------------------------------------- resend

  function resend(req: ReceivedRequest, held: boolean): Answer {
    const error = (status: number, name: string, message: string): Answer => ({
      status,
      body: json({ statusCode: status, name, message }),
      contentType: 'application/json',
      error: `${name}: ${message}`,
    });
    if (req.path.split('?')[0] !== '/emails') return error(404, 'not_found', 'The requested endpoint does not exist.');
    if (req.method !== 'POST') return { ...error(405, 'method_not_allowed', 'Method is not allowed for the requested path.'), headers: { allow: 'POST' } };
    const authorization = req.headers.authorization;
    if (authorization === undefined || authorization.trim() === '') return error(401, 'missing_api_key', 'Missing API key in the authorization header.');
    if (authorization !== `Bearer ${resendApiKey}`) return error(401, 'validation_error', 'API key is invalid');
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (key.length < 1 || key.length > 256)) return error(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
    if (key !== undefined) {
      if (!held && (resendInFlight.get(key) ?? 0) > 0) {
        return error(409, 'concurrent_idempotent_requests', 'Same idempotency key used while original request is still in progress.');
      }
      const previous = resendKeys.get(key);
      if (previous !== undefined) {
        if (previous.rawBody !== req.rawBody) return error(409, 'invalid_idempotent_request', 'Same idempotency key used with a different request payload.');
        return { status: 200, body: json({ id: previous.id }), contentType: 'application/json', accepted: true, replayed: true, dedupKeys: [key] };
      }
    }
    if (req.body === undefined) return error(400, 'validation_error', 'The request body is not valid JSON.');
    const problem = resendEmailProblem(req.body);
    if (problem !== null) return error(422, problem.name, problem.message);
    const id = randomUUID();
    if (key !== undefined) resendKeys.set(key, { rawBody: req.rawBody, id });
    return { status: 200, body: json({ id }), contentType: 'application/json', accepted: true, dedupKeys: key === undefined ? [] : [key] };
  }

  // ---------------------------------------------------------------- scripted answers

  function scriptedAnswer(receiver: ReceiverName, status: number, options: FailOptions = {}): Answer {
    const headers: Record<string, string> = {};
    if (options.retryAfter !== undefined) headers['retry-after'] = String(options.retryAfter);
    const error = `scripted ${status}`;
    switch (receiver) {
      case 'slack': {
        const texts: Record<number, string> = {
          400: 'invalid_payload',
          403: 'action_prohibited',
          404: 'channel_not_found',
          410: 'channel_is_archived',
          429: 'rate_limited',
        };
        return { status, body: texts[status] ?? (status >= 500 ? 'rollup_error' : 'error'), contentType: 'text/html', headers, error };
      }
      case 'pagerduty': {
        const body =
          status === 400
            ? { status: 'invalid event', message: 'Event object is invalid', errors: [error] }
            : status === 429
              ? { status: 'throttle event', message: 'Requests for this service are arriving too quickly. Please retry later.' }
              : { status: 'error', message: error };
        return { status, body: json(body), contentType: 'application/json', headers, error };
      }
      case 'alertmanager':
        return { status, body: json(error), contentType: 'application/json', headers, error };
      case 'resend': {
        const names: Record<number, string> = { 409: 'concurrent_idempotent_requests', 429: 'rate_limit_exceeded', 500: 'internal_server_error' };
        return {
          status,
          body: json({ statusCode: status, name: names[status] ?? 'application_error', message: error }),
          contentType: 'application/json',
          headers,
          error,
        };
      }
      default:
        return { status, body: json({ error }), contentType: 'application/json', headers, error };
    }
  }

  // ---------------------------------------------------------------- transport

  async function process(receiver: ReceiverName, request: ReceivedRequest, bytes: Buffer, held: boolean): Promise<Answer> {
    switch (receiver) {
      case 'webhook':
        return webhook(request, bytes);
      case 'slack':
        return slack(request);
      case 'pagerduty':
        return pagerDuty(request, bytes);
      case 'alertmanager':
        return alertmanagerApi(request);
      case 'resend':
        return resend(request, held);
    }
  }

  function settle(request: ReceivedRequest, answer: Answer, scripted: boolean): void {
    request.status = answer.status;
    request.responseBody = answer.body;
    request.scripted = scripted;
    request.accepted = !scripted && answer.accepted === true && answer.status >= 200 && answer.status < 300;
    request.replayed = answer.replayed === true;
    if (answer.error !== undefined) request.error = answer.error;
    if (answer.dedupKeys !== undefined) {
      request.dedupKeys = answer.dedupKeys;
      request.dedupKey = answer.dedupKeys[0];
    }
  }

  function send(res: ServerResponse, answer: Answer): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string> = { ...answer.headers };
    if (answer.body !== '') headers['content-type'] = answer.contentType ?? 'text/plain; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(answer.body));
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  async function onRequest(receiver: ReceiverName, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = now();
    const read = await readBody(req, maxBodyBytes);
    if (read === null) {
      // Over the drain limit or aborted: nothing to answer.
      req.socket.destroy();
      return;
    }
    const request: ReceivedRequest = {
      receiver,
      seq: ++seq,
      at,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: lowerCaseHeaders(req),
      rawBody: '',
      body: undefined,
      status: 0,
      responseBody: '',
      accepted: false,
      scripted: false,
      dropped: false,
      replayed: false,
      dedupKey: undefined,
      dedupKeys: [],
    };
    records.push(request);
    if (read.tooLarge) {
      const answer: Answer = {
        status: 413,
        body: json({ error: `body over ${maxBodyBytes} bytes` }),
        contentType: 'application/json',
        error: `body of ${read.size} bytes over ${maxBodyBytes}`,
      };
      settle(request, answer, false);
      res.setHeader('connection', 'close');
      send(res, answer);
      return;
    }
    try {
      await respond(receiver, request, read.bytes, req, res);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const answer: Answer = { status: 500, body: json({ error: 'internal error' }), contentType: 'application/json', error: `stand-in failure: ${message}` };
      settle(request, answer, false);
      send(res, answer);
    }
  }

  async function respond(receiver: ReceiverName, request: ReceivedRequest, bytes: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    request.rawBody = bytes.toString('utf8');
    request.body = parseBody(receiver, request);

    const failure = failures.get(receiver)?.shift();
    if (failure !== undefined) {
      const answer = scriptedAnswer(receiver, failure.status, failure.options);
      settle(request, answer, true);
      send(res, answer);
      return;
    }

    const hold = holds.get(receiver)?.shift();
    let decision: Decision | undefined;
    if (hold !== undefined) {
      const key = receiver === 'resend' ? request.headers['idempotency-key'] : undefined;
      if (key !== undefined) resendInFlight.set(key, (resendInFlight.get(key) ?? 0) + 1);
      pending.add(hold);
      hold.arrived(request);
      try {
        decision = await hold.decision;
      } finally {
        pending.delete(hold);
        if (key !== undefined) {
          const count = (resendInFlight.get(key) ?? 1) - 1;
          if (count <= 0) resendInFlight.delete(key);
          else resendInFlight.set(key, count);
        }
      }
      if (decision.kind === 'abandon') {
        // Reset or closed while held: no processing, no answer.
        request.dropped = true;
        req.socket.destroy();
        return;
      }
      if (decision.kind === 'answer' && decision.status !== undefined) {
        const answer = scriptedAnswer(receiver, decision.status, decision.options);
        settle(request, answer, true);
        send(res, answer);
        return;
      }
    }

    const answer = await process(receiver, request, bytes, hold !== undefined);
    settle(request, answer, false);
    if (decision?.kind === 'drop') {
      request.dropped = true;
      req.socket.destroy();
      return;
    }
    send(res, answer);
  }

  function parseBody(receiver: ReceiverName, request: ReceivedRequest): unknown {
    try {
      const contentType = request.headers['content-type'] ?? '';
      if (receiver === 'slack' && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        // Slack also takes `payload=<JSON>` form bodies.
        const payload = new URLSearchParams(request.rawBody).get('payload');
        return payload === null ? undefined : JSON.parse(payload);
      }
      return request.rawBody === '' ? undefined : JSON.parse(request.rawBody);
    } catch {
      return undefined;
    }
  }

  const servers = new Map<ReceiverName, Server>();
  const ports = new Map<ReceiverName, number>();
  for (const receiver of RECEIVER_NAMES) {
    const server = createServer((req, res) => {
      res.on('error', () => {});
      onRequest(receiver, req, res).catch(() => res.destroy());
    });
    // Malformed request lines or headers: answer 400 if the socket still can, never crash.
    server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.set(receiver, server);
    ports.set(receiver, (server.address() as AddressInfo).port);
  }
  const base = (receiver: ReceiverName) => `http://127.0.0.1:${ports.get(receiver)}`;

  function abandonHolds(reason: string): void {
    for (const hold of pending) hold.decide({ kind: 'abandon' });
    for (const queue of holds.values()) for (const hold of queue) hold.abandon(new Error(reason));
    holds.clear();
  }

  function describeRequest(r: ReceivedRequest): string {
    const t0 = records[0]?.at ?? r.at;
    const flags = [r.scripted && 'scripted', r.dropped && 'dropped', r.replayed && 'replayed', r.status === 0 && 'held'].filter(Boolean).join(',');
    const keys = r.dedupKeys.length === 0 ? '' : ` dedup=${r.dedupKeys.map((k) => quote(k, 60)).join('|')}`;
    const error = r.error === undefined ? '' : ` error=${quote(r.error, 200)}`;
    return `#${r.seq} +${r.at - t0}ms ${r.receiver} ${r.method} ${r.path} → ${r.status}${flags === '' ? '' : ` [${flags}]`}${keys}${error}`;
  }

  const receivers: AlertReceivers = {
    urls: {
      webhook: `${base('webhook')}/hooks/neurallog`,
      slack: `${base('slack')}${SLACK_SERVICE_PATH}`,
      pagerduty: base('pagerduty'),
      alertmanager: base('alertmanager'),
      resend: `${base('resend')}/emails`,
    },
    webhookSecret,
    resendApiKey,

    failNext(receiver, statuses, failOptions = {}) {
      for (const status of statuses) {
        if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError(`not an HTTP status: ${status}`);
      }
      const queue = failures.get(receiver) ?? [];
      queue.push(...statuses.map((status) => ({ status, options: failOptions })));
      failures.set(receiver, queue);
    },

    holdNext(receiver) {
      let arrived!: (request: ReceivedRequest) => void;
      let abandon!: (reason: Error) => void;
      const arrival = new Promise<ReceivedRequest>((resolve, reject) => {
        arrived = resolve;
        abandon = reject;
      });
      // A hold nobody awaited must not become an unhandled rejection on reset/close.
      arrival.catch(() => {});
      let decide!: (decision: Decision) => void;
      let decided = false;
      const decision = new Promise<Decision>((resolve) => {
        decide = (d) => {
          if (decided) return;
          decided = true;
          resolve(d);
        };
      });
      const hold: Hold = { arrived, abandon, decision, decide };
      const queue = holds.get(receiver) ?? [];
      queue.push(hold);
      holds.set(receiver, queue);
      return {
        arrived: arrival,
        release(status, releaseOptions) {
          if (status !== undefined && (!Number.isInteger(status) || status < 100 || status > 599)) throw new RangeError(`not an HTTP status: ${status}`);
          decide({ kind: 'answer', status, options: releaseOptions });
        },
        drop() {
          decide({ kind: 'drop' });
        },
      };
    },

    requests(receiver) {
      return receiver === undefined ? [...records] : records.filter((r) => r.receiver === receiver);
    },

    deliveries(receiver) {
      return records.filter((r) => r.receiver === receiver && r.accepted);
    },

    distinctDedupKeys(receiver) {
      const keys = new Set<string>();
      for (const r of records) if (r.receiver === receiver && r.accepted) for (const key of r.dedupKeys) keys.add(key);
      return [...keys];
    },

    pagerdutyAlerts() {
      return [...pagerduty.values()].map((state) => ({ ...state }));
    },

    alertmanagerAlerts() {
      const t = now();
      return [...alertmanager].map(([fingerprint, a]) => ({
        fingerprint,
        labels: { ...a.labels },
        annotations: { ...a.annotations },
        startsAt: a.startsAt,
        endsAt: a.endsAt,
        status: a.expiresAt > t ? 'firing' : 'resolved',
        posts: a.posts,
      }));
    },

    async waitFor(predicate, timeoutMs = 5_000, description) {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          const result = predicate([...records]);
          if (result) return result as Exclude<typeof result, false | null | undefined | 0 | ''>;
          lastError = undefined;
        } catch (error) {
          lastError = error;
        }
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const why = lastError === undefined ? '' : `\nlast predicate error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(
        `waitFor timed out after ${timeoutMs} ms${description === undefined ? '' : ` (${description})`}; ${records.length} request(s) received:\n${receivers.summary() || '  (none)'}${why}`,
      );
    },

    summary(receiver) {
      return receivers
        .requests(receiver)
        .map((r) => `  ${describeRequest(r)}`)
        .join('\n');
    },

    reset() {
      abandonHolds('the alert receivers were reset');
      records = [];
      failures.clear();
      webhookKeys.clear();
      resendKeys.clear();
      pagerduty.clear();
      alertmanager.clear();
    },

    async close() {
      abandonHolds('the alert receivers were closed');
      await Promise.all(
        [...servers.values()].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
  return receivers;
}

// ---------------------------------------------------------------- helpers

type ReadResult = { tooLarge: false; bytes: Buffer } | { tooLarge: true; size: number };

/** The body, or `tooLarge` (the rest drained, so the 413 reaches the client); null when aborted or far over the cap. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<ReadResult | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: ReadResult | null) => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > Math.max(maxBytes * DRAIN_LIMIT_FACTOR, DRAIN_LIMIT_MIN)) {
        finish(null);
        return;
      }
      if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => finish(size > maxBytes ? { tooLarge: true, size } : { tooLarge: false, bytes: Buffer.concat(chunks) }));
    req.on('error', () => finish(null));
    req.on('close', () => finish(null));
  });
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && /^application\/json\s*(;|$)/i.test(value.trim());
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isDateTime(value: unknown): boolean {
  return typeof value === 'string' && RFC3339.test(value) && Number.isFinite(Date.parse(value));
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Problems with a version-1 webhook payload (shared/alerts/targets/webhook.ts, WebhookPayload). */
function webhookPayloadProblems(body: unknown): string[] {
  if (!isObject(body)) return ['the body is not a JSON object'];
  const problems: string[] = [];
  if (body.version !== '1') problems.push(`version must be "1", got ${quote(String(body.version))}`);
  for (const field of ['tenantId', 'ruleId', 'dedupKey', 'startsAt'] as const) {
    if (typeof body[field] !== 'string' || body[field] === '') problems.push(`${field} must be a non-empty string`);
  }
  for (const field of ['ruleName', 'message'] as const) if (typeof body[field] !== 'string') problems.push(`${field} must be a string`);
  if (!['critical', 'warning', 'info'].includes(body.severity as string)) problems.push('severity must be critical, warning or info');
  if (!['firing', 'resolved'].includes(body.status as string)) problems.push('status must be firing or resolved');
  if (!isStringRecord(body.group)) problems.push('group must be an object of strings');
  if (!isStringRecord(body.labels)) problems.push('labels must be an object of strings');
  if (body.value !== null && typeof body.value !== 'number') problems.push('value must be a number or null');
  if ('threshold' in body && body.threshold !== null && typeof body.threshold !== 'number') problems.push('threshold must be a number or null');
  if ('endsAt' in body && typeof body.endsAt !== 'string') problems.push('endsAt must be a string');
  if ('explorerUrl' in body && (typeof body.explorerUrl !== 'string' || !isHttpUrl(body.explorerUrl))) problems.push('explorerUrl must be an http(s) URL');
  return problems;
}

const SLACK_BLOCK_TYPES = new Set(['header', 'section', 'actions', 'divider', 'context', 'image']);

/** Problems with a `blocks` array, per Slack's Block Kit reference (the block types a notification can use). */
function slackBlocksProblems(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return ['blocks must be an array'];
  const problems: string[] = [];
  if (blocks.length > 50) problems.push(`at most 50 blocks, got ${blocks.length}`);
  const actionIds = new Set<string>();
  const textObject = (where: string, value: unknown, max: number, { plainOnly = false } = {}): void => {
    if (!isObject(value)) {
      problems.push(`${where} must be a text object`);
      return;
    }
    if (value.type !== 'plain_text' && value.type !== 'mrkdwn') {
      problems.push(`${where}.type must be plain_text or mrkdwn`);
      return;
    }
    if (plainOnly && value.type !== 'plain_text') problems.push(`${where}.type must be plain_text`);
    if (typeof value.text !== 'string' || value.text.length === 0) problems.push(`${where}.text must be a non-empty string`);
    else if (value.text.length > max) problems.push(`${where}.text must be at most ${max} characters, got ${value.text.length}`);
    if ('emoji' in value && (value.type !== 'plain_text' || typeof value.emoji !== 'boolean')) problems.push(`${where}.emoji is only a boolean of plain_text`);
    if ('verbatim' in value && (value.type !== 'mrkdwn' || typeof value.verbatim !== 'boolean')) problems.push(`${where}.verbatim is only a boolean of mrkdwn`);
  };
  const button = (where: string, element: unknown): void => {
    if (!isObject(element) || element.type !== 'button') {
      problems.push(`${where} must be a button`);
      return;
    }
    textObject(`${where}.text`, element.text, 75, { plainOnly: true });
    if ('url' in element && (typeof element.url !== 'string' || element.url.length > 3_000 || !isHttpUrl(element.url))) {
      problems.push(`${where}.url must be a URL of at most 3000 characters`);
    }
    if ('value' in element && (typeof element.value !== 'string' || element.value.length > 2_000))
      problems.push(`${where}.value must be at most 2000 characters`);
    if ('style' in element && element.style !== 'primary' && element.style !== 'danger') problems.push(`${where}.style must be primary or danger`);
    if ('action_id' in element) {
      if (typeof element.action_id !== 'string' || element.action_id.length === 0 || element.action_id.length > 255) {
        problems.push(`${where}.action_id must be 1-255 characters`);
      } else if (actionIds.has(element.action_id)) {
        problems.push(`${where}.action_id ${quote(element.action_id)} is not unique`);
      } else {
        actionIds.add(element.action_id);
      }
    }
  };
  for (const [i, block] of blocks.slice(0, 50).entries()) {
    const at = `blocks[${i}]`;
    if (!isObject(block) || typeof block.type !== 'string') {
      problems.push(`${at} must be an object with a type`);
      continue;
    }
    if (!SLACK_BLOCK_TYPES.has(block.type)) {
      problems.push(`${at}.type ${quote(block.type)} is not a supported block type`);
      continue;
    }
    if ('block_id' in block && (typeof block.block_id !== 'string' || block.block_id.length === 0 || block.block_id.length > 255)) {
      problems.push(`${at}.block_id must be 1-255 characters`);
    }
    switch (block.type) {
      case 'header':
        textObject(`${at}.text`, block.text, 150, { plainOnly: true });
        break;
      case 'section':
        if (block.text === undefined && block.fields === undefined) problems.push(`${at} needs text or fields`);
        if (block.text !== undefined) textObject(`${at}.text`, block.text, 3_000);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length === 0 || block.fields.length > 10) problems.push(`${at}.fields must be 1-10 text objects`);
          else for (const [j, f] of block.fields.entries()) textObject(`${at}.fields[${j}]`, f, 2_000);
        }
        break;
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25) problems.push(`${at}.elements must be 1-25 elements`);
        else for (const [j, element] of block.elements.entries()) button(`${at}.elements[${j}]`, element);
        break;
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) problems.push(`${at}.elements must be 1-10 elements`);
        break;
      case 'image':
        if (typeof block.image_url !== 'string' || block.image_url.length > 3_000) problems.push(`${at}.image_url must be a URL of at most 3000 characters`);
        if (typeof block.alt_text !== 'string' || block.alt_text.length === 0 || block.alt_text.length > 2_000)
          problems.push(`${at}.alt_text must be 1-2000 characters`);
        break;
    }
  }
  return problems;
}

/** Problems with an Events API v2 alert event (PagerDuty developer docs, "Send an Alert Event"). */
function pagerDutyEventProblems(event: unknown, routingKeys: ReadonlySet<string> | undefined): string[] {
  if (!isObject(event)) return ['Event object must be a JSON object'];
  const errors: string[] = [];
  const blank = (value: unknown) => typeof value !== 'string' || value.trim() === '';
  if (blank(event.routing_key)) errors.push("'routing_key' is missing or blank");
  else if ((event.routing_key as string).length !== 32) errors.push("'routing_key' must be 32 characters");
  else if (routingKeys !== undefined && !routingKeys.has(event.routing_key as string)) errors.push('Invalid routing key');
  const action = event.event_action;
  if (blank(action)) errors.push("'event_action' is missing or blank");
  else if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve')
    errors.push("'event_action' must be one of trigger, acknowledge or resolve");
  if (event.dedup_key !== undefined) {
    if (blank(event.dedup_key)) errors.push("'dedup_key' must be a non-blank string");
    else if ((event.dedup_key as string).length > 255) errors.push("'dedup_key' must be at most 255 characters");
  } else if (action === 'acknowledge' || action === 'resolve') {
    errors.push(`'dedup_key' is required to ${action}`);
  }
  if (action !== 'trigger') return errors;

  const payload = event.payload;
  if (!isObject(payload)) {
    errors.push("'payload' is missing or not an object");
  } else {
    if (blank(payload.summary)) errors.push("'payload.summary' is missing or blank");
    else if ((payload.summary as string).length > 1_024)
      errors.push(`'payload.summary' must be at most 1024 characters, got ${(payload.summary as string).length}`);
    if (blank(payload.source)) errors.push("'payload.source' is missing or blank");
    if (blank(payload.severity)) errors.push("'payload.severity' is missing or blank");
    else if (!['critical', 'error', 'warning', 'info'].includes(payload.severity as string))
      errors.push("'payload.severity' must be one of critical, error, warning or info");
    if (payload.timestamp !== undefined && !(typeof payload.timestamp === 'string' && Number.isFinite(Date.parse(payload.timestamp)))) {
      errors.push("'payload.timestamp' must be an ISO 8601 date-time");
    }
    for (const field of ['component', 'group', 'class'] as const) {
      if (payload[field] !== undefined && typeof payload[field] !== 'string') errors.push(`'payload.${field}' must be a string`);
    }
    if (payload.custom_details !== undefined && !isObject(payload.custom_details)) errors.push("'payload.custom_details' must be an object");
  }
  if (event.links !== undefined) {
    if (!Array.isArray(event.links)) errors.push("'links' must be an array");
    else {
      for (const [i, link] of event.links.entries()) {
        if (!isObject(link) || blank(link.href) || (link.text !== undefined && typeof link.text !== 'string'))
          errors.push(`'links[${i}]' needs an href and a string text`);
      }
    }
  }
  if (event.images !== undefined) {
    if (!Array.isArray(event.images)) errors.push("'images' must be an array");
    else {
      for (const [i, image] of event.images.entries()) if (!isObject(image) || blank(image.src)) errors.push(`'images[${i}]' needs a src`);
    }
  }
  for (const field of ['client', 'client_url'] as const) {
    if (event[field] !== undefined && typeof event[field] !== 'string') errors.push(`'${field}' must be a string`);
  }
  return errors;
}

/** The OpenAPI (postableAlerts) schema checks, as go-swagger reports them. */
function postableAlertsSchemaProblems(body: unknown): string[] {
  if (!Array.isArray(body)) return ['alerts in body must be of type array'];
  const problems: string[] = [];
  for (const [i, alert] of body.entries()) {
    const at = `alerts.${i}`;
    if (!isObject(alert)) {
      problems.push(`${at} in body must be of type object`);
      continue;
    }
    if (alert.labels === undefined) problems.push(`${at}.labels in body is required`);
    else if (!isStringRecord(alert.labels)) problems.push(`${at}.labels in body must be an object of strings`);
    if (alert.annotations !== undefined && !isStringRecord(alert.annotations)) problems.push(`${at}.annotations in body must be an object of strings`);
    for (const field of ['startsAt', 'endsAt'] as const) {
      if (alert[field] !== undefined && !isDateTime(alert[field]))
        problems.push(`${at}.${field} in body must be of type date-time: ${quote(String(alert[field]))}`);
    }
    if (alert.generatorURL !== undefined && (typeof alert.generatorURL !== 'string' || !URL.canParse(alert.generatorURL))) {
      problems.push(`${at}.generatorURL in body must be of type uri`);
    }
  }
  return problems;
}

/** types.Alert.Validate: null when Alertmanager would store the alert. */
function alertProblem(labels: Record<string, string>, annotations: Record<string, string>, startsAt: string, endsAt: string | undefined): string | null {
  if (endsAt !== undefined && Date.parse(endsAt) < Date.parse(startsAt)) return 'start time must be before end time';
  const badLabel = Object.keys(labels).find((name) => !LABEL_NAME_RE.test(name));
  if (badLabel !== undefined) return `invalid label set: invalid name ${quote(badLabel)}`;
  if (Object.keys(labels).length === 0) return 'at least one label pair required';
  const badAnnotation = Object.keys(annotations).find((name) => !LABEL_NAME_RE.test(name));
  if (badAnnotation !== undefined) return `invalid annotations: invalid name ${quote(badAnnotation)}`;
  return null;
}

/** Resend's send-email validation: null when the email would be sent. */
function resendEmailProblem(body: unknown): { name: string; message: string } | null {
  if (!isObject(body)) return { name: 'validation_error', message: 'The request body must be a JSON object.' };
  for (const field of ['from', 'to', 'subject'] as const) {
    if (body[field] === undefined || body[field] === null || body[field] === '')
      return { name: 'missing_required_field', message: `Missing \`${field}\` field.` };
  }
  const from = body.from;
  const address = typeof from === 'string' ? (/^[^<>]*<([^<>]+)>$/.exec(from.trim())?.[1] ?? from.trim()) : '';
  if (!EMAIL_RE.test(address)) {
    return {
      name: 'invalid_from_address',
      message: 'Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.',
    };
  }
  for (const field of ['to', 'cc', 'bcc', 'reply_to'] as const) {
    const value = body[field];
    if (value === undefined) continue;
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.some((a) => typeof a !== 'string'))
      return { name: 'validation_error', message: `The \`${field}\` field must be a \`string\` or an array of strings.` };
    if (field === 'to' && (list.length === 0 || list.length > 50)) return { name: 'validation_error', message: 'The `to` field must have 1 to 50 recipients.' };
    const bad = list.find((a: string) => !EMAIL_RE.test(/^[^<>]*<([^<>]+)>$/.exec(a.trim())?.[1] ?? a.trim()));
    if (bad !== undefined) return { name: 'validation_error', message: `Invalid \`${field}\` field: ${quote(bad)} is not an email address.` };
  }
  if (typeof body.subject !== 'string') return { name: 'validation_error', message: 'The `subject` field must be a `string`.' };
  for (const field of ['text', 'html'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'string')
      return { name: 'validation_error', message: `The \`${field}\` field must be a \`string\`.` };
  }
  if (typeof body.text !== 'string' && typeof body.html !== 'string') return { name: 'validation_error', message: 'Missing `html` or `text` field.' };
  if (body.tags !== undefined) {
    if (!Array.isArray(body.tags)) return { name: 'validation_error', message: 'The `tags` field must be an array.' };
    for (const tag of body.tags) {
      if (!isObject(tag) || typeof tag.name !== 'string' || typeof tag.value !== 'string' || !RESEND_TAG_RE.test(tag.name) || !RESEND_TAG_RE.test(tag.value)) {
        return { name: 'validation_error', message: 'Tags should only contain ASCII letters, numbers, underscores, or dashes (at most 256 characters).' };
      }
    }
  }
  return null;
}
