/**
 * Alert rules: /v1/alerts/rules on the ingest worker (beside the alert evaluator), per tenant in D1 —
 * created only if they would run, bounded by the plan, audited, isolated.
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../shared/plans.ts';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

function call(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test/v1/alerts/rules${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

/** A tenant of its own (starter plan unless said) with an alerts:write key. */
async function freshTenant(plan = 'starter'): Promise<{ tenant: string; key: string }> {
  const tenant = `ar-${crypto.randomUUID().slice(0, 10)}`;
  await provisionTenant(tenant, { plan });
  return { tenant, key: await provisionKey(tenant, ['alerts:write']) };
}

const errorsOver100 = {
  name: 'errors over 100',
  query: 'level:error',
  groupBy: ['service'],
  condition: { kind: 'threshold', op: '>', value: 100, window: '5m' },
  for: '1m',
  severity: 'critical',
  labels: { team: 'payments' },
};

describe('alert rules', () => {
  it('creates, reads, lists, replaces, mutes and deletes a rule, each change audited', async () => {
    const { tenant, key } = await freshTenant();
    const created = await call('POST', '', key, errorsOver100);
    expect(created.status, await created.clone().text()).toBe(201);
    const rule = await created.json<any>();
    // Defaults filled in, the definition kept as written.
    expect(rule.rule).toMatchObject({ ...errorsOver100, interval: '1m', targets: [] });
    expect(rule.version).toBe(1);
    expect(rule.mutedUntil).toBeNull();

    expect(await (await call('GET', `/${rule.id}`, key)).json()).toEqual(rule);
    expect((await (await call('GET', '', key)).json<any>()).rules.map((r: any) => r.id)).toEqual([rule.id]);

    const replaced = await call('PUT', `/${rule.id}`, key, { ...errorsOver100, condition: { kind: 'absence', below: 1, window: '10m' } });
    expect(replaced.status).toBe(200);
    const after = await replaced.json<any>();
    expect(after.version).toBe(2);
    expect(after.rule.condition).toEqual({ kind: 'absence', below: 1, window: '10m' });

    const until = new Date(Date.now() + 3_600_000).toISOString();
    const muted = await (await call('POST', `/${rule.id}/mute`, key, { until })).json<any>();
    expect(Date.parse(muted.mutedUntil)).toBe(Date.parse(until));
    expect(muted.version).toBe(3);
    expect((await (await call('POST', `/${rule.id}/mute`, key, { until: null })).json<any>()).mutedUntil).toBeNull();

    expect((await call('DELETE', `/${rule.id}`, key)).status).toBe(204);
    expect((await call('GET', `/${rule.id}`, key)).status).toBe(404);
    expect((await call('DELETE', `/${rule.id}`, key)).status).toBe(404);

    const audit = await env.CONTROL_DB.prepare('SELECT action FROM audit_log WHERE tenant_id = ? ORDER BY id').bind(tenant).all<{ action: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(['alert_rule.create', 'alert_rule.update', 'alert_rule.mute', 'alert_rule.unmute', 'alert_rule.delete']);
  });

  it('refuses a rule that would not run, naming the field (and the position of a syntax error)', async () => {
    const { key } = await freshTenant();
    const cases: [unknown, number, Record<string, unknown>][] = [
      [{ ...errorsOver100, query: 'level:error AND (' }, 400, { error: 'query_syntax', field: 'query' }],
      [
        { ...errorsOver100, condition: { kind: 'ratio', denominator: 'service:"x', op: '>', value: 0.05, window: '10m' } },
        400,
        { error: 'query_syntax', field: 'condition.denominator' },
      ],
      [{ ...errorsOver100, condition: { kind: 'threshold', op: '>', value: 1, window: '5 minutes' } }, 400, { field: 'condition.window' }],
      [{ ...errorsOver100, condition: { kind: 'threshold', op: '>', value: 1, window: '5s' } }, 400, { field: 'condition.window' }],
      [{ ...errorsOver100, interval: '10s' }, 400, { field: 'interval' }], // the starter plan's shortest is 60 s
      [{ ...errorsOver100, for: '2d' }, 400, { field: 'for' }],
      [{ ...errorsOver100, groupBy: ['message'] }, 400, { field: 'groupBy.0' }],
      [{ ...errorsOver100, labels: { 'not-a-label': 'x' } }, 400, { field: 'labels.not-a-label' }],
      [{ ...errorsOver100, targets: ['t1', 't1'] }, 400, { field: 'targets' }],
      [{ ...errorsOver100, targets: ['tgt_does_not_exist'] }, 400, { field: 'targets.0' }], // only the tenant's own targets
      [{ ...errorsOver100, query: 'level:error', condition: { kind: 'anomaly' } }, 400, { field: 'query' }], // anomaly rules: service only
      [{ ...errorsOver100, condition: { kind: 'ratio', denominator: '', op: '>', value: 5, window: '10m' } }, 400, {}], // a fraction, not a percentage
      [{ ...errorsOver100, unknown: 1 }, 400, {}],
    ];
    for (const [body, status, expected] of cases) {
      const res = await call('POST', '', key, body);
      const answer = await res.json<any>();
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(answer, JSON.stringify(body)).toMatchObject(expected);
    }
    const syntax = await (await call('POST', '', key, { ...errorsOver100, query: 'level:error AND (' })).json<any>();
    expect(syntax.position).toBeTypeOf('number');
    // Nothing was stored.
    expect((await (await call('GET', '', key)).json<any>()).rules).toEqual([]);
  });

  it('holds the plan: its shortest interval and its rule count, under concurrent creates', async () => {
    const enterprise = await freshTenant('enterprise');
    expect((await call('POST', '', enterprise.key, { ...errorsOver100, interval: '10s' })).status).toBe(201);

    const { key } = await freshTenant();
    const cap = PLANS.starter.alertRules;
    const answers = await Promise.all(Array.from({ length: cap + 5 }, (_, i) => call('POST', '', key, { ...errorsOver100, name: `rule ${i}` })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(cap);
    expect(statuses.filter((s) => s === 409)).toHaveLength(5);
    const refused = await answers[statuses.indexOf(409)]!.json<any>();
    expect(refused).toMatchObject({ error: 'too_many_alert_rules', limit: cap });
    expect((await (await call('GET', '', key)).json<any>()).rules).toHaveLength(cap);
    // Names are unique per tenant.
    const again = await call('POST', '', enterprise.key, { ...errorsOver100, interval: '10s' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'already_exists', field: 'name' });
  });

  it('keeps tenants apart and asks for the alert scopes', async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const rule = await (await call('POST', '', a.key, errorsOver100)).json<any>();
    expect((await call('GET', `/${rule.id}`, b.key)).status).toBe(404);
    expect((await call('PUT', `/${rule.id}`, b.key, errorsOver100)).status).toBe(404);
    expect((await call('DELETE', `/${rule.id}`, b.key)).status).toBe(404);
    expect((await (await call('GET', '', b.key)).json<any>()).rules).toEqual([]);
    expect((await call('GET', `/${rule.id}`, a.key)).status).toBe(200);

    const reader = await provisionKey(a.tenant, ['alerts:read']);
    expect((await call('GET', '', reader)).status).toBe(200);
    const denied = await call('POST', '', reader, { ...errorsOver100, name: 'other' });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: 'insufficient_scope', required: 'alerts:write' });
    const logsOnly = await provisionKey(a.tenant, ['logs:read']);
    expect((await call('GET', '', logsOnly)).status).toBe(403);
    const admin = await provisionKey(a.tenant, ['admin']);
    expect((await call('POST', '', admin, { ...errorsOver100, name: 'by admin' })).status).toBe(201);
  });

  it("notifies only the tenant's own targets: another tenant's target id is refused", async () => {
    const a = await freshTenant();
    const b = await freshTenant();
    const created = await exports.default.fetch(
      new Request('https://neurallog.test/v1/alerts/targets', {
        method: 'POST',
        headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'a hook', kind: 'webhook', url: 'http://127.0.0.1:9/hook' }),
      }),
    );
    expect(created.status).toBe(201);
    const target = (await created.json<{ id: string }>()).id;
    expect((await call('POST', '', a.key, { ...errorsOver100, targets: [target] })).status).toBe(201);
    const refused = await call('POST', '', b.key, { ...errorsOver100, targets: [target] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ field: 'targets.0' });
  });

  it('keeps hostile names, labels and group fields as data', async () => {
    const { key } = await freshTenant('enterprise');
    for (const name of HOSTILE_NAMES) {
      // A label named `__…` is refused (Prometheus reserves the prefix), as a 400, never dropped in silence.
      const withLabel = await call('POST', '', key, { ...errorsOver100, name, labels: { [name]: 'x' } });
      if (name.startsWith('__')) {
        expect(withLabel.status, name).toBe(400);
        expect(await withLabel.json(), name).toMatchObject({ error: 'invalid_request' });
      } else {
        expect(withLabel.status, name).toBe(201);
        expect(Object.hasOwn((await withLabel.json<any>()).rule.labels, name), name).toBe(true);
        expect((await call('DELETE', `/${(await (await call('GET', '', key)).json<any>()).rules.find((r: any) => r.rule.name === name).id}`, key)).status).toBe(
          204,
        );
      }
      const body = { ...errorsOver100, name, groupBy: [`attr.${name}`], message: `{{${name}}} {{value}}` };
      const res = await call('POST', '', key, body);
      expect(res.status, name).toBe(201);
      const stored = await (await call('GET', `/${(await res.json<any>()).id}`, key)).json<any>();
      expect(stored.rule.name).toBe(name);
      expect(stored.rule.groupBy).toEqual([`attr.${name}`]);
      expect(stored.rule.message).toBe(`{{${name}}} {{value}}`);
    }
    expect(({} as any).polluted).toBeUndefined();
  });
});
