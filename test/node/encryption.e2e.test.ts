/**
 * Zero-knowledge encryption end to end, on the stack started as `npm start`
 * starts it (docs/encryption.md): a key made and registered by the CLI,
 * records logged encrypted by the SDK, found by a clear field and by a blind
 * token, decrypted by the CLI (a wrong key named, tampering reported); then
 * the proof that the server never saw the plaintext — every column of every
 * ClickHouse table, every file of the stack's state (R2 objects, Durable
 * Object storage, D1; gzip inflated) and the workers' output searched for
 * the plaintext words, none found, while a record sent in clear *is* found by
 * the same scans; and a revoked key's records refused.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants, gunzipSync } from 'node:zlib';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncryption, generateEncryptionKey } from '../../sdk/src/encryption/index.ts';
import { createLogger, type DropEvent } from '../../sdk/src/index.ts';
import { freePort } from '../../scripts/ports.ts';
import { PROJECT_ROOT, type RunningStack, startStack } from '../../scripts/stack.ts';
import type { KeyFile } from '../../scripts/encryption-key-file.ts';
import { eventually } from '../support/eventually.ts';

const execFileAsync = promisify(execFile);
let dataDir: string;
let workDir: string;
let stack: RunningStack;
const output: string[] = [];
const KEY_CACHE_TTL_MS = 1000;

const nonce = Date.now().toString(36);
/** Words only the plaintext holds: none may reach the server. */
const SECRET_WORD = `zebracorn${nonce}`;
const SECRET_VALUE = `custsecret${nonce}`;
/** A word of a record sent in clear: every scan must find it, or it proves nothing. */
const CONTROL_WORD = `controlword${nonce}`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-encryption-e2e-'));
  workDir = await mkdtemp(join(tmpdir(), 'neurallog-encryption-keys-'));
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    // Rows stay in the actor's storage for a few seconds (scanned there), and a revoked key is refused after 1 s.
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '4000', NEURALLOG_KEY_CACHE_TTL_MS: String(KEY_CACHE_TTL_MS) },
    onOutput: (line) => output.push(line),
  });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

const cliEnv = () => ({ ...process.env, NEURALLOG_URL: stack.url, NEURALLOG_PLATFORM_ADMIN_TOKEN: stack.platformAdminToken, NEURALLOG_TENANT: 'dev' });

function cli(script: string, args: string[]) {
  return execFileAsync(process.execPath, ['--import', 'tsx', script, ...args], { env: cliEnv(), cwd: PROJECT_ROOT });
}

