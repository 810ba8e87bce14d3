/**
 * One key file, three places that make blind tokens — the SDK sealing a
 * record, the explorer's blind search after loading the file into the page's
 * keyring, and `npm run encryption-key -- token` — give the same tokens (all
 * three go through the SDK's BlindTokenizer: one scheme, keyed BLAKE2s-128).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { createEncryption, generateEncryptionKey, keyFileOf, keyFileText } from '../../sdk/src/encryption/index.ts';
import { blindQuery } from '../../ui/src/encryption/blind-query.ts';
import { loadKeyFile } from '../../ui/src/encryption/key-loading.ts';
import { forgetKeys, tokenizers } from '../../ui/src/encryption/keyring.ts';

const dir = await mkdtemp(join(tmpdir(), 'neurallog-tokens-'));
afterAll(async () => {
  forgetKeys();
  await rm(dir, { recursive: true, force: true });
});

describe('blind tokens from one key file', () => {
  it('are the same from the SDK, the explorer and the CLI', async () => {
    const file = keyFileOf(await generateEncryptionKey(), 'agree', 'dev');
    const path = join(dir, 'key.json');
    await writeFile(path, keyFileText(file), { mode: 0o600 });

    const encryption = await createEncryption({ publicKey: file.publicKey, searchSecret: file.searchSecret, encryptAttributes: ['customer'] });
    const sealed = await encryption.encryptRecord({
      timestamp: '2026-11-30T09:00:00Z',
      level: 'warn',
      message: 'Card DECLINED for Müller',
      attributes: { customer: 'alice@example.com' },
    });
    const sdkTokens = sealed.encrypted.tokens!;
    expect(sdkTokens).toHaveLength(5); // customer=…, card, declined, for, müller

    forgetKeys();
    await loadKeyFile(keyFileText(file));
    const none = new Set<string>();
    const explorer = ['customer:alice@example.com', 'card', 'declined', 'for', 'müller'].map((q) => blindQuery(q, tokenizers.value, none));
    expect(explorer).toEqual(sdkTokens);

    const { stdout } = await promisify(execFile)(
      join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/encryption-key.ts', 'token', '--key', path, 'customer=alice@example.com', 'Card DECLINED for Müller'],
      { cwd: PROJECT_ROOT, timeout: 60_000 },
    );
    const cli = JSON.parse(stdout) as Record<string, string[]>;
    expect([...cli['customer=alice@example.com']!, ...cli['Card DECLINED for Müller']!]).toEqual(sdkTokens);
  });
});
