/**
 * Elasticsearch's bulk API at /es, so Fluent Bit, Vector, Logstash, Filebeat
 * and the official clients can ship to NeuralLog unchanged: the probes they
 * make first (`GET /`, index templates), and `_bulk` with per-item results in
 * Elasticsearch's own shape, so they retry only the items that failed.
 *
 * Credentials: the tenant's key as the Basic-auth password, `ApiKey <key>`,
 * or `Bearer <key>`. Documents go through the same normalisation, actor and
 * limits as `POST /v1/logs`; ECS fields (`log.level`, `service.name`) are
 * recognised.
 */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { loadConfig } from '../../../shared/config.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import { logEvent } from '../../../shared/logger.ts';
import { normalizeRecord, RecordError } from '../../../shared/normalize.ts';
import type { IngestApp } from '../env.ts';
import { describeRefusal } from '../../../shared/row-format.ts';
import { newBatch, submit, backgroundOf } from '../pipeline.ts';
import { idempotencyKeyOf } from '../idempotency-key.ts';
import { readBodyText } from '../request-body.ts';
import { refuseWhileRemembered } from '../refusal-memo.ts';

export const elasticsearchRoutes = new Hono<IngestApp>();

const PRODUCT_HEADERS = { 'X-Elastic-Product': 'Elasticsearch' };

function esError(c: Context, status: number, type: string, reason: string, headers: Record<string, string> = {}) {
  return c.json({ error: { root_cause: [{ type, reason }], type, reason }, status }, status as 400, { ...PRODUCT_HEADERS, ...headers });
}

/**
 * The protocol's one error seam: whatever a route or a shared step throws
 * (authentication, body limits, the Idempotency-Key) answers in
 * Elasticsearch's error shape, which shippers understand.
 */
elasticsearchRoutes.onError((err, c) => {
  if (!(err instanceof ApiError)) {
    logEvent('error', 'request.failed', { requestId: c.get('requestId'), path: new URL(c.req.url).pathname, error: err.message, stack: err.stack });
    return esError(c, 500, 'exception', 'internal error; the request id identifies it in our logs');
  }
  if (err.status === 401) {
    return esError(c, 401, 'security_exception', 'missing or invalid credentials: send the API key as the password of Basic auth, or as "ApiKey <key>"', {
      'WWW-Authenticate': 'Basic realm="neurallog", charset="UTF-8"',
    });
  }
  if (err.status === 403) return esError(c, 403, 'security_exception', err.message);
  return esError(
    c,
    err.status,
    // 429 (a remembered refusal, before the body is read): the whole request rejected, as a full bulk queue answers; shippers retry it.
    err.status === 413 ? 'content_too_long_exception' : err.status >= 500 || err.status === 429 ? esErrorType(err.status) : 'parse_exception',
    err.message,
    err.headers,
  );
});

// Every route needs an ingest credential, the probes shippers make first included.
elasticsearchRoutes.use('*', requirePrincipal('logs:write'));

/** ECS puts level and service name in objects; our normaliser wants them flat. */
function fromEcs(doc: Record<string, unknown>, index: string | undefined): Record<string, unknown> {
  const record: Record<string, unknown> = { ...doc };
  const log = doc.log as Record<string, unknown> | undefined;
  if (log && typeof log === 'object' && typeof log.level === 'string' && record.level === undefined) {
    record.level = log.level;
    const { level: _level, ...rest } = log;
    record.log = rest;
  }
  const service = doc.service as Record<string, unknown> | undefined;
  if (service && typeof service === 'object' && !Array.isArray(service)) {
    delete record.service;
    if (typeof service.name === 'string') record['service.name'] = service.name;
    for (const [k, v] of Object.entries(service)) if (k !== 'name') record[`service.${k}`] = v;
  }
  if (index) record['es.index'] = index;
  return record;
}

/** Elasticsearch's error type for an item the batch's fate failed: shippers retry 429 and 5xx items. */
function esErrorType(status: number): string {
  if (status >= 500) return 'unavailable_shards_exception';
  if (status === 422 || status === 400) return 'illegal_argument_exception';
  return 'es_rejected_execution_exception';
}

elasticsearchRoutes.on(['GET', 'HEAD'], '/', async (c) => {
  return c.json(
    {
      name: 'neurallog',
      cluster_name: 'neurallog',
      cluster_uuid: 'neurallog',
      version: {
        number: '8.19.0',
        build_flavor: 'default',
        lucene_version: '9.12.0',
        minimum_wire_compatibility_version: '7.17.0',
        minimum_index_compatibility_version: '7.0.0',
      },
      tagline: 'You Know, for Search',
    },
    200,
    PRODUCT_HEADERS,
  );
});

// What shippers set up before they send: templates and policies are accepted and ignored.
for (const path of ['/_index_template/:name', '/_template/:name', '/_ilm/policy/:name', '/_component_template/:name']) {
  elasticsearchRoutes.on(['PUT', 'POST'], path, async (c) => c.json({ acknowledged: true }, 200, PRODUCT_HEADERS));
  elasticsearchRoutes.on(['GET', 'HEAD'], path, async (c) => c.json({ [`${path.split('/')[1]!.replace(/^_/, '')}s`]: [] }, 200, PRODUCT_HEADERS));
}

