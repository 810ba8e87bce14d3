import { describe, expect, it } from 'vitest';
import { alertmanagerAlertsUrl, alertmanagerLabels, sanitizeLabelName, validLabelNames } from '../../shared/alerts/targets/alertmanager.ts';
import { MAX_EMAIL_RECIPIENTS, RESEND_EMAILS_URL, validateEmailRecipients } from '../../shared/alerts/targets/email.ts';
import { type TargetConfig, buildTargetRequest } from '../../shared/alerts/targets/index.ts';
import { type AlertNotification, LIMITS, truncate } from '../../shared/alerts/targets/notification.ts';
import { PAGERDUTY_EVENTS_URL } from '../../shared/alerts/targets/pagerduty.ts';
import { SLACK_LIMITS, escapeMrkdwn } from '../../shared/alerts/targets/slack.ts';
import { signWebhookPayload, verifyWebhookSignature, webhookPayload } from '../../shared/alerts/targets/webhook.ts';
import { FIRING, RESOLVED } from '../support/alert-notifications.ts';

const NOW = Date.parse('2026-11-26T06:01:00Z');
const NOW_S = NOW / 1000;
const SECRET = 'whsec_test';
const MAIL = { apiKey: 're_test', from: 'NeuralLog <alerts@neurallog.example>' };

const firing = FIRING;
const resolved = RESOLVED;

