/**
 * Records sent encrypted (docs/encryption.md): POST /v1/logs takes
 * `encrypted` (a JWE made by the SDK, with blind tokens) instead of
 * `message`, checks it field by field, checks its key id against the
 * tenant's active encryption keys, and stores the envelope as the Body with
 * no pattern. The SDK's own code makes the envelopes: it runs in workerd too.
 */
import { env, exports } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { EncryptedRecords, envelopeBody, type EnvelopeHeader } from '../../shared/encryption-envelope.ts';
import { RecordError } from '../../shared/normalize.ts';
import { createEncryption, decrypt, type Encryption, generateEncryptionKey } from '../../sdk/src/encryption/index.ts';
import { type StoredLog, toLogView } from '../../shared/log-record.ts';
import type { LogRecord } from '../../sdk/src/record.ts';
import { TEST_API_KEY, TEST_KEY_CACHE_TTL_MS, TEST_LIMITS, TEST_TENANT } from '../support/constants.ts';
import { provisionTenant } from '../support/control-plane.ts';
import { storedRowsOfBatch } from '../support/in-workerd.ts';

function post(records: unknown[]): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
}

async function register(tenantId: string, kid: string, publicKey: JsonWebKey, revokedAt: number | null = null): Promise<void> {
  await env.CONTROL_DB.prepare('INSERT INTO encryption_keys (tenant_id, kid, name, public_jwk, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)')
    .bind(tenantId, kid, 'test', JSON.stringify(publicKey), revokedAt)
    .run();
}

const b64 = (text: string) => btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const record = (message: string, attributes?: Record<string, unknown>): LogRecord => ({
  timestamp: new Date().toISOString(),
  level: 'info',
  message,
  ...(attributes && { attributes }),
});

let encryption: Encryption;
let good: Record<string, unknown>;
let epk: Record<string, unknown>;
let key: Awaited<ReturnType<typeof generateEncryptionKey>>;

beforeAll(async () => {
  key = await generateEncryptionKey();
  await register(TEST_TENANT, key.kid, key.publicKey);
  encryption = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret, encryptAttributes: ['user'] });
  good = (await encryption.encryptRecord(record('payment declined for card 4242', { user: 'alice', region: 'eu' }))) as unknown as Record<string, unknown>;
  epk = JSON.parse(atob((good.encrypted as { protected: string }).protected.replaceAll('-', '+').replaceAll('_', '/'))).epk;
});

/** The good record with its envelope changed. */
function withEnvelope(change: (envelope: Record<string, unknown>) => void): Record<string, unknown> {
  const copy = structuredClone(good);
  change(copy.encrypted as Record<string, unknown>);
  return copy;
}

function withHeader(header: Record<string, unknown>): Record<string, unknown> {
  return withEnvelope((e) => {
    e.protected = b64(JSON.stringify(header));
  });
}

