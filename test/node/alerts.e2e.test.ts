/**
 * Alerting on the stack as `npm start` starts it, with local stand-ins of the
 * receivers (test/support/alert-receivers.ts: a webhook receiver that checks
 * the signature, a Slack-shaped one, PagerDuty Events v2, Alertmanager v2):
 * a threshold rule fires within 5 s of the batch that crosses it and resolves
 * when the rate drops, to every target once; group-by gives one alert per
 * group; absence fires when a steady stream stops; a receiver answering 500
 * three times then 200 gets one delivery; a crash of the runtime in the middle
 * of a delivery delivers once after the restart; a muted rule notifies nobody.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { freePort } from '../../scripts/ports.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { type AlertReceivers, type ReceivedRequest, startAlertReceivers } from '../support/alert-receivers.ts';
import { eventually } from '../support/eventually.ts';

let dataDir: string;
let clickhouse: EmbeddedClickHouse;
let stack: RunningStack;
let port: number;
let receivers: AlertReceivers;
const targets: Record<'webhook' | 'slack' | 'pagerduty' | 'alertmanager', string> = { webhook: '', slack: '', pagerduty: '', alertmanager: '' };
const tag = `al${Date.now().toString(36)}`;

const WORKER_ENV = { NEURALLOG_FLUSH_MAX_AGE_MS: '300', NEURALLOG_ALERT_EVALUATION_DELAY_S: '2', NEURALLOG_ALERTMANAGER_REPOST_S: '5' };

async function api<T = any>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json', ...init.headers },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function start(): Promise<void> {
  // ClickHouse is started here, not by the stack, so that it outlives a crash of the stack.
  stack = await startStack({ port, dataDir, clickhouseUrl: clickhouse.url, embeddedClickHousePort: 0, workerEnv: WORKER_ENV, onOutput: () => undefined });
}

/** Sends records and returns when they were acknowledged. */
async function send(service: string, level: string, n: number): Promise<number> {
  await api('/v1/logs', {
    method: 'POST',
    body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ service, level, message: `${level} event ${i} of ${service}` }))),
  });
  return Date.now();
}

async function createRule(rule: Record<string, unknown>): Promise<string> {
  return (await api<{ id: string }>('/v1/alerts/rules', { method: 'POST', body: JSON.stringify({ interval: '10s', ...rule }) })).id;
}

/** Webhook requests of one rule (the signed, versioned JSON body names it). */
function webhookOf(ruleId: string): ReceivedRequest[] {
  return receivers.requests('webhook').filter((r) => (r.body as { ruleId?: string } | undefined)?.ruleId === ruleId);
}