const webhook: TargetConfig = { kind: 'webhook', url: 'https://hooks.example.com/neurallog', secret: SECRET };
const slack: TargetConfig = { kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/X' };
const pagerduty: TargetConfig = { kind: 'pagerduty', routingKey: 'R0UT1NGKEY0000000000000000000000' };
const alertmanager: TargetConfig = { kind: 'alertmanager', url: 'http://alertmanager.internal:9093' };
const email: TargetConfig = { kind: 'email', to: ['oncall@acme.example', 'lead@acme.example'] };
const ALL: TargetConfig[] = [webhook, slack, pagerduty, alertmanager, email];

const build = (config: TargetConfig, n: AlertNotification, now = NOW) => buildTargetRequest(config, n, now, { mail: MAIL });
const body = async (config: TargetConfig, n: AlertNotification, now = NOW): Promise<any> => JSON.parse((await build(config, n, now)).body);
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

describe('webhook target', () => {
  it('posts the versioned notification, with an idempotency key and a signature', async () => {
    const request = await build(webhook, firing);
    expect(request.url).toBe('https://hooks.example.com/neurallog');
    expect(request.method).toBe('POST');
    expect(Object.keys(request.headers).sort()).toEqual(['Idempotency-Key', 'NeuralLog-Signature', 'content-type']);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['Idempotency-Key']).toBe('r_01:service=api:3:firing');
    expect(request.headers['NeuralLog-Signature']).toMatch(new RegExp(`^t=${NOW_S},v1=[0-9a-f]{64}$`));
    expect(JSON.parse(request.body)).toEqual({
      version: '1',
      tenantId: 'acme',
      ruleId: 'r_01',
      ruleName: 'High error rate',
      severity: 'critical',
      status: 'firing',
      group: { service: 'api' },
      labels: { team: 'payments' },
      value: 153,
      threshold: 100,
      message: '153 errors in 5m on api',
      startsAt: '2026-11-26T06:00:00Z',
      explorerUrl: 'https://neurallog.example/explore?q=level%3Aerror&service=api',
      dedupKey: 'r_01:service=api:3',
    });
    expect(request.body.startsWith('{"version":"1",')).toBe(true);
  });

  it('sends a resolve under its own idempotency key, with endsAt; leaves out what is absent', async () => {
    const request = await build(webhook, resolved);
    expect(request.headers['Idempotency-Key']).toBe('r_01:service=api:3:resolved');
    expect(JSON.parse(request.body)).toMatchObject({ status: 'resolved', value: 4, endsAt: '2026-11-26T06:20:00Z' });
    const bare = JSON.parse((await build(webhook, { ...firing, threshold: undefined, explorerUrl: 'javascript:alert(1)', value: Number.NaN })).body);
    expect(bare).not.toHaveProperty('threshold');
    expect(bare).not.toHaveProperty('endsAt');
    expect(bare).not.toHaveProperty('explorerUrl');
    expect(bare.value).toBeNull();
  });

  it('signs HMAC-SHA256 of "<t>.<body>" in hex, as Stripe does (a known vector)', async () => {
    expect(await signWebhookPayload('whsec_test', '{"hello":"world"}', 1_700_000_000)).toBe(
      't=1700000000,v1=f592bbf3951cfc94e560eecfb5d9dd4da6b0fff2e626235f8ab4b54860925d0b',
    );
  });

  it('verifies with the right secret, and not with a wrong secret, a tampered body or an old timestamp', async () => {
    const request = await build(webhook, firing);
    const header = request.headers['NeuralLog-Signature']!;
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S)).toBe(true);
    // The raw bytes, as a receiver that has not decoded the body holds them.
    expect(await verifyWebhookSignature(SECRET, header, new TextEncoder().encode(request.body), NOW_S)).toBe(true);
    // Within the tolerance either way (clock skew).
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S + 300)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S - 300)).toBe(true);

    expect(await verifyWebhookSignature('whsec_other', header, request.body, NOW_S)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, header, request.body.replace('"value":153', '"value":154'), NOW_S)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, header, `${request.body} `, NOW_S)).toBe(false);
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S + 301)).toBe(false); // replayed later
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S - 301)).toBe(false); // from the future
    expect(await verifyWebhookSignature(SECRET, header, request.body, NOW_S + 60, 30)).toBe(false); // a tighter tolerance
    // The timestamp is signed: moving it breaks the signature even inside the window.
    const moved = header.replace(`t=${NOW_S}`, `t=${NOW_S + 10}`);
    expect(await verifyWebhookSignature(SECRET, moved, request.body, NOW_S)).toBe(false);
  });

  it('refuses malformed headers without throwing, and accepts any one of several v1 signatures (secret rotation)', async () => {
    const request = await build(webhook, firing);
    const header = request.headers['NeuralLog-Signature']!;
    const v1 = header.split('v1=')[1]!;
    for (const bad of [
      null,
      undefined,
      '',
      'garbage',
      `v1=${v1}`,
      `t=${NOW_S}`,
      `t=abc,v1=${v1}`,
      `t=${NOW_S},t=${NOW_S},v1=${v1}`,
      `t=${NOW_S},v1=zz`,
      `t=${NOW_S},v1=${v1.slice(2)}`,
    ]) {
      expect(await verifyWebhookSignature(SECRET, bad, request.body, NOW_S), String(bad)).toBe(false);
    }
    expect(await verifyWebhookSignature('', header, request.body, NOW_S)).toBe(false);
    const rotated = `t=${NOW_S},v1=${'0'.repeat(64)},v1=${v1},v0=ignored`;
    expect(await verifyWebhookSignature(SECRET, rotated, request.body, NOW_S)).toBe(true);
    expect(await verifyWebhookSignature(SECRET, ` t=${NOW_S} , v1=${v1.toUpperCase()} `, request.body, NOW_S)).toBe(true);
  });

  it('signs every attempt afresh but keeps the body and the idempotency key (retries)', async () => {
    const first = await build(webhook, firing, NOW);
    const retry = await build(webhook, { ...firing, group: { service: 'api' }, labels: { team: 'payments' } }, NOW + 90_000);
    expect(retry.body).toBe(first.body);
    expect(retry.headers['Idempotency-Key']).toBe(first.headers['Idempotency-Key']);
    expect(retry.headers['NeuralLog-Signature']).not.toBe(first.headers['NeuralLog-Signature']);
    expect(await verifyWebhookSignature(SECRET, retry.headers['NeuralLog-Signature'], retry.body, NOW_S + 90)).toBe(true);
    // Maps are emitted sorted by key: the order a group was built in does not change the body.
    const a = await build(webhook, { ...firing, group: { service: 'api', level: 'error' } });
    const b = await build(webhook, { ...firing, group: { level: 'error', service: 'api' } });
    expect(a.body).toBe(b.body);
    expect(a.body).toContain('"group":{"level":"error","service":"api"}');
  });

  it('hashes an idempotency key that is too long or not printable ASCII (a header must be), keeping the raw dedupKey in the body', async () => {
    const unicode = await build(webhook, { ...firing, dedupKey: 'r_01:service=café\r\nX-Evil: 1:3' });
    expect(unicode.headers['Idempotency-Key']).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(JSON.parse(unicode.body).dedupKey).toBe('r_01:service=café\r\nX-Evil: 1:3');
    const long = await build(webhook, { ...firing, dedupKey: 'k'.repeat(300) });
    expect(long.headers['Idempotency-Key']).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect((await build(webhook, { ...firing, dedupKey: 'k'.repeat(300) })).headers['Idempotency-Key']).toBe(long.headers['Idempotency-Key']);
    // Every header value is one fetch accepts.
    expect(() => new Headers(unicode.headers)).not.toThrow();
  });
});

