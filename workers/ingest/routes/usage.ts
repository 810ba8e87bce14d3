/**
 * GET /v1/usage?from=&to= — the tenant's metered usage per hour and per day,
 * and the estimated charge for the current billing month under its plan.
 * Needs `billing:read` or `admin` (the tenant-admin role has both).
 *
 * Closed hours come from D1 (`usage_hourly`, rolled up by the actors); the
 * hour being counted comes straight from the tenant's actors, so the figures
 * are current to the last accepted batch. Searches are counted by the query
 * worker's QueryGate and appear once their hour is rolled up.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { estimateCharge } from '../../../shared/billing/prices.ts';
import { usageHourly } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { shardName } from '../../../shared/sharding.ts';
import { invalid, parseTime } from '../../../shared/request-params.ts';
import { HOUR_MS } from '../../../durable-objects/usage-meter.ts';
import type { IngestApp } from '../env.ts';
import { forecastQuota, todaysBytesPerSecond } from '../../../shared/analytics/forecast.ts';
import { ForecastDoc, tenantLimits } from './limits.ts';

const Usage = z.object({
  recordsAccepted: z.number(),
  bytesAccepted: z.number().openapi({ description: 'Normalised rows, uncompressed: what is billed' }),
  recordsRejected: z.record(z.string(), z.number()).openapi({ description: 'By reason (rate_limited, quota_exceeded, invalid_record, …)' }),
  queries: z.number(),
});
const Period = Usage.extend({ start: z.string() });

export const usageDoc = createRoute({
  method: 'get',
  path: '/v1/usage',
  summary: "The tenant's metered usage and the estimated charge this month (needs billing:read or admin)",
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      from: z.string().optional().openapi({ description: 'RFC 3339, Unix epoch or now-7d; default the start of the current UTC month' }),
      to: z.string().optional().openapi({ description: 'Same forms; default now' }),
    }),
  },
  responses: {
    200: {
      description: 'Usage',
      content: {
        'application/json': {
          schema: z
            .object({
              tenant: z.string(),
              plan: z.string(),
              from: z.string(),
              to: z.string(),
              hours: z.array(Period),
              days: z.array(Period),
              total: Usage,
              storedBytes: z.number().nullable().openapi({ description: "The tenant's share of ClickHouse's parts at the last hourly sample" }),
              currentMonth: z.object({
                start: z.string(),
                bytesAccepted: z.number(),
                estimatedCharge: z.object({
                  currency: z.literal('usd'),
                  feeCents: z.number(),
                  overageBytes: z.number(),
                  overageCents: z.number(),
                  totalCents: z.number(),
                }),
                quota: z
                  .object({
                    limitBytes: z.number(),
                    usedBytes: z.number().openapi({ description: 'As the quota counts them: bytes received' }),
                    ...ForecastDoc,
                  })
                  .openapi({ description: 'The monthly quota, and when it runs out at the current rate' }),
              }),
            })
            .openapi('Usage'),
        },
      },
    },
    ...errorResponses(400, 401, 403),
  },
});

type Totals = z.infer<typeof Usage>;
const empty = (): Totals => ({ recordsAccepted: 0, bytesAccepted: 0, recordsRejected: {}, queries: 0 });

function addCount(t: Totals, c: { metric: string; reason: string; value: number }): void {
  if (c.metric === 'records_accepted') t.recordsAccepted += c.value;
  else if (c.metric === 'bytes_accepted') t.bytesAccepted += c.value;
  else if (c.metric === 'queries') t.queries += c.value;
  else if (c.metric === 'records_rejected') t.recordsRejected[c.reason] = (t.recordsRejected[c.reason] ?? 0) + c.value;
}

function time(query: URLSearchParams, name: string, fallback: number, now: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const instant = parseTime(name, text, now);
  return instant.seconds * 1000 + Math.floor(instant.nanos / 1e6);
}

export const usageRoutes = new Hono<IngestApp>();

usageRoutes.get('/', requirePrincipal(), async function usage(c) {
  const { tenantId, plan, scopes } = c.get('principal');
  if (!scopes.has('billing:read') && !scopes.has('admin')) {
    throw new ApiError(403, 'insufficient_scope', 'usage needs the "billing:read" or "admin" scope', { required: 'billing:read' });
  }
  const now = Date.now();
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const query = new URL(c.req.url).searchParams;
  const from = time(query, 'from', monthStart, now);
  const to = time(query, 'to', now, now);
  if (to <= from) throw invalid('from', 'must be before to');
  if (to - from > 400 * 24 * HOUR_MS) throw invalid('from', 'the range can span at most 400 days');

  const db = drizzle(c.env.CONTROL_DB);
  const lo = Math.min(from, monthStart) - (Math.min(from, monthStart) % HOUR_MS);
  const [closed, open, stored, standing] = await Promise.all([
    db
      .select({ hour: usageHourly.hour, metric: usageHourly.metric, reason: usageHourly.reason, value: usageHourly.value })
      .from(usageHourly)
      .where(and(eq(usageHourly.tenantId, tenantId), gte(usageHourly.hour, lo), lt(usageHourly.hour, Math.max(to, now))))
      .all(),
    // The counters the actors have not rolled up yet (the open hour, and any closed hour waiting).
    Promise.all(Array.from({ length: plan.shardCount }, (_, k) => c.env.TENANT_ACTOR.get(c.env.TENANT_ACTOR.idFromName(shardName(tenantId, k))).usage())),
    // The latest sample of the tenant's share of ClickHouse's parts (the billing job's, hourly).
    db
      .select({ bytes: sql<number | null>`sum(${usageHourly.value})` })
      .from(usageHourly)
      .where(
        and(
          eq(usageHourly.tenantId, tenantId),
          eq(usageHourly.metric, 'stored_bytes'),
          eq(usageHourly.hour, sql`(SELECT max(hour) FROM usage_hourly WHERE tenant_id = ${tenantId} AND metric = 'stored_bytes')`),
        ),
      )
      .all(),
    tenantLimits(c.env, tenantId, plan),
  ]);
  const counts = [...closed, ...open.flat()];

  const hours = new Map<number, Totals>();
  const days = new Map<number, Totals>();
  const total = empty();
  let monthBytes = 0;
  const storedBytes = stored[0]?.bytes ?? null;
  for (const c of counts) {
    if (c.metric === 'stored_bytes') continue;
    if (c.hour >= monthStart && c.metric === 'bytes_accepted') monthBytes += c.value;
    if (c.hour + HOUR_MS <= from || c.hour >= to) continue;
    const day = c.hour - (c.hour % (24 * HOUR_MS));
    for (const [map, key] of [
      [hours, c.hour],
      [days, day],
    ] as const) {
      let t = map.get(key);
      if (!t) {
        t = empty();
        map.set(key, t);
      }
      addCount(t, c);
    }
    addCount(total, c);
  }
  const periods = (map: Map<number, Totals>) =>
    [...map.entries()].sort(([a], [b]) => a - b).map(([start, t]) => ({ start: new Date(start).toISOString(), ...t }));
  return c.json({
    tenant: tenantId,
    plan: plan.id,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    hours: periods(hours),
    days: periods(days),
    total,
    storedBytes,
    currentMonth: {
      start: new Date(monthStart).toISOString(),
      bytesAccepted: monthBytes,
      estimatedCharge: { currency: 'usd' as const, ...estimateCharge(plan.id, monthBytes) },
      // When the monthly quota runs out at today's rate (shared/analytics/forecast.ts), in the quota's own measure.
      quota: {
        limitBytes: plan.monthlyBytes,
        usedBytes: standing.usage.month.bytes,
        ...forecastQuota(
          standing.usage.month.bytes,
          plan.monthlyBytes,
          todaysBytesPerSecond(standing.usage.day.bytes, now),
          now,
          Date.parse(standing.usage.month.resetsAt),
        ),
      },
    },
  });
});