/** Waits on what the receivers got: polled every 100 ms; a timeout lists every request they received. */
const RECEIVED = { intervalMs: 100, context: () => receivers.summary() };

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-alerts-'));
  receivers = await startAlertReceivers();
  clickhouse = await startEmbeddedClickHouse({ dataPath: join(dataDir, 'clickhouse'), port: await freePort() });
  port = await freePort();
  await start();
  const create = async (name: string, body: Record<string, unknown>) =>
    (await api<{ id: string }>('/v1/alerts/targets', { method: 'POST', body: JSON.stringify({ name, ...body }) })).id;
  targets.webhook = await create('hooks', { kind: 'webhook', url: receivers.urls.webhook, secret: receivers.webhookSecret });
  targets.slack = await create('slack', { kind: 'slack', url: receivers.urls.slack });
  targets.pagerduty = await create('pagerduty', {
    kind: 'pagerduty',
    routingKey: 'R0123456789ABCDEF0123456789ABCDE',
    url: `${receivers.urls.pagerduty}/v2/enqueue`,
  });
  targets.alertmanager = await create('alertmanager', { kind: 'alertmanager', url: receivers.urls.alertmanager });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await clickhouse?.close();
  await receivers?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('alerts end to end', () => {
  it('fires within 5 s of the batch that crosses the threshold, to every target once, and resolves when the rate drops', async () => {
    const service = `${tag}-checkout`;
    const ruleId = await createRule({
      name: 'checkout errors',
      query: `service:${service} level:error`,
      condition: { kind: 'threshold', op: '>', value: 5, window: '10s' },
      severity: 'critical',
      labels: { team: 'payments' },
      targets: Object.values(targets),
    });
    await send(service, 'error', 3); // under the threshold
    await new Promise((r) => setTimeout(r, 1_000));
    expect(webhookOf(ruleId)).toEqual([]);
    const sentAt = Date.now();
    const crossedAt = await send(service, 'error', 3);

    const fired = await eventually('the webhook receives the firing', () => webhookOf(ruleId).find((r) => r.accepted), { ...RECEIVED, timeoutMs: 5_000 });
    // From the acknowledgement of the crossing batch (the fast path may even beat the answer to the client).
    const latency = fired.at - crossedAt;
    expect(latency).toBeLessThan(5_000);
    const body = fired.body as { status: string; group: object; labels: Record<string, string>; value: number; dedupKey: string; explorerUrl: string };
    expect(body).toMatchObject({ status: 'firing', labels: { team: 'payments' }, group: {} });
    expect(body.value).toBeGreaterThan(5);
    expect(body.explorerUrl).toContain(stack.url);

    // Every target got the firing, once (the webhook's signature was checked by the receiver).
    await eventually(
      'PagerDuty, Slack and Alertmanager receive it',
      () => ['slack', 'pagerduty', 'alertmanager'].every((r) => receivers.deliveries(r as 'slack').length > 0),
      { ...RECEIVED, timeoutMs: 5_000 },
    );
    const pd = receivers.deliveries('pagerduty').filter((r) => (r.body as { dedup_key?: string }).dedup_key === body.dedupKey);
    expect(pd.map((r) => (r.body as { event_action: string }).event_action)).toEqual(['trigger']);

    // No more errors: the window empties, the alert resolves, and the resolves carry the same dedup key.
    await eventually(
      'the webhook receives the resolve',
      () => webhookOf(ruleId).find((r) => r.accepted && (r.body as { status: string }).status === 'resolved'),
      { ...RECEIVED, timeoutMs: 45_000 },
    );
    await eventually(
      'PagerDuty receives the resolve',
      () =>
        receivers
          .deliveries('pagerduty')
          .find(
            (r) =>
              (r.body as { dedup_key?: string; event_action?: string }).dedup_key === body.dedupKey &&
              (r.body as { event_action: string }).event_action === 'resolve',
          ),
      { ...RECEIVED, timeoutMs: 5_000 },
    );
    const webhookKeys = new Set(
      webhookOf(ruleId)
        .filter((r) => r.accepted)
        .map((r) => `${(r.body as { dedupKey: string }).dedupKey}/${(r.body as { status: string }).status}`),
    );
    expect(webhookKeys.size).toBe(2); // one firing, one resolve
    const current = await api<{ alerts: { ruleId: string; state: string }[] }>('/v1/alerts');
    expect(current.alerts.find((a) => a.ruleId === ruleId)?.state).toBe('resolved');
    const history = await api<{ events: { event: string }[] }>(`/v1/alerts/history?rule=${ruleId}`);
    expect(history.events.map((e) => e.event)).toEqual(expect.arrayContaining(['firing', 'resolved', 'notification_sent']));
    console.log(`alerts e2e: webhook received ${fired.at - sentAt} ms after the crossing batch was sent, ${latency} ms after it was acknowledged`);
  }, 90_000);

  it('group_by service gives one alert per service over the threshold, batched into one Alertmanager request', async () => {
    const services = [1, 2, 3].map((i) => `${tag}-grp${i}`);
    const ruleId = await createRule({
      name: 'errors per service',
      query: `level:error service:(${services.join(' OR ')})`,
      groupBy: ['service'],
      condition: { kind: 'threshold', op: '>', value: 2, window: '10s' },
      targets: [targets.webhook, targets.alertmanager],
    });
    // One batch crosses two groups' thresholds at once.
    const records = [
      ...Array.from({ length: 3 }, (_, i) => ({ service: services[0], level: 'error', message: `e${i}` })),
      ...Array.from({ length: 4 }, (_, i) => ({ service: services[1], level: 'error', message: `e${i}` })),
      { service: services[2], level: 'error', message: 'e0' },
    ];
    await api('/v1/logs', { method: 'POST', body: JSON.stringify(records) });
    await eventually('two alerts', () => webhookOf(ruleId).filter((r) => r.accepted).length >= 2, { ...RECEIVED, timeoutMs: 5_000 });
    const amPosts = () =>
      receivers.deliveries('alertmanager').filter((r) => (r.body as { labels: { rule_id: string } }[]).some((a) => a.labels.rule_id === ruleId));
    await eventually('Alertmanager has them', () => amPosts().length > 0, { ...RECEIVED, timeoutMs: 5_000 });
    expect(amPosts()).toHaveLength(1);
    expect((amPosts()[0]!.body as { labels: { service: string } }[]).map((a) => a.labels.service).sort()).toEqual([services[0], services[1]]);
    await new Promise((r) => setTimeout(r, 1_000));
    const groups = webhookOf(ruleId)
      .filter((r) => (r.body as { status: string }).status === 'firing')
      .map((r) => (r.body as { group: { service: string } }).group.service)
      .sort();
    expect(groups).toEqual([services[0], services[1]]);
  }, 30_000);

  it('absence fires when a steady stream stops', async () => {
    const service = `${tag}-nightly`;
    const stream = setInterval(() => void send(service, 'info', 1).catch(() => undefined), 1_000);
    try {
      await new Promise((r) => setTimeout(r, 4_000));
      const ruleId = await createRule({
        name: 'nightly job stopped logging',
        query: `service:${service}`,
        condition: { kind: 'absence', below: 1, window: '10s' },
        targets: [targets.webhook],
      });
      // While it logs: no alert, over a couple of evaluations.
      await new Promise((r) => setTimeout(r, 12_000));
      expect(webhookOf(ruleId)).toEqual([]);
      clearInterval(stream);
      const stoppedAt = Date.now();
      const fired = await eventually('the absence fires', () => webhookOf(ruleId).find((r) => r.accepted), { ...RECEIVED, timeoutMs: 40_000 });
      expect((fired.body as { status: string; value: number }).status).toBe('firing');
      // Window + evaluation delay + one interval, with slack for this machine.
      expect(fired.at - stoppedAt).toBeLessThan(35_000);
    } finally {
      clearInterval(stream);
    }
  }, 90_000);

  it('a receiver answering 500 three times then 200 gets exactly one delivery', async () => {
    const service = `${tag}-flaky`;
    const ruleId = await createRule({
      name: 'flaky receiver',
      query: `service:${service}`,
      condition: { kind: 'threshold', op: '>=', value: 1, window: '10s' },
      targets: [targets.webhook],
    });
    receivers.failNext('webhook', [500, 500, 500]);
    await send(service, 'error', 1);
    const delivered = await eventually('delivered after the retries', () => webhookOf(ruleId).find((r) => r.accepted), { ...RECEIVED, timeoutMs: 30_000 });
    const firing = webhookOf(ruleId).filter(
      (r) =>
        (r.body as { dedupKey: string; status: string }).dedupKey === (delivered.body as { dedupKey: string }).dedupKey &&
        (r.body as { status: string }).status === 'firing',
    );
    expect(firing.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(firing.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(webhookOf(ruleId).filter((r) => r.accepted && (r.body as { status: string }).status === 'firing')).toHaveLength(1);
  }, 60_000);

  it('a muted rule notifies nobody, and its alert still shows', async () => {
    const service = `${tag}-muted`;
    const ruleId = await createRule({
      name: 'muted',
      query: `service:${service}`,
      condition: { kind: 'threshold', op: '>=', value: 1, window: '10s' },
      targets: [targets.webhook, targets.pagerduty],
    });
    await api(`/v1/alerts/rules/${ruleId}/mute`, { method: 'POST', body: JSON.stringify({ until: new Date(Date.now() + 3_600_000).toISOString() }) });
    await send(service, 'error', 2);
    const firing = await eventually(
      'the muted alert fires',
      async () =>
        (await api<{ alerts: { ruleId: string; state: string; muted: boolean }[] }>('/v1/alerts')).alerts.find(
          (a) => a.ruleId === ruleId && a.state === 'firing',
        ),
      { ...RECEIVED, timeoutMs: 5_000 },
    );
    expect(firing.muted).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(webhookOf(ruleId)).toEqual([]);
    const history = await api<{ events: { event: string }[] }>(`/v1/alerts/history?rule=${ruleId}`);
    expect(history.events.filter((e) => e.event === 'notification_suppressed')).toHaveLength(2);
  }, 30_000);

  it('a rule muted while its alert fires still sends the resolve, so no incident is left open', async () => {
    const service = `${tag}-mute-late`;
    const ruleId = await createRule({
      name: 'muted while firing',
      query: `service:${service}`,
      condition: { kind: 'threshold', op: '>=', value: 1, window: '10s' },
      targets: [targets.pagerduty],
    });
    await send(service, 'error', 1);
    const trigger = await eventually(
      'the trigger',
      () =>
        receivers
          .deliveries('pagerduty')
          .find(
            (r) =>
              (r.body as { payload?: { custom_details?: { rule_id?: string } }; event_action: string }).event_action === 'trigger' &&
              JSON.stringify(r.body).includes(ruleId),
          ),
      { ...RECEIVED, timeoutMs: 5_000 },
    );
    await api(`/v1/alerts/rules/${ruleId}/mute`, { method: 'POST', body: JSON.stringify({ until: new Date(Date.now() + 3_600_000).toISOString() }) });
    const dedupKey = (trigger.body as { dedup_key: string }).dedup_key;
    await eventually(
      'the resolve, though muted',
      () =>
        receivers
          .deliveries('pagerduty')
          .find(
            (r) =>
              (r.body as { dedup_key: string; event_action: string }).dedup_key === dedupKey && (r.body as { event_action: string }).event_action === 'resolve',
          ),
      { ...RECEIVED, timeoutMs: 45_000 },
    );
  }, 60_000);

  it('re-posts a firing alert to Alertmanager while it fires (every NEURALLOG_ALERTMANAGER_REPOST_S), so that its resolve_timeout does not end it', async () => {
    const service = `${tag}-long`;
    const ruleId = await createRule({
      name: 'long incident',
      query: `service:${service}`,
      condition: { kind: 'threshold', op: '>=', value: 1, window: '5m' },
      interval: '10s',
      targets: [targets.alertmanager],
    });
    await send(service, 'error', 1);
    const posts = () =>
      receivers.deliveries('alertmanager').filter((r) => (r.body as { labels: { rule_id: string } }[]).some((a) => a.labels.rule_id === ruleId));
    await eventually('the first post', () => posts().length === 1, { ...RECEIVED, timeoutMs: 5_000 });
    await eventually('a re-post (5 s here, a minute by default)', () => posts().length >= 2, { ...RECEIVED, timeoutMs: 30_000 });
    const [first, second] = posts();
    const alertOf = (r: ReceivedRequest) => (r.body as { labels: Record<string, string>; endsAt?: string }[])[0]!;
    expect(alertOf(second!).labels).toEqual(alertOf(first!).labels); // the same alert to Alertmanager
    expect(alertOf(second!).endsAt).toBeUndefined(); // still firing
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(4_500);
  }, 60_000);

  it('a crash of the runtime in the middle of a delivery delivers once after the restart', async () => {
    const service = `${tag}-crash`;
    const ruleId = await createRule({
      name: 'crash mid-delivery',
      query: `service:${service}`,
      condition: { kind: 'threshold', op: '>=', value: 1, window: '10s' },
      targets: [targets.webhook],
    });
    const held = receivers.holdNext('webhook');
    await send(service, 'error', 1);
    const first = await held.arrived;
    expect((first.body as { ruleId: string }).ruleId).toBe(ruleId);
    // kill -9 while the receiver holds the request; then the receiver takes it (the answer is lost).
    await stack.crash();
    held.release();
    await start();
    const again = await eventually('the delivery is retried after the restart', () => webhookOf(ruleId).filter((r) => r.seq > first.seq)[0], {
      ...RECEIVED,
      timeoutMs: 60_000,
    });
    expect(again.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect((again.body as { dedupKey: string }).dedupKey).toBe((first.body as { dedupKey: string }).dedupKey);
    await new Promise((r) => setTimeout(r, 2_000));
    // Counted by dedup key, the receiver has one firing of this rule: the retry was a replay of the same key.
    const keys = new Set(
      webhookOf(ruleId)
        .filter((r) => r.accepted)
        .map((r) => `${(r.body as { dedupKey: string }).dedupKey}/${(r.body as { status: string }).status}`),
    );
    expect([...keys].filter((k) => k.endsWith('/firing'))).toHaveLength(1);
    // Its resolve (decided while the firing's retry was still waiting) comes after the firing, never before.
    const resolve = await eventually('the resolve', () => webhookOf(ruleId).find((r) => r.accepted && (r.body as { status: string }).status === 'resolved'), {
      ...RECEIVED,
      timeoutMs: 40_000,
    });
    const firings = webhookOf(ruleId).filter((r) => (r.body as { status: string }).status === 'firing');
    expect(Math.max(...firings.map((r) => r.seq))).toBeLessThan(resolve.seq);
  }, 180_000);
});
