/**
 * Cost of authenticating a request inside workerd: an API key found in the
 * isolate cache, the same key read from D1 (cache expired), and a JWT.
 * `npm run bench:auth`; figures in docs/benchmarks.md.
 */
import { env } from 'cloudflare:workers';
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