describe('Slack target', () => {
  it('posts a Block Kit message: header, message, fields and a button to the explorer', async () => {
    const request = await build(slack, firing);
    expect(request).toMatchObject({ url: 'https://hooks.slack.com/services/T0/B0/X', method: 'POST', headers: { 'content-type': 'application/json' } });
    const message = JSON.parse(request.body);
    expect(message.text).toBe('[FIRING] High error rate: 153 errors in 5m on api');
    expect(message.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: '[FIRING] High error rate', emoji: false } },
      { type: 'section', text: { type: 'mrkdwn', text: '153 errors in 5m on api' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Rule*\nHigh error rate' },
          { type: 'mrkdwn', text: '*Severity*\ncritical' },
          { type: 'mrkdwn', text: '*Status*\nfiring' },
          { type: 'mrkdwn', text: '*Value*\n153 (threshold 100)' },
          { type: 'mrkdwn', text: '*Group*\nservice=api' },
          { type: 'mrkdwn', text: '*Labels*\nteam=payments' },
          { type: 'mrkdwn', text: '*Started*\n2026-11-26T06:00:00Z' },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open in explorer' },
            url: 'https://neurallog.example/explore?q=level%3Aerror&service=api',
            action_id: 'neurallog_open_explorer',
          },
        ],
      },
    ]);
  });

  it('says RESOLVED with the end time; no group, no message, no usable URL: nothing empty is sent', async () => {
    const message = await body(slack, { ...resolved, group: {}, labels: {}, message: ' ', explorerUrl: 'not a url' });
    expect(message.blocks[0].text.text).toBe('[RESOLVED] High error rate');
    expect(message.blocks.map((b: any) => b.type)).toEqual(['header', 'section']);
    const fields = message.blocks[1].fields.map((f: any) => f.text);
    expect(fields).toContain('*Group*\n(none)');
    expect(fields).toContain('*Ended*\n2026-11-26T06:20:00Z');
    expect(fields.some((f: string) => f.startsWith('*Labels*'))).toBe(false);
  });

  it('escapes &, < and > in every mrkdwn text (no channel pings, no injected links), and nothing else', async () => {
    const hostile: AlertNotification = {
      ...firing,
      ruleName: 'Errors <5xx> & timeouts',
      message: '<!channel> deploy <https://evil.example|click here> & "quotes" \'stay\' > 1',
      group: { 'svc<1>': 'a&b' },
    };
    const message = await body(slack, hostile);
    expect(message.blocks[1].text.text).toBe('&lt;!channel&gt; deploy &lt;https://evil.example|click here&gt; &amp; "quotes" \'stay\' &gt; 1');
    expect(message.text).toBe(
      '[FIRING] Errors &lt;5xx&gt; &amp; timeouts: &lt;!channel&gt; deploy &lt;https://evil.example|click here&gt; &amp; "quotes" \'stay\' &gt; 1',
    );
    const fields = message.blocks[2].fields.map((f: any) => f.text);
    expect(fields).toContain('*Rule*\nErrors &lt;5xx&gt; &amp; timeouts');
    expect(fields).toContain('*Group*\nsvc&lt;1&gt;=a&amp;b');
    // plain_text is not parsed by Slack: sent as it is.
    expect(message.blocks[0].text).toEqual({ type: 'plain_text', text: '[FIRING] Errors <5xx> & timeouts', emoji: false });
    for (const text of [message.text, message.blocks[1].text.text, ...fields]) expect(text).not.toMatch(/[<>]/);
  });

  it('caps after escaping without cutting an entity in half', () => {
    const escaped = escapeMrkdwn('&'.repeat(5_000), SLACK_LIMITS.sectionText);
    expect(escaped.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(escaped).toMatch(/^(&amp;)+…$/);
    expect(escapeMrkdwn('a<b', 10)).toBe('a&lt;b');
  });
});

