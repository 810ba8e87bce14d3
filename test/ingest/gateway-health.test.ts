/**
 * The gateway's `/healthz?verbose=1` and `/metrics`: the workers' status
 * completed with the admin worker's view of the dependencies, the admin
 * worker's refusal passed through, a 503 naming what is down; plain /healthz
 * unchanged; /metrics forwarded to the admin worker.
 */
import { describe, expect, it } from 'vitest';
import type { PlatformHealth } from '../../shared/platform-metrics/health-verdict.ts';
import gateway from '../../workers/gateway/index.ts';
import { resolveUpstream } from '../../workers/gateway/routes.ts';

const up = { status: 'ok' as const, latencyMs: 2 };
const platform = (overrides: Partial<PlatformHealth> = {}): PlatformHealth => ({
  status: 'ok',
  down: [],
  degraded: [],
  version: '9.9.9',
  build: null,
  dependencies: { clickhouse: up, r2: up, d1: up, metrics: up },
  actors: { reporting: 1, bufferedRows: 12, bufferedBytes: 900, oldestUnflushedAgeSeconds: 0.4, oldestUnflushedActor: 'acme/0' },
  ...overrides,
});

const ready = { fetch: async () => Response.json({ status: 'ok' }) } as unknown as Fetcher;
/** An admin worker that answers the platform health route with `answer`, and /healthz with ok. */
function adminAnswering(answer: (req: Request) => Response): { fetcher: Fetcher; seen: Request[] } {
  const seen: Request[] = [];
  const fetcher = {
    fetch: async (input: RequestInfo, init?: RequestInit) => {
      const req = new Request(input, init);
      if (new URL(req.url).pathname === '/healthz') return Response.json({ status: 'ok' });
      seen.push(req);
      return answer(req);
    },
  } as unknown as Fetcher;
  return { fetcher, seen };
}

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
const call = (path: string, env: Record<string, Fetcher>, headers: Record<string, string> = {}) =>
  gateway.fetch(new Request(`https://neurallog.test${path}`, { headers }), env, ctx);

describe('GET /healthz?verbose=1', () => {
  it("adds the admin worker's dependencies, actors and version to the workers' status, forwarding the credential", async () => {
    const admin = adminAnswering(() => Response.json(platform()));
    const res = await call('/healthz?verbose=1', { INGEST: ready, QUERY: ready, ADMIN: admin.fetcher }, { authorization: 'Bearer the-token' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      version: '9.9.9',
      components: { ingest: 'ok', query: 'ok', admin: 'ok' },
      dependencies: { clickhouse: up },
      actors: { oldestUnflushedActor: 'acme/0' },
    });
    expect(admin.seen[0]!.headers.get('authorization')).toBe('Bearer the-token');
    expect(new URL(admin.seen[0]!.url).pathname).toBe('/v1/admin/platform/health');
  });

  it('answers 503 naming ClickHouse when the admin worker finds it down', async () => {
    const down = { status: 'down' as const, latencyMs: 3000, error: 'no answer in 3000 ms' };
    const admin = adminAnswering(() => Response.json(platform({ dependencies: { clickhouse: down, r2: up, d1: up, metrics: up } }), { status: 503 }));
    const res = await call('/healthz?verbose=1', { INGEST: ready, QUERY: ready, ADMIN: admin.fetcher });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unavailable', down: ['clickhouse'], dependencies: { clickhouse: down } });
  });

  it("passes the admin worker's refusal through (platform admin only)", async () => {
    const admin = adminAnswering(() => Response.json({ error: 'unauthenticated', message: 'send a credential' }, { status: 401 }));
    const res = await call('/healthz?verbose=1', { INGEST: ready, QUERY: ready, ADMIN: admin.fetcher });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
  });

  it('names the admin worker when it cannot answer, and a worker that is not ready', async () => {
    const broken = { fetch: async () => Promise.reject(new Error('gone')) } as unknown as Fetcher;
    const res = await call('/healthz?verbose=1', { INGEST: ready, QUERY: broken, ADMIN: broken });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unavailable', down: ['query', 'admin'] });
  });

  it('leaves plain /healthz as it was: no dependencies, no credential needed', async () => {
    const admin = adminAnswering(() => Response.json(platform()));
    const res = await call('/healthz', { INGEST: ready, QUERY: ready, ADMIN: admin.fetcher });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', ingest: 'ok', query: 'ok', admin: 'ok' });
    expect(admin.seen).toEqual([]);
  });
});

describe('GET /metrics', () => {
  it('is the admin worker’s (which decides who may scrape)', () => {
    expect(resolveUpstream('GET', '/metrics')).toBe('ADMIN');
    expect(resolveUpstream('POST', '/metrics')).toBeNull();
  });
});
