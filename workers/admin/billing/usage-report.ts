/**
 * The hourly billing job (the admin worker's Cron Trigger):
 *
 * 1. Samples each tenant's stored bytes from ClickHouse's own part sizes
 *    (`system.parts`): the table is shared, so a partition's bytes on disk are
 *    split between tenants in proportion to their rows in it.
 * 2. Reports closed hours of metered usage to Stripe as Billing Meter events.
 *
 * Exactly once: one event per tenant, meter, hour and counting actor
 * (`usage_hourly.source`) — each of those values is final once rolled up, so
 * nothing waits for a late shard. The event's `identifier` (Stripe's
 * deduplication key) and the request's idempotency key are both derived from
 * those four, and the report is recorded in `meter_reports` after Stripe
 * accepts it. A run that dies in between sends the same event again with the
 * same keys, which Stripe answers with the first response: counted once.
 *
 * Stripe's rate limits: events are sent one at a time, at most
 * MAX_EVENTS_PER_RUN per run (the rest wait for the next hour), and the SDK
 * backs off and retries on 429.
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { METERS, METER_SOURCES, type MeterId } from '../../../shared/billing/prices.ts';
import { logEvent } from '../../../shared/logger.ts';
import type { BillingConfig } from './stripe.ts';

const HOUR_MS = 3_600_000;
export const MAX_EVENTS_PER_RUN = 5_000;
/** Stripe takes meter events up to 35 days old; a margin of a day. */
const STRIPE_EVENT_MAX_AGE_MS = 34 * 24 * HOUR_MS;

interface Pending {
  tenantId: string;
  source: string;
  hour: number;
  metric: string;
  value: number;
  customer: string;
}

/** Stripe's event identifier (≤ 100 characters: tenant ids are ≤ 63). */
export function meterEventIdentifier(tenantId: string, meter: MeterId, hour: number, source: string): string {
  return `${tenantId}:${meter}:${hour / 1000}:${source}`;
}

export interface ReportResult {
  sent: number;
  failed: number;
}

export async function reportUsageToStripe(config: BillingConfig, db: D1Database, now: number): Promise<ReportResult> {
  const meterOf = new Map(Object.entries(METER_SOURCES).map(([meter, metric]) => [metric as string, meter as MeterId]));
  const metrics = [...meterOf.keys()];
  // Closed hours of billed tenants, since their account opened and within
  // Stripe's 35 days, that no report covers yet.
  const { results } = await db
    .prepare(
      `SELECT u.tenant_id AS tenantId, u.source, u.hour, u.metric, sum(u.value) AS value, b.stripe_customer_id AS customer
       FROM usage_hourly u JOIN billing_accounts b ON b.tenant_id = u.tenant_id
       WHERE u.metric IN (SELECT value FROM json_each(?)) AND u.hour < ? AND u.hour >= ? AND u.hour >= b.created_at - b.created_at % ${HOUR_MS}
         AND NOT EXISTS (SELECT 1 FROM meter_reports r WHERE r.tenant_id = u.tenant_id AND r.hour = u.hour AND r.source = u.source AND r.metric = u.metric)
       GROUP BY u.tenant_id, u.source, u.hour, u.metric
       HAVING sum(u.value) > 0
       ORDER BY u.hour, u.tenant_id
       LIMIT ?`,
    )
    .bind(JSON.stringify(metrics), now - (now % HOUR_MS), now - STRIPE_EVENT_MAX_AGE_MS, MAX_EVENTS_PER_RUN)
    .all<Pending>();
  let sent = 0;
  let failed = 0;
  for (const p of results) {
    const meter = meterOf.get(p.metric)!;
    const identifier = meterEventIdentifier(p.tenantId, meter, p.hour, p.source);
    try {
      await config.stripe.billing.meterEvents.create(
        {
          event_name: METERS[meter].eventName,
          identifier,
          timestamp: p.hour / 1000,
          payload: { stripe_customer_id: p.customer, value: String(p.value) },
        },
        { idempotencyKey: `neurallog-meter-${identifier}` },
      );
    } catch (err) {
      // Left unrecorded: the next run sends it again under the same keys.
      failed++;
      logEvent('warn', 'billing.meter_event_failed', { tenant: p.tenantId, meter, hour: new Date(p.hour).toISOString(), error: (err as Error).message });
      continue;
    }
    await db
      .prepare(
        'INSERT INTO meter_reports (identifier, tenant_id, meter, source, hour, metric, value) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (identifier) DO NOTHING',
      )
      .bind(identifier, p.tenantId, meter, p.source, p.hour, p.metric, p.value)
      .run();
    sent++;
  }
  if (results.length > 0) logEvent('info', 'billing.meter_events_sent', { sent, failed });
  return { sent, failed };
}

/**
 * Each tenant's share of the log table's bytes on disk, written as the
 * `stored_bytes` usage of the current hour (source `clickhouse`).
 */
export async function sampleStoredBytes(clickhouse: ClickHouseClient, db: D1Database, now: number): Promise<number> {
  const rs = await clickhouse.query({
    query: `
      WITH parts AS (
        SELECT partition_id, sum(bytes_on_disk) AS bytes FROM system.parts
        WHERE database = currentDatabase() AND table = 'logs' AND active GROUP BY partition_id
      ),
      rows AS (SELECT _partition_id AS partition_id, TenantId, count() AS n FROM logs GROUP BY partition_id, TenantId)
      SELECT TenantId AS tenantId, toUInt64(round(sum(parts.bytes * rows.n / totals.n))) AS bytes
      FROM rows
      JOIN (SELECT partition_id, sum(n) AS n FROM rows GROUP BY partition_id) AS totals USING partition_id
      JOIN parts USING partition_id
      GROUP BY TenantId`,
    format: 'JSONEachRow',
  });
  const shares = await rs.json<{ tenantId: string; bytes: string | number }>();
  if (shares.length === 0) return 0;
  const hour = now - (now % HOUR_MS);
  const upsert = db.prepare(
    `INSERT INTO usage_hourly (tenant_id, source, hour, metric, reason, value) VALUES (?, 'clickhouse', ?, 'stored_bytes', '', ?)
     ON CONFLICT (tenant_id, source, hour, metric, reason) DO UPDATE SET value = excluded.value`,
  );
  await db.batch(shares.map((s) => upsert.bind(s.tenantId, hour, Number(s.bytes))));
  return shares.length;
}
