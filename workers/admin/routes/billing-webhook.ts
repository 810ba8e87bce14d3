/**
 * POST /v1/billing/webhook — Stripe's events about a tenant's payments.
 *
 * Trust: only a body whose `Stripe-Signature` verifies against the webhook
 * secret (HMAC-SHA256 by the SDK with SubtleCrypto) and whose timestamp is
 * within five minutes is read at all; anything else is a 400. A verified
 * event is handled once: its id is recorded in the same D1 transaction as its
 * effect, so a redelivery (Stripe retries until it gets a 2xx) is a no-op.
 *
 * Effects (docs/billing.md):
 * - invoice.payment_failed → ingest is held after the plan's grace period
 *   (tenants.suspend_at = now + grace, unless a hold is already set);
 * - invoice.paid → the hold is lifted;
 * - customer.subscription.deleted → ingest is held now;
 * - customer.subscription.updated → the tenant's plan follows the
 *   subscription's fee price (a plan changed in Stripe's dashboard).
 * Other events are acknowledged and ignored.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import type Stripe from 'stripe';
import { ApiError } from '../../../shared/api-error.ts';
import { PLAN_PRICES } from '../../../shared/billing/prices.ts';
import { auditStatement } from '../../../shared/control-plane/audit.ts';
import { billingAccounts, stripeEvents, tenants } from '../../../shared/control-plane/schema.ts';
import { logEvent } from '../../../shared/logger.ts';
import type { PlanId } from '../../../shared/plans.ts';
import { billingConfig, planOfPrice, webhookCrypto, type BillingConfig } from '../billing/stripe.ts';
import type { AdminApp } from '../env.ts';

/** Stripe's own default: a signature older than this is refused (a replay). */
const SIGNATURE_TOLERANCE_S = 300;
const DAY_MS = 86_400_000;

export const billingWebhookRoutes = new Hono<AdminApp>();

billingWebhookRoutes.post('/', async (c) => {
  const config = billingConfig(c.env);
  if (!config?.webhookSecret) throw new ApiError(404, 'not_found', 'billing is not configured on this deployment');
  const signature = c.req.header('stripe-signature');
  if (!signature) throw new ApiError(400, 'invalid_signature', 'the Stripe-Signature header is missing', { field: 'Stripe-Signature' });
  const body = await c.req.text();
  let event: Stripe.Event;
  try {
    event = await config.stripe.webhooks.constructEventAsync(body, signature, config.webhookSecret, SIGNATURE_TOLERANCE_S, webhookCrypto);
  } catch (err) {
    logEvent('warn', 'billing.webhook_refused', { requestId: c.get('requestId'), error: (err as Error).message });
    throw new ApiError(400, 'invalid_signature', 'the Stripe-Signature does not verify, or is older than five minutes', { field: 'Stripe-Signature' });
  }
  const outcome = await handleEvent(c.env.CONTROL_DB, config, event, c.get('requestId'));
  logEvent('info', 'billing.webhook', { requestId: c.get('requestId'), event: event.id, type: event.type, outcome });
  return c.json({ received: true, outcome });
});

type Outcome = 'applied' | 'duplicate' | 'ignored' | 'unknown_customer';

async function handleEvent(d1: D1Database, config: BillingConfig, event: Stripe.Event, requestId: string): Promise<Outcome> {
  const db = drizzle(d1);
  const seen = await db.select({ id: stripeEvents.id }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).limit(1);
  if (seen.length > 0) return 'duplicate';
  const customer = customerOf(event);
  const record = db.insert(stripeEvents).values({ id: event.id, type: event.type });
  if (!customer) {
    await record.onConflictDoNothing();
    return 'ignored';
  }
  const account = (
    await db
      .select({ tenantId: billingAccounts.tenantId, planId: tenants.planId, suspendAt: tenants.suspendAt })
      .from(billingAccounts)
      .innerJoin(tenants, eq(tenants.id, billingAccounts.tenantId))
      .where(eq(billingAccounts.stripeCustomerId, customer))
      .limit(1)
  )[0];
  if (!account) {
    await record.onConflictDoNothing();
    return 'unknown_customer';
  }
  const now = Date.now();
  let change: Partial<typeof tenants.$inferInsert> | null = null;
  switch (event.type) {
    case 'invoice.payment_failed': {
      if (account.suspendAt !== null) break; // a hold already runs: a second failure does not extend or shorten it
      change = { suspendAt: new Date(now + PLAN_PRICES[account.planId as PlanId].paymentGraceDays * DAY_MS) };
      break;
    }
    case 'invoice.paid':
      if (account.suspendAt !== null) change = { suspendAt: null };
      break;
    case 'customer.subscription.deleted':
      change = { suspendAt: new Date(now) };
      break;
    case 'customer.subscription.updated': {
      const plans = event.data.object.items.data.map((item) => planOfPrice(config, item.price.id)).filter((p) => p !== null);
      if (plans.length === 1 && plans[0] !== account.planId) change = { planId: plans[0] };
      break;
    }
    default:
      await record.onConflictDoNothing();
      return 'ignored';
  }
  // The event's id and its effect in one transaction: a concurrent redelivery fails on the id and changes nothing.
  try {
    if (change) {
      await db.batch([
        record,
        db.update(tenants).set(change).where(eq(tenants.id, account.tenantId)),
        auditStatement(d1, { actor: 'stripe', tenantId: account.tenantId, action: `billing.${event.type}`, details: { event: event.id, change }, requestId }),
      ]);
    } else {
      await record;
    }
  } catch (err) {
    if (/UNIQUE|constraint/i.test((err as Error).message)) return 'duplicate';
    throw err;
  }
  return 'applied';
}

/** The Stripe customer an event is about, for the events we handle. */
function customerOf(event: Stripe.Event): string | null {
  const object = event.data.object as { object?: string; customer?: string | { id: string } | null };
  if (object.object !== 'invoice' && object.object !== 'subscription') return null;
  const customer = object.customer;
  if (!customer) return null;
  return typeof customer === 'string' ? customer : customer.id;
}
