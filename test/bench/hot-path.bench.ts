/**
 * Per-request costs on the ingest path, inside workerd: authenticating (an API
 * key found in the isolate cache, the same key read from D1, a JWT) and the
 * tenant actor's admission (rate limiter and quota). `npm run bench:hot-path`;
 * figures in docs/benchmarks.md.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { RateLimiter } from '../../durable-objects/tenant-actor/rate-limiter.ts';
import { UsageQuota } from '../../durable-objects/tenant-actor/usage-quota.ts';
import { importJWK, SignJWT } from 'jose';
import { bench, describe } from 'vitest';
import { authenticate } from '../../shared/auth.ts';
import { TEST_API_KEY, TEST_JWT_AUDIENCE, TEST_JWT_ISSUER, TEST_KEY_CACHE_TTL_MS, TEST_TENANT } from '../support/constants.ts';

const header = `Bearer ${TEST_API_KEY}`;
const jwk = JSON.parse(env.TEST_JWT_PRIVATE_JWK) as { kid: string };
const jwt = await new SignJWT({ sub: 'bench', tenant_id: TEST_TENANT, roles: ['developer'] })
  .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
  .setIssuer(TEST_JWT_ISSUER)
  .setAudience(TEST_JWT_AUDIENCE)
  .setExpirationTime('1h')
  .sign(await importJWK(jwk, 'RS256'));
let clock = Date.now();

describe('authenticate', () => {
  bench('API key, cached in the isolate', async () => {
    await authenticate(header, env);
  });
  bench('API key, read from D1 (cache expired)', async () => {
    clock += TEST_KEY_CACHE_TTL_MS + 1; // every call finds the cached entry too old
    await authenticate(header, env, clock);
  });
  bench('JWT (RS256 via JWKS), tenant cached', async () => {
    await authenticate(`Bearer ${jwt}`, env);
  });
});

const ADMISSIONS_PER_CALL = 100;
const limits = { records: { rate: 1e9, burst: 1e9 }, bytes: { rate: 1e12, burst: 1e12 } };
const quota = { dailyBytes: 1e15, monthlyBytes: 1e16 };
const actor = env.TENANT_ACTOR.get(env.TENANT_ACTOR.idFromName('bench-admission'));

describe(`admission in the tenant actor, ${ADMISSIONS_PER_CALL} per call (divide by it)`, () => {
  bench('rate limiter: take() for a 1,000-record batch (two GCRA, one SQLite write)', async () => {
    await runInDurableObject(actor, (_instance, state) => {
      const limiter = new RateLimiter(state.storage.sql);
      for (let i = 0; i < ADMISSIONS_PER_CALL; i++) limiter.take(limits, { records: 1000, bytes: 238_000 }, Date.now());
    });
  });
  bench('quota: check() + record() (two SQLite reads, three writes)', async () => {
    await runInDurableObject(actor, (_instance, state) => {
      const usage = new UsageQuota(state.storage.sql);
      for (let i = 0; i < ADMISSIONS_PER_CALL; i++) {
        usage.check(quota, 238_000, Date.now());
        usage.record(238_000, 1000, Date.now());
      }
    });
  });
  bench('baseline: an empty runInDurableObject call', async () => {
    await runInDurableObject(actor, () => undefined);
  });
});