describe('PagerDuty target', () => {
  it('triggers an Events API v2 alert with the dedup key', async () => {
    const request = await build(pagerduty, firing);
    expect(request.url).toBe(PAGERDUTY_EVENTS_URL);
    expect(request.url).toBe('https://events.pagerduty.com/v2/enqueue');
    expect(request.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(request.body)).toEqual({
      routing_key: 'R0UT1NGKEY0000000000000000000000',
      event_action: 'trigger',
      dedup_key: 'r_01:service=api:3',
      payload: {
        summary: 'High error rate: 153 errors in 5m on api',
        source: 'neurallog/acme',
        severity: 'critical',
        timestamp: '2026-11-26T06:00:00Z',
        component: 'api',
        class: 'log alert',
        custom_details: {
          rule: 'High error rate',
          rule_id: 'r_01',
          status: 'firing',
          value: 153,
          threshold: 100,
          group: { service: 'api' },
          labels: { team: 'payments' },
          message: '153 errors in 5m on api',
        },
      },
      links: [{ href: 'https://neurallog.example/explore?q=level%3Aerror&service=api', text: 'Open in NeuralLog explorer' }],
      client: 'NeuralLog',
      client_url: 'https://neurallog.example/explore?q=level%3Aerror&service=api',
    });
  });

  it('resolves with the same dedup key and only the fields PagerDuty reads; the URL can be overridden', async () => {
    const request = await build({ ...pagerduty, url: 'http://127.0.0.1:9999/v2/enqueue' } as TargetConfig, resolved);
    expect(request.url).toBe('http://127.0.0.1:9999/v2/enqueue');
    expect(JSON.parse(request.body)).toEqual({ routing_key: 'R0UT1NGKEY0000000000000000000000', event_action: 'resolve', dedup_key: 'r_01:service=api:3' });
  });

  it('maps severities, leaves out a component without a service, and hashes a dedup key over 255 characters', async () => {
    for (const severity of ['critical', 'warning', 'info'] as const) {
      expect((await body(pagerduty, { ...firing, severity })).payload.severity).toBe(severity);
    }
    expect((await body(pagerduty, { ...firing, group: {} })).payload).not.toHaveProperty('component');
    const event = await body(pagerduty, { ...firing, dedupKey: 'x'.repeat(300) });
    expect(event.dedup_key).toBe('sha256-0d4e2ca9e9cbced7a7a5380eb29e1a3783b9b6d0db72de36a1051038e1c1fbc7');
    expect((await body(pagerduty, { ...resolved, dedupKey: 'x'.repeat(300) })).dedup_key).toBe(event.dedup_key);
    // A key of any text within 255 characters is sent as it is (it is JSON, not a header).
    expect((await body(pagerduty, { ...firing, dedupKey: 'r:café:1' })).dedup_key).toBe('r:café:1');
  });
});

