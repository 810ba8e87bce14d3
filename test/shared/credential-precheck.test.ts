import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/api-keys.ts';
import { refusalWithoutLookUp } from '../../shared/credential-precheck.ts';

const key = generateApiKey().key;
const badChecksum = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;

describe('refusalWithoutLookUp: what an Authorization header earns before any look-up', () => {
  it.each([
    // header, refusal code (null: only a look-up can tell, the worker decides)
    [null, null], // no header: a session cookie may authenticate
    [`Bearer ${key}`, null], // well formed: D1 decides
    [`ApiKey ${key}`, null],
    [`Basic ${btoa(`elastic:${key}`)}`, null],
    ['Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', null], // a JWT: verified by the worker
    [`Bearer ${badChecksum}`, 'invalid_credentials'],
    [`Basic ${btoa(`elastic:${badChecksum}`)}`, 'invalid_credentials'],
    ['Bearer nlk_', 'invalid_credentials'],
    ['Bearer nlk_a.b.c', 'invalid_credentials'], // nlk_ is never a JWT
    ['Bearer password123', 'invalid_credentials'],
    ['', 'unauthenticated'],
    ['Bearer', 'unauthenticated'],
    ['Token abc', 'unauthenticated'],
    ['Basic !!!', 'unauthenticated'], // not base64
    [`Basic ${btoa('no-colon')}`, 'unauthenticated'],
  ])('%s → %s', (header, code) => {
    const refusal = refusalWithoutLookUp(header);
    expect(refusal?.code ?? null).toBe(code);
    if (refusal) {
      expect(refusal.status).toBe(401);
      expect(refusal.headers['WWW-Authenticate']).toMatch(/^Bearer realm="neurallog"/);
    }
  });
});