// A tenant its actor refused a moment ago is refused again before the body is read (refusal-memo.ts).
elasticsearchRoutes.on(['POST', 'PUT'], ['/_bulk', '/:index/_bulk'], refuseWhileRemembered());
elasticsearchRoutes.post('/_bulk', (c) => bulk(c, undefined));
elasticsearchRoutes.put('/_bulk', (c) => bulk(c, undefined));
elasticsearchRoutes.post('/:index/_bulk', (c) => bulk(c, c.req.param('index')));
elasticsearchRoutes.put('/:index/_bulk', (c) => bulk(c, c.req.param('index')));

type Item = Record<string, Record<string, unknown>>;

async function bulk(c: Context<IngestApp>, defaultIndex: string | undefined): Promise<Response> {
  const started = Date.now();
  const principal = c.get('principal');
  const config = loadConfig(c.env);
  const body = await readBodyText(c.req.raw, config.limits.maxRequestBytes);
  const lines = body.text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return esError(c, 400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');

  const batch = newBatch(principal);
  const { batchId, context } = batch;
  const idempotencyKey = idempotencyKeyOf(c.req.header('idempotency-key'));
  const items: Item[] = [];
  const rows: LogRow[] = [];
  const rowItems: { item: Item; op: string }[] = [];
  let invalidDocuments = 0;
  for (let i = 0; i < lines.length; i++) {
    let action: Record<string, Record<string, unknown>>;
    try {
      action = JSON.parse(lines[i]!);
    } catch {
      return esError(c, 400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected START_OBJECT but found something else`);
    }
    const op = action && typeof action === 'object' ? Object.keys(action)[0] : undefined;
    const meta = (op ? action[op] : undefined) ?? {};
    const index = typeof meta._index === 'string' ? meta._index : defaultIndex;
    if (op === 'delete') {
      items.push({
        delete: {
          _index: index,
          _id: meta._id ?? null,
          status: 400,
          error: { type: 'illegal_argument_exception', reason: 'NeuralLog keeps logs: delete is not supported' },
        },
      });
      continue;
    }
    if (op !== 'index' && op !== 'create' && op !== 'update') {
      return esError(
        c,
        400,
        'illegal_argument_exception',
        `Malformed action/metadata line [${i + 1}], expected one of index, create, update, delete but found [${op ?? ''}]`,
      );
    }
    if (i + 1 >= lines.length)
      return esError(c, 400, 'illegal_argument_exception', `The bulk request must be terminated by a newline [\\n]; action line ${i + 1} has no document`);
    const source = lines[++i]!;
    const id = typeof meta._id === 'string' ? meta._id : `${batchId}-${rows.length}`;
    const item: Item = { [op]: { _index: index ?? 'logs', _id: id } };
    items.push(item);
    if (op === 'update') {
      Object.assign(item.update!, { status: 400, error: { type: 'illegal_argument_exception', reason: 'NeuralLog keeps logs: update is not supported' } });
      continue;
    }
    try {
      const doc = JSON.parse(source);
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RecordError(0, null, 'the document must be a JSON object');
      rows.push(normalizeRecord(fromEcs(doc, index), rows.length, context));
      rowItems.push({ item, op });
    } catch (err) {
      const reason = err instanceof SyntaxError ? `failed to parse: ${err.message}` : (err as Error).message.replace(/^record \d+:? ?/, '');
      Object.assign(item[op]!, { status: 400, error: { type: 'document_parsing_exception', reason } });
      invalidDocuments++;
    }
  }

  if (rows.length > 0 || invalidDocuments > 0) {
    const submission = await submit(
      c.env,
      {
        protocol: 'elasticsearch',
        principal,
        requestId: c.get('requestId'),
        batch,
        rows,
        receivedBytes: body.bytes,
        body: body.text,
        idempotencyKey,
        shard: c.get('shard'),
        refuse: 'record',
        decoderRefused: invalidDocuments,
      },
      backgroundOf(c),
    );
    // Documents the pipeline refused fail on their own, as Elasticsearch items do; the rest share the batch's fate.
    for (const refusal of submission.ok ? submission.refused : []) {
      const { item, op } = rowItems[refusal.record]!;
      const status = refusal.code === 'record_too_large' ? 413 : 400;
      Object.assign(item[op]!, { status, error: { type: 'document_parsing_exception', reason: describeRefusal(refusal, 'document') } });
    }
    const refusal = submission.ok ? null : { status: submission.status, type: esErrorType(submission.status), reason: submission.message };
    rowItems.forEach(({ item, op }, n) => {
      const target = item[op]!;
      if (target.status !== undefined) return;
      if (refusal) Object.assign(target, { status: refusal.status, error: { type: refusal.type, reason: refusal.reason } });
      else
        Object.assign(target, { _version: 1, result: 'created', status: 201, _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: n, _primary_term: 1 });
    });
  }
  const errors = items.some((item) => (Object.values(item)[0]!.status as number) >= 300);
  logEvent('info', 'es_bulk.done', {
    requestId: c.get('requestId'),
    tenant: principal.tenantId,
    batchId,
    items: items.length,
    errors,
    durationMs: Date.now() - started,
  });
  return c.json({ took: Date.now() - started, errors, items }, 200, PRODUCT_HEADERS);
}
