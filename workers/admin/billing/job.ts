/**
 * The hourly billing job, run by the admin worker's Cron Trigger
 * (wrangler.toml): stored bytes sampled from ClickHouse, then closed hours
 * reported to Stripe. Each step is safe to repeat, so an overlapping or
 * retried run does no harm; a step that fails is logged and retried next hour.
 */
import { clickHouseClient } from '../../../shared/clickhouse.ts';
import { loadConfig } from '../../../shared/config.ts';
import { logEvent } from '../../../shared/logger.ts';
import type { AdminEnv } from '../env.ts';
import { billingConfig } from './stripe.ts';
import { reportUsageToStripe, sampleStoredBytes } from './usage-report.ts';

export async function runBillingJob(env: AdminEnv, now: number): Promise<void> {
  try {
    const tenants = await sampleStoredBytes(clickHouseClient(loadConfig(env).clickhouse), env.CONTROL_DB, now);
    logEvent('info', 'billing.stored_bytes_sampled', { tenants });
  } catch (err) {
    logEvent('warn', 'billing.stored_bytes_failed', { error: (err as Error).message });
  }
  const billing = billingConfig(env);
  if (!billing) return;
  try {
    await reportUsageToStripe(billing, env.CONTROL_DB, now);
  } catch (err) {
    logEvent('error', 'billing.report_failed', { error: (err as Error).message });
  }
}
