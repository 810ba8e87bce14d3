/**
 * @neurallog/sdk/encryption in Node: the envelope is a standard JWE (jose
 * decrypts ours, ours decrypts jose's), tampering is detected (GCM, AES-KW,
 * and the clear fields bound by its aad), a wrong key is named, blind tokens
 * are keyed BLAKE2s-128 of words normalised as the search splits them, and the
 * logger's transform hook sends no plaintext.
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { calculateJwkThumbprint, FlattenedEncrypt, flattenedDecrypt, importJWK } from 'jose';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEPARATORS, tokensOf } from '../../shared/query-language/fields.ts';
import { createLogger } from '../../sdk/src/index.ts';
import {
  BlindTokenizer,
  createEncryption,
  DecryptionError,
  Decryptor,
  decrypt,
  type EncryptedLogRecord,
  generateEncryptionKey,
  readClearFields,
  TOKEN_KEY_INFO,
  WORD_SEPARATORS,
  wordsOf,
} from '../../sdk/src/encryption/index.ts';
import type { LogRecord } from '../../sdk/src/record.ts';

const record = (message: string, attributes?: Record<string, unknown>): LogRecord => ({
  timestamp: '2026-11-30T06:00:00.000Z',
  level: 'error',
  message,
  ...(attributes && { attributes }),
});

/** A sealed record as the search API returns it (shared/log-record.ts LogView): the envelope as the body, the clear fields as stored. */
const asSearched = (r: EncryptedLogRecord) => ({
  id: 'x',
  timestamp: r.timestamp,
  observedTimestamp: '2026-11-30T07:00:00.000000000Z',
  severityText: r.level,
  severityNumber: 17,
  service: r.service ?? '',
  body: JSON.stringify(r.encrypted),
  traceId: r.trace_id ?? '',
  spanId: r.span_id ?? '',
  attributes: { ...r.attributes },
  resource: { ...r.resource },
});

async function rejection(promise: Promise<unknown>): Promise<DecryptionError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DecryptionError);
  return err as DecryptionError;
}

