/**
 * OpenAPI entries for the endpoints around the search (documentation: their
 * parameters are checked by parseScope and the handlers, which name the one
 * at fault). GET /v1/logs has its own entry in routes/logs.ts.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { BEARER_SECURITY, errorResponses } from '../../shared/openapi.ts';

/** The scope parameters every read endpoint takes (documentation; parseScope checks them). */
export const scopeQuery = {
  from: z.string().optional().openapi({ description: 'RFC 3339, Unix epoch, now or now-15m; default 24 h before to' }),
  to: z.string().optional().openapi({ description: 'Same forms; default now' }),
  q: z.string().optional().openapi({ description: 'The query language (docs/query-language.md)' }),
  level: z.string().optional().openapi({ description: 'Comma list of trace, debug, info, warn, error, fatal' }),
  service: z.string().optional().openapi({ description: 'Comma list of service names' }),
};
const searchErrors = errorResponses(400, 401, 403, 429, 503);
const cacheNote = 'Answers for a closed range come from the edge cache; Cache-Status says hit, miss or bypass.';

export const histogramDoc = createRoute({
  method: 'get',
  path: '/v1/logs/histogram',
  summary: 'Counts per time bucket, split by level (needs logs:read)',
  description: cacheNote,
  security: BEARER_SECURITY,
  request: { query: z.object({ ...scopeQuery, interval: z.string().optional().openapi({ description: '30s, 5m, 1h, 1d; default about 60 buckets' }) }) },
  responses: {
    200: {
      description: 'Every bucket of the range, empty ones included',
      content: {
        'application/json': {
          schema: z
            .object({
              interval: z.string(),
              intervalSeconds: z.number().int(),
              from: z.string(),
              to: z.string(),
              total: z.number().int(),
              resolution: z.enum(['exact', 'minute']).openapi({
                description:
                  'minute: counted from the per-minute projection (filters on service and level only, whole-minute buckets); from/to are then the minutes counted',
              }),
              buckets: z.array(z.object({ start: z.string(), total: z.number().int(), levels: z.record(z.string(), z.number().int()) })),
            })
            .openapi('Histogram'),
        },
      },
    },
    ...searchErrors,
  },
});

export const fieldsDoc = createRoute({
  method: 'get',
  path: '/v1/logs/fields',
  summary: 'Attribute keys seen in the range, by how many records carry them (needs logs:read)',
  description: cacheNote,
  security: BEARER_SECURITY,
  request: { query: z.object(scopeQuery) },
  responses: {
    200: {
      description: 'Field names as the query language takes them',
      content: {
        'application/json': {
          schema: z.object({ builtin: z.array(z.string()), fields: z.array(z.object({ name: z.string(), count: z.number().int() })) }).openapi('Fields'),
        },
      },
    },
    ...searchErrors,
  },
});

export const fieldValuesDoc = createRoute({
  method: 'get',
  path: '/v1/logs/fields/{name}/values',
  summary: 'Top values of one field with their counts (needs logs:read)',
  description: cacheNote,
  security: BEARER_SECURITY,
  request: {
    params: z.object({ name: z.string() }),
    query: z.object({ ...scopeQuery, limit: z.string().optional().openapi({ description: '1–100, default 10' }) }),
  },
  responses: {
    200: {
      description: 'Facet',
      content: {
        'application/json': {
          schema: z
            .object({ field: z.string(), total: z.number().int(), values: z.array(z.object({ value: z.string(), count: z.number().int() })) })
            .openapi('FieldValues'),
        },
      },
    },
    ...searchErrors,
  },
});

export const contextDoc = createRoute({
  method: 'get',
  path: '/v1/logs/context/{id}',
  summary: 'The lines before and after one record, from the same service (needs logs:read)',
  description:
    'The answer holds at most NEURALLOG_SEARCH_MAX_BYTES (default 8 MiB) of row JSON, like a search page: what the record leaves is shared between before and after ' +
    'in proportion to the lines each asks for; each side keeps its nearest lines (at least one) and drops the farthest, and the answer then has `truncated: true`.',
  security: BEARER_SECURITY,
  request: {
    params: z.object({ id: z.string() }),
    query: z.object({
      before: z.string().optional().openapi({ description: 'Lines before the record, 0–500, default 10' }),
      after: z.string().optional().openapi({ description: 'Lines after the record, 0–500, default 10' }),
    }),
  },
  responses: {
    200: {
      description: 'The record and its neighbours, oldest first',
      content: {
        'application/json': {
          schema: z.object({
            log: z.unknown(),
            before: z.array(z.unknown()),
            after: z.array(z.unknown()),
            truncated: z.boolean().openapi({ description: 'Fewer lines than asked for came back because they reached the byte cap' }),
            truncatedReason: z.enum(['bytes']).optional().openapi({ description: 'Why lines were left out (only when truncated)' }),
          }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export const mcpDoc = createRoute({
  method: 'post',
  path: '/mcp',
  summary: 'Model Context Protocol server for AI agents (needs logs:read)',
  description:
    "Streamable HTTP, stateless (https://modelcontextprotocol.io/specification/2025-06-18/basic/transports): JSON-RPC 2.0 requests (initialize, tools/list, tools/call) whose tools are this API — search, histogram, fields, context, patterns, anomalies (docs/explorer.md). Bearer credentials only. Protocol errors are JSON-RPC error objects; a refused tool call is a tool result with isError and the API's JSON.",
  security: BEARER_SECURITY,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({
            jsonrpc: z.literal('2.0'),
            id: z.union([z.string(), z.number()]).optional(),
            method: z.string(),
            params: z.object({}).passthrough().optional(),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'A JSON-RPC response (or an event stream of them)',
      content: { 'application/json': { schema: z.object({}).passthrough() }, 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 403, 406, 413, 415),
  },
});
