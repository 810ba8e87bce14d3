/**
 * Billing through the real `stripe` SDK, against the local server that speaks
 * Stripe's wire protocol (test/support/stripe-stand-in.ts): customers and
 * subscriptions follow the tenants, usage is reported once per hour whatever
 * is retried, and only signed, fresh, first-time webhooks change anything.
 */
import { env, exports } from 'cloudflare:workers';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { PLAN_PRICES } from '../../shared/billing/prices.ts';
import { billingConfig, type BillingBindings } from '../../workers/admin/billing/stripe.ts';
import { meterEventIdentifier, reportUsageToStripe, sampleStoredBytes } from '../../workers/admin/billing/usage-report.ts';
import { clickHouseClient } from '../../shared/clickhouse.ts';
import { loadConfig } from '../../shared/config.ts';
import type { StandInState } from '../support/stripe-stand-in.ts';
import { TEST_PLATFORM_ADMIN_TOKEN, TEST_STRIPE_PRICES, TEST_STRIPE_WEBHOOK_SECRET } from '../support/constants.ts';

const HOUR = 3_600_000;
const stripeUrl = (env as unknown as { TEST_STRIPE_URL: string }).TEST_STRIPE_URL;

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_PLATFORM_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function standIn(): Promise<StandInState> {
  return (await fetch(`${stripeUrl}/__stand-in/state`)).json();
}

const tenantId = () => `b-${crypto.randomUUID().slice(0, 10)}`;

async function billedTenant(plan = 'starter'): Promise<{ id: string; customer: string; subscription: string }> {
  const id = tenantId();
  const res = await admin('POST', '/tenants', { id, name: `Billed ${id}`, plan, billing: { email: `ops@${id}.example` } });
  expect(res.status).toBe(201);
  const body = await res.json<{ billing: { stripeCustomerId: string; stripeSubscriptionId: string } }>();
  return { id, customer: body.billing.stripeCustomerId, subscription: body.billing.stripeSubscriptionId };
}

const webhookSigner = new Stripe('sk_test_unused', { httpClient: Stripe.createFetchHttpClient() });

async function deliver(event: Record<string, unknown>, options: { secret?: string; timestamp?: number; signature?: string | null } = {}): Promise<Response> {
  const payload = JSON.stringify(event);
  const signature =
    options.signature !== undefined
      ? options.signature
      : await webhookSigner.webhooks.generateTestHeaderStringAsync({
          payload,
          secret: options.secret ?? TEST_STRIPE_WEBHOOK_SECRET,
          ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
          cryptoProvider: Stripe.createSubtleCryptoProvider(),
        });
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/billing/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature !== null && { 'stripe-signature': signature }) },
      body: payload,
    }),
  );
}

