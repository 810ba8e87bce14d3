/**
 * Notification targets: /v1/alerts/targets on the ingest worker, per tenant in D1 — secrets sealed at
 * rest and never returned, URLs checked against SSRF, bounded, audited, isolated, kept while a rule uses them.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { loadTargets, MAX_ALERT_TARGETS } from '../../shared/alerts/target-definition.ts';
import { PAGERDUTY_EVENTS_URL } from '../../shared/alerts/targets/pagerduty.ts';
import { handleError } from '../../shared/api-error.ts';
import { loadConfig, secretsKey } from '../../shared/config.ts';
import type { IngestApp } from '../../workers/ingest/env.ts';
import { alertTargetRoutes } from '../../workers/ingest/routes/alert-targets.ts';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

function request(method: string, url: string, key: string, body?: unknown): Request {
  return new Request(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function call(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(request(method, `https://neurallog.test/v1/alerts/targets${path}`, key, body));
}

function callRules(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(request(method, `https://neurallog.test/v1/alerts/rules${path}`, key, body));
}

/** A tenant of its own with an alerts:write key. */
async function freshTenant(): Promise<{ tenant: string; key: string }> {
  const tenant = `at-${crypto.randomUUID().slice(0, 10)}`;
  await provisionTenant(tenant);
  return { tenant, key: await provisionKey(tenant, ['alerts:write']) };
}

const rootSecret = () => secretsKey(loadConfig(env));

const WEBHOOK_SECRET = 'whsec_given_0123456789abcdef';
const SLACK_URL = 'https://hooks.slack.com/services/T0SLACK/B0SLACK/slackCredentialPath42';
const ROUTING_KEY = 'R0utingKeyR0utingKeyR0utingKey77';
const SECRETS = [WEBHOOK_SECRET, SLACK_URL, 'slackCredentialPath42', ROUTING_KEY];

const TARGETS = {
  webhook: { kind: 'webhook', name: 'hook', url: 'https://receiver.example.com/hook', secret: WEBHOOK_SECRET },
  slack: { kind: 'slack', name: 'slack', url: SLACK_URL },
  pagerduty: { kind: 'pagerduty', name: 'pager', routingKey: ROUTING_KEY },
  alertmanager: { kind: 'alertmanager', name: 'am', url: 'https://alertmanager.example.com/' },
  email: { kind: 'email', name: 'mail', to: ['oncall@example.com', 'team+alerts@example.org'] },
} as const;

const errorsOver100 = { name: 'errors over 100', query: 'level:error', condition: { kind: 'threshold', op: '>', value: 100, window: '5m' } };

function expectNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) expect(text, `${where} holds ${secret}`).not.toContain(secret);
}

