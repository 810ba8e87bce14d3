/**
 * Billing end to end on the running stack (as `npm start` runs it), with the
 * admin worker's Stripe pointed at the local stand-in: a tenant created with
 * billing gets a customer and a subscription; Stripe's webhooks, through the
 * gateway, hold and release the tenant's ingest while search keeps working;
 * usage is reported on GET /v1/usage.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { startStack, type RunningStack } from '../../scripts/stack.ts';
import { startStripeStandIn, type StripeStandIn } from '../support/stripe-stand-in.ts';

const WEBHOOK_SECRET = 'whsec_e2e_0123456789abcdefghijklmnopqrstuv';
let dataDir: string;
let stack: RunningStack;
let stripe: StripeStandIn;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-billing-e2e-'));
  stripe = await startStripeStandIn();
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: {
      NEURALLOG_FLUSH_MAX_AGE_MS: '300',
      NEURALLOG_KEY_CACHE_TTL_MS: '0',
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      NEURALLOG_STRIPE_API_URL: stripe.url,
      NEURALLOG_STRIPE_PRICE_STARTER: 'price_e2e_starter',
      NEURALLOG_STRIPE_PRICE_PROFESSIONAL: 'price_e2e_professional',
      NEURALLOG_STRIPE_PRICE_ENTERPRISE: 'price_e2e_enterprise',
      NEURALLOG_STRIPE_PRICE_STARTER_BYTES: 'price_e2e_starter_bytes',
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await stripe?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const signer = new Stripe('sk_test_unused');

async function webhook(type: string, object: Record<string, unknown>): Promise<Response> {
  const payload = JSON.stringify({
    id: `evt_${crypto.randomUUID().replaceAll('-', '')}`,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object },
  });
  const signature = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  return fetch(`${stack.url}/v1/billing/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body: payload,
  });
}

describe('billing on the running stack', () => {
  it('holds ingest when the subscription is cancelled, keeps search working, and resumes ingest when the invoice is paid', async () => {
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${stack.url}/v1/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${stack.platformAdminToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const created = await admin('POST', '/tenants', { id: 'billed-e2e', name: 'Billed', plan: 'starter', billing: { email: 'ops@billed.example' } });
    expect(created.status).toBe(201);
    const { billing } = (await created.json()) as { billing: { stripeCustomerId: string; stripeSubscriptionId: string } };
    expect(stripe.state.customers[billing.stripeCustomerId]).toMatchObject({ email: 'ops@billed.example' });
    const { key } = (await (await admin('POST', '/tenants/billed-e2e/keys', { name: 'all', scopes: ['logs:write', 'logs:read', 'billing:read'] })).json()) as {
      key: string;
    };
    const auth = { authorization: `Bearer ${key}` };
    const ingest = () =>
      fetch(`${stack.url}/v1/logs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify([{ message: 'paid up' }]),
      });

    expect((await ingest()).status).toBe(202);
    expect(
      (await webhook('customer.subscription.deleted', { object: 'subscription', id: billing.stripeSubscriptionId, customer: billing.stripeCustomerId })).status,
    ).toBe(200);
    const held = await ingest();
    expect(held.status).toBe(403);
    expect(await held.json()).toMatchObject({ error: 'tenant_suspended', reason: 'payment_failed' });
    expect((await fetch(`${stack.url}/v1/logs?q=paid`, { headers: auth })).status).toBe(200);

    expect((await webhook('invoice.paid', { object: 'invoice', id: 'in_e2e', customer: billing.stripeCustomerId })).status).toBe(200);
    expect((await ingest()).status).toBe(202);

    const usage = (await (await fetch(`${stack.url}/v1/usage`, { headers: auth })).json()) as {
      total: { recordsAccepted: number; recordsRejected: Record<string, number> };
    };
    expect(usage.total.recordsAccepted).toBe(2);
  });
});
