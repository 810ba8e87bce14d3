/**
 * Zero-knowledge encryption in the explorer, in Chromium (docs/explorer.md,
 * docs/encryption.md): records sealed by the SDK for a key made by the CLI
 * are shown as "encrypted — load key <kid>" until its key file is loaded into
 * the page, then decrypted there; another key, tampering and a reload are
 * told apart; blind search sends tokens, never words; a key generated in the
 * page is registered and its downloaded file decrypts with `npm run decrypt`.
 * Every request the browser made is recorded: none carries a private key's
 * `d`, a search secret, or a word searched blind.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { PROJECT_ROOT, type RunningStack, startStack } from '../../scripts/stack.ts';
import { createEncryption, generateEncryptionKey, type KeyFile, keyFileOf, keyFileText } from '../../sdk/src/encryption/index.ts';
import { createLogger } from '../../sdk/src/index.ts';
import { CHROMIUM, expectAccessible, haveChromium, SCREENSHOTS, warnIfNoChromium } from '../support/browser.ts';
import { eventually } from '../support/eventually.ts';

warnIfNoChromium('explorer encryption');

const nonce = Date.now().toString(36);
/** Words only the plaintext holds. */
const SECRET_WORD = `zebracorn${nonce}`;
const SECRET_VALUE = `custsecret${nonce}`;
const TAMPERED_WORD = `tampered${nonce}`;

let dataDir: string;
let workDir: string;
let stack: RunningStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let key: KeyFile;
let keyPath: string;
let other: KeyFile;
let otherPath: string;
let browserMade: KeyFile | null = null;
/** Every request of the page (URL, headers and body), over every test. */
const requests: { url: string; method: string; text: string }[] = [];
const pageErrors: string[] = [];

function run(script: string, args: string[], input = ''): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, NEURALLOG_URL: stack.url, NEURALLOG_PLATFORM_ADMIN_TOKEN: stack.platformAdminToken, NEURALLOG_TENANT: 'dev' },
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

async function api<T>(path: string, init: RequestInit = {}, credential = stack.devApiKey): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

async function waitForRecords(q: string, count: number): Promise<void> {
  const found = await eventually(
    `${count} records for ${q}`,
    async () => (await api<{ logs: unknown[] }>(`/v1/logs?q=${encodeURIComponent(q)}&limit=100`)).logs.length,
    {
      until: (n) => n >= count,
      timeoutMs: 30_000,
      intervalMs: 300,
    },
  );
  expect(found, q).toBe(count);
}

const rowTexts = () => page.getByTestId('result-row').allInnerTexts();
/** The text a person sees (a closed <details>, where the record's JSON is, is not seen: textContent would include it). */
// biome-ignore lint/performance/useDomNodeTextContent: the visible text is what these tests are about.
const shown = (locator: Locator) => locator.innerText();

/** To the encryption page and back by the app's own links: a page load would forget the keys (that is the point). */
async function loadKeyFiles(...paths: string[]): Promise<void> {
  await page.getByRole('link', { name: 'Encryption' }).click();
  await page.getByTestId('key-file').setInputFiles(paths);
  await page.getByTestId('key-status').waitFor();
  await page.goBack();
  await page.getByTestId('query-input').waitFor();
}

async function search(q: string): Promise<void> {
  await page.getByTestId('query-input').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(q);
  await page.keyboard.press('Enter');
}

