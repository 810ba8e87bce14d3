/**
 * The SDK's encryption, unchanged, under Deno (the `deno` npm package's
 * binary; @stablelib/blake2s from this repository’s node_modules): what it seals
 * there, jose and the SDK decrypt here, and its blind tokens equal Node's.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flattenedDecrypt, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { createEncryption, decrypt, generateEncryptionKey } from '../../sdk/src/encryption/index.ts';

const run = promisify(execFile);
const DENO = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno');

describe('the SDK’s encryption under Deno', () => {
  it('seals a record that jose and the SDK decrypt in Node, with the same blind tokens', async () => {
    const key = await generateEncryptionKey();
    const { stdout } = await run(
      DENO,
      [
        'run',
        '--no-lock',
        '--no-prompt',
        '--node-modules-dir=manual',
        join(PROJECT_ROOT, 'test', 'sdk', 'deno', 'encrypt.ts'),
        JSON.stringify(key.publicKey),
        key.searchSecret,
      ],
      { cwd: PROJECT_ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
    );
    const { record, tokens } = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(record).not.toHaveProperty('message');
    const jwe = await flattenedDecrypt(record.encrypted, await importJWK(key.privateKey, 'ECDH-ES+A256KW'));
    expect(JSON.parse(new TextDecoder().decode(jwe.plaintext))).toEqual({ message: 'sealed in deno', attributes: { user: 'dina' } });
    expect(await decrypt(record, key.privateKey)).toMatchObject({ kid: key.kid, message: 'sealed in deno' });
    const here = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret });
    expect(tokens).toEqual(here.searchTokens('deno'));
    expect(record.encrypted.tokens).toContain(here.searchTokens('deno')[0]);
  });
});
