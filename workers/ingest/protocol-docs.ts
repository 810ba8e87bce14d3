/**
 * OpenAPI entries for the shipper protocols. Their bodies are other projects'
 * wire formats (OTLP, Loki's push.proto, syslog text), so these document the
 * endpoints and answers and point at the specs; the decoders check the bodies.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { BEARER_SECURITY, errorResponses } from '../../shared/openapi.ts';

const binary = z.string().openapi({ format: 'binary' });

export const otlpLogsDoc = createRoute({
  method: 'post',
  path: '/otlp/v1/logs',
  summary: 'OTLP/HTTP logs (needs logs:write)',
  description:
    'An ExportLogsServiceRequest (https://opentelemetry.io/docs/specs/otlp/#otlphttp), binary protobuf or OTLP/JSON, gzip accepted. Errors are google.rpc.Status in the request encoding.',
  security: BEARER_SECURITY,
  request: { body: { required: true, content: { 'application/x-protobuf': { schema: binary }, 'application/json': { schema: z.object({}).passthrough() } } } },
  responses: {
    200: {
      description: 'ExportLogsServiceResponse; partial_success counts records rejected on their own',
      content: { 'application/x-protobuf': { schema: binary }, 'application/json': { schema: z.object({}).passthrough() } },
    },
    ...errorResponses(400, 401, 403, 413, 415, 429, 503),
  },
});

export const lokiPushDoc = createRoute({
  method: 'post',
  path: '/loki/api/v1/push',
  summary: 'Grafana Loki push (needs logs:write)',
  description:
    "Loki's push API (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs): snappy-compressed push.proto, or JSON. X-Scope-OrgID is ignored.",
  security: BEARER_SECURITY,
  request: {
    body: {
      required: true,
      content: { 'application/x-protobuf': { schema: binary }, 'application/json': { schema: z.object({ streams: z.array(z.unknown()) }) } },
    },
  },
  responses: {
    204: { description: 'Every entry stored' },
    400: {
      description: 'Malformed, or some streams/entries dropped (the rest stored); the text names them',
      content: { 'text/plain': { schema: z.string() } },
    },
    401: { description: 'No or invalid credential', content: { 'text/plain': { schema: z.string() } } },
    413: { description: 'Past a size limit', content: { 'text/plain': { schema: z.string() } } },
    415: { description: 'Not protobuf or JSON', content: { 'text/plain': { schema: z.string() } } },
    429: { description: 'Over a rate or quota; Retry-After', content: { 'text/plain': { schema: z.string() } } },
    503: { description: 'Not stored; Retry-After', content: { 'text/plain': { schema: z.string() } } },
  },
});

export const syslogDoc = createRoute({
  method: 'post',
  path: '/v1/syslog',
  summary: 'Syslog lines over HTTP (needs logs:write)',
  description: 'One RFC 5424 or RFC 3164 message per line (other lines are kept as they are), as syslog-ng http() and rsyslog omhttp send them; gzip accepted.',
  security: BEARER_SECURITY,
  request: { body: { required: true, content: { 'text/plain': { schema: z.string() } } } },
  responses: {
    202: {
      description: 'Stored by the tenant actor',
      content: { 'application/json': { schema: z.object({ accepted: z.number().int(), batchId: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 413, 415, 429, 503),
  },
});
