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

const ES_BULK = 'https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk';
const esError = z.object({ error: z.object({ type: z.string(), reason: z.string() }).passthrough(), status: z.number().int() });
const esErrors = Object.fromEntries(
  [400, 401, 403, 413, 429, 503].map((status) => [
    status,
    { description: "Elasticsearch's error shape", content: { 'application/json': { schema: esError } } },
  ]),
);
const esBulkBody = { body: { required: true, content: { 'application/x-ndjson': { schema: z.string() }, 'application/json': { schema: z.string() } } } };
const esBulkAnswer = {
  200: {
    description: "Elasticsearch's bulk answer: per-item results, so a shipper retries only the items that failed (429/5xx)",
    content: { 'application/json': { schema: z.object({ took: z.number(), errors: z.boolean(), items: z.array(z.unknown()) }) } },
  },
};

/** The Elasticsearch bulk API at /es (workers/ingest/routes/elasticsearch.ts): Fluent Bit, Vector, Logstash, Filebeat. */
export const esDocs = [
  createRoute({
    method: 'get',
    path: '/es',
    summary: 'Elasticsearch: the version probe shippers make first (needs logs:write)',
    description: 'Answers as Elasticsearch 8.19 does; index-template and ILM set-up calls under /es are accepted and ignored.',
    security: BEARER_SECURITY,
    responses: { 200: { description: 'Cluster information', content: { 'application/json': { schema: z.object({}).passthrough() } } }, ...esErrors },
  }),
  createRoute({
    method: 'post',
    path: '/es/_bulk',
    summary: 'Elasticsearch bulk (needs logs:write)',
    description: `${ES_BULK} — NDJSON action/document pairs (index and create), gzip accepted; the key as Basic-auth password, ApiKey or Bearer.`,
    security: BEARER_SECURITY,
    request: esBulkBody,
    responses: { ...esBulkAnswer, ...esErrors },
  }),
  createRoute({
    method: 'post',
    path: '/es/{index}/_bulk',
    summary: 'Elasticsearch bulk into a named index (needs logs:write)',
    description: `${ES_BULK} — the index is kept as the attribute es.index.`,
    security: BEARER_SECURITY,
    request: { params: z.object({ index: z.string() }), ...esBulkBody },
    responses: { ...esBulkAnswer, ...esErrors },
  }),
];
