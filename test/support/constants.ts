/** Values the test projects configure the workers with (vitest.config.ts) and the tests rely on. */
import { formatApiKey } from '../../shared/api-keys.ts';

/** The dev tenant's key in the Workers test projects (all scopes; provisioned by test/support/control-plane-setup.ts). */
export const TEST_API_KEY = formatApiKey('testkeyid000', 'Tq8vZ2mNpL4xRw7sYb1cKd9fGh3jEa5u');
export const TEST_PLATFORM_ADMIN_TOKEN = 'nlpa_test_platform_admin_token_0123456789abcdef';
/** NEURALLOG_SESSION_SECRET of every Workers test project: a session opened in one is accepted by the others, as in production. */
export const TEST_SESSION_SECRET = 'test_session_secret_0123456789abcdefghijklmnop';
/** NEURALLOG_EXPORT_MAX_ROWS in the query test project: small, so that the cap is reached. */
export const TEST_EXPORT_MAX_ROWS = 25;
/** Billing in the admin test project: the webhook signing secret and the Stripe price ids it is configured with. */
export const TEST_STRIPE_WEBHOOK_SECRET = 'whsec_test_0123456789abcdefghijklmnopqrstuv';
export const TEST_STRIPE_PRICES = {
  starter: 'price_test_starter_fee',
  professional: 'price_test_professional_fee',
  enterprise: 'price_test_enterprise_fee',
  starterBytes: 'price_test_starter_bytes',
  professionalBytes: 'price_test_professional_bytes',
  enterpriseBytes: 'price_test_enterprise_bytes',
};
export const TEST_JWT_ISSUER = 'https://idp.neurallog.test/';
export const TEST_JWT_AUDIENCE = 'api.neurallog.test';

/** Revocation bound in the tests (NEURALLOG_KEY_CACHE_TTL_MS). */
export const TEST_KEY_CACHE_TTL_MS = 1000;
export const TEST_TENANT = 'dev';
export const TEST_LIMITS = {
  maxRequestBytes: 65_536,
  maxRecordsPerRequest: 200,
  maxRecordBytes: 4096,
};
export const TEST_FLUSH = {
  maxRows: 50,
  /** Far ahead: alarms fire when a test runs them, or at a row threshold. */
  maxAgeMs: 600_000,
  retryBaseMs: 600_000,
  /** Small, so that a backlog takes several flushes. */
  batchMaxRows: 100,
  concurrency: 2,
  /** Backpressure: the buffer refuses past this many rows. */
  bufferMaxRows: 20_000,
};

/** Records a live-tail socket may receive per second in the tests (NEURALLOG_TAIL_MAX_RECORDS_PER_S). */
export const TEST_TAIL_RECORDS_PER_S = 100;

/**
 * Names that are members of Object.prototype: as levels, field names,
 * attribute keys, label names, SD-IDs, OTLP keys and query fields they must
 * mean nothing more than any other text.
 */
export const HOSTILE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'] as const;
