/**
 * A stand-in identity provider: an RS256 signing key, and its public half
 * served as a JWKS over HTTP, as Auth0, Okta or Cloudflare Access serve theirs.
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';

export const TEST_JWT_KID = 'test-key-1';

export async function startIdentityProvider(): Promise<{ jwksUrl: string; privateJwk: string; close(): Promise<void> }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: TEST_JWT_KID, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: TEST_JWT_KID, alg: 'RS256' };
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    privateJwk: JSON.stringify(privateJwk),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