describe('the envelope', () => {
  it('is a JWE jose decrypts with the private key (flattened JSON, ECDH-ES+A256KW, A256GCM), in both content-key modes', async () => {
    const key = await generateEncryptionKey();
    expect(key.kid).toBe(await calculateJwkThumbprint(key.publicKey));
    const privateKey = await importJWK(key.privateKey, 'ECDH-ES+A256KW');
    for (const contentKeyPerRecord of [false, true]) {
      const encryption = await createEncryption({ publicKey: key.publicKey, contentKeyPerRecord, encryptAttributes: ['card'] });
      const sealed = await encryption.encryptRecord(record('card 4242 declined', { card: '4242', region: 'eu' }));
      expect(sealed).not.toHaveProperty('message');
      expect({ ...sealed.attributes }).toEqual({ region: 'eu' });
      const jwe = await flattenedDecrypt(sealed.encrypted, privateKey);
      expect(jwe.protectedHeader).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.kid, epk: { kty: 'EC', crv: 'P-256' } });
      expect(JSON.parse(new TextDecoder().decode(jwe.plaintext))).toEqual({ message: 'card 4242 declined', attributes: { card: '4242' } });
      // The clear fields, as the ingest stores them, are the JWE's additional authenticated data.
      expect(JSON.parse(new TextDecoder().decode(jwe.additionalAuthenticatedData))).toEqual([
        'neurallog clear fields v1',
        '2026-11-30T06:00:00.000000000Z',
        'error',
        '',
        '',
        '',
        [['region', 'eu']],
        [],
      ]);
    }
  });

  it('shares the ephemeral key (and by default the content key) within a batch, with a fresh IV per record', async () => {
    const key = await generateEncryptionKey();
    const shared = await createEncryption({ publicKey: key.publicKey, batchRecords: 3 });
    const envelopes = [];
    for (let i = 0; i < 5; i++) envelopes.push((await shared.encryptRecord(record(`r${i}`))).encrypted);
    expect(new Set(envelopes.slice(0, 3).map((e) => e.protected)).size).toBe(1);
    expect(envelopes[3]!.protected).not.toBe(envelopes[0]!.protected); // a new batch: a new ephemeral key
    expect(new Set(envelopes.slice(0, 3).map((e) => e.encrypted_key)).size).toBe(1);
    expect(new Set(envelopes.map((e) => e.iv)).size).toBe(5);
    const perRecord = await createEncryption({ publicKey: key.publicKey, contentKeyPerRecord: true });
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push((await perRecord.encryptRecord(record(`r${i}`))).encrypted.encrypted_key);
    expect(new Set(keys).size).toBe(3);
  });

  it('seals no more than batchRecords records under one batch when records are sealed at once (as the shipper overlaps them)', async () => {
    const key = await generateEncryptionKey();
    const encryption = await createEncryption({ publicKey: key.publicKey, batchRecords: 3 });
    // All forty wait for the first batch's keys: only three may use them, the others the batches after it.
    const sealed = await Promise.all(Array.from({ length: 40 }, (_, i) => encryption.encryptRecord(record(`r${i}`))));
    const perBatch = new Map<string, number>();
    for (const { encrypted } of sealed) perBatch.set(encrypted.protected, (perBatch.get(encrypted.protected) ?? 0) + 1);
    expect(Math.max(...perBatch.values())).toBe(3);
    expect(perBatch.size).toBeGreaterThanOrEqual(14);
    expect(new Set(sealed.map((r) => r.encrypted.iv)).size).toBe(40);
    const decryptor = await Decryptor.create([key.privateKey]);
    expect((await decryptor.decrypt(sealed[39]!)).message).toBe('r39');
  });

  it("decrypts what another JOSE library made for the tenant's key, its clear fields bound in the aad", async () => {
    const key = await generateEncryptionKey();
    const clear = { timestamp: '2026-11-30T06:00:00.123456789Z', level: 'info', service: 'jose', attributes: { region: 'eu' } };
    const aad = new TextEncoder().encode(readClearFields({ ...clear, encrypted: {} }));
    const jwe = await new FlattenedEncrypt(new TextEncoder().encode(JSON.stringify({ message: 'from jose', attributes: { a: 1 } })))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.kid })
      .setAdditionalAuthenticatedData(aad)
      .encrypt(await importJWK(key.publicKey, 'ECDH-ES+A256KW'));
    expect(await decrypt({ ...clear, encrypted: jwe }, key.privateKey)).toEqual({ kid: key.kid, message: 'from jose', attributes: { a: 1 } });
    expect((await rejection(decrypt({ ...clear, service: 'other', encrypted: jwe }, key.privateKey))).code).toBe('tampered');
  });

  it('decrypts records as search returns them (the envelope is the body), with several keys after a rotation', async () => {
    const old = await generateEncryptionKey();
    const current = await generateEncryptionKey();
    const a = await (await createEncryption({ publicKey: old.publicKey })).encryptRecord(record('before rotation'));
    const b = await (await createEncryption({ publicKey: current.publicKey })).encryptRecord(record('after rotation', { user: 'bob' }));
    const decryptor = await Decryptor.create([old.privateKey, current.privateKey]);
    expect(await decryptor.decrypt(asSearched(a))).toMatchObject({ kid: old.kid, message: 'before rotation' });
    expect(await decryptor.decrypt(asSearched(b))).toMatchObject({ kid: current.kid, message: 'after rotation', attributes: { user: 'bob' } });
    expect((await rejection(decryptor.decrypt({ body: 'a clear record' }))).code).toBe('not_encrypted');
  });

  it('adds keys to a decryptor without changing it (a key loaded later in a page)', async () => {
    const first = await generateEncryptionKey();
    const second = await generateEncryptionKey();
    const sealed = await (await createEncryption({ publicKey: second.publicKey })).encryptRecord(record('after the second key'));
    const empty = await Decryptor.create([]);
    const one = await empty.withKeys([first.privateKey]);
    const both = await one.withKeys([second.privateKey, first.privateKey]);
    expect(empty.kids).toEqual([]);
    expect(one.kids).toEqual([first.kid]);
    expect(both.kids.sort()).toEqual([first.kid, second.kid].sort());
    expect((await rejection(one.decrypt(sealed))).code).toBe('wrong_key');
    expect(await both.decrypt(sealed)).toMatchObject({ kid: second.kid, message: 'after the second key' });
  });

  it('names the key a record needs when decrypted with another one', async () => {
    const right = await generateEncryptionKey();
    const wrong = await generateEncryptionKey();
    const sealed = await (await createEncryption({ publicKey: right.publicKey })).encryptRecord(record('secret'));
    const err = await rejection(decrypt(sealed, wrong.privateKey));
    expect(err.code).toBe('wrong_key');
    expect(err.message).toContain(right.kid);
    expect(err.message).toContain(wrong.kid);
  });

  it('detects tampering: ciphertext, tag, IV, wrapped key (GCM and AES-KW integrity)', async () => {
    const key = await generateEncryptionKey();
    const sealed = await (await createEncryption({ publicKey: key.publicKey })).encryptRecord(record('transfer 100 EUR to alice'));
    const flip = (text: string, at = 2) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    for (const member of ['ciphertext', 'tag', 'iv', 'encrypted_key'] as const) {
      const tampered = { ...sealed, encrypted: { ...sealed.encrypted, [member]: flip(sealed.encrypted[member]) } };
      const err = await rejection(decrypt(tampered, key.privateKey));
      expect({ member, code: err.code }).toEqual({ member, code: 'tampered' });
      await expect(flattenedDecrypt(tampered.encrypted, await importJWK(key.privateKey, 'ECDH-ES+A256KW'))).rejects.toThrow();
    }
  });

  it('binds the clear fields: a changed timestamp, level, service, trace id, clear attribute or resource, or an envelope moved to another record, is tampering', async () => {
    const key = await generateEncryptionKey();
    const encryption = await createEncryption({ publicKey: key.publicKey, encryptAttributes: ['card'] });
    const logged: LogRecord = {
      timestamp: '2026-11-30T07:00:00.5+01:00',
      level: 'warn',
      message: 'refund 100 EUR',
      service: 'billing',
      trace_id: 'AB'.repeat(16),
      attributes: { card: '4242', region: 'eu', http: { status: 402 } },
      resource: { host: 'db-1' },
    };
    const sealed = await encryption.encryptRecord(logged);
    // Sent as the ingest stores them: UTC with nine digits, lower-case ids, attributes flattened to text.
    expect(sealed).toMatchObject({ timestamp: '2026-11-30T06:00:00.500000000Z', trace_id: 'ab'.repeat(16), service: 'billing' });
    expect({ ...sealed.attributes }).toEqual({ region: 'eu', 'http.status': '402' });
    const view = asSearched(sealed);
    expect(await decrypt(view, key.privateKey)).toMatchObject({ message: 'refund 100 EUR' });
    expect(await decrypt(sealed, key.privateKey)).toMatchObject({ message: 'refund 100 EUR' });
    const changes: [string, Record<string, unknown>][] = [
      ['timestamp', { timestamp: '2026-11-30T06:00:01.500000000Z' }],
      ['level', { severityText: 'info' }],
      ['service', { service: 'checkout' }],
      ['trace id', { traceId: 'cd'.repeat(16) }],
      ['attributes', { attributes: { ...view.attributes, region: 'us' } }],
      ['attributes', { attributes: { ...view.attributes, added: 'x' } }],
      ['resource', { resource: {} }],
    ];
    for (const [field, change] of changes) {
      const err = await rejection(decrypt({ ...view, ...change }, key.privateKey));
      expect({ field, code: err.code }).toEqual({ field, code: 'tampered' });
      expect(err.message).toContain(field);
    }
    // The same in the native format, as sent.
    expect((await rejection(decrypt({ ...sealed, level: 'debug' }, key.privateKey))).code).toBe('tampered');
    // Another record's envelope under this record's clear fields.
    const other = await encryption.encryptRecord({ ...logged, timestamp: '2026-11-30T06:30:00Z', message: 'refund 1 EUR' });
    expect((await rejection(decrypt({ ...view, body: JSON.stringify(other.encrypted) }, key.privateKey))).code).toBe('tampered');
    // The aad itself changed to match, or removed: GCM's check fails.
    const rebound = btoa(readClearFields({ ...view, service: 'checkout' }))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '');
    for (const envelope of [
      { ...sealed.encrypted, aad: rebound },
      { ...sealed.encrypted, aad: undefined },
    ]) {
      const err = await rejection(decrypt({ ...view, service: 'checkout', body: JSON.stringify(envelope) }, key.privateKey));
      expect(err.code).toBe('tampered');
    }
  });

  it('refuses a private key where the public key belongs', async () => {
    const key = await generateEncryptionKey();
    await expect(createEncryption({ publicKey: key.privateKey })).rejects.toThrow(/private key/);
  });
});

