import { describe, expect, it } from 'vitest';
import gateway from '../../workers/gateway/index.ts';
import { allowedMethods, resolveUpstream } from '../../workers/gateway/routes.ts';

describe('gateway route table', () => {
  it('sends writes to ingest and reads to query on the shared path', () => {
    expect(resolveUpstream('POST', '/v1/logs')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/logs')).toBe('QUERY');
    expect(resolveUpstream('GET', '/v1/logs/')).toBe('QUERY');
    expect(resolveUpstream('DELETE', '/v1/logs')).toBe('INGEST'); // erasure reaches the actors' buffers
    expect(resolveUpstream('GET', '/v1/dead-letters')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/dead-letters/2026-11-29/01M8ME5PE26NQ63BXN8C87A7YX')).toBe('INGEST');
    expect(resolveUpstream('PUT', '/v1/logs')).toBeNull();
    expect(allowedMethods('/v1/logs')).toEqual(['POST', 'DELETE', 'GET', 'HEAD']);
    expect(resolveUpstream('GET', '/v1/logs/histogram')).toBe('QUERY');
    expect(resolveUpstream('POST', '/v1/logs/histogram')).toBeNull();
    expect(resolveUpstream('GET', '/v1/tail')).toBe('INGEST'); // served by the actors' TailHub
    expect(resolveUpstream('POST', '/otlp/v1/logs')).toBe('INGEST');
    expect(resolveUpstream('POST', '/loki/api/v1/push')).toBe('INGEST');
    expect(resolveUpstream('GET', '/loki/api/v1/tail')).toBe('INGEST'); // Loki's live tail: the actors' TailHub
    expect(resolveUpstream('GET', '/loki/api/v1/query_range')).toBe('QUERY');
    expect(resolveUpstream('GET', '/loki/api/v1/tailx')).toBe('QUERY');
    expect(resolveUpstream('POST', '/v1/syslog')).toBe('INGEST');
    expect(resolveUpstream('GET', '/v1/logsx')).toBeNull();
  });
});

describe('gateway CORS', () => {
  // Upstreams that answer 200: what is checked here is the gateway's own headers.
  const upstream = { fetch: async () => Response.json({}) } as unknown as Fetcher;
  const env = { INGEST: upstream, QUERY: upstream, ADMIN: upstream };
  const call = (method: string, path: string, headers: Record<string, string>) =>
    gateway.fetch(new Request(`https://neurallog.test${path}`, { method, headers }), env, {
      waitUntil() {},
      passThroughOnException() {},
      props: {},
    } as unknown as ExecutionContext);

  it('lets a page of any origin POST logs with its key (preflight), and nothing else', async () => {
    const preflight = await call('OPTIONS', '/v1/logs', {
      origin: 'https://shop.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,content-encoding,idempotency-key',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'content-encoding', 'idempotency-key']),
    );
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const post = await call('POST', '/otlp/v1/logs', { origin: 'https://shop.example' });
    expect(post.headers.get('access-control-allow-origin')).toBe('*');
    expect(post.headers.get('access-control-expose-headers')).toContain('RateLimit-Policy');
  });

  it("keeps the explorer's paths same-origin: no CORS headers on them", async () => {
    for (const [method, path] of [
      ['OPTIONS', '/v1/session'],
      ['POST', '/v1/session'],
      ['GET', '/v1/logs/histogram'],
      ['GET', '/v1/saved-searches'],
      ['POST', '/v1/admin/tenants'],
    ] as const) {
      const res = await call(method, path, { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
      expect(res.headers.get('access-control-allow-origin'), `${method} ${path}`).toBeNull();
    }
  });
});

describe('gateway security headers', () => {
  // Upstreams answering as a careless server would: a banner, no nosniff; one of them HTML.
  const upstream = {
    fetch: async (req: Request) =>
      new URL(req.url).pathname === '/v1/admin/page'
        ? new Response('<p>hi</p>', { headers: { 'content-type': 'text/html; charset=utf-8', server: 'workerd', 'x-powered-by': 'x' } })
        : Response.json({ ok: true }, { headers: { server: 'workerd', 'x-powered-by': 'x' } }),
  } as unknown as Fetcher;
  const env = { INGEST: upstream, QUERY: upstream, ADMIN: upstream };
  const call = (url: string, init: RequestInit = {}) =>
    gateway.fetch(new Request(url, init), env, { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext);

  it('puts nosniff on every answer, HSTS over https only, no banner, and a CSP on HTML only', async () => {
    const answers = {
      forwarded: await call('https://neurallog.test/v1/logs?q=x'),
      cors: await call('https://neurallog.test/v1/logs', { method: 'POST', headers: { origin: 'https://shop.example' } }),
      preflight: await call('https://neurallog.test/v1/logs', {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      }),
      notFound: await call('https://neurallog.test/v1/nothing-here'),
      methodNotAllowed: await call('https://neurallog.test/v1/logs', { method: 'PUT' }),
      health: await call('https://neurallog.test/healthz'),
    };
    for (const [name, res] of Object.entries(answers)) {
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(res.headers.get('strict-transport-security'), name).toMatch(/^max-age=\d{8,}/);
      expect(res.headers.get('server'), name).toBeNull();
      expect(res.headers.get('x-powered-by'), name).toBeNull();
      expect(res.headers.get('content-security-policy'), name).toBeNull(); // JSON: no CSP
    }
    // CORS still answers on the browser write paths.
    expect(answers.cors.headers.get('access-control-allow-origin')).toBe('*');
    expect(answers.preflight.headers.get('access-control-allow-methods')).toBe('POST');

    const html = await call('https://neurallog.test/v1/admin/page');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');

    const local = await call('http://127.0.0.1:8787/v1/logs?q=x');
    expect(local.headers.get('x-content-type-options')).toBe('nosniff');
    expect(local.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('gateway request limits', () => {
  // An upstream that counts what reaches it: a refused request must not be forwarded.
  let forwarded = 0;
  const upstream = {
    fetch: async () => {
      forwarded++;
      return Response.json({ ok: true });
    },
  } as unknown as Fetcher;
  const env = { INGEST: upstream, QUERY: upstream, ADMIN: upstream };
  const call = (url: string, init: RequestInit = {}) =>
    gateway.fetch(new Request(url, init), env, { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext);

  it("refuses production's oversized URLs (414) and headers (431) as JSON, before forwarding", async () => {
    forwarded = 0;
    const longUrl = await call(`https://neurallog.test/v1/logs?q=${'a'.repeat(17 * 1024)}`);
    expect(longUrl.status).toBe(414);
    expect(await longUrl.json()).toMatchObject({ error: 'uri_too_long', limitBytes: 16 * 1024 });
    // 140 KB over several headers: each is fine alone, the total is not.
    const headers = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`x-filler-${i}`, 'b'.repeat(10_000)]));
    const bigHeaders = await call('https://neurallog.test/v1/logs?q=x', { headers });
    expect(bigHeaders.status).toBe(431);
    expect(await bigHeaders.json()).toMatchObject({ error: 'request_headers_too_large', limitBytes: 128 * 1024 });
    expect(bigHeaders.headers.get('x-content-type-options')).toBe('nosniff');
    expect(forwarded).toBe(0);
    // Just under both bounds: forwarded.
    const fine = await call(`https://neurallog.test/v1/logs?q=${'a'.repeat(15 * 1024)}`, {
      headers: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x-filler-${i}`, 'b'.repeat(10_000)])),
    });
    expect(fine.status).toBe(200);
    expect(forwarded).toBe(1);
  });
});