async function refusal(records: unknown[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await post(records);
  return { status: res.status, body: await res.json() };
}

describe('POST /v1/logs with encrypted records', () => {
  it('stores the envelope as the Body, clear fields as usual, no pattern, no plaintext', async () => {
    const res = await post([
      { service: 'payments', message: 'in clear' },
      { ...good, service: 'payments' },
    ]);
    expect(res.status).toBe(202);
    const { batchId } = await res.json<{ batchId: string }>();
    const row = (await storedRowsOfBatch(batchId)).find((r) => r.Body !== 'in clear');
    const envelope = good.encrypted as Record<string, unknown>;
    expect(JSON.parse(row!.Body as string)).toEqual({ tokens: [], ...envelope });
    expect(row!.Body as string).toMatch(/^\{"protected":"/);
    expect(row!.ServiceName).toBe('payments');
    expect(row!.SeverityText).toBe('info');
    expect(row!.LogAttributes).toEqual({ region: 'eu' }); // `user` is inside the envelope; `encrypted` is not an attribute
    expect(row!.PatternId).toBe('');
    expect(JSON.stringify(row)).not.toMatch(/declined|alice|4242/);
  });

  it('stores the clear fields exactly as the SDK bound them: the row read back as search returns it decrypts, and a changed clear field is tampering', async () => {
    const sealed = await encryption.encryptRecord({
      timestamp: '2026-11-30T10:00:00.123+01:00',
      level: 'warn',
      message: 'refund for order A-17',
      service: 'billing',
      trace_id: 'AB'.repeat(16),
      attributes: { user: 'bob', region: 'eu', http: { status: 402, retry: [1, 2] }, flag: true, none: null },
      resource: { host: 'db-1', k8s: { pod: 'p-1' } },
    });
    const res = await post([sealed]);
    expect(res.status).toBe(202);
    const [row] = await storedRowsOfBatch((await res.json<{ batchId: string }>()).batchId);
    const view = toLogView(row as unknown as StoredLog) as unknown as Record<string, unknown>;
    expect(view).toMatchObject({ timestamp: '2026-11-30T09:00:00.123000000Z', service: 'billing', traceId: 'ab'.repeat(16) });
    expect(await decrypt(view, key.privateKey)).toMatchObject({ message: 'refund for order A-17', attributes: { user: 'bob' } });
    const changed = { ...view, attributes: { ...(view.attributes as object), region: 'us' } };
    await expect(decrypt(changed, key.privateKey)).rejects.toMatchObject({ code: 'tampered' });
  });

  it('keeps the blind tokens in the Body, where a search for one finds it as a word', async () => {
    const res = await post([good]);
    const { batchId } = await res.json<{ batchId: string }>();
    const [row] = await storedRowsOfBatch(batchId);
    const [token] = encryption.searchTokens('declined');
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect((row!.Body as string).split(/[^0-9a-z]+/i)).toContain(token);
    expect((row!.Body as string).split(/[^0-9a-z]+/i)).toContain(encryption.searchTokens('user=alice')[0]);
  });

  // biome-ignore format: one case a line
  const malformed: [string, (e: Record<string, unknown>) => void, string][] = [
    ['protected missing', (e) => { delete e.protected; }, 'encrypted.protected'],
    ['protected not base64url', (e) => { e.protected = 'eyJ+/='; }, 'encrypted.protected'],
    ['protected not JSON', (e) => { e.protected = b64('not json'); }, 'encrypted.protected'],
    ['encrypted_key of the wrong size', (e) => { e.encrypted_key = 'AAAA'; }, 'encrypted.encrypted_key'],
    ['encrypted_key a number', (e) => { e.encrypted_key = 54; }, 'encrypted.encrypted_key'],
    ['iv of the wrong size', (e) => { e.iv = `${e.iv}AAAA`; }, 'encrypted.iv'],
    ['tag with padding', (e) => { e.tag = `${(e.tag as string).slice(0, 20)}==`; }, 'encrypted.tag'],
    ['ciphertext empty', (e) => { e.ciphertext = ''; }, 'encrypted.ciphertext'],
    ['ciphertext over the record limit', (e) => { e.ciphertext = 'A'.repeat(TEST_LIMITS.maxRecordBytes + 4); }, 'encrypted.ciphertext'],
    ['the whole envelope over the record limit', (e) => { e.ciphertext = 'A'.repeat(TEST_LIMITS.maxRecordBytes - 100); }, 'encrypted'],
    ['tokens not an array', (e) => { e.tokens = 'abc'; }, 'encrypted.tokens'],
    ['a token not hex', (e) => { e.tokens = ['0123456789abcdef0123456789ABCDEF']; }, 'encrypted.tokens.0'],
    ['a token too short', (e) => { e.tokens = ['00', '0123']; }, 'encrypted.tokens.0'],
    ['too many tokens', (e) => { e.tokens = Array.from({ length: 129 }, (_, i) => i.toString(16).padStart(32, '0')); }, 'encrypted.tokens'],
    ['aad missing (the clear fields unbound)', (e) => { delete e.aad; }, 'encrypted.aad'],
    ['aad not base64url', (e) => { e.aad = 'eyJ+/='; }, 'encrypted.aad'],
    ['aad over the record limit', (e) => { e.aad = 'A'.repeat(TEST_LIMITS.maxRecordBytes + 4); }, 'encrypted.aad'],
    ['an unknown member', (e) => { e.unprotected = { kid: 'x' }; }, 'encrypted'],
    ['an unprotected header', (e) => { e.header = { alg: 'dir' }; }, 'encrypted'],
  ];

  it.each(malformed)('refuses an envelope with %s (400 naming record and field)', async (_name, change, field) => {
    const { status, body } = await refusal([{ message: 'fine' }, withEnvelope(change)]);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_record', record: 1, field });
  });

  it('refuses `encrypted` that is not an object, and a record with both a message and an envelope', async () => {
    for (const value of [null, 'x', 1, []]) {
      expect(await refusal([{ ...good, encrypted: value }])).toMatchObject({ status: 400, body: { record: 0, field: 'encrypted' } });
    }
    for (const alias of ['message', 'msg', 'body']) {
      expect(await refusal([{ ...good, [alias]: 'plaintext too' }])).toMatchObject({ status: 400, body: { record: 0, field: alias } });
    }
  });

  it('allows only ECDH-ES+A256KW with A256GCM, a kid and a public P-256 epk in the protected header', async () => {
    const kid = JSON.parse(atob((good.encrypted as { protected: string }).protected.replaceAll('-', '+').replaceAll('_', '/'))).kid;
    const base = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid, epk };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['alg dir', { ...base, alg: 'dir' }, /alg "ECDH-ES\+A256KW"/],
      ['alg RSA1_5', { ...base, alg: 'RSA1_5' }, /alg/],
      ['enc A128CBC-HS256', { ...base, enc: 'A128CBC-HS256' }, /enc "A256GCM"/],
      ['no kid', { alg: base.alg, enc: base.enc, epk }, /kid/],
      ['a compressed payload', { ...base, zip: 'DEF' }, /member "zip"/],
      ['crit', { ...base, crit: ['b64'] }, /member "crit"/],
      ['a private epk', { ...base, epk: { ...epk, d: 'AAAA' } }, /private key/],
      ['an epk on another curve', { ...base, epk: { ...epk, crv: 'P-384' } }, /P-256/],
      ['an epk that is not on the curve', { ...base, epk: { ...epk, y: epk.x } }, /not a point on P-256/],
      ['another cty', { ...base, cty: 'text/plain' }, /cty/],
    ];
    for (const [name, header, message] of cases) {
      const { status, body } = await refusal([withHeader(header)]);
      expect({ name, status }).toEqual({ name, status: 400 });
      expect(body).toMatchObject({ record: 0, field: 'encrypted.protected' });
      expect(body.message).toMatch(message);
    }
  });

  it('refuses a key id the tenant does not have, or has revoked — within the key cache TTL', async () => {
    const other = await generateEncryptionKey();
    const unknown = await createEncryption({ publicKey: other.publicKey });
    const sealed = await unknown.encryptRecord(record('under an unregistered key'));
    const { status, body } = await refusal([{ message: 'clear' }, sealed]);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_record', record: 1, field: 'encrypted.protected' });
    expect(body.message).toContain(other.kid);

    // Registered for another tenant only: still unknown here.
    const elsewhere = await generateEncryptionKey();
    await provisionTenant('another-tenant');
    await register('another-tenant', elsewhere.kid, elsewhere.publicKey);
    const theirs = await (await createEncryption({ publicKey: elsewhere.publicKey })).encryptRecord(record('x'));
    expect((await refusal([theirs])).status).toBe(400);

    // Active, then revoked: refused once the cached answer is older than the TTL.
    const rotating = await generateEncryptionKey();
    await register(TEST_TENANT, rotating.kid, rotating.publicKey);
    const sealer = await createEncryption({ publicKey: rotating.publicKey });
    expect((await post([await sealer.encryptRecord(record('before revocation'))])).status).toBe(202);
    await env.CONTROL_DB.prepare('UPDATE encryption_keys SET revoked_at = ?1 WHERE tenant_id = ?2 AND kid = ?3')
      .bind(Date.now(), TEST_TENANT, rotating.kid)
      .run();
    await new Promise((r) => setTimeout(r, TEST_KEY_CACHE_TTL_MS + 100));
    const after = await refusal([await sealer.encryptRecord(record('after revocation'))]);
    expect(after.status).toBe(400);
    expect(after.body.message).toMatch(/not an active encryption key/);
  });

  it('treats hostile member names as data: __proto__, constructor in the envelope, the header and the attributes', async () => {
    const protoEnvelope = JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(good.encrypted).slice(1)}`);
    expect(Object.hasOwn(protoEnvelope, '__proto__')).toBe(true);
    expect(await refusal([{ ...good, encrypted: protoEnvelope }])).toMatchObject({ status: 400, body: { field: 'encrypted' } });
    const header = JSON.parse(atob((good.encrypted as { protected: string }).protected.replaceAll('-', '+').replaceAll('_', '/')));
    const protoHeader = `{"__proto__":{"alg":"dir"},${JSON.stringify(header).slice(1)}`;
    expect(await refusal([withEnvelope((e) => (e.protected = b64(protoHeader)))])).toMatchObject({ status: 400, body: { field: 'encrypted.protected' } });
    const protoEpk = JSON.stringify(header).replace('"epk":{', '"epk":{"__proto__":{"d":"x"},');
    expect(await refusal([withEnvelope((e) => (e.protected = b64(protoEpk)))])).toMatchObject({ status: 400, body: { field: 'encrypted.protected' } });
    // A clear attribute named __proto__ is kept like any other, next to the envelope.
    const res = await post([JSON.parse(`{"__proto__":"kept","encrypted":${JSON.stringify(good.encrypted)}}`)]);
    expect(res.status).toBe(202);
    const [row] = await storedRowsOfBatch((await res.json<{ batchId: string }>()).batchId);
    expect(Object.hasOwn(row!.LogAttributes as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('envelopeBody (fuzzed)', () => {
  const names = fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'protected',
    'encrypted_key',
    'iv',
    'ciphertext',
    'tag',
    'aad',
    'tokens',
    'hasOwnProperty',
    '',
  );
  const values = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.base64String({ maxLength: 60 }));

  it('either returns a Body or throws a RecordError naming an `encrypted` field, and never touches a prototype', () => {
    fc.assert(
      fc.property(fc.dictionary(names, values), (members) => {
        const envelope = JSON.parse(JSON.stringify(members)); // as JSON.parse gives request data: __proto__ an own member
        try {
          const { body } = envelopeBody(envelope, 3, 4096, new Map<string, EnvelopeHeader>());
          expect(JSON.parse(body)).toBeTypeOf('object');
        } catch (err) {
          expect(err).toBeInstanceOf(RecordError);
          expect((err as RecordError).record).toBe(3);
          expect((err as RecordError).field).toMatch(/^encrypted/);
        }
        expect(Object.getPrototypeOf({})).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('a good envelope mutated one member at a time is refused or stored exactly as given', () => {
    const envelope = good.encrypted as Record<string, string>;
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(envelope)), fc.string({ maxLength: 80 }), (member, value) => {
        const changed = { ...envelope, [member]: value };
        try {
          const { body } = envelopeBody(changed, 0, 4096, new Map());
          expect(JSON.parse(body)[member]).toEqual(value);
        } catch (err) {
          expect(err).toBeInstanceOf(RecordError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('carries() only sees an own `encrypted` member', () => {
    expect(EncryptedRecords.carries({ encrypted: {} })).toBe(true);
    expect(EncryptedRecords.carries(Object.create({ encrypted: {} }))).toBe(false);
    expect(EncryptedRecords.carries(null)).toBe(false);
    expect(EncryptedRecords.carries([])).toBe(false);
  });
});
