/**
 * The SDK's encryption, unchanged, in Chromium (Debian's, driven by
 * playwright-core; skipped with a message without it): the `./encryption`
 * entry point bundled for browsers makes a key pair, seals a record and
 * decrypts it with the key imported non-extractable, in a page; jose
 * decrypts the page's envelope in Node. The bundle stays under 10 KB gzipped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { flattenedDecrypt, importJWK } from 'jose';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDK_ROOT } from '../../sdk/build.ts';
import { CHROMIUM, haveChromium, warnIfNoChromium } from '../support/browser.ts';

warnIfNoChromium('sdk encryption');

let server: Server;
let bundle: string;

beforeAll(async () => {
  const result = await build({
    absWorkingDir: SDK_ROOT,
    entryPoints: ['src/encryption/index.ts'],
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'nlEncryption',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  bundle = result.outputFiles[0]!.text;
  // A page from http://127.0.0.1: a secure context, where crypto.subtle exists.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><meta charset="utf-8"><script>${bundle}</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

describe.skipIf(!haveChromium)('the SDK’s encryption in Chromium', () => {
  it('makes a key, seals and decrypts in the page; jose decrypts the page’s envelope', async () => {
    // Loaded apart from the core (whose budget is 10 KB): about 8 KB gzipped, @stablelib/blake2s included (docs/encryption.md).
    expect(gzipSync(bundle, { level: 9 }).byteLength).toBeLessThan(10 * 1024);
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const out = await page.evaluate(async () => {
        const e = (window as unknown as { nlEncryption: typeof import('../../sdk/src/encryption/index.ts') }).nlEncryption;
        const key = await e.generateEncryptionKey();
        const encryption = await e.createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret, encryptAttributes: ['email'] });
        const record = await encryption.encryptRecord({
          timestamp: new Date().toISOString(),
          level: 'warn',
          message: 'sealed in chromium',
          attributes: { email: 'a@b.c', page: '/cart' },
        });
        const opened = await e.decrypt(record as unknown as Record<string, unknown>, key.privateKey);
        return { key, record, opened, tokens: encryption.searchTokens('chromium') };
      });
      expect(out.opened).toMatchObject({ kid: out.key.kid, message: 'sealed in chromium', attributes: { email: 'a@b.c' } });
      expect(out.record.attributes).toEqual({ page: '/cart' });
      expect(out.record.encrypted.tokens).toContain(out.tokens[0]);
      const jwe = await flattenedDecrypt(out.record.encrypted, await importJWK(out.key.privateKey, 'ECDH-ES+A256KW'));
      expect(JSON.parse(new TextDecoder().decode(jwe.plaintext))).toEqual({ message: 'sealed in chromium', attributes: { email: 'a@b.c' } });
    } finally {
      await browser.close();
    }
  });
});
