/**
 * A local server that speaks Stripe's API wire protocol for the calls
 * NeuralLog makes, so the real `stripe` SDK can be tested without reaching
 * api.stripe.com:
 *
 * - form-encoded bodies with Stripe's bracket notation (`items[0][price]`),
 *   parsed with `qs` as Stripe's own servers read them;
 * - `Authorization: Bearer <secret key>`, 401 with Stripe's error JSON otherwise;
 * - `Idempotency-Key`: a repeated key with the same request returns the first
 *   response (with `Idempotent-Replayed: true`); the same key with different
 *   parameters is a 400 `idempotency_error`, as Stripe answers;
 * - errors as `{"error": {"type", "code", "message", "param"}}` with Stripe's
 *   status codes, and 429s with `Stripe-Should-Retry` on demand (`failNext`).
 *
 * Endpoints: POST /v1/customers, POST /v1/subscriptions, POST and GET
 * /v1/subscriptions/{id}, POST /v1/billing/meter_events (identifiers unique,
 * as Stripe enforces them). Everything it was sent is kept for the tests
 * (`state`); tests in workerd read it at GET /__stand-in/state and inject
 * failures with POST /__stand-in/fail-next?prefix=&count=&status=.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'qs';

export interface StandInState {
  customers: Record<string, Record<string, unknown>>;
  subscriptions: Record<string, Record<string, unknown>>;
  meterEvents: Record<string, unknown>[];
  /** Every request: method, path, idempotency key, the status answered. */
  requests: { method: string; path: string; idempotencyKey: string | null; status: number }[];
}

export interface StripeStandIn {
  url: string;
  secretKey: string;
  state: StandInState;
  /** The next `count` requests to `pathPrefix` fail with `status` (429 by default). */
  failNext(pathPrefix: string, count: number, status?: number): void;
  close(): Promise<void>;
}

type Answer = { status: number; body: unknown };

function stripeError(status: number, type: string, message: string, extra: Record<string, string> = {}): Answer {
  return { status, body: { error: { type, message, ...extra } } };
}

