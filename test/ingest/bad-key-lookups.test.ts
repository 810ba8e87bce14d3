/**
 * A flood of made-up keys must be cheap for us: a key whose checksum is wrong
 * is refused before any look-up (shared/api-keys.ts, shared/auth.ts), so such
 * a flood costs a CRC-32 per request and never reaches D1 or a tenant's actor.
 * The ingest worker is called with its real bindings wrapped in spies that
 * record every call; the well-formed but unknown key is the control that shows
 * the spies see a look-up when one happens. The gateway refuses such a key
 * itself on the routes it knows (workers/gateway/routes.ts `refusesBadKeys`),
 * in the ingest worker's words, without the service-binding hop.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/api-keys.ts';
import gateway from '../../workers/gateway/index.ts';
import ingestWorker from '../../workers/ingest/index.ts';

/** The binding with every method call recorded in `calls` as `<name>.<method>`. */
function spied<T extends object>(binding: T, name: string, calls: string[]): T {
  return new Proxy(binding, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(`${name}.${String(prop)}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function postWith(key: string): Promise<{ status: number; body: Record<string, unknown>; calls: string[] }> {
  const calls: string[] = [];
  const spiedEnv = {
    ...env,
    CONTROL_DB: spied(env.CONTROL_DB, 'CONTROL_DB', calls),
    TENANT_ACTOR: spied(env.TENANT_ACTOR, 'TENANT_ACTOR', calls),
    ARCHIVE: spied(env.ARCHIVE, 'ARCHIVE', calls),
  };
  const ctx = createExecutionContext();
  const res = await ingestWorker.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '[{"message":"flood"}]',
    }),
    spiedEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json(), calls };
}

/** A key with its last checksum character changed: well formed, checksum wrong. */
function withBadChecksum(key: string): string {
  return `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
}

describe('a flood of bad keys', () => {
  it('refuses a key with a bad checksum with 401 and no look-up in D1, R2 or an actor', async () => {
    for (const key of [withBadChecksum(generateApiKey().key), 'nlk_', `nlk_${'A'.repeat(12)}_${'B'.repeat(38)}`]) {
      const { status, body, calls } = await postWith(key);
      expect(status, key).toBe(401);
      expect(body).toMatchObject({ error: 'invalid_credentials' });
      expect(calls, key).toEqual([]);
    }
  });

  it('does look up a well-formed key with a valid checksum (the control: the spies see look-ups)', async () => {
    const { status, calls } = await postWith(generateApiKey().key); // a fresh id: never cached
    expect(status).toBe(401);
    expect(calls).toContain('CONTROL_DB.prepare');
    expect(calls.some((c) => c.startsWith('TENANT_ACTOR.'))).toBe(false);
  });
});

describe('a flood of bad keys at the gateway', () => {
  /** The gateway with an ingest binding that counts its calls and answers as the real ingest worker does. */
  function gatewayWith(calls: string[]) {
    const forward = (name: string) =>
      ({
        fetch: async (request: Request) => {
          calls.push(`${name} ${request.method} ${new URL(request.url).pathname}`);
          const ctx = createExecutionContext();
          const res = await ingestWorker.fetch(request, env, ctx);
          await waitOnExecutionContext(ctx);
          return res;
        },
      }) as unknown as Fetcher;
    const gatewayEnv = { INGEST: forward('INGEST'), QUERY: forward('QUERY'), ADMIN: forward('ADMIN') };
    return async (path: string, authorization: string | null, requestId: string) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
      if (authorization !== null) headers.authorization = authorization;
      const ctx = createExecutionContext();
      const res = await gateway.fetch(
        new Request(`https://neurallog.test${path}`, { method: 'POST', headers, body: '[{"message":"flood"}]' }),
        gatewayEnv,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, headers: res.headers, body: (await res.text()) || '' };
    };
  }

  it('refuses a bad checksum itself, without the hop, in the ingest worker’s own words', async () => {
    const calls: string[] = [];
    const post = gatewayWith(calls);
    for (const authorization of [`Bearer ${withBadChecksum(generateApiKey().key)}`, 'Bearer nlk_', 'Bearer not-a-key', 'Token abc']) {
      const ours = await post('/v1/logs', authorization, 'req-gateway');
      expect(calls, authorization).toEqual([]);
      // What the ingest worker answers to the same request (called directly): same status, body and challenge.
      const ctx = createExecutionContext();
      const direct = await ingestWorker.fetch(
        new Request('https://neurallog.test/v1/logs', {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', 'x-request-id': 'req-gateway' },
          body: '[{"message":"flood"}]',
        }),
        env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(ours.status, authorization).toBe(401);
      expect(ours.status).toBe(direct.status);
      expect(JSON.parse(ours.body)).toEqual(await direct.json());
      expect(ours.headers.get('www-authenticate')).toBe(direct.headers.get('www-authenticate'));
      expect(ours.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    }
    expect(calls).toEqual([]);
  });

  it('forwards what only a look-up can decide, and routes whose protocol renders its own 401', async () => {
    const calls: string[] = [];
    const post = gatewayWith(calls);
    // A well-formed key (unknown: the worker looks it up and refuses it), no header (a session cookie may follow), a JWT.
    expect((await post('/v1/logs', `Bearer ${generateApiKey().key}`, 'r1')).status).toBe(401);
    expect((await post('/v1/logs', null, 'r2')).status).toBe(401);
    expect((await post('/v1/syslog', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'r3')).status).toBe(401);
    // OTLP answers its 401 as an OTLP Status: the gateway leaves it to the ingest worker.
    const otlp = await post('/otlp/v1/logs', `Bearer ${withBadChecksum(generateApiKey().key)}`, 'r4');
    expect(otlp.status).toBe(401);
    expect(calls).toEqual(['INGEST POST /v1/logs', 'INGEST POST /v1/logs', 'INGEST POST /v1/syslog', 'INGEST POST /otlp/v1/logs']);
  });
});