describe('Alertmanager target', () => {
  it('posts to <base>/api/v2/alerts, whatever the base looks like', () => {
    expect(alertmanagerAlertsUrl('http://am:9093')).toBe('http://am:9093/api/v2/alerts');
    expect(alertmanagerAlertsUrl('http://am:9093/')).toBe('http://am:9093/api/v2/alerts');
    expect(alertmanagerAlertsUrl('https://ops.example.com/alertmanager/')).toBe('https://ops.example.com/alertmanager/api/v2/alerts');
    expect(alertmanagerAlertsUrl('http://am:9093/api/v2/alerts')).toBe('http://am:9093/api/v2/alerts');
  });

  it('posts a postableAlerts array: identity labels, group, labels, annotations, no endsAt while firing', async () => {
    const request = await build(alertmanager, firing);
    expect(request).toMatchObject({ url: 'http://alertmanager.internal:9093/api/v2/alerts', method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(request.body)).toEqual([
      {
        labels: { alertname: 'High error rate', severity: 'critical', tenant: 'acme', rule_id: 'r_01', service: 'api', team: 'payments' },
        annotations: {
          summary: 'High error rate: 153 errors in 5m on api',
          description: '153 errors in 5m on api',
          value: '153',
          threshold: '100',
          dedup_key: 'r_01:service=api:3',
        },
        startsAt: '2026-11-26T06:00:00Z',
        generatorURL: 'https://neurallog.example/explore?q=level%3Aerror&service=api',
      },
    ]);
  });

  it('resolves by sending the same labels with endsAt (the notification’s, else now)', async () => {
    const [alert] = await body(alertmanager, resolved);
    const [firingAlert] = await body(alertmanager, firing);
    expect(alert.labels).toEqual(firingAlert.labels);
    expect(alert.endsAt).toBe('2026-11-26T06:20:00Z');
    const [withoutEnd] = await body(alertmanager, { ...resolved, endsAt: undefined });
    expect(withoutEnd.endsAt).toBe(new Date(NOW).toISOString());
  });

  it('sanitises group and label keys into valid label names, never overriding the identity labels', async () => {
    const n: AlertNotification = {
      ...firing,
      group: { 'service.name': 'api', 'k8s-pod': 'p-1', '2xx': 'y', _id: 'i', '': 'empty', tenant: 'other-tenant', alertname: 'spoof', naïve: 'n' },
      labels: { 'team/owner': 'payments', severity: 'critical', 'service-name': 'web' },
    };
    const labels = alertmanagerLabels(n);
    expect(labels).toEqual({
      alertname: 'High error rate',
      severity: 'critical', // the rule's label `severity: critical` says the same thing: not repeated
      tenant: 'acme',
      rule_id: 'r_01',
      key_: 'empty',
      key_2xx: 'y',
      key_id: 'i',
      exported_alertname: 'spoof',
      k8s_pod: 'p-1',
      na_ve: 'n',
      service_name: 'api',
      exported_tenant: 'other-tenant',
      team_owner: 'payments',
      exported_service_name: 'web', // `service-name` sanitises to a name the group already took
    });
    expect(validLabelNames(labels)).toBe(true);
    const [alert] = await body(alertmanager, n);
    expect(alert.labels).toEqual(labels);
    // Two distinct groups whose keys sanitise alike stay two distinct label sets.
    // Sorted by key: `a b`, `a-b`, `a.b`.
    const ab = alertmanagerLabels({ ...firing, labels: {}, group: { 'a.b': '1', 'a-b': '2', 'a b': '3' } });
    expect(ab).toMatchObject({ a_b: '3', exported_a_b: '2', exported_a_b_2: '1' });
  });

  it.each([
    ['service', 'service'],
    ['service.name', 'service_name'],
    ['http-status', 'http_status'],
    ['2xx', 'key_2xx'],
    ['_private', 'key_private'],
    ['__name__', '__name__'],
    ['', 'key_'],
    ['日本', '__'],
    ['a b', 'a_b'],
  ])('sanitizeLabelName(%j) = %j', (key, name) => {
    expect(sanitizeLabelName(key)).toBe(name);
    expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
  });
});

describe('email target (Resend)', () => {
  it('posts a plain-text email with the deployment’s key, sender and an idempotency key', async () => {
    const request = await build(email, firing);
    expect(request.url).toBe(RESEND_EMAILS_URL);
    expect(request.url).toBe('https://api.resend.com/emails');
    expect(Object.keys(request.headers).sort()).toEqual(['Idempotency-Key', 'authorization', 'content-type']);
    expect(request.headers.authorization).toBe('Bearer re_test');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['Idempotency-Key']).toMatch(/^r_01:service=api:3:firing:[0-9a-f]{16}$/);
    const mail = JSON.parse(request.body);
    expect(Object.keys(mail).sort()).toEqual(['from', 'subject', 'tags', 'text', 'to']);
    expect(mail.from).toBe('NeuralLog <alerts@neurallog.example>');
    expect(mail.to).toEqual(['oncall@acme.example', 'lead@acme.example']);
    expect(mail.subject).toBe('[FIRING] critical: High error rate (service=api)');
    expect(mail.text).toBe(
      [
        'FIRING: High error rate (critical)',
        '',
        '153 errors in 5m on api',
        '',
        'Value:   153 (threshold 100)',
        'Group:   service=api',
        'Labels:  team=payments',
        'Started: 2026-11-26T06:00:00Z',
        'Tenant:  acme',
        'Rule id: r_01',
        '',
        'Open in the explorer: https://neurallog.example/explore?q=level%3Aerror&service=api',
        '',
        '-- ',
        'Sent by NeuralLog alerting.',
      ].join('\n'),
    );
    expect(mail.tags).toEqual([
      { name: 'category', value: 'alert' },
      { name: 'severity', value: 'critical' },
      { name: 'status', value: 'firing' },
    ]);
  });

  it('keys idempotency by notification, status and recipients; a retry builds the same request', async () => {
    const first = await build(email, firing, NOW);
    const retry = await build(email, firing, NOW + 600_000);
    expect(retry).toEqual(first);
    const reordered = await build({ kind: 'email', to: ['lead@acme.example', 'oncall@acme.example'] }, firing);
    expect(reordered.headers['Idempotency-Key']).toBe(first.headers['Idempotency-Key']);
    const others = await build({ kind: 'email', to: ['someone@acme.example'] }, firing);
    expect(others.headers['Idempotency-Key']).not.toBe(first.headers['Idempotency-Key']);
    const resolve = await build(email, resolved);
    expect(resolve.headers['Idempotency-Key']).toMatch(/^r_01:service=api:3:resolved:[0-9a-f]{16}$/);
    expect(JSON.parse(resolve.body).subject).toBe('[RESOLVED] critical: High error rate (service=api)');
    expect(JSON.parse(resolve.body).text).toContain('Ended:   2026-11-26T06:20:00Z');
  });

  it('uses the deployment’s mail API URL, and cannot be sent without one', async () => {
    const request = await buildTargetRequest(email, firing, NOW, { mail: { ...MAIL, url: 'http://127.0.0.1:8025/emails' } });
    expect(request.url).toBe('http://127.0.0.1:8025/emails');
    await expect(buildTargetRequest(email, firing, NOW)).rejects.toThrow(/mail API/);
  });

  it('refuses recipient lists that are empty, too long, or could smuggle in another recipient', async () => {
    expect(validateEmailRecipients(['a@b.example'])).toBeNull();
    expect(validateEmailRecipients([])).toMatch(/at least one/);
    expect(validateEmailRecipients('a@b.example')).toMatch(/at least one/);
    expect(validateEmailRecipients(Array.from({ length: MAX_EMAIL_RECIPIENTS + 1 }, (_, i) => `u${i}@b.example`))).toMatch(/at most 50/);
    expect(validateEmailRecipients(Array.from({ length: MAX_EMAIL_RECIPIENTS }, (_, i) => `u${i}@b.example`))).toBeNull();
    for (const bad of ['a@b.example, evil@x.example', 'Eve <eve@x.example>', 'a@b.example\r\nBcc: evil@x.example', 'no-at-sign', 'a@nodot', undefined, 42]) {
      expect(validateEmailRecipients(['ok@b.example', bad]), String(bad)).toMatch(/not a plain email address/);
    }
    await expect(build({ kind: 'email', to: ['a@b.example, evil@x.example'] }, firing)).rejects.toThrow(TypeError);
  });
});

