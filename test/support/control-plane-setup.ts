/**
 * Before each Workers test file: the D1 migrations applied (as wrangler would)
 * and the dev tenant with its all-scopes key, the credential most tests use.
 */
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { TEST_API_KEY, TEST_TENANT } from './constants.ts';
import { provisionKey, provisionTenant } from './control-plane.ts';
import { setMinimumLogLevel } from '../../shared/logger.ts';

// The workers' info events are noise here, and each is a message to vitest's
// main process — one still in flight when a file's isolate closes fails the run.
setMinimumLogLevel('warn');

await applyD1Migrations(env.CONTROL_DB, env.TEST_D1_MIGRATIONS);
await provisionTenant(TEST_TENANT);
await provisionKey(TEST_TENANT, ['logs:write', 'logs:read', 'analytics:read', 'admin', 'billing:read'], { key: TEST_API_KEY });
