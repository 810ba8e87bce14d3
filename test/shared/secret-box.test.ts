/**
 * The secret box (shared/secret-box.ts): AES-256-GCM under an HKDF-derived key, bound to a context —
 * a sealed value opens only with its root secret and its context, and unaltered.
 */
import { describe, expect, it } from 'vitest';
import { openSecret, SecretBoxError, sealSecret } from '../../shared/secret-box.ts';

const ROOT = 'root_secret_for_tests_0123456789abcdef';
const OTHER_ROOT = 'another_root_secret_0123456789abcdefgh';
const CONTEXT = 'tenant-a:tgt_1';

/** Flips one bit of the base64url text's decoded bytes at `index`. */
function flipByte(part: string, index: number): string {
  const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4)), (ch) => ch.charCodeAt(0));
  bytes[index]! ^= 0x01;
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

describe('secret box', () => {
  it('opens what it sealed, with a fresh IV each time', async () => {
    for (const plaintext of [
      '',
      'whsec_0123456789abcdef',
      'https://hooks.slack.com/services/T0/B0/XXXX',
      '{"routingKey":"ünïcødé ✓ 🔑"}',
      'x'.repeat(10_000),
    ]) {
      const sealed = await sealSecret(plaintext, ROOT, CONTEXT);
      expect(await openSecret(sealed, ROOT, CONTEXT)).toBe(plaintext);
    }
    const a = await sealSecret('same', ROOT, CONTEXT);
    const b = await sealSecret('same', ROOT, CONTEXT);
    expect(a).not.toBe(b);
  });

  it('writes v1.<base64url iv (12 bytes)>.<base64url ciphertext + tag>, without the plaintext', async () => {
    const plaintext = 'a secret of 24 characters';
    const sealed = await sealSecret(plaintext, ROOT, CONTEXT);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const [, iv, ciphertext] = sealed.split('.');
    expect(iv).toHaveLength(16); // 12 bytes
    // GCM: as long as the plaintext, plus a 16-byte tag.
    expect(Math.floor((ciphertext!.length * 3) / 4)).toBe(plaintext.length + 16);
    expect(sealed).not.toContain(plaintext);
    expect(sealed).not.toContain(btoa(plaintext).slice(0, 12));
  });

  it('does not open under another context: a value copied to another tenant or target stays shut', async () => {
    const sealed = await sealSecret('hook secret', ROOT, 'tenant-a:tgt_1');
    for (const context of ['tenant-b:tgt_1', 'tenant-a:tgt_2', '', 'tenant-a:tgt_1 ']) {
      await expect(openSecret(sealed, ROOT, context), context).rejects.toThrow(SecretBoxError);
    }
    await expect(openSecret(sealed, ROOT, 'tenant-b:tgt_1')).rejects.toThrow(/does not open/);
  });

  it('does not open under another root secret', async () => {
    const sealed = await sealSecret('hook secret', ROOT, CONTEXT);
    await expect(openSecret(sealed, OTHER_ROOT, CONTEXT)).rejects.toThrow(SecretBoxError);
    await expect(openSecret(sealed, `${ROOT}x`, CONTEXT)).rejects.toThrow(/another root secret or context/);
    await expect(sealSecret('x', '', CONTEXT)).rejects.toThrow(SecretBoxError);
  });

  it('refuses a tampered value: any changed bit of the IV, the ciphertext or the tag', async () => {
    const sealed = await sealSecret('hook secret', ROOT, CONTEXT);
    const [version, iv, ciphertext] = sealed.split('.') as [string, string, string];
    const cipherBytes = Math.floor((ciphertext.length * 3) / 4);
    const tampered = [
      `${version}.${flipByte(iv, 0)}.${ciphertext}`,
      `${version}.${flipByte(iv, 11)}.${ciphertext}`,
      `${version}.${iv}.${flipByte(ciphertext, 0)}`,
      `${version}.${iv}.${flipByte(ciphertext, cipherBytes - 1)}`, // the tag
      `${version}.${iv}.${ciphertext.slice(0, -4)}`, // truncated
    ];
    for (const value of tampered) await expect(openSecret(value, ROOT, CONTEXT), value).rejects.toThrow(SecretBoxError);
  });

  it('refuses what is not a sealed value, with a clear error', async () => {
    const sealed = await sealSecret('hook secret', ROOT, CONTEXT);
    const [, iv, ciphertext] = sealed.split('.') as [string, string, string];
    const malformed = [
      '',
      'hook secret',
      `v2.${iv}.${ciphertext}`,
      `${iv}.${ciphertext}`,
      `v1.${iv}.${ciphertext}.extra`,
      `v1.${iv}=.${ciphertext}`,
      `v1.${iv.slice(0, -2)}.${ciphertext}`, // a 10-byte IV
      `v1.${iv}.AAAA`, // shorter than a tag
      `v1.${iv}.${ciphertext.replace(/^./, '+')}`, // not base64url
    ];
    for (const value of malformed) {
      await expect(openSecret(value, ROOT, CONTEXT), value).rejects.toThrow(SecretBoxError);
    }
    await expect(openSecret('plaintext', ROOT, CONTEXT)).rejects.toThrow(/not a sealed secret/);
  });
});
