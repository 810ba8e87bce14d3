/**
 * The alert receivers' stand-ins (test/support/alert-receivers.ts) driven with
 * the real request builders (shared/alerts/targets) and `fetch`: they accept
 * what the builders send, refuse what the real services refuse, and their
 * scripted failures, holds and queries behave as end-to-end tests rely on.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlertNotification, type TargetConfig, buildTargetRequest, signWebhookPayload } from '../../shared/alerts/targets/index.ts';
import { type AlertReceivers, labelSetFingerprint, startAlertReceivers } from '../support/alert-receivers.ts';
import { FIRING, RESOLVED } from '../support/alert-notifications.ts';

const ROUTING_KEY = 'R0UT1NGKEY0000000000000000000000';

const firing = FIRING;
const resolved = RESOLVED;

let r: AlertReceivers;

beforeAll(async () => {
  r = await startAlertReceivers({ pagerdutyRoutingKeys: [ROUTING_KEY] });
});
afterAll(async () => {
  await r.close();
});
beforeEach(() => {
  r.reset();
});

const target = {
  webhook: (): TargetConfig => ({ kind: 'webhook', url: r.urls.webhook, secret: r.webhookSecret }),
  slack: (): TargetConfig => ({ kind: 'slack', url: r.urls.slack }),
  pagerduty: (): TargetConfig => ({ kind: 'pagerduty', routingKey: ROUTING_KEY, url: `${r.urls.pagerduty}/v2/enqueue` }),
  alertmanager: (): TargetConfig => ({ kind: 'alertmanager', url: r.urls.alertmanager }),
  email: (to = ['oncall@acme.example', 'lead@acme.example']): TargetConfig => ({ kind: 'email', to }),
};

function mail(apiKey = r.resendApiKey) {
  return { url: r.urls.resend, apiKey, from: 'NeuralLog <alerts@neurallog.example>' };
}

async function build(config: TargetConfig, n: AlertNotification, now = Date.now(), apiKey?: string) {
  return buildTargetRequest(config, n, now, { mail: mail(apiKey) });
}

async function post(url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function deliver(config: TargetConfig, n: AlertNotification, now = Date.now(), apiKey?: string) {
  const request = await build(config, n, now, apiKey);
  return { ...(await post(request.url, request.body, request.headers)), request };
}

describe('webhook stand-in', () => {
  it('accepts a signed delivery and records it (lower-cased headers, parsed body, raw body, dedup key)', async () => {
    const { status, text, request } = await deliver(target.webhook(), firing);
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ received: true });
    const [received, ...rest] = r.requests('webhook');
    expect(rest).toEqual([]);
    expect(received).toMatchObject({
      receiver: 'webhook',
      method: 'POST',
      path: '/hooks/neurallog',
      status: 200,
      accepted: true,
      replayed: false,
      scripted: false,
    });
    expect(received!.headers['idempotency-key']).toBe('r_01:service=api:3:firing');
    expect(received!.headers['neurallog-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(received!.rawBody).toBe(request.body);
    expect(received!.body).toMatchObject({ version: '1', dedupKey: 'r_01:service=api:3', status: 'firing' });
    expect(received!.dedupKey).toBe('r_01:service=api:3');
    expect(received!.at).toBeGreaterThan(Date.now() - 5_000);
    expect(r.deliveries('webhook')).toHaveLength(1);
  });

  it('answers 401 to a wrong, missing, stale or non-matching signature, and records each as rejected', async () => {
    const wrongSecret = await build({ kind: 'webhook', url: r.urls.webhook, secret: 'whsec_someone_else' }, firing);
    expect((await post(wrongSecret.url, wrongSecret.body, wrongSecret.headers)).status).toBe(401);

    const valid = await build(target.webhook(), firing);
    const { 'NeuralLog-Signature': _signature, ...unsigned } = valid.headers;
    expect((await post(valid.url, valid.body, unsigned)).status).toBe(401);

    const stale = await build(target.webhook(), firing, Date.now() - 10 * 60_000);
    expect((await post(stale.url, stale.body, stale.headers)).status).toBe(401);

    expect((await post(valid.url, valid.body.replace('"value":153', '"value":154'), valid.headers)).status).toBe(401);

    const rejected = r.requests('webhook');
    expect(rejected.map((q) => q.status)).toEqual([401, 401, 401, 401]);
    expect(rejected.map((q) => q.error)).toEqual(['invalid signature', 'missing NeuralLog-Signature header', 'invalid signature', 'invalid signature']);
    expect(rejected.every((q) => !q.accepted)).toBe(true);
    expect(r.deliveries('webhook')).toEqual([]);
    expect(r.distinctDedupKeys('webhook')).toEqual([]);
  });

  it('refuses a correctly signed body that is not a version-1 payload (400), or one without an Idempotency-Key', async () => {
    const body = JSON.stringify({ version: '2', dedupKey: 'k' });
    const signature = await signWebhookPayload(r.webhookSecret, body, Math.floor(Date.now() / 1000));
    const headers = { 'content-type': 'application/json', 'NeuralLog-Signature': signature, 'Idempotency-Key': 'k:firing' };
    const answer = await post(r.urls.webhook, body, headers);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error).toContain('version must be "1"');

    const valid = await build(target.webhook(), firing);
    const { 'Idempotency-Key': _key, ...withoutKey } = valid.headers;
    expect((await post(valid.url, valid.body, withoutKey)).status).toBe(400);
  });

  it('answers a retry with a known Idempotency-Key 200 again, marked replayed: two deliveries, one dedup key', async () => {
    expect((await deliver(target.webhook(), firing)).status).toBe(200);
    const retry = await deliver(target.webhook(), firing, Date.now() + 1_000);
    expect(retry.status).toBe(200);
    expect(JSON.parse(retry.text)).toEqual({ received: true, duplicate: true });
    expect(r.deliveries('webhook').map((q) => q.replayed)).toEqual([false, true]);
    expect((await deliver(target.webhook(), resolved)).status).toBe(200);
    expect(r.distinctDedupKeys('webhook')).toEqual(['r_01:service=api:3']);
    expect(new Set(r.deliveries('webhook').map((q) => q.headers['idempotency-key'])).size).toBe(2);
  });
});

describe('Slack stand-in', () => {
  it('accepts the Block Kit message with `ok`, keyed by a hash of the body', async () => {
    const first = await deliver(target.slack(), firing);
    expect(first.status).toBe(200);
    expect(first.text).toBe('ok');
    const second = await deliver(target.slack(), firing);
    expect(second.status).toBe(200);
    const [a, b] = r.deliveries('slack');
    expect(a!.dedupKey).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(b!.dedupKey).toBe(a!.dedupKey);
    expect(r.distinctDedupKeys('slack')).toHaveLength(1);
  });

  it('refuses what Slack refuses: invalid_payload, no_text, invalid_blocks, no_service', async () => {
    expect(await post(r.urls.slack, '{not json')).toMatchObject({ status: 400, text: 'invalid_payload' });
    expect(await post(r.urls.slack, '{}')).toMatchObject({ status: 400, text: 'no_text' });
    const longHeader = { text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] };
    expect(await post(r.urls.slack, JSON.stringify(longHeader))).toMatchObject({ status: 400, text: 'invalid_blocks' });
    const elevenFields = { blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }] };
    expect(await post(r.urls.slack, JSON.stringify(elevenFields))).toMatchObject({ status: 400, text: 'invalid_blocks' });
    expect(await post(r.urls.slack.replace('/services/', '/nope/'), '{"text":"hi"}')).toMatchObject({ status: 404, text: 'no_service' });
    expect(r.requests('slack').map((q) => q.error)).toEqual([
      'invalid_payload',
      'no_text',
      'invalid_blocks: blocks[0].text.text must be at most 150 characters, got 151',
      'invalid_blocks: blocks[0].fields must be 1-10 text objects',
      'no_service',
    ]);
    expect(r.deliveries('slack')).toEqual([]);
  });
});

describe('PagerDuty stand-in', () => {
  it('answers 202 Event processed with the dedup key, and a resolve resolves the alert the trigger opened', async () => {
    const trigger = await deliver(target.pagerduty(), firing);
    expect(trigger.status).toBe(202);
    expect(JSON.parse(trigger.text)).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'r_01:service=api:3' });
    expect(r.pagerdutyAlerts()).toEqual([
      { dedupKey: 'r_01:service=api:3', status: 'triggered', triggers: 1, summary: 'High error rate: 153 errors in 5m on api', severity: 'critical' },
    ]);
    const resolve = await deliver(target.pagerduty(), resolved);
    expect(resolve.status).toBe(202);
    expect(r.pagerdutyAlerts()).toMatchObject([{ dedupKey: 'r_01:service=api:3', status: 'resolved', triggers: 1 }]);
    expect(r.deliveries('pagerduty').map((q) => q.dedupKey)).toEqual(['r_01:service=api:3', 'r_01:service=api:3']);
  });

  it('answers 400 invalid event listing every problem', async () => {
    const event = { routing_key: ROUTING_KEY, event_action: 'trigger', payload: { source: 'neurallog/acme', severity: 'fatal' } };
    const answer = await post(`${r.urls.pagerduty}/v2/enqueue`, JSON.stringify(event));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ["'payload.summary' is missing or blank", "'payload.severity' must be one of critical, error, warning or info"],
    });

    const resolveWithoutKey = { routing_key: ROUTING_KEY, event_action: 'resolve' };
    expect(JSON.parse((await post(`${r.urls.pagerduty}/v2/enqueue`, JSON.stringify(resolveWithoutKey))).text).errors).toEqual([
      "'dedup_key' is required to resolve",
    ]);

    const otherKey = await deliver({ kind: 'pagerduty', routingKey: 'X'.repeat(32), url: `${r.urls.pagerduty}/v2/enqueue` }, firing);
    expect(otherKey.status).toBe(400);
    expect(JSON.parse(otherKey.text).errors).toEqual(['Invalid routing key']);

    expect((await deliver(target.pagerduty(), firing)).status).toBe(202);
    const long = await post(
      `${r.urls.pagerduty}/v2/enqueue`,
      JSON.stringify({ ...event, payload: { ...event.payload, severity: 'info', summary: 's'.repeat(1_025) } }),
    );
    expect(JSON.parse(long.text).errors).toEqual(["'payload.summary' must be at most 1024 characters, got 1025"]);

    expect((await post(`${r.urls.pagerduty}/v1/enqueue`, '{}')).status).toBe(404);
    expect(r.requests('pagerduty').map((q) => q.status)).toEqual([400, 400, 400, 202, 400, 404]);
    expect(r.pagerdutyAlerts()).toHaveLength(1);
  });
});

describe('Alertmanager stand-in', () => {
  it('takes postable alerts with 200 and an empty body; a resolve is the same fingerprint with endsAt', async () => {
    const posted = await deliver(target.alertmanager(), firing);
    expect(posted.status).toBe(200);
    expect(posted.text).toBe('');
    const labels = JSON.parse(posted.request.body)[0].labels;
    const [alert] = r.alertmanagerAlerts();
    expect(alert).toMatchObject({ fingerprint: labelSetFingerprint(labels), status: 'firing', posts: 1, endsAt: undefined, startsAt: '2026-11-26T06:00:00Z' });
    expect(r.deliveries('alertmanager')[0]!.dedupKeys).toEqual(['r_01:service=api:3']);

    expect((await deliver(target.alertmanager(), resolved)).status).toBe(200);
    expect(r.alertmanagerAlerts()).toMatchObject([{ fingerprint: labelSetFingerprint(labels), status: 'resolved', posts: 2, endsAt: '2026-11-26T06:20:00Z' }]);
    expect(r.distinctDedupKeys('alertmanager')).toEqual(['r_01:service=api:3']);
  });

  it('fingerprints label sets as Prometheus does (prometheus/common signature_test vector)', () => {
    expect(BigInt(`0x${labelSetFingerprint({ name: 'garland, briggs', fear: 'love is not enough' })}`)).toBe(5799056148416392346n);
  });

  it('stores the valid alerts of a batch and answers 400 with the others’ errors; 422 for the schema, 415 for the content type', async () => {
    const url = `${r.urls.alertmanager}/api/v2/alerts`;
    const batch = [
      { labels: { alertname: 'ok', instance: 'a' } },
      { labels: { 'service.name': 'api' } },
      { labels: { alertname: 'backwards' }, startsAt: '2026-11-26T06:10:00Z', endsAt: '2026-11-26T06:00:00Z' },
      { labels: { alertname: '' } },
    ];
    const answer = await post(url, JSON.stringify(batch));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toBe(
      'invalid label set: invalid name "service.name"; start time must be before end time; at least one label pair required',
    );
    expect(r.alertmanagerAlerts().map((a) => a.labels)).toEqual([{ alertname: 'ok', instance: 'a' }]);

    const schema = await post(url, JSON.stringify([{ annotations: { summary: 's' } }]));
    expect(schema.status).toBe(422);
    expect(JSON.parse(schema.text)).toEqual({ code: 602, message: 'alerts.0.labels in body is required' });
    expect((await post(url, JSON.stringify({ labels: {} }))).status).toBe(422);
    expect((await post(url, '[', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post(url, '[]', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(url, '[]')).status).toBe(200);
    expect(r.deliveries('alertmanager')).toHaveLength(1);
  });
});

describe('Resend stand-in', () => {
  it('sends with 200 {id}; the same Idempotency-Key and body replays the id; another body is a 409', async () => {
    const first = await deliver(target.email(), firing);
    expect(first.status).toBe(200);
    const { id } = JSON.parse(first.text);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const retry = await deliver(target.email(), firing);
    expect(retry.status).toBe(200);
    expect(JSON.parse(retry.text)).toEqual({ id });
    expect(r.deliveries('resend').map((q) => q.replayed)).toEqual([false, true]);
    expect(r.distinctDedupKeys('resend')).toEqual([first.request.headers['Idempotency-Key']]);

    const changed = await post(first.request.url, first.request.body.replace('High error rate', 'Other rule'), first.request.headers);
    expect(changed.status).toBe(409);
    expect(JSON.parse(changed.text)).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
  });

  it('refuses a missing or wrong API key (401), a missing field (422), a bad sender (422), an over-long key (400)', async () => {
    const request = await build(target.email(), firing);
    const { authorization: _auth, ...noAuth } = request.headers;
    const missing = await post(request.url, request.body, noAuth);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toMatchObject({ statusCode: 401, name: 'missing_api_key' });

    const wrong = await deliver(target.email(), firing, Date.now(), 're_wrong');
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text)).toMatchObject({ name: 'validation_error', message: 'API key is invalid' });

    const { subject: _subject, ...noSubject } = JSON.parse(request.body);
    const noSubjectAnswer = await post(request.url, JSON.stringify(noSubject), { ...request.headers, 'Idempotency-Key': 'no-subject' });
    expect(noSubjectAnswer.status).toBe(422);
    expect(JSON.parse(noSubjectAnswer.text)).toEqual({ statusCode: 422, name: 'missing_required_field', message: 'Missing `subject` field.' });

    const badFrom = await post(request.url, JSON.stringify({ ...JSON.parse(request.body), from: 'not an address' }), {
      ...request.headers,
      'Idempotency-Key': 'bad-from',
    });
    expect(badFrom.status).toBe(422);
    expect(JSON.parse(badFrom.text).name).toBe('invalid_from_address');

    expect((await post(request.url, request.body, { ...request.headers, 'Idempotency-Key': 'k'.repeat(257) })).status).toBe(400);
    expect(r.deliveries('resend')).toEqual([]);
  });
});

describe('scripted failures and holds', () => {
  it('failNext answers the next requests with the given statuses (and Retry-After), then the receiver answers normally', async () => {
    r.failNext('pagerduty', [500, 500, 429], { retryAfter: 2 });
    const statuses: number[] = [];
    const retryAfter: Array<string | null> = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const answer = await deliver(target.pagerduty(), firing);
      statuses.push(answer.status);
      retryAfter.push(answer.headers.get('retry-after'));
    }
    expect(statuses).toEqual([500, 500, 429, 202]);
    expect(retryAfter).toEqual(['2', '2', '2', null]);
    expect(r.requests('pagerduty').map((q) => q.scripted)).toEqual([true, true, true, false]);
    expect(r.deliveries('pagerduty')).toHaveLength(1);
    expect(r.pagerdutyAlerts()).toMatchObject([{ triggers: 1 }]);
    // Only that receiver was scripted.
    expect((await deliver(target.slack(), firing)).status).toBe(200);
  });

  it('holdNext keeps the request pending until release(): the receiver’s own answer, or a scripted status', async () => {
    const hold = r.holdNext('webhook');
    const answer = deliver(target.webhook(), firing);
    const held = await hold.arrived;
    expect(held.status).toBe(0);
    expect(r.requests('webhook')).toHaveLength(1);
    expect(r.deliveries('webhook')).toEqual([]);
    hold.release();
    expect((await answer).status).toBe(200);
    expect(held).toMatchObject({ status: 200, accepted: true, dropped: false });

    const second = r.holdNext('webhook');
    second.release(503, { retryAfter: 1 }); // decided before it arrives
    const refused = await deliver(target.webhook(), resolved);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(r.requests('webhook')[1]).toMatchObject({ status: 503, scripted: true, accepted: false });
  });

  it('holdNext + drop: the receiver accepts but the answer is lost; the sender’s retry is a replay of the same delivery', async () => {
    const hold = r.holdNext('webhook');
    const lost = deliver(target.webhook(), firing);
    await hold.arrived;
    hold.drop();
    await expect(lost).rejects.toThrow(TypeError);
    expect(r.requests('webhook')[0]).toMatchObject({ dropped: true, accepted: true, status: 200 });

    const retry = await deliver(target.webhook(), firing);
    expect(retry.status).toBe(200);
    expect(r.deliveries('webhook').map((q) => [q.dropped, q.replayed])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(r.distinctDedupKeys('webhook')).toEqual(['r_01:service=api:3']);
  });

  it('Resend answers 409 concurrent_idempotent_requests while the first request with that key is held', async () => {
    const hold = r.holdNext('resend');
    const first = deliver(target.email(), firing);
    await hold.arrived;
    const concurrent = await deliver(target.email(), firing);
    expect(concurrent.status).toBe(409);
    expect(JSON.parse(concurrent.text).name).toBe('concurrent_idempotent_requests');
    hold.release();
    expect((await first).status).toBe(200);
    expect((await deliver(target.email(), firing)).status).toBe(200);
    expect(r.requests('resend').map((q) => [q.status, q.replayed])).toEqual([
      [200, false],
      [409, false],
      [200, true],
    ]);
  });
});

describe('queries', () => {
  it('counts distinct dedup keys over retries, firings and resolves', async () => {
    const other: AlertNotification = { ...firing, group: { service: 'web' }, dedupKey: 'r_01:service=web:1' };
    for (const n of [firing, firing, other, resolved, { ...other, status: 'resolved' as const }]) {
      expect((await deliver(target.pagerduty(), n)).status).toBe(202);
    }
    r.failNext('pagerduty', [500]);
    expect((await deliver(target.pagerduty(), { ...firing, dedupKey: 'never-delivered' })).status).toBe(500);
    expect(r.deliveries('pagerduty')).toHaveLength(5);
    expect(r.distinctDedupKeys('pagerduty')).toEqual(['r_01:service=api:3', 'r_01:service=web:1']);
    expect(r.pagerdutyAlerts().map((a) => [a.dedupKey, a.status, a.triggers])).toEqual([
      ['r_01:service=api:3', 'resolved', 2],
      ['r_01:service=web:1', 'resolved', 1],
    ]);
  });

  it('waitFor resolves with the predicate’s value, and times out listing what was received', async () => {
    setTimeout(() => void deliver(target.slack(), firing), 30);
    const found = await r.waitFor((all) => all.find((q) => q.receiver === 'slack' && q.status === 200), 2_000);
    expect(found.receiver).toBe('slack');

    await deliver(target.pagerduty(), firing);
    const error = await r.waitFor((all) => all.length > 5, 50, 'six requests').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^waitFor timed out after 50 ms \(six requests\); 2 request\(s\) received:/);
    expect((error as Error).message).toContain('slack POST /services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX → 200');
    expect((error as Error).message).toContain('pagerduty POST /v2/enqueue → 202 dedup="r_01:service=api:3"');
  });

  it('reset forgets requests, scripts and state, and abandons holds that never arrived', async () => {
    await deliver(target.pagerduty(), firing);
    r.failNext('slack', [500]);
    const hold = r.holdNext('webhook');
    r.reset();
    await expect(hold.arrived).rejects.toThrow(/reset/);
    expect(r.requests()).toEqual([]);
    expect(r.pagerdutyAlerts()).toEqual([]);
    expect((await deliver(target.slack(), firing)).status).toBe(200);
    expect((await deliver(target.webhook(), firing)).status).toBe(200);
  });
});

describe('hostile input', () => {
  it('answers 413 to a body over the cap and keeps serving', async () => {
    const small = await startAlertReceivers({ maxBodyBytes: 1_024 });
    try {
      const big = await post(`${small.urls.pagerduty}/v2/enqueue`, JSON.stringify({ pad: 'x'.repeat(200_000) }));
      expect(big.status).toBe(413);
      expect(small.requests('pagerduty')[0]).toMatchObject({ status: 413, rawBody: '', accepted: false });
      const ok = await post(`${small.urls.pagerduty}/v2/enqueue`, JSON.stringify({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'k' }));
      expect(ok.status).toBe(202);
    } finally {
      await small.close();
    }
  });

  it('refuses garbage on every receiver with a 4xx, without crashing', async () => {
    const urls = [r.urls.webhook, r.urls.slack, `${r.urls.pagerduty}/v2/enqueue`, `${r.urls.alertmanager}/api/v2/alerts`, r.urls.resend];
    const bodies = ['', 'null', '"string"', '[1,2,3]', '{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}', '\u0000\uFFFF{', '['.repeat(10_000)];
    for (const url of urls) {
      for (const body of bodies) {
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${r.resendApiKey}` };
        const { status } = await post(url, body, headers);
        expect(status, `${url} ${JSON.stringify(body.slice(0, 20))}`).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.deliveries('pagerduty')).toEqual([]);

    // A malformed request line gets a 400 from the server, which keeps serving.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(r.urls.slack).port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString();
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await deliver(target.slack(), firing)).status).toBe(200);
  });
});