describe('blind tokens', () => {
  it("split words as the search does (shared/query-language's separators), lower-cased", () => {
    expect(WORD_SEPARATORS.source).toBe(SEPARATORS.source);
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)) }), (text) => {
        expect(wordsOf(text)).toEqual(tokensOf(text));
      }),
    );
    expect(wordsOf('Payment DECLINED: card=4242, user@Example.com')).toEqual(['payment', 'declined', 'card', '4242', 'user', 'example', 'com']);
    expect(wordsOf('Müller ÄRGER')).toEqual(['müller', 'ärger']); // beyond ASCII, lower-cased too (the search's own index does not)
  });

  it('are the same for the same word under the same secret, 32 hex characters, distinct under another secret', async () => {
    const a = await generateEncryptionKey();
    const b = await generateEncryptionKey();
    const ta = await BlindTokenizer.fromSecret(a.searchSecret);
    const ta2 = await BlindTokenizer.fromSecret(a.searchSecret);
    const tb = await BlindTokenizer.fromSecret(b.searchSecret);
    expect(ta.token('declined')).toMatch(/^[0-9a-f]{32}$/);
    expect(ta2.token('declined')).toBe(ta.token('declined'));
    expect(tb.token('declined')).not.toBe(ta.token('declined'));
    expect(ta.queryTokens('Declined')).toEqual([ta.token('declined')]);
    expect(ta.queryTokens('user=alice')).toEqual([ta.token('user=alice')]);
    await expect(BlindTokenizer.fromSecret('c2hvcnQ')).rejects.toThrow(/16 bytes/);
  });

  it("are keyed BLAKE2s-128 under the HKDF-SHA-256 of the search secret (checked against another implementation, @noble/hashes', word after word)", async () => {
    const key = await generateEncryptionKey();
    const tokenizer = await BlindTokenizer.fromSecret(key.searchSecret);
    const secret = Buffer.from(key.searchSecret, 'base64url');
    const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
    expect(TOKEN_KEY_INFO).toBe('neurallog blind tokens v2: keyed BLAKE2s-128');
    const bits = await crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new TextEncoder().encode(TOKEN_KEY_INFO) },
      ikm,
      256,
    );
    // Words of every length around BLAKE2s's 64-byte block, non-ASCII ones (the UTF-8 path), and repeats (the cache).
    for (const term of ['declined', 'a', 'user=alice', 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(2000), 'müller', '日本語', 'declined']) {
      const expected = Buffer.from(blake2s(new TextEncoder().encode(term), { key: new Uint8Array(bits), dkLen: 16 })).toString('hex');
      expect(tokenizer.token(term)).toBe(expected);
    }
  });

  it('are pinned: a fixed search secret gives these tokens (a change of scheme is a change of TOKEN_KEY_INFO)', async () => {
    const tokenizer = await BlindTokenizer.fromSecret('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8');
    expect([tokenizer.token('declined'), tokenizer.token('user=alice')]).toMatchInlineSnapshot(`
      [
        "fc92f7ee4a83de37b13beb2088ae2458",
        "34aa2e0db4bef55426ae4e9cc4697472",
      ]
    `);
  });

  it('are deduplicated and capped per record, encrypted attributes first; none without a search secret', async () => {
    const key = await generateEncryptionKey();
    const encryption = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret, maxTokens: 4 });
    const sealed = await encryption.encryptRecord(record('retry retry RETRY failed after timeout', { user: 'alice' }));
    expect(sealed.encrypted.tokens).toEqual([...encryption.searchTokens('user=alice'), ...encryption.searchTokens('retry failed after')]);
    const many = await encryption.encryptRecord(record('a b c d e f g'));
    expect(many.encrypted.tokens).toHaveLength(4);
    const none = await (await createEncryption({ publicKey: key.publicKey })).encryptRecord(record('words'));
    expect(none.encrypted.tokens).toBeUndefined();
  });
});

