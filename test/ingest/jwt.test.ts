import { env, exports } from 'cloudflare:workers';
import { generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { authenticate, type AuthBindings } from '../../shared/auth.ts';
import { HOSTILE_NAMES, TEST_JWT_AUDIENCE, TEST_JWT_ISSUER, TEST_TENANT } from '../support/constants.ts';
import { provisionTenant } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';

const privateJwk = JSON.parse(env.TEST_JWT_PRIVATE_JWK) as { kid: string; n: string; e: string };
const signingKey = await importJWK(privateJwk, 'RS256');
const now = () => Math.floor(Date.now() / 1000);

function claims(extra: JWTPayload = {}): JWTPayload {
  return { sub: 'user_12345', tenant_id: TEST_TENANT, roles: ['developer'], ...extra };
}

async function sign(payload: JWTPayload, options: { kid?: string; iss?: string; aud?: string; exp?: number; nbf?: number } = {}): Promise<string> {
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? privateJwk.kid })
    .setIssuer(options.iss ?? TEST_JWT_ISSUER)
    .setAudience(options.aud ?? TEST_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? now() + 600);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(signingKey);
}

function post(token: string): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'from a JWT' }),
    }),
  );
}

async function expectRefused(token: string, why: string) {
  const res = await post(token);
  expect(res.status, why).toBe(401);
  expect(await res.json(), why).toMatchObject({ error: 'invalid_credentials', message: 'the credential is not valid' });
}

describe('JWT', () => {
  it('accepts an RS256 token from the JWKS, mapping roles to scopes', async () => {
    expect((await post(await sign(claims()))).status).toBe(202); // developer: logs:write
    const viewer = await post(await sign(claims({ roles: ['viewer'] })));
    expect(viewer.status).toBe(403); // viewer: logs:read, analytics:read
    expect(await viewer.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:write' });
    expect((await post(await sign(claims({ roles: [], permissions: ['logs:write'] })))).status).toBe(202);
    expect((await post(await sign(claims({ roles: ['tenant-admin'] })))).status).toBe(202); // logs:*
    expect((await post(await sign(claims({ roles: ['user', 'admin'] })))).status).toBe(403); // unknown roles grant nothing
  });

  it('grants nothing for roles named after Object.prototype members (a 403, not a 500)', async () => {
    for (const role of HOSTILE_NAMES) {
      const res = await post(await sign(claims({ roles: [role] })));
      expect(res.status, role).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
    }
  });

  it('refuses alg "none"', async () => {
    const unsigned = new UnsecuredJWT(claims())
      .setIssuer(TEST_JWT_ISSUER)
      .setAudience(TEST_JWT_AUDIENCE)
      .setExpirationTime(now() + 600)
      .encode();
    await expectRefused(unsigned, 'alg none');
  });

  it('refuses an RS256 token re-signed as HS256 with the public key as the secret', async () => {
    const publicJwk = { kty: 'RSA', n: privateJwk.n, e: privateJwk.e };
    for (const secretText of [JSON.stringify(publicJwk), JSON.stringify({ keys: [publicJwk] })]) {
      const forged = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: privateJwk.kid })
        .setIssuer(TEST_JWT_ISSUER)
        .setAudience(TEST_JWT_AUDIENCE)
        .setExpirationTime(now() + 600)
        .sign(new TextEncoder().encode(secretText));
      await expectRefused(forged, 'HS256 with the public key');
    }
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience and unknown-key tokens', async () => {
    await expectRefused(await sign(claims(), { exp: now() - 120 }), 'expired');
    await expectRefused(await sign(claims(), { nbf: now() + 120 }), 'not yet valid');
    await expectRefused(await sign(claims(), { iss: 'https://evil.example/' }), 'issuer');
    await expectRefused(await sign(claims(), { aud: 'someone-else' }), 'audience');
    const other = await generateKeyPair('RS256', { extractable: true });
    const stranger = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: 'not-in-the-jwks' })
      .setIssuer(TEST_JWT_ISSUER)
      .setAudience(TEST_JWT_AUDIENCE)
      .setExpirationTime(now() + 600)
      .sign(other.privateKey);
    await expectRefused(stranger, 'unknown kid');
    const tampered = await sign(claims());
    const [h, , s] = tampered.split('.');
    const payload = btoa(JSON.stringify({ ...claims({ roles: ['tenant-admin'] }), iss: TEST_JWT_ISSUER, aud: TEST_JWT_AUDIENCE, exp: now() + 600 }))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    await expectRefused(`${h}.${payload}.${s}`, 'tampered payload');
  });

  it('refuses tenant ids that are malformed, unknown, or try traversal or SQL; 403 for a suspended tenant', async () => {
    for (const tenant of ['../dev', "dev' OR '1'='1", 'DEV', '', 42, 'no-such-tenant']) {
      await expectRefused(await sign(claims({ tenant_id: tenant as string })), `tenant ${String(tenant)}`);
    }
    const suspended = uniqueTenant();
    await provisionTenant(suspended, { status: 'suspended' });
    const res = await post(await sign(claims({ tenant_id: suspended })));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'tenant_suspended' });
  });

  it('with a shared HS256 secret (self-hosting) accepts HS256 and nothing else', async () => {
    const selfHosted: AuthBindings = {
      CONTROL_DB: env.CONTROL_DB,
      NEURALLOG_JWT_ISSUER: TEST_JWT_ISSUER,
      NEURALLOG_JWT_AUDIENCE: TEST_JWT_AUDIENCE,
      NEURALLOG_JWT_SECRET: 'a-long-shared-secret-for-self-hosting-0123456789',
    };
    const hs = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TEST_JWT_ISSUER)
      .setAudience(TEST_JWT_AUDIENCE)
      .setSubject('user_1')
      .setExpirationTime(now() + 600)
      .sign(new TextEncoder().encode(selfHosted.NEURALLOG_JWT_SECRET));
    const principal = await authenticate(`Bearer ${hs}`, selfHosted);
    expect(principal).toMatchObject({ tenantId: TEST_TENANT, credential: { kind: 'jwt', subject: 'user_1' } });
    expect([...principal.scopes].sort()).toEqual(['alerts:read', 'alerts:write', 'analytics:read', 'logs:read', 'logs:write']);
    await expect(authenticate(`Bearer ${await sign(claims())}`, selfHosted)).rejects.toMatchObject({ status: 401 });
    // Without any key source configured, every JWT is refused.
    await expect(authenticate(`Bearer ${hs}`, { CONTROL_DB: env.CONTROL_DB })).rejects.toMatchObject({ status: 401 });
  });
});
