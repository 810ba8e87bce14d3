/**
 * /mcp — the Model Context Protocol server (Streamable HTTP, stateless): the
 * tools an AI agent investigates a tenant's logs with — search, histogram,
 * fields and values, context around a record, patterns, anomalies.
 *
 * Each tool is the HTTP API it names, called inside this worker with the
 * agent's own credential: the same authentication (the tenant comes from the
 * credential only, `logs:read`), the same validation of every parameter, the
 * same plan limits and byte caps. Nothing a tool does is impossible over HTTP.
 * A refused call (400, 403, 429…) is a tool error carrying the API's JSON, so
 * the agent reads why and can correct itself; the protocol itself never
 * fails on bad input. Results are cut at RESULT_MAX_CHARS.
 *
 * Bearer credentials only: a browser's session cookie is not an agent's.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../shared/api-error.ts';
import { requirePrincipal } from '../../shared/auth.ts';
import type { QueryApp } from './env.ts';

/** A tool's text answer is cut here (an agent's context is precious; the API pages on). */
export const RESULT_MAX_CHARS = 60_000;

/** Calls one of this worker's own routes (index.ts hands it in: app.fetch). */
export type Dispatch = (request: Request, c: Context<QueryApp>) => Promise<Response>;

const text = (max: number, description: string) => z.string().max(max).optional().describe(description);
const scope = {
  query: text(4_000, 'The query language (docs/query-language.md): words, "phrases", field:value, level>=warn, pattern:<id>, AND/OR/NOT'),
  from: text(64, 'Start: RFC 3339, Unix epoch, now or now-15m; default 24 h before `to`'),
  to: text(64, 'End: same forms; default now'),
  level: text(200, 'Comma list of trace, debug, info, warn, error, fatal'),
  service: text(1_000, 'Comma list of service names'),
};
const bounded = (max: number, description: string) => z.number().int().min(1).max(max).optional().describe(description);

/** The tools: name, description, input, and the API request it makes. */
const TOOLS = [
  {
    name: 'search_logs',
    description:
      'Search the logs, newest first. Returns records (time, level, service, body, attributes, patternId, pattern) and nextCursor for the next page.',
    input: { ...scope, limit: bounded(200, 'Records, 1–200 (default 20)'), cursor: text(500, "The previous answer's nextCursor") },
    request: (a: Args) => ['/v1/logs', { ...scopeParams(a), limit: String(a.limit ?? 20), cursor: a.cursor }] as const,
  },
  {
    name: 'log_histogram',
    description: 'Counts of matching records per time bucket, split by level: when did something start, stop or spike.',
    input: { ...scope, interval: text(16, 'Bucket size like 30s, 5m, 1h; default about 60 buckets') },
    request: (a: Args) => ['/v1/logs/histogram', { ...scopeParams(a), interval: a.interval }] as const,
  },
  {
    name: 'list_fields',
    description: 'Attribute fields seen on the matching records, by how many records carry them.',
    input: scope,
    request: (a: Args) => ['/v1/logs/fields', scopeParams(a)] as const,
  },
  {
    name: 'field_values',
    description: 'Top values of one field (level, service, trace_id, pattern, or an attribute) among the matching records, with counts.',
    input: {
      field: z.string().min(1).max(256).describe('The field name, as the query language writes it'),
      ...scope,
      limit: bounded(100, 'Values, 1–100 (default 10)'),
    },
    request: (a: Args) =>
      [`/v1/logs/fields/${encodeURIComponent(a.field!)}/values`, { ...scopeParams(a), limit: a.limit === undefined ? undefined : String(a.limit) }] as const,
  },
  {
    name: 'log_context',
    description: 'The lines logged just before and after one record by the same service (the record id comes from search_logs).',
    input: {
      id: z.string().min(1).max(256).describe('A record id from search_logs'),
      before: z.number().int().min(0).max(200).optional().describe('Lines before, 0–200 (default 10)'),
      after: z.number().int().min(0).max(200).optional().describe('Lines after, 0–200 (default 10)'),
    },
    request: (a: Args) =>
      [
        `/v1/logs/context/${encodeURIComponent(a.id!)}`,
        { before: a.before === undefined ? undefined : String(a.before), after: a.after === undefined ? undefined : String(a.after) },
      ] as const,
  },
  {
    name: 'list_patterns',
    description:
      'The message templates (patterns) of the matching records, most frequent first, with counts, share, levels, a sample and counts over time. Search one with query pattern:<id>.',
    input: { ...scope, limit: bounded(100, 'Patterns, 1–100 (default 20)') },
    request: (a: Args) => ['/v1/patterns', { ...scopeParams(a), limit: String(a.limit ?? 20) }] as const,
  },
  {
    name: 'list_anomalies',
    description:
      'What is unusual in a range (at most 7 days): volume spikes and drops, services or patterns gone silent, error-ratio jumps, new patterns — each with expected vs actual and a score (≥ 1 is an alarm).',
    input: { from: scope.from, to: scope.to, service: scope.service },
    request: (a: Args) => ['/v1/anomalies', { from: a.from, to: a.to, service: a.service }] as const,
  },
] as const;

interface Args {
  query?: string;
  from?: string;
  to?: string;
  level?: string;
  service?: string;
  limit?: number;
  cursor?: string;
  interval?: string;
  field?: string;
  id?: string;
  before?: number;
  after?: number;
}

function scopeParams(a: Args): Record<string, string | undefined> {
  return { q: a.query, from: a.from, to: a.to, level: a.level, service: a.service };
}

export function mcpRoutes(dispatch: Dispatch): Hono<QueryApp> {
  const routes = new Hono<QueryApp>();
  routes.use('*', async function bearerOnly(c, next) {
    if (!c.req.header('authorization')) {
      throw new ApiError(
        401,
        'unauthorized',
        'the MCP server takes an API key or a JWT: Authorization: Bearer <credential>',
        {},
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    await next();
  });
  routes.use('*', requirePrincipal('logs:read'));
  routes.all('/', async (c) => {
    const server = new McpServer(
      { name: 'neurallog', version: '1' },
      {
        jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
        instructions: "Tools to investigate this tenant's logs. Start with list_patterns or log_histogram over a range, then search_logs and log_context.",
      },
    );
    for (const tool of TOOLS) {
      server.registerTool(
        tool.name,
        { description: tool.description, inputSchema: tool.input, annotations: { readOnlyHint: true, openWorldHint: false } },
        async (args: Args) => {
          const [path, params] = tool.request(args);
          return callApi(c, dispatch, path, params);
        },
      );
    }
    // Stateless: each request is answered by a server of its own (nothing is kept between requests).
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: 1024 * 1024,
    });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
  return routes;
}

/** One API call under the caller's credential, as a tool result. */
async function callApi(c: Context<QueryApp>, dispatch: Dispatch, path: string, params: Record<string, string | undefined>): Promise<CallToolResult> {
  const url = new URL(path, c.req.url);
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') url.searchParams.set(name, value);
  const response = await dispatch(new Request(url, { headers: { authorization: c.req.header('authorization')! } }), c);
  let body = await response.text();
  if (body.length > RESULT_MAX_CHARS) {
    body = `${body.slice(0, RESULT_MAX_CHARS)}\n… cut at ${RESULT_MAX_CHARS} characters: narrow the query or the range, or lower limit`;
  }
  return { isError: !response.ok, content: [{ type: 'text', text: response.ok ? body : `HTTP ${response.status}: ${body}` }] };
}