export async function startStripeStandIn(secretKey = `sk_test_${crypto.randomUUID().replaceAll('-', '')}`): Promise<StripeStandIn> {
  const state: StandInState = { customers: {}, subscriptions: {}, meterEvents: [], requests: [] };
  const idempotent = new Map<string, { fingerprint: string; answer: Answer }>();
  const failures: { prefix: string; count: number; status: number }[] = [];
  let next = 1;
  const id = (prefix: string) => `${prefix}_standin${String(next++).padStart(8, '0')}`;
  const now = () => Math.floor(Date.now() / 1000);

  function subscriptionItems(
    subscriptionId: string,
    items: { price?: string; id?: string; deleted?: string }[],
    existing: Record<string, unknown>[] = [],
  ): Record<string, unknown>[] {
    const result = [...existing];
    for (const item of items) {
      if (item.id) {
        const i = result.findIndex((r) => r.id === item.id);
        if (i < 0) throw stripeError(400, 'invalid_request_error', `No such subscription item: '${item.id}'`, { param: 'items' });
        if (item.deleted === 'true') result.splice(i, 1);
        else if (item.price) result[i] = { ...result[i], price: { id: item.price, object: 'price' } };
      } else if (item.price) {
        result.push({ id: id('si'), object: 'subscription_item', price: { id: item.price, object: 'price' }, subscription: subscriptionId, quantity: 1 });
      }
    }
    return result;
  }

  function route(method: string, path: string, params: Record<string, any>): Answer {
    if (method === 'POST' && path === '/v1/customers') {
      const customer = {
        id: id('cus'),
        object: 'customer',
        created: now(),
        email: params.email ?? null,
        name: params.name ?? null,
        metadata: params.metadata ?? {},
      };
      state.customers[customer.id] = customer;
      return { status: 200, body: customer };
    }
    if (method === 'POST' && path === '/v1/subscriptions') {
      if (!params.customer || !state.customers[params.customer])
        return stripeError(400, 'invalid_request_error', `No such customer: '${params.customer}'`, { param: 'customer', code: 'resource_missing' });
      const subscriptionId = id('sub');
      const items = subscriptionItems(subscriptionId, Object.values(params.items ?? {}));
      const subscription = {
        id: subscriptionId,
        object: 'subscription',
        customer: params.customer,
        status: 'active',
        created: now(),
        metadata: params.metadata ?? {},
        items: { object: 'list', data: items },
      };
      state.subscriptions[subscriptionId] = subscription;
      return { status: 200, body: subscription };
    }
    const sub = /^\/v1\/subscriptions\/([A-Za-z0-9_]+)$/.exec(path);
    if (sub) {
      const subscription = state.subscriptions[sub[1]!] as { items: { data: Record<string, unknown>[] } } | undefined;
      if (!subscription) return stripeError(404, 'invalid_request_error', `No such subscription: '${sub[1]}'`, { code: 'resource_missing' });
      if (method === 'GET') return { status: 200, body: subscription };
      subscription.items.data = subscriptionItems(sub[1]!, Object.values(params.items ?? {}), subscription.items.data);
      if (params.metadata) Object.assign((subscription as Record<string, any>).metadata, params.metadata);
      return { status: 200, body: subscription };
    }
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      for (const required of ['event_name', 'payload'])
        if (!params[required]) return stripeError(400, 'invalid_request_error', `Missing required param: ${required}.`, { param: required });
      if (!params.payload.stripe_customer_id || params.payload.value === undefined)
        return stripeError(400, 'invalid_request_error', 'payload needs stripe_customer_id and value', { param: 'payload' });
      if (!/^\d+$/.test(String(params.payload.value)))
        return stripeError(400, 'invalid_request_error', 'payload[value] must be a whole number', { param: 'payload[value]' });
      const identifier = params.identifier ?? id('mev');
      if (String(identifier).length > 100)
        return stripeError(400, 'invalid_request_error', 'identifier is longer than 100 characters', { param: 'identifier' });
      if (state.meterEvents.some((e) => e.identifier === identifier)) {
        return stripeError(400, 'invalid_request_error', `An event with identifier ${identifier} already exists.`, { param: 'identifier' });
      }
      const event = {
        object: 'billing.meter_event',
        created: now(),
        event_name: params.event_name,
        identifier,
        payload: params.payload,
        timestamp: Number(params.timestamp ?? now()),
        livemode: false,
      };
      state.meterEvents.push(event);
      return { status: 200, body: event };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    const key = (req.headers['idempotency-key'] as string | undefined) ?? null;
    const send = (answer: Answer, headers: Record<string, string> = {}) => {
      state.requests.push({ method, path: url.pathname, idempotencyKey: key, status: answer.status });
      res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': `req_${crypto.randomUUID().slice(0, 14)}`, ...headers });
      res.end(JSON.stringify(answer.body));
    };
    if (url.pathname === '/__stand-in/state') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(state));
      return;
    }
    if (url.pathname === '/__stand-in/fail-next') {
      failures.push({
        prefix: url.searchParams.get('prefix') ?? '/',
        count: Number(url.searchParams.get('count') ?? 1),
        status: Number(url.searchParams.get('status') ?? 429),
      });
      res.writeHead(204).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      return send(stripeError(401, 'invalid_request_error', 'Invalid API Key provided.'));
    }
    const failure = failures.find((f) => url.pathname.startsWith(f.prefix) && f.count > 0);
    if (failure) {
      failure.count--;
      return send(
        stripeError(failure.status, failure.status === 429 ? 'rate_limit_error' : 'api_error', 'Too many requests in a short period of time.', {
          code: failure.status === 429 ? 'rate_limit' : 'api_error',
        }),
        {
          'stripe-should-retry': 'true',
        },
      );
    }
    const contentType = req.headers['content-type'] ?? '';
    if (method === 'POST' && body !== '' && !contentType.startsWith('application/x-www-form-urlencoded')) {
      return send(stripeError(400, 'invalid_request_error', 'Invalid request: Content-Type must be application/x-www-form-urlencoded'));
    }
    const params = parse(method === 'GET' ? url.search.slice(1) : body, { depth: 10, arrayLimit: 1000 }) as Record<string, any>;
    const fingerprint = `${method} ${url.pathname} ${body}`;
    if (key !== null && method === 'POST') {
      const first = idempotent.get(key);
      if (first) {
        if (first.fingerprint !== fingerprint) {
          return send(
            stripeError(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            ),
          );
        }
        return send(first.answer, { 'idempotent-replayed': 'true', 'idempotency-key': key });
      }
    }
    let answer: Answer;
    try {
      answer = route(method, url.pathname, params);
    } catch (err) {
      answer = (err as Answer).status ? (err as Answer) : stripeError(500, 'api_error', (err as Error).message);
    }
    // Stripe saves the answer to a key unless it was a 5xx or a 429 (those may be retried under the key).
    if (key !== null && method === 'POST' && answer.status < 500 && answer.status !== 429) idempotent.set(key, { fingerprint, answer });
    return send(answer, key ? { 'idempotency-key': key } : {});
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secretKey,
    state,
    failNext(prefix, count, status = 429) {
      failures.push({ prefix, count, status });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
