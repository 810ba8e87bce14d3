/**
 * A tenant's Stripe customer and subscription: opened when the tenant is
 * created with billing, changed when its plan changes.
 *
 * Every mutating call carries an idempotency key derived from what it does
 * (the tenant, the plan, the request), so a retried admin request — or the
 * SDK's own retry after a timeout — can never open a second customer or apply
 * a change twice: Stripe answers a repeated key with the first response.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type Stripe from 'stripe';
import { billingAccounts } from '../../../shared/control-plane/schema.ts';
import type { PlanId } from '../../../shared/plans.ts';
import type { BillingConfig } from './stripe.ts';

export type BillingAccount = typeof billingAccounts.$inferSelect;

/** Creates the customer and the subscription (the plan's fee + its metered bytes); returns the account row to store. */
export async function openBillingAccount(
  config: BillingConfig,
  tenant: { id: string; name: string; plan: PlanId },
  email: string,
): Promise<typeof billingAccounts.$inferInsert> {
  const customer = await config.stripe.customers.create(
    { email, name: tenant.name, metadata: { tenant_id: tenant.id } },
    { idempotencyKey: `neurallog-customer-${tenant.id}` },
  );
  const feePrice = config.feePrices[tenant.plan];
  const bytesPrice = config.bytesPrices[tenant.plan];
  const subscription = await config.stripe.subscriptions.create(
    {
      customer: customer.id,
      items: [{ price: feePrice }, ...(bytesPrice ? [{ price: bytesPrice }] : [])],
      metadata: { tenant_id: tenant.id },
    },
    { idempotencyKey: `neurallog-subscription-${tenant.id}` },
  );
  return {
    tenantId: tenant.id,
    email,
    stripeCustomerId: customer.id,
    stripeSubscriptionId: subscription.id,
    stripeFeeItemId: itemWithPrice(subscription, feePrice).id,
    stripeMeteredItemId: bytesPrice ? itemWithPrice(subscription, bytesPrice).id : null,
  };
}

/** Moves the subscription to the new plan's fee and metered prices (prorated by Stripe). */
export async function changeSubscriptionPlan(config: BillingConfig, db: D1Database, account: BillingAccount, plan: PlanId, requestId: string): Promise<void> {
  const fee = config.feePrices[plan];
  const bytes = config.bytesPrices[plan];
  const items: Stripe.SubscriptionUpdateParams.Item[] = [{ id: account.stripeFeeItemId, price: fee }];
  if (account.stripeMeteredItemId && bytes) items.push({ id: account.stripeMeteredItemId, price: bytes });
  else if (account.stripeMeteredItemId) items.push({ id: account.stripeMeteredItemId, deleted: true });
  else if (bytes) items.push({ price: bytes });
  const subscription = await config.stripe.subscriptions.update(
    account.stripeSubscriptionId,
    { items, proration_behavior: 'create_prorations', metadata: { tenant_id: account.tenantId } },
    { idempotencyKey: `neurallog-plan-${account.tenantId}-${plan}-${requestId}` },
  );
  await drizzle(db)
    .update(billingAccounts)
    .set({ stripeFeeItemId: itemWithPrice(subscription, fee).id, stripeMeteredItemId: bytes ? itemWithPrice(subscription, bytes).id : null })
    .where(eq(billingAccounts.tenantId, account.tenantId));
}

function itemWithPrice(subscription: Stripe.Subscription, price: string): Stripe.SubscriptionItem {
  const item = subscription.items.data.find((i) => i.price.id === price);
  if (!item) throw new Error(`subscription ${subscription.id} has no item with price ${price}`);
  return item;
}