describe.skipIf(!haveChromium)('zero-knowledge encryption in the explorer, in Chromium', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'neurallog-ui-encryption-'));
    workDir = await mkdtemp(join(tmpdir(), 'neurallog-ui-encryption-keys-'));
    stack = await startStack({
      port: await freePort(),
      dataDir,
      embeddedClickHousePort: await freePort(),
      workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300', NEURALLOG_KEY_CACHE_TTL_MS: '1000' },
    });
    // The key made and registered by the CLI, as a tenant would.
    keyPath = join(workDir, 'key.json');
    const made = await run('scripts/encryption-key.ts', ['create', '--name', 'ui-e2e', '--out', keyPath]);
    expect(made.code, made.stderr).toBe(0);
    key = JSON.parse(await readFile(keyPath, 'utf8'));
    // Another key (not the one the records need).
    other = keyFileOf(await generateEncryptionKey(), 'other', 'dev');
    otherPath = join(workDir, 'other.json');
    await writeFile(otherPath, keyFileText(other));

    const encryption = await createEncryption({ publicKey: key.publicKey, searchSecret: key.searchSecret, encryptAttributes: ['customer'] });
    const log = createLogger({ endpoint: stack.url, apiKey: stack.devApiKey, service: 'billing', transform: encryption.transform });
    for (let i = 0; i < 5; i++) log.info(`invoice ${i} paid by ${SECRET_WORD}`, { customer: SECRET_VALUE, region: 'eu' });
    expect(await log.flush()).toBe(true);
    await log.close();
    // One more, a clear field bound to its envelope changed after sealing (the server cannot tell: it never decrypts).
    const sealed = await encryption.encryptRecord({
      timestamp: new Date().toISOString(),
      level: 'warn',
      message: `${TAMPERED_WORD} record`,
      service: 'billing',
      attributes: { region: 'eu', case: 'sealed' },
    });
    await api('/v1/logs', { method: 'POST', body: JSON.stringify([{ ...sealed, attributes: { region: 'eu', case: 'tampered' } }]) });
    await waitForRecords('service:billing', 6);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: stack.url, acceptDownloads: true });
    context.on('request', (request) => {
      const headers = Object.entries(request.headers())
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n');
      requests.push({ url: request.url(), method: request.method(), text: `${request.url()}\n${headers}\n${request.postData() ?? ''}` });
    });
    page = await context.newPage();
    page.on('websocket', (socket) => socket.on('framesent', (frame) => requests.push({ url: socket.url(), method: 'WS', text: String(frame.payload) })));
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto('/');
    await page.getByTestId('credential').fill(stack.devApiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('query-input').waitFor();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('shows an encrypted record as "encrypted — load key <kid>" without a key, never its envelope or plaintext', async () => {
    await search('service:billing');
    await expect.poll(rowTexts).toHaveLength(6);
    await expect.poll(async () => (await rowTexts()).every((t) => t.includes(`encrypted — load key ${key.kid.slice(0, 10)}`))).toBe(true);
    const text = await shown(page.locator('body'));
    expect(text).not.toContain('{"protected"');
    expect(text).not.toContain(SECRET_WORD);
    await page.getByTestId('result-row').first().click();
    await expect.poll(() => shown(page.getByTestId('encrypted-locked-detail'))).toContain(`load key ${key.kid}`);
    expect(await shown(page.getByTestId('detail'))).not.toContain('{"protected"');
    await expectAccessible(page, 'explorer, encrypted records without a key');
    await page.keyboard.press('Escape');
    // The Encryption page's code is a chunk of its own, fetched when the page is first opened, not with the explorer.
    const pageChunk = (r: { url: string }) => /\/assets\/encryption-page-[\w-]+\.js$/.test(r.url);
    expect(requests.filter(pageChunk)).toHaveLength(0);
    await page.getByRole('link', { name: 'Encryption' }).click();
    await page.getByTestId('key-file').waitFor();
    expect(requests.filter(pageChunk)).toHaveLength(1);
    await page.goBack();
    await page.getByTestId('query-input').waitFor();
  });

  it('with another key loaded (pasted), names the key each record needs; "forget keys" drops it', async () => {
    await page.getByRole('link', { name: 'Encryption' }).click();
    await page.getByText('Or paste the key file').click();
    await page.getByTestId('key-paste').fill(keyFileText(other));
    await page.getByRole('button', { name: 'Load the pasted key' }).click();
    await expect.poll(() => shown(page.getByTestId('key-status'))).toContain(other.kid);
    expect(await page.getByTestId('key-paste').inputValue()).toBe(''); // the key's text does not stay in the form
    await page.goBack();
    await expect.poll(() => shown(page.getByTestId('keys-indicator'))).toContain(other.kid.slice(0, 10));
    await expect.poll(async () => (await page.getByTestId('decrypt-error').allInnerTexts()).length).toBe(6);
    for (const error of await page.getByTestId('decrypt-error').allInnerTexts()) {
      expect(error).toContain(`encrypted for key ${key.kid}`);
      expect(error).toContain(other.kid);
    }
    expect(await shown(page.locator('body'))).not.toContain(SECRET_WORD);
    await page.getByTestId('forget-keys-top').click();
    expect(await page.getByTestId('keys-indicator').count()).toBe(0);
    await expect.poll(async () => (await rowTexts()).every((t) => t.includes('encrypted — load key'))).toBe(true);
  });

  it('decrypts in the page once the key file is loaded: the message and the encrypted attribute, marked as decrypted here; tampering is named', async () => {
    expect(await shown(page.locator('body'))).not.toContain(SECRET_WORD);
    await loadKeyFiles(keyPath);
    await expect.poll(() => shown(page.getByTestId('keys-indicator'))).toContain(key.kid.slice(0, 10));
    await expect.poll(async () => (await rowTexts()).filter((t) => t.includes(`paid by ${SECRET_WORD}`)).length).toBe(5);
    expect(await page.getByTestId('decrypted-badge').count()).toBe(5);
    const tampered = page.getByTestId('decrypt-error');
    await expect.poll(() => tampered.count()).toBe(1);
    expect(await shown(tampered)).toContain(`Cannot decrypt with key ${key.kid}: TAMPERED`);

    await page.getByTestId('result-row').filter({ hasText: 'invoice 3' }).click();
    await expect.poll(() => shown(page.getByTestId('decrypted-body'))).toBe(`invoice 3 paid by ${SECRET_WORD}`);
    const detail = await shown(page.getByTestId('detail'));
    expect(detail).toContain(`attr.customer (decrypted)`);
    expect(detail).toContain(SECRET_VALUE);
    expect(detail).toContain(`in this browser with key ${key.kid}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'explorer-decrypted.png') });
    await expectAccessible(page, 'explorer, decrypted records');
    await page.keyboard.press('Escape');

    // Held in memory only: nothing of the key in the browser's storage.
    const stored = await page.evaluate(async () => {
      const databases = await indexedDB.databases();
      return JSON.stringify([localStorage, sessionStorage, databases, document.cookie]);
    });
    expect(stored).not.toContain(key.privateKey.d);
    expect(stored).not.toContain(key.searchSecret);
  });

  it('blind search: the words typed become tokens, an exact word of the encrypted message finds its records; a prefix is refused', async () => {
    await page.getByTestId('blind-toggle').check();
    await search(SECRET_WORD);
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toMatch(/^[0-9a-f]{32}$/);
    // The 6 records of service:billing before; the 5 holding the word now (not the tampered one).
    await expect.poll(rowTexts).toHaveLength(5);
    await expect.poll(async () => (await rowTexts()).filter((t) => t.includes(`paid by ${SECRET_WORD}`)).length).toBe(5);
    expect(await shown(page.getByTestId('query-input'))).toBe(SECRET_WORD); // the bar keeps the words typed
    await page.getByTestId('blind-sent').waitFor();

    await search(`invoice 3 customer:${SECRET_VALUE} service:billing`);
    await expect.poll(rowTexts).toHaveLength(1);
    expect((await rowTexts())[0]).toContain(`invoice 3 paid by ${SECRET_WORD}`);
    const sent = new URL(page.url()).searchParams.get('q')!;
    expect(sent).toContain('service:billing');
    expect(sent).not.toContain('invoice');
    expect(sent).not.toContain(SECRET_VALUE);

    await search('zebra*');
    await expect.poll(() => shown(page.getByTestId('blind-error'))).toContain('exact words only');
    await page.screenshot({ path: join(SCREENSHOTS, 'explorer-blind-search.png') });
    await expectAccessible(page, 'explorer, blind search');
    await page.getByTestId('blind-toggle').uncheck();
  });

  it('generates a key pair in the page: the public key is registered, and the downloaded key file decrypts with npm run decrypt', async () => {
    await page.getByRole('link', { name: 'Encryption' }).click();
    await page.getByTestId('generate-name').fill('made-in-browser');
    await page.getByTestId('generate-key').click();
    await expect.poll(() => shown(page.getByTestId('generated'))).toContain('is registered');
    const kid = await shown(page.getByTestId('generated-kid'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-key').click()]);
    const path = join(workDir, 'browser-made.json');
    await download.saveAs(path);
    browserMade = JSON.parse(await readFile(path, 'utf8')) as KeyFile;
    expect(browserMade).toMatchObject({ kid, name: 'made-in-browser', tenant: 'dev', publicKey: { kty: 'EC', crv: 'P-256' } });
    expect(typeof browserMade.privateKey.d).toBe('string');

    const listed = await api<{ keys: { kid: string; name: string; publicKey: JsonWebKey; revokedAt: string | null }[] }>(
      '/v1/admin/tenants/dev/encryption-keys',
    );
    expect(listed.keys.find((k) => k.kid === kid)).toMatchObject({ name: 'made-in-browser', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(browserMade.privateKey.d);
    await expect.poll(() => shown(page.getByTestId('registered-keys'))).toContain(kid); // the page's list follows
    await page.screenshot({ path: join(SCREENSHOTS, 'encryption.png') });
    await expectAccessible(page, 'encryption page');

    // A record sealed for the new key (accepted: it is registered), exported, decrypted by the CLI with the downloaded file.
    const word = `browsermade${nonce}`;
    const encryption = await createEncryption({ publicKey: browserMade.publicKey, searchSecret: browserMade.searchSecret });
    await api('/v1/logs', {
      method: 'POST',
      body: JSON.stringify([await encryption.encryptRecord({ timestamp: new Date().toISOString(), level: 'info', message: `hello ${word}`, service: 'made' })]),
    });
    await waitForRecords('service:made', 1);
    const exported = await (
      await fetch(`${stack.url}/v1/logs/export?format=ndjson&q=service:made`, { headers: { authorization: `Bearer ${stack.devApiKey}` } })
    ).text();
    expect(exported).not.toContain(word);
    const decrypted = await run('scripts/decrypt.ts', ['--key', path], exported);
    expect(decrypted.code, decrypted.stderr).toBe(0);
    expect(JSON.parse(decrypted.stdout.trim())).toMatchObject({ body: `hello ${word}`, decryptedWith: kid });
  });

  it('tells a session that may not manage keys to use the CLI, and offers no generation', async () => {
    const reader = await api<{ key: string }>('/v1/admin/tenants/dev/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'reader', scopes: ['logs:read'] }),
    });
    const readerContext = await browser.newContext({ baseURL: stack.url });
    const readerPage = await readerContext.newPage();
    readerPage.on('pageerror', (err) => pageErrors.push(err.message));
    await readerPage.goto('/encryption');
    await readerPage.getByTestId('credential').fill(reader.key);
    await readerPage.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => shown(readerPage.getByTestId('cannot-manage'))).toContain('admin');
    expect(await shown(readerPage.locator('body'))).toContain('npm run encryption-key -- create');
    expect(await readerPage.getByTestId('generate-key').count()).toBe(0);
    await readerPage.getByTestId('key-file').waitFor(); // loading a key needs no admin
    await readerContext.close();
  });

  it('forgets the keys on reload (the page says so) and on signing out', async () => {
    expect(await shown(page.locator('body'))).toContain('Reloading the page forgets it');
    await page.goto('/?q=service%3Abilling&range=1h');
    await expect.poll(rowTexts).toHaveLength(6);
    expect(await page.getByTestId('keys-indicator').count()).toBe(0);
    await expect.poll(async () => (await rowTexts()).every((t) => t.includes('encrypted — load key'))).toBe(true);
    expect(await shown(page.locator('body'))).not.toContain(SECRET_WORD);

    // Signing out (no reload: the same page) forgets them too.
    await loadKeyFiles(keyPath);
    await page.getByTestId('keys-indicator').waitFor();
    await page.getByTestId('sign-out').click();
    await page.getByTestId('credential').fill(stack.devApiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('query-input').waitFor();
    expect(await page.getByTestId('keys-indicator').count()).toBe(0);
  });

  it('sent no private key, search secret or blind-searched word in any request', () => {
    expect(requests.some((r) => r.method === 'POST' && r.url.endsWith('/encryption-keys'))).toBe(true);
    expect(requests.some((r) => r.url.includes('/v1/logs?'))).toBe(true);
    expect(browserMade).not.toBeNull();
    const secrets = {
      'CLI key d': key.privateKey.d!,
      'CLI key search secret': key.searchSecret,
      'other key d': other.privateKey.d!,
      'other key search secret': other.searchSecret,
      'browser-made key d': browserMade!.privateKey.d!,
      'browser-made search secret': browserMade!.searchSecret,
      'a word searched blind': SECRET_WORD,
      'a value searched blind': SECRET_VALUE,
    };
    const leaks = Object.entries(secrets).flatMap(([what, secret]) =>
      requests.filter((r) => r.text.includes(secret) || r.text.includes(encodeURIComponent(secret))).map((r) => `${what} in ${r.method} ${r.url}`),
    );
    expect(leaks).toEqual([]);
  });

  it('threw no uncaught exception in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
