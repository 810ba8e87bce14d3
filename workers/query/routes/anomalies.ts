/**
 * GET /v1/anomalies?from=&to=&service= — what is unusual in the range. The
 * counts are read and judged by findAnomalies (shared/analytics/find-anomalies.ts,
 * which also says how the range is cut into intervals); this route checks the
 * parameters, caches the answer at the edge and adds each pattern's template.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { anomalyInterval, BASELINE_DAYS, findAnomalies, MAX_RANGE_SECONDS } from '../../../shared/analytics/find-anomalies.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { BEARER_SECURITY, errorResponses } from '../../../shared/openapi.ts';
import { clickHouseTimeToRfc3339, formatClickHouseTime } from '../../../shared/timestamp.ts';
import { cachedJson } from '../edge-cache.ts';
import { scopeQuery } from '../endpoint-docs.ts';
import type { QueryApp } from '../env.ts';
import { aliasGraph, patternsOf } from '../patterns.ts';
import { checkRange, runQuery } from '../run-query.ts';
import { invalid, parseScope } from '../search-params.ts';

export const anomaliesDoc = createRoute({
  method: 'get',
  path: '/v1/anomalies',
  summary: 'What is unusual in the range: volume spikes and drops, silences, error-ratio jumps, new patterns (needs logs:read)',
  description:
    'Each anomaly: kind, service, patternId (null for a whole service), start/end, expected and actual (counts; shares for error_ratio), a score (≥ 1 is an alarm; below it a finding) and a summary. ' +
    `Baseline: the same time of day on the ${BASELINE_DAYS} days before (median and MAD); with fewer than 3 such days nothing is said about volume, silence or error ratio (\`baselineDays\`). Ranges up to 7 days; default the last 24 h.`,
  security: BEARER_SECURITY,
  request: {
    query: z.object({
      from: scopeQuery.from,
      to: scopeQuery.to,
      service: scopeQuery.service,
    }),
  },
  responses: {
    200: {
      description: 'Anomalies, highest score first',
      content: {
        'application/json': {
          schema: z
            .object({
              from: z.string(),
              to: z.string(),
              interval: z.string(),
              baselineDays: z.number().int().openapi({ description: 'Earlier days with records at these times (the baseline needs 3)' }),
              anomalies: z.array(
                z.object({
                  kind: z.enum(['volume', 'silence', 'error_ratio', 'new_pattern']),
                  service: z.string(),
                  patternId: z.string().nullable(),
                  template: z.string().nullable(),
                  direction: z.enum(['spike', 'drop', 'up']).optional(),
                  start: z.string(),
                  end: z.string(),
                  expected: z.number(),
                  actual: z.number(),
                  score: z.number(),
                  summary: z.string(),
                }),
              ),
            })
            .openapi('Anomalies'),
        },
      },
    },
    ...errorResponses(400, 401, 403, 429, 503),
  },
});

export const anomaliesRoutes = new Hono<QueryApp>();

anomaliesRoutes.get('/', requirePrincipal('logs:read'), async function listAnomalies(c) {
  const now = Date.now();
  const query = new URL(c.req.url).searchParams;
  for (const name of ['q', 'level'])
    if (query.has(name)) throw invalid(name, 'is not taken here: anomalies are judged on whole services and patterns (narrow with service)');
  const { tenantId } = c.get('principal');
  const scope = parseScope(query, now);
  checkRange(c.get('principal'), scope);
  const rangeSeconds = scope.to.seconds - scope.from.seconds;
  if (rangeSeconds > MAX_RANGE_SECONDS) throw invalid('from', 'anomalies are looked for over at most 7 days at a time');
  const interval = anomalyInterval(Math.max(1, rangeSeconds));
  return cachedJson(
    c,
    'anomalies',
    scope,
    { interval },
    async () => {
      const { baselineDays, anomalies } = await findAnomalies((sql, params) => runQuery(c, sql, params), await aliasGraph(c, tenantId), {
        tenantId,
        from: scope.from,
        to: scope.to,
        services: scope.services,
      });
      const templates = await patternsOf(
        c,
        tenantId,
        anomalies.flatMap((a) => (a.patternId ? [a.patternId] : [])),
      );
      return {
        from: clickHouseTimeToRfc3339(formatClickHouseTime(scope.from)),
        to: clickHouseTimeToRfc3339(formatClickHouseTime(scope.to)),
        interval: `${interval / 60}m`,
        baselineDays,
        anomalies: anomalies.map((a) => ({ ...a, template: a.patternId ? (templates.get(a.patternId)?.template ?? null) : null })),
      };
    },
    now,
  );
});
