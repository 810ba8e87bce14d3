/**
 * A flood of made-up keys must be cheap for us: a key whose checksum is wrong
 * is refused before any look-up (shared/api-keys.ts, shared/auth.ts), so such
 * a flood costs a CRC-32 per request and never reaches D1 or a tenant's actor.
 * The ingest worker is called with its real bindings wrapped in spies that
 * record every call; the well-formed but unknown key is the control that shows
 * the spies see a look-up when one happens.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/api-keys.ts';
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
