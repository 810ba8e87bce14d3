/**
 * OpenAPI entries for Loki's read API (docs/grafana.md): documentation of the
 * paths Grafana's Loki data source calls and their parameters, so the public
 * document lists them (and the security test's generated inputs reach them).
 * The handlers in routes/loki.ts check every parameter; errors are Loki's
 * shape, `{"status":"error","code":…,"message":…}`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { BEARER_SECURITY } from '../../../shared/openapi.ts';

const LOKI_API = 'https://grafana.com/docs/loki/latest/reference/loki-http-api/';
const lokiError = z.object({ status: z.literal('error'), code: z.number().int(), message: z.string() });
const errors = Object.fromEntries(
  [400, 401, 403, 429, 503].map((status) => [status, { description: "Loki's error shape", content: { 'application/json': { schema: lokiError } } }]),
);
const lokiAnswer = z.object({ status: z.literal('success'), data: z.unknown() }).passthrough();
const ok = (description: string, schema: z.ZodType = lokiAnswer) => ({ 200: { description, content: { 'application/json': { schema } } } });

const range = {
  start: z.string().optional().openapi({ description: 'Unix epoch (s, ms, µs or ns) or RFC 3339; default an hour before end' }),
  end: z.string().optional().openapi({ description: 'Same forms; default now' }),
};
const query = z.string().openapi({ description: 'LogQL (the subset docs/grafana.md lists; anything else is a 400 naming it)' });

function lokiRead(method: 'get' | 'post', path: string, summary: string, params: Record<string, z.ZodType>, answer: string, schema?: z.ZodType) {
  return createRoute({
    method,
    path,
    summary: `Loki: ${summary} (needs logs:read)`,
    description: `${LOKI_API} — GET with a query string${method === 'post' ? ', or POST with a form body' : ''}.`,
    security: BEARER_SECURITY,
    request: { query: z.object(params) },
    responses: { ...ok(answer, schema), ...errors },
  });
}

const nameParam = { params: z.object({ name: z.string().openapi({ description: 'A label or field name' }) }) };

export const lokiReadDocs = [
  lokiRead(
    'get',
    '/loki/api/v1/query_range',
    'a LogQL query over a range',
    {
      query,
      ...range,
      limit: z.string().optional().openapi({ description: 'Most lines for a log query; default 100' }),
      step: z.string().optional().openapi({ description: 'Metric queries: the step, a duration (1m) or seconds' }),
      direction: z.enum(['forward', 'backward']).optional(),
    },
    'streams or a matrix',
  ),
  lokiRead(
    'get',
    '/loki/api/v1/query',
    'a LogQL query at one instant',
    {
      query,
      time: z.string().optional().openapi({ description: 'The instant; default now' }),
      limit: z.string().optional(),
      direction: z.enum(['forward', 'backward']).optional(),
    },
    'streams, a vector or a scalar',
  ),
  lokiRead('get', '/loki/api/v1/labels', 'label names', { ...range }, 'label names'),
  createRoute({
    method: 'get',
    path: '/loki/api/v1/label/{name}/values',
    summary: 'Loki: values of a label (needs logs:read)',
    description: LOKI_API,
    security: BEARER_SECURITY,
    request: { ...nameParam, query: z.object({ ...range, query: query.optional() }) },
    responses: { ...ok('label values'), ...errors },
  }),
  lokiRead(
    'get',
    '/loki/api/v1/series',
    'streams matching selectors',
    { match: z.string().optional().openapi({ description: 'A stream selector; repeatable as match[]' }), ...range },
    'label sets',
  ),
  lokiRead('get', '/loki/api/v1/index/stats', 'streams, chunks, entries and bytes of a selector', { query, ...range }, 'the statistics'),
  lokiRead(
    'get',
    '/loki/api/v1/index/volume',
    'volume by label',
    { query, ...range, limit: z.string().optional(), targetLabels: z.string().optional(), aggregateBy: z.enum(['series', 'labels']).optional() },
    'a vector',
  ),
  lokiRead(
    'get',
    '/loki/api/v1/index/volume_range',
    'volume by label over time',
    {
      query,
      ...range,
      step: z.string().optional(),
      limit: z.string().optional(),
      targetLabels: z.string().optional(),
      aggregateBy: z.enum(['series', 'labels']).optional(),
    },
    'a matrix',
  ),
  lokiRead('get', '/loki/api/v1/detected_labels', 'labels with their cardinality', { query: query.optional(), ...range }, 'detected labels'),
  lokiRead(
    'get',
    '/loki/api/v1/detected_fields',
    'fields found in the lines',
    { query: query.optional(), ...range, limit: z.string().optional(), line_limit: z.string().optional() },
    'detected fields',
  ),
  createRoute({
    method: 'get',
    path: '/loki/api/v1/detected_field/{name}/values',
    summary: 'Loki: values of a detected field (needs logs:read)',
    description: LOKI_API,
    security: BEARER_SECURITY,
    request: { ...nameParam, query: z.object({ query: query.optional(), ...range, limit: z.string().optional() }) },
    responses: { ...ok('field values'), ...errors },
  }),
  lokiRead(
    'get',
    '/loki/api/v1/patterns',
    'log patterns of a selector (the pattern book)',
    { query, ...range, step: z.string().optional() },
    'patterns with samples',
  ),
  lokiRead('get', '/loki/api/v1/status/buildinfo', 'the version Grafana checks', {}, 'build information', z.object({ version: z.string() }).passthrough()),
];
