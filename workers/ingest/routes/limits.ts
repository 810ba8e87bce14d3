/**
 * GET /v1/limits — the caller's plan, and where the tenant stands against each
 * limit: rate buckets now, volume used today and this month, when each resets,
 * and when each volume quota runs out at the current rate.
 * Any credential of the tenant may ask.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { requirePrincipal } from '../../../shared/auth.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { ingestPolicy } from '../../../shared/rate-limit-headers.ts';
import { shardName } from '../../../shared/sharding.ts';
import type { IngestApp, IngestEnv } from '../env.ts';
import type { Plan } from '../../../shared/plans.ts';
import { forecastQuota, todaysBytesPerSecond } from '../../../shared/analytics/forecast.ts';

const RateDoc = z.object({ perSecond: z.number(), burst: z.number(), remaining: z.number(), fullInSeconds: z.number() });
/** When a quota runs out at the current rate (shared/analytics/forecast.ts). */
export const ForecastDoc = {
  bytesPerSecond: z.number().openapi({ description: "The current rate: today's bytes (as the quota counts them) over the time since UTC midnight" }),
  reachesLimitAt: z
    .string()
    .nullable()
    .openapi({ description: 'When the quota is used up at that rate; null when not before it resets (or nothing is being sent)' }),
};
const QuotaDoc = z.object({
  window: z.string(),
  limitBytes: z.number(),
  usedBytes: z.number(),
  usedRecords: z.number(),
  resetsAt: z.string(),
  forecast: z.object(ForecastDoc),
});

export const limitsDoc = createRoute({
  method: 'get',
  path: '/v1/limits',
  summary: "The tenant's plan limits and current usage",
  security: BEARER_SECURITY,
  responses: {
    200: {
      description: 'Limits and usage',
      content: {
        'application/json': {
          schema: z
            .object({
              tenant: z.string(),
              plan: z.object({ id: z.string(), name: z.string() }),
              rate: z.object({ records: RateDoc, bytes: RateDoc }),
              quota: z.object({ daily: QuotaDoc, monthly: QuotaDoc }),
              retentionDays: z.number(),
              queryConcurrency: z.number(),
              shardCount: z.number(),
            })
            .openapi('Limits'),
        },
      },
    },
    ...errorResponses(401, 403),
  },
});

/** Where the tenant stands: every shard counts what it accepted; the tenant's figures are their sums. */
export async function tenantLimits(env: IngestEnv, tenantId: string, plan: Plan) {
  const policy = ingestPolicy(plan);
  const reports = await Promise.all(
    Array.from({ length: plan.shardCount }, (_, k) => env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName(shardName(tenantId, k))).limits(policy)),
  );
  const sum = (pick: (r: (typeof reports)[number]) => number) => reports.reduce((n, r) => n + pick(r), 0);
  const max = (pick: (r: (typeof reports)[number]) => number) => Math.max(...reports.map(pick));
  return {
    rate: {
      records: { remaining: sum((r) => r.rate.records.remaining), resetSeconds: max((r) => r.rate.records.resetSeconds) },
      bytes: { remaining: sum((r) => r.rate.bytes.remaining), resetSeconds: max((r) => r.rate.bytes.resetSeconds) },
    },
    usage: {
      day: { ...reports[0]!.usage.day, bytes: sum((r) => r.usage.day.bytes), records: sum((r) => r.usage.day.records) },
      month: { ...reports[0]!.usage.month, bytes: sum((r) => r.usage.month.bytes), records: sum((r) => r.usage.month.records) },
    },
  };
}

export const limitsRoutes = new Hono<IngestApp>();

limitsRoutes.get('/', requirePrincipal(), async function limits(c) {
  const { tenantId, plan, retentionDays } = c.get('principal');
  const now = Date.now();
  const report = await tenantLimits(c.env, tenantId, plan);
  const rate = todaysBytesPerSecond(report.usage.day.bytes, now);
  return c.json({
    tenant: tenantId,
    plan: { id: plan.id, name: plan.name },
    rate: {
      records: {
        perSecond: plan.ingestRecordsPerSecond,
        burst: plan.ingestRecordsBurst,
        remaining: report.rate.records.remaining,
        fullInSeconds: report.rate.records.resetSeconds,
      },
      bytes: {
        perSecond: plan.ingestBytesPerSecond,
        burst: plan.ingestBytesBurst,
        remaining: report.rate.bytes.remaining,
        fullInSeconds: report.rate.bytes.resetSeconds,
      },
    },
    quota: {
      daily: {
        window: report.usage.day.window,
        limitBytes: plan.dailyBytes,
        usedBytes: report.usage.day.bytes,
        usedRecords: report.usage.day.records,
        resetsAt: report.usage.day.resetsAt,
        forecast: forecastQuota(report.usage.day.bytes, plan.dailyBytes, rate, now, Date.parse(report.usage.day.resetsAt)),
      },
      monthly: {
        window: report.usage.month.window,
        limitBytes: plan.monthlyBytes,
        usedBytes: report.usage.month.bytes,
        usedRecords: report.usage.month.records,
        resetsAt: report.usage.month.resetsAt,
        forecast: forecastQuota(report.usage.month.bytes, plan.monthlyBytes, rate, now, Date.parse(report.usage.month.resetsAt)),
      },
    },
    retentionDays,
    queryConcurrency: plan.queryConcurrency,
    shardCount: plan.shardCount,
  });
});
