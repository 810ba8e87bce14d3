/**
 * The tenant's AlertEvaluator, through the API (/v1/alerts/rules, /v1/alerts,
 * /v1/alerts/history): a threshold rule fires from the fast path — the
 * actors' accepted records — before any scheduled evaluation could see them;
 * group-by gives one alert per group; another tenant's records never count; a
 * rule whose evaluation fails shows the reason and is not retried in a loop.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { actorOf, countRows, flushTenant, injectFault, uniqueTenant } from '../support/in-workerd.ts';
import { PLANS } from '../../shared/plans.ts';
import { eventually } from '../support/eventually.ts';

function call(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function tenantWithKey(): Promise<{ tenant: string; key: string }> {
  const tenant = uniqueTenant('al');
  await provisionTenant(tenant, { plan: 'enterprise' });
  return { tenant, key: await provisionKey(tenant, ['alerts:write', 'logs:write', 'logs:read']) };
}

async function createRule(key: string, rule: Record<string, unknown>): Promise<string> {
  const res = await call('POST', '/v1/alerts/rules', key, rule);
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function send(key: string, records: Record<string, unknown>[]): Promise<void> {
  const res = await call('POST', '/v1/logs', key, records);
  expect(res.status, await res.clone().text()).toBe(202);
}

interface Current {
  evaluation: { queries: number; ruleEvaluations: number };
  alerts: { ruleId: string; state: string; group: Record<string, string>; value: number }[];
  rules: { id: string; health: string; error: string | null; nextEvaluationAt: string; fastPath: boolean }[];
}

async function current(key: string): Promise<Current> {
  const res = await call('GET', '/v1/alerts', key);
  expect(res.status).toBe(200);
  return (await res.json()) as Current;
}

const errorsOver = (value: number, extra: Record<string, unknown> = {}) => ({
  name: `errors over ${value}`,
  query: 'level:error',
  condition: { kind: 'threshold', op: '>', value, window: '1m' },
  interval: '1m',
  ...extra,
});

describe('alert evaluation', { timeout: 30_000 }, () => {
  it('fires from the fast path as records are accepted, one alert per group, and records the transition', async () => {
    const { key } = await tenantWithKey();
    const ruleId = await createRule(key, errorsOver(3, { groupBy: ['service'] }));
    expect((await current(key)).rules[0]).toMatchObject({ id: ruleId, fastPath: true });

    await send(key, [
      ...Array.from({ length: 4 }, (_, i) => ({ level: 'error', service: 'checkout', message: `payment failed ${i}` })),
      ...Array.from({ length: 5 }, (_, i) => ({ level: 'error', service: 'search', message: `index unavailable ${i}` })),
      ...Array.from({ length: 2 }, (_, i) => ({ level: 'error', service: 'mail', message: `smtp timeout ${i}` })), // under the threshold
      ...Array.from({ length: 9 }, (_, i) => ({ level: 'info', service: 'mail', message: `sent ${i}` })), // not matching
    ]);
    const now = await eventually('two firing alerts', () => current(key), {
      until: (c) => c.alerts.filter((a) => a.state === 'firing').length === 2,
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    const firing = now.alerts.filter((a) => a.state === 'firing').sort((a, b) => a.group.service!.localeCompare(b.group.service!));
    expect(firing.map((a) => [a.group.service, a.value])).toEqual([
      ['checkout', 4],
      ['search', 5],
    ]);
    const history = (await (await call('GET', `/v1/alerts/history?rule=${ruleId}`, key)).json()) as {
      events: { event: string; detail: string | null; group: Record<string, string> }[];
    };
    const fired = history.events.filter((e) => e.event === 'firing');
    expect(fired).toHaveLength(2);
    expect(fired.every((e) => e.detail === 'fast path')).toBe(true);
  });

  it("never counts another tenant's records", async () => {
    const mine = await tenantWithKey();
    const theirs = await tenantWithKey();
    await createRule(mine.key, errorsOver(1));
    await createRule(theirs.key, errorsOver(1));
    await send(
      theirs.key,
      Array.from({ length: 20 }, (_, i) => ({ level: 'error', service: 'api', message: `theirs ${i}` })),
    );
    await eventually('their rule fires', () => current(theirs.key), {
      until: (c) => c.alerts.some((a) => a.state === 'firing'),
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    // And after a scheduled evaluation of mine (over ClickHouse, where their rows are), still nothing.
    const evaluator = env.ALERT_EVALUATOR.get(env.ALERT_EVALUATOR.idFromName(mine.tenant));
    await runDurableObjectAlarm(evaluator);
    const c = await current(mine.key);
    expect(c.rules[0]!.health).toBe('ok');
    expect(c.alerts).toEqual([]);
  });

  it('marks a rule whose evaluation fails in error, with the reason, and waits before trying again', async () => {
    const { tenant, key } = await tenantWithKey();
    // Every ClickHouse request naming this tenant fails (the evaluation passes its tenant as a parameter).
    await injectFault('fail-before', tenant, 1_000);
    const ruleId = await createRule(key, errorsOver(100, { interval: '30s' }));
    const evaluator = env.ALERT_EVALUATOR.get(env.ALERT_EVALUATOR.idFromName(tenant));
    await runDurableObjectAlarm(evaluator);
    const c = await eventually('the rule in error', () => current(key), { until: (x) => x.rules[0]?.health === 'error', timeoutMs: 5_000, intervalMs: 100 });
    const rule = c.rules[0]!;
    expect(rule.error).toMatch(/evaluation query failed/);
    // Backed off: the next try is at least one interval after the failure, not at once.
    expect(Date.parse(rule.nextEvaluationAt) - Date.now()).toBeGreaterThan(25_000);
    // Alarms that come early (as a test can force) do not retry it: one error in the history.
    await runDurableObjectAlarm(evaluator);
    await runDurableObjectAlarm(evaluator);
    const history = (await (await call('GET', `/v1/alerts/history?rule=${ruleId}`, key)).json()) as { events: { event: string }[] };
    expect(history.events.filter((e) => e.event === 'error')).toHaveLength(1);
    await injectFault('clear', tenant);
  });

  it('measures rules that share a window and group-by with one ClickHouse query', async () => {
    const { tenant, key } = await tenantWithKey();
    await createRule(key, errorsOver(10, { name: 'a', groupBy: ['service'] }));
    await createRule(key, { ...errorsOver(20, { name: 'b', groupBy: ['service'] }), query: 'level:warn' });
    await createRule(key, { ...errorsOver(30, { name: 'c' }), condition: { kind: 'threshold', op: '>', value: 30, window: '5m' } });
    const evaluator = env.ALERT_EVALUATOR.get(env.ALERT_EVALUATOR.idFromName(tenant));
    await eventually('each rule evaluated once', () => current(key), {
      until: (c) => c.rules.every((r) => r.health === 'ok'),
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    const before = (await current(key)).evaluation;
    // All three due now: one evaluation pass.
    await runInDurableObject(evaluator, (_instance, state) => {
      state.storage.sql.exec('UPDATE rules SET next_eval_at = 0');
    });
    await evaluator.sync(tenant);
    await runDurableObjectAlarm(evaluator);
    const after = await eventually('the pass is counted', () => current(key), {
      until: (c) => c.evaluation.ruleEvaluations >= before.ruleEvaluations + 3,
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    expect(after.evaluation.ruleEvaluations - before.ruleEvaluations).toBe(3);
    expect(after.evaluation.queries - before.queries).toBe(2); // (1m, service) for a and b; (5m, none) for c
  });

  it("fires an anomaly rule on the detector's findings: a new error pattern of a service", async () => {
    const { tenant, key } = await tenantWithKey();
    const refused = await call('POST', '/v1/alerts/rules', key, { name: 'x', query: 'level:error', condition: { kind: 'anomaly' } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ field: 'query' });
    // Three errors of a template never seen before, in an interval that has ended.
    const at = new Date(Date.now() - 8 * 60_000).toISOString();
    await send(
      key,
      Array.from({ length: 3 }, (_, i) => ({ timestamp: at, level: 'error', service: 'billing', message: `ledger checksum mismatch in batch ${i}` })),
    );
    await flushTenant(tenant, PLANS.enterprise.shardCount);
    expect(await countRows(tenant)).toBe(3);
    const ruleId = await createRule(key, {
      name: 'something new in billing',
      query: 'service:billing',
      condition: { kind: 'anomaly', kinds: ['new_pattern'] },
      interval: '1m',
    });
    const c = await eventually('the anomaly alert fires', () => current(key), {
      until: (x) => x.alerts.some((a) => a.ruleId === ruleId && a.state === 'firing'),
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    const alert = c.alerts.find((a) => a.ruleId === ruleId)!;
    expect(alert.group).toMatchObject({ kind: 'new_pattern', service: 'billing' });
    expect(alert.group.pattern).toMatch(/^[0-9a-f]{16}$/);
    expect(alert.value).toBe(3);
    const history = (await (await call('GET', `/v1/alerts/history?rule=${ruleId}`, key)).json()) as { events: { event: string; detail: string | null }[] };
    expect(history.events.find((e) => e.event === 'firing')?.detail).toMatch(/not seen before in billing/);
  });

  it('groups by hostile field names as data, on the fast path and in ClickHouse', async () => {
    const { tenant, key } = await tenantWithKey();
    const ruleId = await createRule(key, errorsOver(1, { groupBy: ['__proto__', 'constructor'] }));
    await send(key, [
      JSON.parse('{"level":"error","message":"a","__proto__":"p1","constructor":"c1"}'),
      JSON.parse('{"level":"error","message":"b","__proto__":"p1","constructor":"c1"}'),
    ]);
    const c = await eventually('the hostile group fires', () => current(key), {
      until: (x) => x.alerts.some((a) => a.state === 'firing'),
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    expect(c.alerts[0]!.group).toEqual(JSON.parse('{"__proto__":"p1","constructor":"c1"}'));
    expect(Object.getPrototypeOf(c.alerts[0]!.group)).toBe(Object.prototype);
    // The scheduled path agrees (ClickHouse groups the same values).
    await flushTenant(tenant, PLANS.enterprise.shardCount);
    const evaluator = env.ALERT_EVALUATOR.get(env.ALERT_EVALUATOR.idFromName(tenant));
    await runInDurableObject(evaluator, (_instance, state) => {
      state.storage.sql.exec('UPDATE rules SET next_eval_at = 0');
    });
    await evaluator.sync(tenant);
    await runDurableObjectAlarm(evaluator);
    const after = await current(key);
    expect(after.rules[0]).toMatchObject({ id: ruleId, health: 'ok' });
    expect(after.alerts.filter((a) => a.state === 'firing')).toHaveLength(1);
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const res = await call('GET', `/v1/alerts/history?rule=${name}`, key);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { events: unknown[] }).events).toEqual([]);
    }
  });

  it("leases the actors' feed while a fast-path rule exists, and revokes it when the last one goes", async () => {
    const { tenant, key } = await tenantWithKey();
    const feedUntil = async (shard: number) =>
      runInDurableObject(actorOf(tenant, shard), (_instance, state) =>
        Number(state.storage.sql.exec<{ value: string }>("SELECT value FROM actor_meta WHERE key = 'alert_feed_until'").toArray()[0]?.value ?? 0),
      );
    const ruleId = await createRule(key, errorsOver(5));
    for (let shard = 0; shard < PLANS.enterprise.shardCount; shard++) expect(await feedUntil(shard)).toBeGreaterThan(Date.now());
    // A rule the fast path cannot decide (an absence) keeps no lease.
    await createRule(key, { name: 'quiet', query: 'service:x', condition: { kind: 'absence', below: 1, window: '5m' } });
    expect((await call('DELETE', `/v1/alerts/rules/${ruleId}`, key)).status).toBe(204);
    for (let shard = 0; shard < PLANS.enterprise.shardCount; shard++) expect(await feedUntil(shard)).toBe(0);
  });

  it('documents every alerting endpoint in /openapi.json', async () => {
    const doc = (await (await exports.default.fetch(new Request('https://neurallog.test/openapi.json'))).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const paths = new Map(Object.entries(doc.paths));
    for (const [path, methods] of [
      ['/v1/alerts', ['get']],
      ['/v1/alerts/history', ['get']],
      ['/v1/alerts/rules', ['get', 'post']],
      ['/v1/alerts/rules/{id}', ['get', 'put', 'delete']],
      ['/v1/alerts/rules/{id}/mute', ['post']],
      ['/v1/alerts/rules/{id}/test', ['post']],
      ['/v1/alerts/targets', ['get', 'post']],
    ] as const) {
      for (const method of methods) expect(Object.keys(paths.get(path) ?? {}), `${method} ${path}`).toContain(method);
    }
  });

  it('refuses a history page size out of range', async () => {
    const { key } = await tenantWithKey();
    const res = await call('GET', '/v1/alerts/history?limit=100000', key);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'limit' });
  });
});
