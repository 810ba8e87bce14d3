/**
 * JWT verification (jose): pinned algorithms, issuer, audience and clock
 * tolerance from configuration, and keys either from a JWKS URL
 * (asymmetric: RS256, ES256) or from a shared HS256 secret for self-hosting —
 * never both, so a token cannot pick the family its signature is checked with
 * (the RS256-public-key-as-HMAC-secret attack).
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { JwtConfig } from './config.ts';

export interface VerifiedToken {
  subject: string;
  tenantId: unknown;
  roles: unknown;
  permissions: unknown;
  /** `exp` in ms since the epoch (required, so always present). */
  expiresAt: number;
}

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'];
export const SYMMETRIC_ALGORITHMS = ['HS256'];

const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

export class TokenInvalid extends Error {}

export async function verifyJwt(token: string, config: JwtConfig): Promise<VerifiedToken> {
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
  };
  let payload: JWTPayload;
  try {
    if (config.jwksUrl) {
      let keys = remoteKeySets.get(config.jwksUrl);
      if (!keys) {
        keys = createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
        remoteKeySets.set(config.jwksUrl, keys);
      }
      ({ payload } = await jwtVerify(token, keys, { ...options, algorithms: ASYMMETRIC_ALGORITHMS }));
    } else {
      const secret = new TextEncoder().encode(config.secret);
      ({ payload } = await jwtVerify(token, secret, { ...options, algorithms: SYMMETRIC_ALGORITHMS }));
    }
  } catch (err) {
    if (err instanceof errors.JOSEError) throw new TokenInvalid(err.code);
    throw err;
  }
  return {
    subject: String(payload.sub),
    tenantId: payload.tenant_id,
    roles: payload.roles,
    permissions: payload.permissions,
    expiresAt: Number(payload.exp) * 1000,
  };
}