function event(type: string, object: Record<string, unknown>): Record<string, unknown> {
  return { id: `evt_${crypto.randomUUID().replaceAll('-', '')}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } };
}

async function suspendAt(tenant: string): Promise<number | null> {
  return (await env.CONTROL_DB.prepare('SELECT suspend_at AS s FROM tenants WHERE id = ?').bind(tenant).first<{ s: number | null }>())!.s;
}

describe('Stripe customers and subscriptions', () => {
  it('opens a customer and a subscription (plan fee + metered bytes) for a tenant created with billing, and moves it with the plan', async () => {
    const { id, customer, subscription } = await billedTenant('starter');
    let state = await standIn();
    expect(state.customers[customer]).toMatchObject({ email: `ops@${id}.example`, metadata: { tenant_id: id } });
    const prices = (s: StandInState) => (s.subscriptions[subscription] as { items: { data: { price: { id: string } }[] } }).items.data.map((i) => i.price.id);
    expect(prices(state)).toEqual([TEST_STRIPE_PRICES.starter, TEST_STRIPE_PRICES.starterBytes]);
    // Every mutating call carried an idempotency key.
    const calls = state.requests.filter((r) => r.method === 'POST' && (r.path === '/v1/customers' || r.path.startsWith('/v1/subscriptions')));
    expect(calls.every((r) => r.idempotencyKey !== null)).toBe(true);

    const changed = await admin('PATCH', `/tenants/${id}`, { plan: 'professional' });
    expect(changed.status).toBe(200);
    state = await standIn();
    expect(prices(state)).toEqual([TEST_STRIPE_PRICES.professional, TEST_STRIPE_PRICES.professionalBytes]);
  });
});

describe('usage reported to Stripe', () => {
  it('sends one meter event per tenant, meter, closed hour and counter — however often the report runs or is retried', async () => {
    const { id, customer } = await billedTenant();
    const now = Date.now();
    const hour = now - (now % HOUR) - HOUR; // the last closed hour
    // The account was opened before that hour (usage from before an account opened is never billed).
    await env.CONTROL_DB.prepare('UPDATE billing_accounts SET created_at = ? WHERE tenant_id = ?')
      .bind(hour - HOUR, id)
      .run();
    const insert = env.CONTROL_DB.prepare("INSERT INTO usage_hourly (tenant_id, source, hour, metric, reason, value) VALUES (?, ?, ?, ?, '', ?)");
    await env.CONTROL_DB.batch([
      insert.bind(id, 'ingest:0', hour, 'bytes_accepted', 123_456),
      insert.bind(id, 'ingest:1', hour, 'bytes_accepted', 1_000),
      insert.bind(id, 'query', hour, 'queries', 7),
      insert.bind(id, 'ingest:0', hour, 'records_accepted', 99), // not a meter
      insert.bind(id, 'ingest:0', hour + HOUR, 'bytes_accepted', 5), // the open hour: not yet
    ]);
    const config = billingConfig(env as unknown as BillingBindings)!;
    const mine = async () =>
      (await standIn()).meterEvents.filter((e) => (e as { payload: { stripe_customer_id: string } }).payload.stripe_customer_id === customer);

    // Stripe rate-limits the first attempt: the SDK backs off and retries under the same idempotency key.
    await fetch(`${stripeUrl}/__stand-in/fail-next?prefix=/v1/billing/meter_events&count=1&status=429`, { method: 'POST' });
    await reportUsageToStripe(config, env.CONTROL_DB, now);
    await reportUsageToStripe(config, env.CONTROL_DB, now);
    let events = await mine();
    expect(events.map((e) => [(e as { event_name: string }).event_name, (e as { payload: { value: string } }).payload.value]).sort()).toEqual([
      ['neurallog_ingested_bytes', '1000'],
      ['neurallog_ingested_bytes', '123456'],
      ['neurallog_queries', '7'],
    ]);
    expect(events.map((e) => (e as { identifier: string }).identifier)).toContain(meterEventIdentifier(id, 'ingested_bytes', hour, 'ingest:0'));
    expect(events.every((e) => (e as { timestamp: number }).timestamp === hour / 1000)).toBe(true);

    // A run that died after Stripe took the events and before recording them sends them again: Stripe replays its answer.
    await env.CONTROL_DB.prepare('DELETE FROM meter_reports WHERE tenant_id = ?').bind(id).run();
    expect(await reportUsageToStripe(config, env.CONTROL_DB, now)).toMatchObject({ sent: 3, failed: 0 });
    events = await mine();
    expect(events).toHaveLength(3);
    const replays = (await standIn()).requests.filter((r) => r.path === '/v1/billing/meter_events' && r.idempotencyKey?.includes(id));
    expect(replays.filter((r) => r.status === 429)).toHaveLength(1);
  });
});

describe('stored bytes', () => {
  it("splits ClickHouse's bytes on disk between tenants by their rows in each partition", async () => {
    const client = clickHouseClient(loadConfig(env).clickhouse);
    const [a, b] = [tenantId(), tenantId()];
    for (const [tenant, n] of [
      [a, 300],
      [b, 100],
    ] as const) {
      await client.command({
        query: `INSERT INTO logs (TenantId, Timestamp, ObservedTimestamp, LogId, ServiceName, Body, RetentionDays)
                SELECT {t:String}, now64(9), now64(9), concat({t:String}, '-', toString(number)), 'svc', repeat('x', 200), 30 FROM numbers({n:UInt32})`,
        query_params: { t: tenant, n },
      });
    }
    const now = Date.now();
    expect(await sampleStoredBytes(client, env.CONTROL_DB, now)).toBeGreaterThanOrEqual(2);
    const stored = async (tenant: string) =>
      (await env.CONTROL_DB.prepare("SELECT value FROM usage_hourly WHERE tenant_id = ? AND metric = 'stored_bytes' AND source = 'clickhouse' AND hour = ?")
        .bind(tenant, now - (now % HOUR))
        .first<{ value: number }>())!.value;
    const [bytesA, bytesB] = [await stored(a), await stored(b)];
    expect(bytesB).toBeGreaterThan(0);
    expect(Math.abs(bytesA - 3 * bytesB)).toBeLessThanOrEqual(3); // rounding
    // Sampling again in the same hour replaces the value, never adds to it.
    await sampleStoredBytes(client, env.CONTROL_DB, now);
    expect(Math.abs((await stored(a)) - bytesA)).toBeLessThanOrEqual(bytesA * 0.5);
  });
});

describe('POST /v1/billing/webhook', () => {
  it('refuses what Stripe did not sign, or signed more than five minutes ago', async () => {
    const { customer } = await billedTenant();
    const failed = event('invoice.payment_failed', { object: 'invoice', id: 'in_1', customer });
    for (const res of [
      await deliver(failed, { signature: null }),
      await deliver(failed, { secret: 'whsec_not_the_secret_0123456789abcdef' }),
      await deliver(failed, { signature: 't=1,v1=00' }),
      await deliver(failed, { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    ]) {
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_signature' });
    }
  });

  it("holds a tenant's ingest after the plan's grace period when a payment fails, lifts it when the invoice is paid, and ignores a redelivery", async () => {
    const { id, customer } = await billedTenant('starter');
    const failed = event('invoice.payment_failed', { object: 'invoice', id: 'in_2', customer });
    const before = Date.now();
    const first = await deliver(failed);
    expect(await first.json()).toMatchObject({ received: true, outcome: 'applied' });
    const hold = (await suspendAt(id))!;
    expect(hold).toBeGreaterThanOrEqual(before + PLAN_PRICES.starter.paymentGraceDays * 86_400_000);
    expect(hold).toBeLessThanOrEqual(Date.now() + PLAN_PRICES.starter.paymentGraceDays * 86_400_000);
    expect(await (await admin('GET', `/tenants/${id}`)).json()).toMatchObject({ ingestSuspendedAt: new Date(hold).toISOString() });

    expect(await (await deliver(event('invoice.paid', { object: 'invoice', id: 'in_2', customer }))).json()).toMatchObject({ outcome: 'applied' });
    expect(await suspendAt(id)).toBeNull();
    // Stripe delivers the failure again (freshly signed, same event id): nothing changes.
    expect(await (await deliver(failed)).json()).toMatchObject({ outcome: 'duplicate' });
    expect(await suspendAt(id)).toBeNull();

    const audit = await (await admin('GET', `/tenants/${id}/audit`)).json<{ entries: { action: string; actor: string }[] }>();
    expect(audit.entries.slice(0, 2).map((e) => [e.action, e.actor])).toEqual([
      ['billing.invoice.paid', 'stripe'],
      ['billing.invoice.payment_failed', 'stripe'],
    ]);
  });

  it('follows plan changes made in Stripe and holds ingest at once when the subscription is cancelled', async () => {
    const { id, customer, subscription } = await billedTenant('starter');
    const updated = event('customer.subscription.updated', {
      object: 'subscription',
      id: subscription,
      customer,
      items: {
        object: 'list',
        data: [
          { id: 'si_x', price: { id: TEST_STRIPE_PRICES.enterprise } },
          { id: 'si_y', price: { id: TEST_STRIPE_PRICES.enterpriseBytes } },
        ],
      },
    });
    expect(await (await deliver(updated)).json()).toMatchObject({ outcome: 'applied' });
    expect(await (await admin('GET', `/tenants/${id}`)).json()).toMatchObject({ plan: 'enterprise' });
    const before = Date.now();
    expect(await (await deliver(event('customer.subscription.deleted', { object: 'subscription', id: subscription, customer }))).json()).toMatchObject({
      outcome: 'applied',
    });
    expect(await suspendAt(id)).toBeGreaterThanOrEqual(before);
    // An event about a customer we do not know, or of a type we do not handle, is acknowledged and changes nothing.
    expect(await (await deliver(event('invoice.paid', { object: 'invoice', id: 'in_9', customer: 'cus_unknown' }))).json()).toMatchObject({
      outcome: 'unknown_customer',
    });
    expect(await (await deliver(event('charge.refunded', { object: 'charge', id: 'ch_1' }))).json()).toMatchObject({ outcome: 'ignored' });
  });
});
