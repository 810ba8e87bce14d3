/**
 * The Stripe client of the control plane, or null when billing is off
 * (STRIPE_SECRET_KEY empty or "disabled": metering and GET /v1/usage still
 * work, nothing is sent).
 *
 * The official SDK with its fetch HTTP client (it runs in Workers) and its
 * SubtleCrypto provider for webhook signatures. NEURALLOG_STRIPE_API_URL points
 * it elsewhere than api.stripe.com — the tests' local stand-in. The SDK
 * retries 429s and 5xx itself with exponential backoff, reusing the request's
 * idempotency key, so a retry can never act twice.
 */
import Stripe from 'stripe';
import { PLANS, type PlanId } from '../../../shared/plans.ts';

export interface BillingBindings {
  STRIPE_SECRET_KEY?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  /** Only for a stand-in: scheme://host:port of a server speaking Stripe's API. */
  NEURALLOG_STRIPE_API_URL?: string;
  /** The monthly-fee price of each plan (price_…). */
  NEURALLOG_STRIPE_PRICE_STARTER?: string;
  NEURALLOG_STRIPE_PRICE_PROFESSIONAL?: string;
  NEURALLOG_STRIPE_PRICE_ENTERPRISE?: string;
  /** Each plan's metered price on the ingested-bytes meter (its included volume and rate). */
  NEURALLOG_STRIPE_PRICE_STARTER_BYTES?: string;
  NEURALLOG_STRIPE_PRICE_PROFESSIONAL_BYTES?: string;
  NEURALLOG_STRIPE_PRICE_ENTERPRISE_BYTES?: string;
}

export interface BillingConfig {
  stripe: Stripe;
  webhookSecret: string | null;
  feePrices: Record<PlanId, string>;
  /** Each plan's metered price on the ingested-bytes meter, if it has one. */
  bytesPrices: Record<PlanId, string | null>;
}

/** The value of the Stripe secrets on a deployment without billing. */
export const BILLING_DISABLED = 'disabled';

/** How many times the SDK retries a request that got a 429, a 5xx or no answer. */
const MAX_NETWORK_RETRIES = 3;

const cache = new WeakMap<object, BillingConfig | null>();

export class BillingConfigError extends Error {}

export function billingConfig(env: BillingBindings): BillingConfig | null {
  if (cache.has(env)) return cache.get(env)!;
  let config: BillingConfig | null = null;
  if (env.STRIPE_SECRET_KEY && env.STRIPE_SECRET_KEY !== BILLING_DISABLED) {
    const feePrices = {} as Record<PlanId, string>;
    const bytesPrices = {} as Record<PlanId, string | null>;
    for (const plan of Object.keys(PLANS) as PlanId[]) {
      const name = `NEURALLOG_STRIPE_PRICE_${plan.toUpperCase()}` as keyof BillingBindings;
      const price = env[name];
      if (!price) throw new BillingConfigError(`${name} is required when STRIPE_SECRET_KEY is set (the plan's monthly-fee price)`);
      feePrices[plan] = price;
      bytesPrices[plan] = env[`${name}_BYTES` as keyof BillingBindings] || null;
    }
    const target = env.NEURALLOG_STRIPE_API_URL ? new URL(env.NEURALLOG_STRIPE_API_URL) : null;
    const stripe = new Stripe(env.STRIPE_SECRET_KEY, {
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: MAX_NETWORK_RETRIES,
      telemetry: false,
      ...(target && {
        host: target.hostname,
        port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
        protocol: target.protocol.replace(':', '') as 'http' | 'https',
      }),
    });
    config = {
      stripe,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET && env.STRIPE_WEBHOOK_SECRET !== BILLING_DISABLED ? env.STRIPE_WEBHOOK_SECRET : null,
      feePrices,
      bytesPrices,
    };
  }
  cache.set(env, config);
  return config;
}

/** The plan whose monthly-fee price this is, if any. */
export function planOfPrice(config: BillingConfig, priceId: string): PlanId | null {
  for (const [plan, price] of Object.entries(config.feePrices)) if (price === priceId) return plan as PlanId;
  return null;
}

export const webhookCrypto = Stripe.createSubtleCryptoProvider();