describe('every target', () => {
  it('carries __proto__ / constructor group and label keys as data, changing no prototype', async () => {
    const group = JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":"c","toString":"t","hasOwnProperty":"h","service":"api"}');
    const labels = JSON.parse('{"__proto__":"p","isAdmin":"no"}');
    const n: AlertNotification = { ...firing, group, labels };

    const payload = webhookPayload(n);
    expect(Object.getPrototypeOf(payload.group)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(payload.group, '__proto__')?.value).toBe('[object Object]');
    expect(Object.getOwnPropertyDescriptor(payload.group, 'constructor')?.value).toBe('c');
    expect((payload.group as any).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(payload.labels, '__proto__')?.value).toBe('p');

    const sent = await body(webhook, n);
    expect(Object.keys(sent.group)).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'service', 'toString']);
    expect(Object.getPrototypeOf(sent.group)).toBe(Object.prototype);

    const am = alertmanagerLabels(n);
    expect(Object.getPrototypeOf(am)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(am, '__proto__')?.value).toBe('[object Object]');
    expect(Object.getOwnPropertyDescriptor(am, 'exported___proto__')?.value).toBe('p');
    expect(am.constructor).toBe('c'); // an own string, as data
    expect(validLabelNames(am)).toBe(true);

    const pd = await body(pagerduty, n);
    expect(pd.payload.component).toBe('api');
    expect(Object.keys(pd.payload.custom_details.group)).toContain('__proto__');

    const sl = await body(slack, n);
    expect(sl.blocks[2].fields.map((f: any) => f.text)).toContain(
      '*Group*\n__proto__=[object Object], constructor=c, hasOwnProperty=h, service=api, toString=t',
    );
    expect((await body(email, n)).text).toContain('Group:   __proto__=[object Object], constructor=c, hasOwnProperty=h, service=api, toString=t');

    // Nothing leaked onto shared prototypes, and the input is untouched.
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).isAdmin).toBeUndefined();
    expect(Object.keys(group)).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'service']);
    // A prototype-less record reads the same.
    const bare = Object.assign(Object.create(null), { service: 'api' });
    expect(webhookPayload({ ...firing, group: bare }).group).toEqual({ service: 'api' });
  });

  it('holds the size caps on every string field that goes into a payload', async () => {
    const huge: AlertNotification = {
      ...firing,
      ruleName: 'R'.repeat(1_000),
      message: `${'m'.repeat(100_000)}END`,
      group: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`${String(i).padStart(3, '0')}${'k'.repeat(500)}`, 'v'.repeat(5_000)])),
      labels: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${i}`, 'w'.repeat(2_000)])),
    };

    const wh = await body(webhook, huge);
    expect(wh.ruleName.length).toBe(LIMITS.ruleName);
    expect(wh.message.length).toBe(LIMITS.message);
    expect(wh.message.endsWith('…')).toBe(true);
    expect(Object.keys(wh.group)).toHaveLength(LIMITS.mapEntries);
    expect(Object.keys(wh.labels)).toHaveLength(LIMITS.mapEntries);
    for (const [k, v] of Object.entries<string>({ ...wh.group, ...wh.labels })) {
      expect(k.length).toBeLessThanOrEqual(LIMITS.mapKey);
      expect(v.length).toBeLessThanOrEqual(LIMITS.mapValue);
    }

    const sl = await body(slack, huge);
    expect(sl.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
    expect(sl.blocks[0].text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(sl.blocks[1].text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(sl.blocks[2].fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
    for (const f of sl.blocks[2].fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);

    const pd = await body(pagerduty, huge);
    expect(pd.payload.summary.length).toBe(1_024);
    expect(pd.payload.custom_details.message.length).toBe(LIMITS.message);

    const [am] = await body(alertmanager, huge);
    expect(am.annotations.summary.length).toBe(1_024);
    expect(am.annotations.description.length).toBe(LIMITS.message);
    expect(Object.keys(am.labels).length).toBeLessThanOrEqual(4 + 2 * LIMITS.mapEntries);
    for (const v of Object.values<string>(am.labels)) expect(v.length).toBeLessThanOrEqual(LIMITS.mapValue);

    const mail = await body(email, huge);
    expect(mail.subject.length).toBeLessThanOrEqual(200);
    expect(mail.text).not.toContain('END');
    expect(mail.text.length).toBeLessThanOrEqual(LIMITS.message + 2 * LIMITS.mapEntries * (LIMITS.mapKey + LIMITS.mapValue + 3) + 2 * LIMITS.ruleName + 1_000);

    // No payload carries the uncapped message.
    for (const config of ALL) expect((await build(config, huge)).body).not.toContain('END');
  });

  it('never cuts a character in half (surrogate pairs) when capping', async () => {
    const emoji: AlertNotification = { ...firing, ruleName: '🔥'.repeat(200), message: '😀'.repeat(3_000) };
    expect(truncate('a😀b', 2)).toBe('a…');
    expect(truncate('😀😀', 3)).toBe('😀…');
    for (const config of ALL) {
      const request = await build(config, emoji);
      expect(request.body, config.kind).not.toMatch(LONE_SURROGATE);
      expect(JSON.stringify(JSON.parse(request.body))).not.toMatch(/\\ud[89a-f]/i);
    }
  });

  it('builds the same body for a retry (only the webhook signature and an Alertmanager resolve without endsAt use now)', async () => {
    for (const config of ALL) {
      for (const n of [firing, resolved]) {
        const a = await build(config, n, NOW);
        const b = await build(config, n, NOW + 3_600_000);
        expect(b.body, `${config.kind} ${n.status}`).toBe(a.body);
        expect(b.url).toBe(a.url);
      }
    }
  });
});
