/**
 * GET /v1/alerts and GET /v1/alerts/history — what the tenant's
 * AlertEvaluator knows (durable-objects/alert-evaluator.ts): the alerts
 * pending, firing or resolved in the last hour, each rule's health (an
 * evaluation that fails is shown here with its reason), and the history of
 * transitions and deliveries, newest first. Needs `alerts:read`.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { requirePrincipal } from '../../../shared/auth.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { invalid } from '../../../shared/request-params.ts';
import type { IngestApp } from '../env.ts';
import { requireAlertScope } from './alert-scope.ts';

const Group = z.record(z.string(), z.string()).openapi({ description: 'The group-by values of this alert (empty without group-by)' });

const CurrentAlert = z
  .object({
    ruleId: z.string(),
    ruleName: z.string(),
    severity: z.string(),
    state: z.enum(['pending', 'firing', 'resolved', 'inactive']),
    group: Group,
    value: z.number(),
    activeSince: z.string().nullable(),
    firedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    lastEvaluatedAt: z.string(),
    muted: z.boolean(),
  })
  .openapi('Alert');

const RuleStatus = z
  .object({
    id: z.string(),
    name: z.string(),
    health: z.enum(['ok', 'error', 'unknown']).openapi({ description: 'unknown: not evaluated yet' }),
    error: z.string().nullable().openapi({ description: 'Why the last evaluation failed' }),
    errorSince: z.string().nullable(),
    lastEvaluatedAt: z.string().nullable(),
    nextEvaluationAt: z.string(),
    fastPath: z.boolean().openapi({ description: 'Also counted as records are accepted (fires before the flush)' }),
  })
  .openapi('AlertRuleStatus');

const HistoryEvent = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    ruleId: z.string(),
    ruleName: z.string(),
    group: Group,
    event: z.string().openapi({
      description:
        'pending, firing, resolved, inactive (transitions); error, recovered (evaluation); notification_sent, notification_retrying, notification_failed, notification_suppressed; test_sent, test_failed',
    }),
    value: z.number().nullable(),
    detail: z.string().nullable(),
  })
  .openapi('AlertHistoryEvent');

const EvaluationStats = z
  .object({
    since: z.string().nullable().openapi({ description: 'When these counts started (the first evaluation)' }),
    queries: z.number().int().openapi({ description: 'ClickHouse queries run for your rules (rules sharing a window and group-by share one)' }),
    ruleEvaluations: z.number().int().openapi({ description: 'Rule evaluations those queries answered' }),
    queryMs: z.number().openapi({ description: 'Time spent in those queries (ms)' }),
  })
  .openapi('AlertEvaluationStats');

export const alertsRoutes = new OpenAPIHono<IngestApp>({ defaultHook: validationHook });
alertsRoutes.use('*', requirePrincipal());
alertsRoutes.use('*', requireAlertScope('alerts:read'));

const evaluatorOf = (env: IngestApp['Bindings'], tenantId: string) => env.ALERT_EVALUATOR.get(env.ALERT_EVALUATOR.idFromName(tenantId));

alertsRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: 'Alerts pending, firing or resolved in the last hour, and the health of every rule (needs alerts:read)',
    security: BEARER_SECURITY,
    responses: {
      200: {
        description: 'Current alerts',
        content: { 'application/json': { schema: z.object({ alerts: z.array(CurrentAlert), rules: z.array(RuleStatus), evaluation: EvaluationStats }) } },
      },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    return c.json(await evaluatorOf(c.env, tenantId).current(tenantId), 200);
  },
);

const MAX_HISTORY_PAGE = 500;

alertsRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/history',
    summary: 'What happened to alerts and their notifications, newest first (needs alerts:read)',
    security: BEARER_SECURITY,
    request: {
      query: z.object({
        rule: z.string().max(100).optional().openapi({ description: 'Only this rule' }),
        before: z.string().optional().openapi({ description: 'The `next` of the previous page' }),
        limit: z
          .string()
          .optional()
          .openapi({ description: `1–${MAX_HISTORY_PAGE}, default 100` }),
      }),
    },
    responses: {
      200: {
        description: 'A page of history',
        content: { 'application/json': { schema: z.object({ events: z.array(HistoryEvent), next: z.number().int().nullable() }) } },
      },
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const query = c.req.valid('query');
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) throw invalid('limit', `must be a whole number from 1 to ${MAX_HISTORY_PAGE}`);
    const before = query.before === undefined ? undefined : Number(query.before);
    if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) throw invalid('before', 'must be the `next` of a previous page');
    return c.json(await evaluatorOf(c.env, tenantId).history(tenantId, { ruleId: query.rule, before, limit }), 200);
  },
);