/** `npm run decrypt` with `input` on stdin: its stdout, stderr and exit code. */
function decryptCli(keys: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/decrypt.ts', ...keys.flatMap((k) => ['--key', k])], {
      cwd: PROJECT_ROOT,
      env: cliEnv(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

async function search(query: string, count: number): Promise<{ logs: { id: string; body: string; service: string; attributes: Record<string, string> }[] }> {
  return eventually(
    `${count} records for ${query}`,
    async () => {
      const res = await fetch(`${stack.url}/v1/logs?${query}`, { headers: { authorization: `Bearer ${stack.devApiKey}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { logs: { id: string; body: string; service: string; attributes: Record<string, string> }[] };
    },
    { until: (body) => body.logs.length >= count, timeoutMs: 30_000, intervalMs: 300, describe: (body) => `${body.logs.length} found` },
  );
}

/** Every file under `dir` (but ClickHouse's own, searched through SQL), as text, with every gzip member in it inflated. */
async function filesAsText(dir: string): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(dataDir, 'clickhouse')) await walk(path);
        continue;
      }
      if (!entry.isFile() || (await stat(path)).size > 256 * 1024 * 1024) continue;
      const bytes = await readFile(path);
      const parts = [bytes.toString('latin1'), bytes.toString('utf8')];
      // gzip inside a file: an R2 archive is one; a sealed batch in the actor's SQLite is a member inside a page.
      for (let at = bytes.indexOf(GZIP_MAGIC); at !== -1; at = bytes.indexOf(GZIP_MAGIC, at + 1)) {
        try {
          parts.push(gunzipSync(bytes.subarray(at), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8'));
        } catch {
          // not a gzip member after all
        }
      }
      texts.set(path, parts.join('\n'));
    }
  };
  await walk(dir);
  return texts;
}
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

function filesContaining(texts: Map<string, string>, word: string): string[] {
  return [...texts].filter(([, text]) => text.toLowerCase().includes(word.toLowerCase())).map(([path]) => path.slice(dataDir.length));
}

/** Every row of every table of the NeuralLog database (logs, patterns, usage…), as JSON text, table by table. */
async function clickhouseTables(): Promise<Map<string, string>> {
  const clickhouse = createClient({ url: stack.clickhouseUrl, database: 'neurallog' });
  try {
    const tables = await (await clickhouse.query({ query: 'SHOW TABLES FROM neurallog', format: 'JSONEachRow' })).json<{ name: string }>();
    const texts = new Map<string, string>();
    for (const { name } of tables) {
      const rs = await clickhouse.query({ query: 'SELECT * FROM {table:Identifier}', query_params: { table: name }, format: 'JSONEachRow' });
      texts.set(name, await rs.text());
    }
    return texts;
  } finally {
    await clickhouse.close();
  }
}

describe('zero-knowledge encryption on the running stack', () => {
  let keyFile: KeyFile;
  let keyPath: string;
  let ids: string[] = [];

  it('makes a key with the CLI: the private file only its owner reads, the public key registered under its thumbprint', async () => {
    keyPath = join(workDir, 'key.json');
    const { stdout } = await cli('scripts/encryption-key.ts', ['create', '--name', 'e2e', '--out', keyPath]);
    keyFile = JSON.parse(await readFile(keyPath, 'utf8'));
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(stdout)).toMatchObject({ kid: keyFile.kid, name: 'e2e', revokedAt: null, publicKey: { kty: 'EC', crv: 'P-256' } });
    expect(stdout).not.toContain(keyFile.privateKey.d);
    const listed = JSON.parse((await cli('scripts/encryption-key.ts', ['list'])).stdout);
    expect(listed.keys.map((k: { kid: string }) => k.kid)).toEqual([keyFile.kid]);
  });

  it('logs encrypted records with the SDK and a clear control record; nothing in clear in the actor’s storage while they are buffered', async () => {
    const encryption = await createEncryption({ publicKey: keyFile.publicKey, searchSecret: keyFile.searchSecret, encryptAttributes: ['customer'] });
    const drops: DropEvent[] = [];
    const log = createLogger({
      endpoint: stack.url,
      apiKey: stack.devApiKey,
      service: 'billing',
      transform: encryption.transform,
      onDrop: (e) => drops.push(e),
    });
    for (let i = 0; i < 20; i++) log.info(`invoice ${i} paid by ${SECRET_WORD}`, { customer: SECRET_VALUE, region: 'eu', n: i });
    expect(await log.flush()).toBe(true);
    expect(drops).toEqual([]);
    expect(log.stats().acknowledged).toBe(20);
    const control = await fetch(`${stack.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ service: 'billing', level: 'info', message: `clear ${CONTROL_WORD}`, customer: CONTROL_WORD }]),
    });
    expect(control.status).toBe(202);
    await log.close();

    // Buffered in the tenant actor (flushed after 4 s): its SQLite files hold the control word, not the secret ones.
    const files = await filesAsText(dataDir);
    expect(filesContaining(files, CONTROL_WORD).length).toBeGreaterThan(0);
    expect(filesContaining(files, SECRET_WORD)).toEqual([]);
    expect(filesContaining(files, SECRET_VALUE)).toEqual([]);
  });

  it('finds the encrypted records by a clear field and by blind tokens (a word, and name=value of an encrypted attribute)', async () => {
    const byField = await search(`q=${encodeURIComponent('region:eu service:billing')}&limit=100`, 20);
    expect(byField.logs).toHaveLength(20);
    expect(byField.logs.every((l) => l.body.startsWith('{"protected":"') && l.attributes.region === 'eu' && !('customer' in l.attributes))).toBe(true);
    ids = byField.logs.map((l) => l.id);

    const tokens = JSON.parse(
      (await cli('scripts/encryption-key.ts', ['token', '--key', keyPath, SECRET_WORD, `customer=${SECRET_VALUE}`, 'invoice 7'])).stdout,
    );
    const [wordToken] = tokens[SECRET_WORD];
    expect(wordToken).toMatch(/^[0-9a-f]{32}$/);
    expect((await search(`q=${wordToken}&limit=100`, 20)).logs.map((l) => l.id).sort()).toEqual([...ids].sort());
    expect((await search(`q=${tokens[`customer=${SECRET_VALUE}`][0]}&limit=100`, 20)).logs).toHaveLength(20);
    // Both words of "invoice 7": exactly one record.
    expect((await search(`q=${encodeURIComponent(tokens['invoice 7'].join(' '))}&limit=100`, 1)).logs).toHaveLength(1);
    // The plaintext word itself finds nothing: the server never had it.
    expect((await search(`q=${SECRET_WORD}`, 0)).logs).toEqual([]);
  });

  it('decrypts an export with the CLI; a wrong key is named; a tampered record is reported, not printed', async () => {
    const res = await fetch(`${stack.url}/v1/logs/export?format=ndjson&q=${encodeURIComponent('service:billing')}`, {
      headers: { authorization: `Bearer ${stack.devApiKey}` },
    });
    expect(res.status).toBe(200);
    const exported = await res.text();
    expect(exported).not.toContain(SECRET_WORD);

    const good = await decryptCli([keyPath], exported);
    expect(good.code).toBe(0);
    const lines = good.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const decrypted = lines.filter((l) => l.decryptedWith === keyFile.kid);
    expect(decrypted).toHaveLength(20);
    expect(decrypted.map((l) => l.body)).toContain(`invoice 7 paid by ${SECRET_WORD}`);
    expect(decrypted[0].attributes).toMatchObject({ customer: SECRET_VALUE, region: 'eu' });
    expect(lines.filter((l) => typeof l.body === 'string' && l.body.includes(CONTROL_WORD))).toHaveLength(1); // the clear one, passed through

    const other = await generateEncryptionKey();
    const otherPath = join(workDir, 'other.json');
    await writeFile(otherPath, JSON.stringify({ ...other, name: 'other', tenant: 'dev', createdAt: '' }));
    const wrong = await decryptCli([otherPath], exported);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`encrypted for key ${keyFile.kid}`);
    expect(wrong.stderr).toContain(other.kid);
    expect(wrong.stdout).not.toContain(SECRET_WORD);

    const records = exported
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const victim = records.find((r) => typeof r.body === 'string' && r.body.startsWith('{"protected"'));
    const envelope = JSON.parse(victim.body);
    envelope.ciphertext = (envelope.ciphertext[0] === 'A' ? 'B' : 'A') + envelope.ciphertext.slice(1);
    victim.body = JSON.stringify(envelope);
    // Another whose clear field (bound to its envelope) was changed: the ciphertext is intact, the binding is not.
    const moved = records.find((r) => r !== victim && typeof r.body === 'string' && r.body.startsWith('{"protected"'));
    moved.service = 'elsewhere';
    const tampered = await decryptCli([keyPath], records.map((r) => JSON.stringify(r)).join('\n'));
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain(`record ${victim.id}: not decrypted — TAMPERED`);
    expect(tampered.stderr).toContain(`record ${moved.id}: not decrypted — TAMPERED: the record's clear fields differ from those sealed with it (service)`);
    expect(
      tampered.stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('"decryptedWith"')),
    ).toHaveLength(18);
  });

  it('never had the plaintext: every ClickHouse table and every file of the stack’s state hold the control word, not the secret ones', async () => {
    // The archive is written by the same flush as ClickHouse: wait for an R2 object holding the control word.
    const files = await eventually('an R2 object holding the control word', () => filesAsText(dataDir), {
      until: (texts) => filesContaining(texts, CONTROL_WORD).some((p) => p.includes('r2')),
      timeoutMs: 30_000,
      intervalMs: 500,
      describe: (texts) => `the control word in ${JSON.stringify(filesContaining(texts, CONTROL_WORD))}`,
    });
    expect(filesContaining(files, SECRET_WORD)).toEqual([]);
    expect(filesContaining(files, SECRET_VALUE)).toEqual([]);

    const tables = await clickhouseTables();
    expect([...tables.keys()]).toEqual(expect.arrayContaining(['logs', 'log_patterns']));
    const holding = (word: string) => [...tables].filter(([, text]) => text.toLowerCase().includes(word.toLowerCase())).map(([name]) => name);
    expect(holding(CONTROL_WORD)).toContain('logs');
    expect(holding(SECRET_WORD)).toEqual([]);
    expect(holding(SECRET_VALUE)).toEqual([]);
    // The encrypted rows have no pattern.
    const logs = tables
      .get('logs')!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const encrypted = logs.filter((r) => r.Body.startsWith('{"protected"'));
    expect(encrypted).toHaveLength(20);
    expect(encrypted.every((r) => r.PatternId === '')).toBe(true);

    // Nor did the workers write it in their logs.
    expect(output.filter((line) => line.includes(SECRET_WORD) || line.includes(SECRET_VALUE))).toEqual([]);
  });

  it('refuses new records under a revoked key (within the key cache TTL); the old ones stay readable', async () => {
    const revoked = JSON.parse((await cli('scripts/encryption-key.ts', ['revoke', keyFile.kid])).stdout);
    expect(revoked).toMatchObject({ kid: keyFile.kid, revokedAt: expect.any(String) });
    await new Promise((r) => setTimeout(r, KEY_CACHE_TTL_MS + 200));
    const encryption = await createEncryption({ publicKey: keyFile.publicKey });
    const res = await fetch(`${stack.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([await encryption.encryptRecord({ timestamp: new Date().toISOString(), level: 'info', message: 'after revocation' })]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_record', record: 0, field: 'encrypted.protected' });
    const stored = await search(`q=${encodeURIComponent('service:billing region:eu')}&limit=100`, 20);
    const decrypted = await decryptCli([keyPath], stored.logs.map((l) => JSON.stringify(l)).join('\n'));
    expect(decrypted.code).toBe(0);
    expect(decrypted.stdout).toContain(SECRET_WORD);
  });
});