describe('the logger with encryption as its transform', () => {
  it('sends envelopes, never the plaintext, and they decrypt to what was logged', async () => {
    const key = await generateEncryptionKey();
    const encryption = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret, encryptAttributes: ['email'] });
    const bodies: string[] = [];
    const fetchStub = async (_url: RequestInfo | URL, init?: RequestInit) => {
      bodies.push(await new Response(init!.body).text());
      return new Response(JSON.stringify({ accepted: 1, batchId: 'x' }), { status: 202 });
    };
    const log = createLogger({
      endpoint: 'https://logs.test',
      apiKey: 'k',
      compression: 'none',
      transform: encryption.transform,
      fetch: fetchStub as typeof fetch,
    });
    log.warn('password reset for carol', { email: 'carol@example.com', region: 'eu' });
    log.error(new Error('vault sealed'));
    expect(await log.flush()).toBe(true);
    const sent = bodies.join('\n');
    expect(sent).not.toMatch(/carol|password|vault/);
    const records = sent
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records[0]).toMatchObject({ level: 'warn', attributes: { region: 'eu' }, encrypted: { tokens: expect.any(Array) } });
    const decryptor = await Decryptor.create([key.privateKey]);
    expect(await decryptor.decrypt(records[0])).toMatchObject({ message: 'password reset for carol', attributes: { email: 'carol@example.com' } });
    // An Error's attribute (its message again, and its stack) is encrypted even when not listed.
    expect(records[1]).not.toHaveProperty('attributes');
    expect(await decryptor.decrypt(records[1])).toMatchObject({ message: 'vault sealed', attributes: { error: { name: 'Error', message: 'vault sealed' } } });
  });
});