describe('alert targets', () => {
  it('creates each kind, shows only its public part, and seals its secret at rest', async () => {
    const { tenant, key } = await freshTenant();
    const created: Record<string, any> = {};
    for (const [kind, body] of Object.entries(TARGETS)) {
      const res = await call('POST', '', key, body);
      const text = await res.text();
      expect(res.status, text).toBe(201);
      expectNoSecret(text, `create ${kind}`);
      created[kind] = JSON.parse(text);
      expect(created[kind]).toMatchObject({ name: body.name, kind, version: 1 });
      expect(created[kind].id).toMatch(/^tgt_/);
      expect(created[kind].signingSecret).toBeUndefined(); // the webhook's secret was given, not generated
    }
    expect(created.webhook.config).toEqual({ url: 'https://receiver.example.com/hook', secretSet: true });
    expect(created.slack.config).toEqual({ urlHost: 'hooks.slack.com' });
    expect(created.pagerduty.config).toEqual({ url: PAGERDUTY_EVENTS_URL, routingKeyEnds: 'ey77' });
    expect(created.alertmanager.config).toEqual({ url: 'https://alertmanager.example.com/' });
    expect(created.email.config).toEqual({ to: ['oncall@example.com', 'team+alerts@example.org'] });

    // Read back, one by one and as a list (by name).
    for (const target of Object.values(created)) expect(await (await call('GET', `/${target.id}`, key)).json()).toEqual(target);
    const list = await call('GET', '', key);
    const listText = await list.text();
    expectNoSecret(listText, 'list');
    expect(JSON.parse(listText).targets.map((t: any) => t.name)).toEqual(['am', 'hook', 'mail', 'pager', 'slack']);

    // At rest: `config` holds no secret; `secret` holds them sealed, not in the clear.
    const rows = await env.CONTROL_DB.prepare('SELECT id, kind, config, secret FROM alert_targets WHERE tenant_id = ?')
      .bind(tenant)
      .all<{ id: string; kind: string; config: string; secret: string | null }>();
    expect(rows.results).toHaveLength(5);
    for (const row of rows.results) {
      expectNoSecret(row.config, `config of ${row.kind}`);
      if (row.kind === 'alertmanager' || row.kind === 'email') expect(row.secret, row.kind).toBeNull();
      else {
        expect(row.secret, row.kind).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        expectNoSecret(row.secret!, `secret of ${row.kind}`);
      }
    }

    // The evaluator's view: every secret opened, the exact TargetConfig.
    const loaded = await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [...Object.values(created).map((t) => t.id), 'tgt_missing']);
    expect(loaded.size).toBe(5);
    expect(loaded.get(created.webhook.id)).toEqual({
      id: created.webhook.id,
      name: 'hook',
      version: 1,
      config: { kind: 'webhook', url: 'https://receiver.example.com/hook', secret: WEBHOOK_SECRET },
    });
    expect(loaded.get(created.slack.id)!.config).toEqual({ kind: 'slack', url: SLACK_URL });
    expect(loaded.get(created.pagerduty.id)!.config).toEqual({ kind: 'pagerduty', routingKey: ROUTING_KEY, url: PAGERDUTY_EVENTS_URL });
    expect(loaded.get(created.alertmanager.id)!.config).toEqual({ kind: 'alertmanager', url: 'https://alertmanager.example.com/' });
    expect(loaded.get(created.email.id)!.config).toEqual({ kind: 'email', to: ['oncall@example.com', 'team+alerts@example.org'] });
    expect(loaded.has('tgt_missing')).toBe(false);
    // Another tenant's loader sees none of them.
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), 'someone-else', [created.webhook.id])).size).toBe(0);

    // Each create audited, without a secret.
    const audit = await env.CONTROL_DB.prepare('SELECT action, details FROM audit_log WHERE tenant_id = ? ORDER BY id')
      .bind(tenant)
      .all<{ action: string; details: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(Array(5).fill('alert_target.create'));
    for (const row of audit.results) expectNoSecret(row.details, 'audit');
    expect(JSON.parse(audit.results[0]!.details)).toEqual({ targetId: created.webhook.id, name: 'hook', kind: 'webhook' });
  });

  it('returns a generated webhook secret once, rotates it, and keeps stored secrets through a PUT that leaves them out', async () => {
    const { tenant, key } = await freshTenant();
    const res = await call('POST', '', key, { kind: 'webhook', name: 'generated', url: 'https://receiver.example.com/hook' });
    expect(res.status).toBe(201);
    const created = await res.json<any>();
    expect(created.signingSecret).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
    const first = created.signingSecret as string;
    const got = await (await call('GET', `/${created.id}`, key)).text();
    expect(got).not.toContain(first);
    expect(JSON.parse(got).signingSecret).toBeUndefined();
    expect((await (await call('GET', '', key)).text()).includes(first)).toBe(false);
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [created.id])).get(created.id)!.config).toMatchObject({ secret: first });

    // Rotation: a new secret, once; the old one is gone.
    const rotated = await call('POST', `/${created.id}/rotate-secret`, key);
    expect(rotated.status).toBe(200);
    const after = await rotated.json<any>();
    expect(after.signingSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after.signingSecret).not.toBe(first);
    expect(after.version).toBe(2);
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [created.id])).get(created.id)!.config).toMatchObject({ secret: after.signingSecret });

    // PUT without `secret`: the URL changes, the secret stays.
    const put = await call('PUT', `/${created.id}`, key, { kind: 'webhook', name: 'renamed', url: 'https://other.example.com/hook' });
    expect(put.status, await put.clone().text()).toBe(200);
    const replaced = await put.json<any>();
    expect(replaced).toMatchObject({ name: 'renamed', version: 3, config: { url: 'https://other.example.com/hook', secretSet: true } });
    expect(replaced.signingSecret).toBeUndefined();
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [created.id])).get(created.id)!.config).toEqual({
      kind: 'webhook',
      url: 'https://other.example.com/hook',
      secret: after.signingSecret,
    });

    // Slack and PagerDuty keep their credential when it is left out and the kind stays…
    const slack = await (await call('POST', '', key, TARGETS.slack)).json<any>();
    const slackPut = await call('PUT', `/${slack.id}`, key, { kind: 'slack', name: 'slack renamed' });
    expect(slackPut.status).toBe(200);
    expect((await slackPut.json<any>()).config).toEqual({ urlHost: 'hooks.slack.com' });
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [slack.id])).get(slack.id)!.config).toEqual({ kind: 'slack', url: SLACK_URL });
    const pager = await (await call('POST', '', key, TARGETS.pagerduty)).json<any>();
    const pagerPut = await call('PUT', `/${pager.id}`, key, { kind: 'pagerduty', name: 'pager', url: 'https://events.eu.pagerduty.com/v2/enqueue' });
    expect((await pagerPut.json<any>()).config).toEqual({ url: 'https://events.eu.pagerduty.com/v2/enqueue', routingKeyEnds: 'ey77' });
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [pager.id])).get(pager.id)!.config).toEqual({
      kind: 'pagerduty',
      routingKey: ROUTING_KEY,
      url: 'https://events.eu.pagerduty.com/v2/enqueue',
    });

    // …but not across a change of kind: the new kind's credential is required (a webhook gets a generated one).
    const toPager = await call('PUT', `/${slack.id}`, key, { kind: 'pagerduty', name: 'slack renamed' });
    expect(toPager.status).toBe(400);
    expect(await toPager.json()).toMatchObject({ error: 'invalid_request', field: 'routingKey' });
    const toSlack = await call('PUT', `/${pager.id}`, key, { kind: 'slack', name: 'pager' });
    expect(await toSlack.json()).toMatchObject({ error: 'invalid_request', field: 'url' });
    const toWebhook = await call('PUT', `/${pager.id}`, key, { kind: 'webhook', name: 'pager', url: 'https://receiver.example.com/x' });
    expect(toWebhook.status).toBe(200);
    const webhook = await toWebhook.json<any>();
    expect(webhook).toMatchObject({ kind: 'webhook', config: { secretSet: true } });
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), tenant, [pager.id])).get(pager.id)!.config).toEqual({
      kind: 'webhook',
      url: 'https://receiver.example.com/x',
      secret: webhook.signingSecret,
    });

    // Only a webhook has a secret to rotate.
    const wrongKind = await call('POST', `/${slack.id}/rotate-secret`, key);
    expect(wrongKind.status).toBe(400);
    expect(await wrongKind.json()).toMatchObject({ error: 'invalid_request', kind: 'slack' });

    const audit = await env.CONTROL_DB.prepare('SELECT action, details FROM audit_log WHERE tenant_id = ? ORDER BY id')
      .bind(tenant)
      .all<{ action: string; details: string }>();
    expect(audit.results.map((r) => r.action)).toEqual([
      'alert_target.create',
      'alert_target.rotate_secret',
      'alert_target.update',
      'alert_target.create',
      'alert_target.update',
      'alert_target.create',
      'alert_target.update',
      'alert_target.update',
    ]);
    const everything = audit.results.map((r) => r.details).join('\n');
    expectNoSecret(everything, 'audit');
    for (const secret of [first, after.signingSecret, webhook.signingSecret]) expect(everything).not.toContain(secret);
  });

  it("does not open a sealed secret copied into another tenant's or another target's row", async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const targetA = await (await call('POST', '', a.key, TARGETS.webhook)).json<any>();
    const targetB = await (await call('POST', '', b.key, { ...TARGETS.webhook, secret: 'tenant_b_secret_0123456789' })).json<any>();
    const otherA = await (await call('POST', '', a.key, { ...TARGETS.webhook, name: 'second', secret: 'second_secret_0123456789' })).json<any>();
    const sealedA = (await env.CONTROL_DB.prepare('SELECT secret FROM alert_targets WHERE id = ?').bind(targetA.id).first<{ secret: string }>())!.secret;

    await env.CONTROL_DB.prepare('UPDATE alert_targets SET secret = ? WHERE id = ?').bind(sealedA, targetB.id).run();
    await expect(loadTargets(env.CONTROL_DB, rootSecret(), b.tenant, [targetB.id])).rejects.toThrow(/does not open/);
    await env.CONTROL_DB.prepare('UPDATE alert_targets SET secret = ? WHERE id = ?').bind(sealedA, otherA.id).run();
    await expect(loadTargets(env.CONTROL_DB, rootSecret(), a.tenant, [otherA.id])).rejects.toThrow(new RegExp(`${otherA.id}.*does not open`));
    // The original still opens, and not under another root secret.
    expect((await loadTargets(env.CONTROL_DB, rootSecret(), a.tenant, [targetA.id])).get(targetA.id)!.config).toMatchObject({ secret: WEBHOOK_SECRET });
    await expect(loadTargets(env.CONTROL_DB, 'another_root_secret_0123456789abcdef', a.tenant, [targetA.id])).rejects.toThrow(/does not open/);
    // Reading the rows through the API does not need the secrets.
    expect((await call('GET', `/${targetB.id}`, b.key)).status).toBe(200);
  });

  it('refuses URLs that reach private, metadata or malformed places, naming the field and the reason', async () => {
    const { key } = await freshTenant();
    const refused = [
      'http://169.254.169.254/latest',
      'http://10.0.0.1/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:10.0.0.1]/',
      'https://192.168.1.1/hook',
      'http://0.0.0.0:8080/',
      'https://user:pass@example.com/',
      'https://metadata.google.internal/',
      'https://example.com/#frag',
      'ftp://example.com/',
      'not a url',
    ];
    let n = 0;
    for (const url of refused) {
      for (const body of [
        { kind: 'webhook', name: `w${n++}`, url },
        { kind: 'slack', name: `s${n++}`, url },
        { kind: 'alertmanager', name: `a${n++}`, url },
        { kind: 'pagerduty', name: `p${n++}`, url, routingKey: 'k' },
      ]) {
        const res = await call('POST', '', key, body);
        const answer = await res.json<any>();
        expect(res.status, `${body.kind} ${url}`).toBe(400);
        expect(answer, `${body.kind} ${url}`).toMatchObject({ error: 'invalid_request', field: 'url' });
        expect(answer.reason, url).toMatch(/^the target URL /);
      }
    }
    expect((await (await call('GET', '', key)).json<any>()).targets).toEqual([]);
    const mapped = await (await call('POST', '', key, { kind: 'webhook', name: 'mapped', url: 'http://[::ffff:169.254.169.254]/' })).json<any>();
    expect(mapped.reason).toMatch(/link-local/);

    // This test deployment allows local receivers (NEURALLOG_ALERTS_ALLOW_LOOPBACK=1)…
    const local = await call('POST', '', key, { kind: 'webhook', name: 'local', url: 'http://127.0.0.1:9/' });
    expect(local.status, await local.clone().text()).toBe(201);
    // …a production one does not: http:// and loopback are refused.
    const production = new OpenAPIHono<IngestApp>().onError(handleError).route('/v1/alerts/targets', alertTargetRoutes);
    const productionEnv = { ...env, NEURALLOG_ALERTS_ALLOW_LOOPBACK: '0' };
    for (const url of [
      'http://127.0.0.1:9/',
      'https://127.0.0.1:9/',
      'http://[::ffff:127.0.0.1]',
      'https://[::1]/',
      'https://localhost/hook',
      'http://example.com/hook',
    ]) {
      const res = await production.request(
        request('POST', 'https://neurallog.test/v1/alerts/targets', key, { kind: 'webhook', name: `prod ${url}`, url }),
        undefined,
        productionEnv,
      );
      expect(res.status, url).toBe(400);
      expect(await res.json(), url).toMatchObject({ error: 'invalid_request', field: 'url' });
    }
    const ok = await production.request(
      request('POST', 'https://neurallog.test/v1/alerts/targets', key, { kind: 'webhook', name: 'public', url: 'https://receiver.example.com/hook' }),
      undefined,
      productionEnv,
    );
    expect(ok.status).toBe(201);
  });

  it('checks the other fields: names, email addresses, secret lengths, unknown fields and kinds', async () => {
    const { key } = await freshTenant();
    const cases: [unknown, Record<string, unknown>][] = [
      [{ ...TARGETS.email, to: [] }, { field: 'to' }],
      [{ ...TARGETS.email, to: ['Name <a@example.com>'] }, { field: 'to.0' }],
      [{ ...TARGETS.email, to: ['a@example.com', 'b@example.com,c@example.com'] }, { field: 'to.1' }],
      [{ ...TARGETS.email, to: Array.from({ length: 51 }, (_, i) => `u${i}@example.com`) }, { field: 'to' }],
      [{ ...TARGETS.webhook, secret: 'too short' }, { field: 'secret' }],
      [{ ...TARGETS.pagerduty, routingKey: '' }, { field: 'routingKey' }],
      [{ ...TARGETS.pagerduty, routingKey: 'k'.repeat(65) }, { field: 'routingKey' }],
      [{ ...TARGETS.slack, url: undefined }, { field: 'url' }],
      [{ ...TARGETS.alertmanager, name: '  ' }, { field: 'name' }],
      [{ ...TARGETS.alertmanager, name: 'n'.repeat(201) }, { field: 'name' }],
      [{ ...TARGETS.alertmanager, secret: 'not for this kind' }, {}],
      [{ ...TARGETS.alertmanager, kind: 'sms' }, { field: 'kind' }],
      [{ name: 'no kind', url: 'https://example.com/' }, { field: 'kind' }],
      ['not json', { error: 'bad_request' }], // the JSON validator's own answer, as on every route
      [[TARGETS.alertmanager], {}],
    ];
    for (const [body, expected] of cases) {
      const res = await call('POST', '', key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json(), JSON.stringify(body)).toMatchObject({ error: 'invalid_request', ...expected });
    }
    expect((await (await call('GET', '', key)).json<any>()).targets).toEqual([]);
    // Names are unique per tenant.
    expect((await call('POST', '', key, TARGETS.alertmanager)).status).toBe(201);
    const again = await call('POST', '', key, { ...TARGETS.email, name: TARGETS.alertmanager.name });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'already_exists', field: 'name' });
  });

  it(`holds ${MAX_ALERT_TARGETS} targets per tenant under concurrent creates`, async () => {
    const { key } = await freshTenant();
    const answers = await Promise.all(
      Array.from({ length: MAX_ALERT_TARGETS + 1 }, (_, i) => call('POST', '', key, { kind: 'alertmanager', name: `am ${i}`, url: 'https://am.example.com/' })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_ALERT_TARGETS);
    expect(statuses.filter((s) => s === 409)).toHaveLength(1);
    expect(await answers[statuses.indexOf(409)]!.json()).toMatchObject({ error: 'too_many_alert_targets', limit: MAX_ALERT_TARGETS });
    for (const answer of answers) if (!answer.bodyUsed) await answer.body?.cancel();
    expect((await (await call('GET', '', key)).json<any>()).targets).toHaveLength(MAX_ALERT_TARGETS);
  });

  it("refuses to delete a target the tenant's rules use, naming them", async () => {
    const { tenant, key } = await freshTenant();
    const target = await (await call('POST', '', key, TARGETS.alertmanager)).json<any>();
    const other = await (await call('POST', '', key, TARGETS.email)).json<any>();
    const ruleA = await (await callRules('POST', '', key, { ...errorsOver100, name: 'rule a', targets: [other.id, target.id] })).json<any>();
    const ruleB = await (await callRules('POST', '', key, { ...errorsOver100, name: 'rule b', targets: [target.id] })).json<any>();
    expect(ruleB.rule.targets).toEqual([target.id]);
    // Another tenant cannot name this id in its rules at all.
    const stranger = await freshTenant();
    expect((await callRules('POST', '', stranger.key, { ...errorsOver100, name: 'stranger', targets: [other.id] })).status).toBe(400);

    const refused = await call('DELETE', `/${target.id}`, key);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: 'target_in_use', rules: ['rule a', 'rule b'], ruleCount: 2 });
    expect((await call('GET', `/${target.id}`, key)).status).toBe(200);

    expect((await callRules('DELETE', `/${ruleB.id}`, key)).status).toBe(204);
    expect((await callRules('PUT', `/${ruleA.id}`, key, { ...errorsOver100, name: 'rule a', targets: [other.id] })).status).toBe(200);
    expect((await call('DELETE', `/${target.id}`, key)).status).toBe(204);
    expect((await call('GET', `/${target.id}`, key)).status).toBe(404);
    expect((await call('DELETE', `/${target.id}`, key)).status).toBe(404);
    const stillUsed = await call('DELETE', `/${other.id}`, key);
    expect(await stillUsed.json()).toMatchObject({ error: 'target_in_use', rules: ['rule a'] });

    const audit = await env.CONTROL_DB.prepare("SELECT action FROM audit_log WHERE tenant_id = ? AND action LIKE 'alert_target.%' ORDER BY id")
      .bind(tenant)
      .all<{ action: string }>();
    // Refused deletes leave no audit entry.
    expect(audit.results.map((r) => r.action)).toEqual(['alert_target.create', 'alert_target.create', 'alert_target.delete']);
  });

  it('keeps tenants apart and asks for the alert scopes', async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const target = await (await call('POST', '', a.key, TARGETS.webhook)).json<any>();
    for (const [method, path, body] of [
      ['GET', `/${target.id}`, undefined],
      ['PUT', `/${target.id}`, TARGETS.webhook],
      ['POST', `/${target.id}/rotate-secret`, undefined],
      ['DELETE', `/${target.id}`, undefined],
    ] as const) {
      const res = await call(method, path, b.key, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
    expect((await (await call('GET', '', b.key)).json<any>()).targets).toEqual([]);
    expect((await call('GET', `/${target.id}`, a.key)).status).toBe(200);

    const reader = await provisionKey(a.tenant, ['alerts:read']);
    expect((await call('GET', '', reader)).status).toBe(200);
    expect((await call('GET', `/${target.id}`, reader)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '', { ...TARGETS.alertmanager, name: 'by a reader' }],
      ['PUT', `/${target.id}`, TARGETS.webhook],
      ['POST', `/${target.id}/rotate-secret`, undefined],
      ['DELETE', `/${target.id}`, undefined],
    ] as const) {
      const denied = await call(method, path, reader, body);
      expect(denied.status, `${method} ${path}`).toBe(403);
      expect(await denied.json()).toMatchObject({ error: 'insufficient_scope', required: 'alerts:write' });
    }
    expect((await call('GET', '', await provisionKey(a.tenant, ['logs:read']))).status).toBe(403);
    expect((await call('POST', '', await provisionKey(a.tenant, ['admin']), { ...TARGETS.alertmanager, name: 'by admin' })).status).toBe(201);
    expect((await call('GET', '', 'nlk_not_a_key')).status).toBe(401);
  });

  it('keeps hostile names as data and refuses hostile keys, never a 500', async () => {
    const { key } = await freshTenant();
    for (const name of HOSTILE_NAMES) {
      const res = await call('POST', '', key, { ...TARGETS.alertmanager, name });
      expect(res.status, name).toBe(201);
      const created = await res.json<any>();
      expect(created.name).toBe(name);
      expect((await (await call('GET', `/${created.id}`, key)).json<any>()).name).toBe(name);
      const put = await call('PUT', `/${created.id}`, key, { ...TARGETS.email, name });
      expect(put.status, name).toBe(200);

      // As a key of the body, the kind, an id.
      const asKey = await call(
        'POST',
        '',
        key,
        `{"kind":"alertmanager","name":"k ${name}","url":"https://am.example.com/",${JSON.stringify(name)}:{"polluted":true}}`,
      );
      expect(asKey.status, name).toBe(400);
      const nested = await call('POST', '', key, `{"kind":"email","name":"n ${name}","to":{${JSON.stringify(name)}:"a@example.com"}}`);
      expect(nested.status, name).toBe(400);
      const asKind = await call('POST', '', key, { kind: name, name: 'x', url: 'https://am.example.com/' });
      expect(asKind.status, name).toBe(400);
      expect(await asKind.json()).toMatchObject({ error: 'invalid_request', field: 'kind' });
      for (const path of [`/${name}`, `/${encodeURIComponent(name)}/rotate-secret`]) {
        const method = path.endsWith('rotate-secret') ? 'POST' : 'GET';
        expect((await call(method, path, key)).status, `${method} ${path}`).toBe(404);
      }
      expect((await call('DELETE', `/${name}`, key)).status, name).toBe(404);
      expect((await call('PUT', `/${name}`, key, { ...TARGETS.email, name })).status, name).toBe(404);
    }
    const names = (await (await call('GET', '', key)).json<any>()).targets.map((t: any) => t.name);
    expect(names.sort()).toEqual([...HOSTILE_NAMES].sort());
    expect(({} as any).polluted).toBeUndefined();
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await (await exports.default.fetch(new Request('https://neurallog.test/openapi.json'))).json<{
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    }>();
    expect(Object.keys(doc.paths['/v1/alerts/targets']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/alerts/targets/{id}']!).sort()).toEqual(['delete', 'get', 'put']);
    expect(Object.keys(doc.paths['/v1/alerts/targets/{id}/rotate-secret']!)).toEqual(['post']);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['AlertTarget', 'AlertTargetCreated', 'AlertTargetInput', 'AlertTargetReplacement']),
    );
  });
});
