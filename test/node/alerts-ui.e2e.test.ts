/**
 * The Alerts page in a real browser (Debian's Chromium driven by
 * playwright-core, as test/node/explorer.e2e.test.ts does), against the stack
 * started as `npm start` starts it: a threshold rule created through the form
 * is listed; a broken query is refused with the error next to the query
 * field; three error records make the alert fire on the page within ~10 s
 * (its periodic refresh), and the history shows it; a test notification
 * shows what the target answered; a muted rule is marked; the refresh stops
 * when the page is left; Explore's "Create alert" opens the form on its query.
 * axe-core checks accessibility.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { CHROMIUM, expectAccessible as expectAccessibleOn, haveChromium, SCREENSHOTS, warnIfNoChromium } from '../support/browser.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';

warnIfNoChromium('alerts ui');

const SERVICE = 'ui-test';
const QUERY = `service:${SERVICE} level:error`;
const RULE_NAME = 'ui-test errors';
let dataDir: string;
let stack: RunningStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: Server;
let receiverUrl: string;
/** Bodies the webhook target was sent. */
const received: unknown[] = [];
/** Uncaught exceptions in the page, over every test: there must be none. */
const pageErrors: string[] = [];
let ruleId = '';

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function signIn(target: Page): Promise<void> {
  await target.getByTestId('credential').fill(stack.devApiKey);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByTestId('sign-out').waitFor();
}

const expectAccessible = (name: string, target = page) => expectAccessibleOn(target, name);

/** The form's field by its label (exactly). */
const field = (label: string) => page.getByTestId('rule-form').getByLabel(label, { exact: true });

describe.skipIf(!haveChromium)('the Alerts page, in Chromium', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'neurallog-alerts-ui-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    // A webhook receiver that takes everything: the target the rule notifies.
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push(body ? JSON.parse(body) : null);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    const receiverPort = await freePort();
    await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${receiverPort}/hook`;
    stack = await startStack({
      port: await freePort(),
      dataDir,
      embeddedClickHousePort: await freePort(),
      workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300', NEURALLOG_KEY_CACHE_TTL_MS: '1000', NEURALLOG_ALERT_EVALUATION_DELAY_S: '2' },
    });
    await api('/v1/alerts/targets', { method: 'POST', body: JSON.stringify({ kind: 'webhook', name: 'ui hook', url: receiverUrl }) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: stack.url });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('opens /alerts after signing in, each part saying it has nothing yet', async () => {
    await page.goto('/alerts');
    await signIn(page);
    expect(new URL(page.url()).pathname).toBe('/alerts');
    await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    await page.getByText('No alert is pending or firing').waitFor();
    await page.getByText('No alert rules yet').waitFor();
    await page.getByText('Nothing has happened to any alert yet.').waitFor();
    expect(await page.getByRole('link', { name: 'Alerts' }).getAttribute('aria-current')).toBe('page');
    await expectAccessible('alerts, empty');
  });

  it('creates a threshold rule through the form, and lists it with its condition', async () => {
    await page.getByTestId('new-rule').click();
    await field('Name').fill(RULE_NAME);
    await field('Query').fill(QUERY);
    await field('Comparison').selectOption('>');
    await field('Records').fill('2');
    await field('In a window of').fill('1m');
    await field('Evaluated every').fill('10s');
    await page.getByTestId('rule-form').getByLabel('ui hook').check();
    await expectAccessible('alerts, rule form');
    await page.getByRole('button', { name: 'Create rule' }).click();
    const row = page.getByTestId('rule-row').filter({ hasText: RULE_NAME });
    await row.waitFor();
    expect(await page.getByTestId('rule-form').count()).toBe(0);
    expect(await row.getByTestId('rule-condition').textContent()).toBe('> 2 in 1m');
    expect(await row.textContent()).toContain(QUERY);
    expect(await row.textContent()).toContain('ui hook');
    ruleId = (await row.getAttribute('data-rule'))!;
    const stored = await api<{ rules: { id: string; rule: Record<string, unknown> }[] }>('/v1/alerts/rules');
    expect(stored.rules.find((r) => r.id === ruleId)?.rule).toMatchObject({
      name: RULE_NAME,
      query: QUERY,
      condition: { kind: 'threshold', op: '>', value: 2, window: '1m' },
      interval: '10s',
      severity: 'warning',
    });
  });

  it('shows a broken query’s error next to the query field, at its position', async () => {
    await page.getByTestId('new-rule').click();
    await field('Name').fill('broken');
    await field('Query').fill('level:error AND');
    await page.getByRole('button', { name: 'Create rule' }).click();
    const error = page.getByTestId('field-error-query');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^At 16: /);
    expect(await field('Query').getAttribute('aria-invalid')).toBe('true');
    expect((await field('Query').getAttribute('aria-describedby'))?.split(' ')).toContain('rule-query-error');
    // The error sits in the query's own field, not elsewhere in the form.
    expect(await page.locator('.field:has(#rule-query) [data-testid="field-error-query"]').count()).toBe(1);
    expect(await page.getByTestId('rule-form-error').count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'alerts-form-error.png') });
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByTestId('rule-row').count()).toBe(1);
  });

  it('shows the alert firing within ~10 s of three error records, and the firing in the history', async () => {
    const records = [1, 2, 3].map((i) => ({ service: SERVICE, level: 'error', message: `ui test failure ${i}` }));
    await api('/v1/logs', { method: 'POST', body: JSON.stringify(records) });
    const sent = Date.now();
    // No reload: the page reads the current alerts again every 5 s.
    await page.locator(`[data-testid="current-alert"][data-rule="${ruleId}"][data-state="firing"]`).waitFor({ timeout: 12_000 });
    console.log(`alerts ui: firing shown ${Date.now() - sent} ms after the records were acknowledged`);
    const alert = page.locator(`[data-testid="current-alert"][data-rule="${ruleId}"]`);
    expect(await alert.textContent()).toContain(RULE_NAME);
    await page.locator(`[data-testid="history-event"][data-rule="${ruleId}"][data-event="firing"]`).waitFor({ timeout: 8_000 });
    // The history filtered to the rule shows it too.
    await page.getByTestId('history-rule').selectOption(ruleId);
    await page.locator('[data-testid="history-event"][data-event="firing"]').waitFor();
    expect(
      await page.getByTestId('history-event').evaluateAll((rows) => rows.every((r) => r.getAttribute('data-rule') === rows[0]!.getAttribute('data-rule'))),
    ).toBe(true);
    await page.getByTestId('history-rule').selectOption('');
    await page.locator(`[data-testid="history-event"][data-rule="${ruleId}"][data-event="firing"]`).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'alerts.png'), fullPage: true });
    await expectAccessible('alerts, firing');
  });

  it('sends a test notification and shows what each target answered', async () => {
    const row = page.getByTestId('rule-row').filter({ hasText: RULE_NAME });
    await row.getByRole('button', { name: 'Test' }).click();
    const delivery = page.getByTestId('test-delivery');
    await delivery.waitFor({ timeout: 10_000 });
    expect(await delivery.getAttribute('data-delivered')).toBe('true');
    expect(await delivery.textContent()).toContain('ui hook');
    expect(received.some((b) => (b as { labels?: Record<string, string> } | null)?.labels?.test === 'true')).toBe(true);
    await page.getByTestId('test-result').getByRole('button', { name: 'Close' }).click();
  });

  it('mutes the rule: the rule and its alert are marked muted', async () => {
    const row = page.getByTestId('rule-row').filter({ hasText: RULE_NAME });
    await row.getByRole('button', { name: 'Mute' }).click();
    await page.getByTestId('mute-for').selectOption({ label: '1 hour' });
    await page.getByTestId('confirm-mute').click();
    await page.locator(`[data-testid="rule-row"][data-rule="${ruleId}"][data-muted="true"]`).waitFor();
    expect(await row.getByTestId('rule-muted').textContent()).toMatch(/^muted until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    await page.locator(`[data-testid="current-alert"][data-rule="${ruleId}"] [data-testid="alert-muted"]`).waitFor({ timeout: 8_000 });
    const stored = await api<{ mutedUntil: string | null }>(`/v1/alerts/rules/${ruleId}`);
    expect(Date.parse(stored.mutedUntil!)).toBeGreaterThan(Date.now() + 55 * 60_000);
    expect(await row.getByRole('button', { name: 'Unmute' }).count()).toBe(1);
  });

  it('edits a rule (keeping what the form does not show) and deletes one after a confirmation', async () => {
    const other = await api<{ id: string }>('/v1/alerts/rules', {
      method: 'POST',
      body: JSON.stringify({ name: 'to delete', query: 'service:nobody', labels: { team: 'ui' }, condition: { kind: 'absence', below: 1, window: '10m' } }),
    });
    // Made elsewhere: the page's refresh brings it in.
    const otherRow = page.locator(`[data-testid="rule-row"][data-rule="${other.id}"]`);
    await otherRow.waitFor();
    expect(await otherRow.getByTestId('rule-condition').textContent()).toBe('< 1 in 10m');
    await otherRow.getByRole('button', { name: 'Edit' }).click();
    expect(await field('Condition').inputValue()).toBe('absence');
    expect(await field('Fewer than (records)').inputValue()).toBe('1');
    await field('Fewer than (records)').fill('3');
    await page.getByRole('button', { name: 'Save rule' }).click();
    await expect.poll(async () => otherRow.getByTestId('rule-condition').textContent()).toBe('< 3 in 10m');
    const edited = await api<{ version: number; rule: Record<string, unknown> }>(`/v1/alerts/rules/${other.id}`);
    expect(edited.version).toBe(2);
    expect(edited.rule).toMatchObject({ name: 'to delete', labels: { team: 'ui' }, condition: { kind: 'absence', below: 3, window: '10m' } });
    await otherRow.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Delete the rule “to delete”?').waitFor();
    expect(await otherRow.count()).toBe(1); // nothing deleted before the confirmation
    await page.getByTestId('confirm-delete').click();
    await otherRow.waitFor({ state: 'detached' });
    await expect.poll(async () => (await api<{ rules: { id: string }[] }>('/v1/alerts/rules')).rules.map((r) => r.id)).toEqual([ruleId]);
  });

  it('shows an API error where its part would be, and recovers at the next refresh', async () => {
    await page.route(
      (url) => url.pathname === '/v1/alerts',
      (route) =>
        route.fulfill({
          status: 503,
          headers: { 'content-type': 'application/json', 'Retry-After': '5' },
          body: JSON.stringify({ error: 'unavailable', message: 'the alert evaluator cannot be reached; retry later' }),
        }),
    );
    await page.getByTestId('current-error').waitFor({ timeout: 8_000 });
    expect(await page.getByTestId('current-error').textContent()).toContain('the alert evaluator cannot be reached; retry later');
    // What was shown stays, and the other parts are untouched.
    expect(await page.locator(`[data-testid="current-alert"][data-rule="${ruleId}"]`).count()).toBe(1);
    expect(await page.getByTestId('rule-row').count()).toBe(1);
    await page.unrouteAll();
    await page.getByTestId('current-error').waitFor({ state: 'detached', timeout: 8_000 });
  });

  it('pages the history back with "Older events", asking for what is before the previous page', async () => {
    const event = (seq: number, name: string) => ({
      seq,
      at: new Date().toISOString(),
      ruleId: 'r-paged',
      ruleName: name,
      group: {},
      event: 'pending',
      value: 1,
      detail: null,
    });
    const asked: (string | null)[] = [];
    await page.route(
      (url) => url.pathname === '/v1/alerts/history',
      (route) => {
        const before = new URL(route.request().url()).searchParams.get('before');
        asked.push(before);
        const body = before === null ? { events: [event(900, 'newest page')], next: 900 } : { events: [event(12, 'older page')], next: null };
        return route.fulfill({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      },
    );
    await page.locator('[data-testid="history-event"]', { hasText: 'newest page' }).waitFor({ timeout: 8_000 });
    await page.getByTestId('history-older').click();
    await page.locator('[data-testid="history-event"]', { hasText: 'older page' }).waitFor();
    expect(asked).toContain('900');
    expect(await page.getByTestId('history-older').count()).toBe(0); // next: null, the end
    expect(await page.getByTestId('history-event').allTextContents()).toEqual([expect.stringContaining('newest page'), expect.stringContaining('older page')]);
    await page.unrouteAll();
  });

  it('shows a key with alerts:read only the alerts, without the actions that change them; fits a phone in a dark theme', async () => {
    const reader = await api<{ key: string }>('/v1/admin/tenants/dev/keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'alerts reader', scopes: ['alerts:read'] }),
    });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: 'dark', baseURL: stack.url });
    const small = await phone.newPage();
    small.on('pageerror', (err) => pageErrors.push(err.message));
    await small.goto('/alerts');
    await small.getByTestId('credential').fill(reader.key);
    await small.getByRole('button', { name: 'Sign in' }).click();
    await small.locator(`[data-testid="rule-row"][data-rule="${ruleId}"]`).waitFor();
    await small.locator(`[data-testid="current-alert"][data-rule="${ruleId}"]`).waitFor();
    await small.locator('[data-testid="history-event"]').first().waitFor();
    expect(await small.getByTestId('new-rule').count()).toBe(0);
    expect(await small.getByRole('button', { name: /^(Edit|Mute|Unmute|Test|Delete)$/ }).count()).toBe(0);
    expect(await small.getByRole('link', { name: 'Explore' }).count()).toBe(0); // no logs:read
    // Nothing wider than the screen: neither the document nor the app's scrolling content.
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await small.locator('.content').evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    await small.screenshot({ path: join(SCREENSHOTS, 'alerts-phone-dark.png') });
    await expectAccessible('alerts, read-only, phone, dark', small);
    await phone.close();
  });

  it('stops refreshing when the page is left; Explore’s "Create alert" opens the form on its query', async () => {
    const polls: number[] = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname === '/v1/alerts') polls.push(Date.now());
    });
    // Left for Explore inside the app (no reload that would stop a timer anyway): a refresh period passes without a read.
    await page.getByRole('link', { name: 'Explore' }).click();
    const left = Date.now();
    await page.getByTestId('query-input').waitFor();
    await new Promise((r) => setTimeout(r, 5_500));
    expect(polls.filter((t) => t > left + 200)).toEqual([]);
    await page.goto(`/?q=${encodeURIComponent(QUERY)}&range=1h`);
    await page.getByTestId('query-input').waitFor();
    await page.getByTestId('create-alert').click();
    await page.waitForURL((url) => url.pathname === '/alerts' && url.searchParams.get('new') === '1');
    expect(new URL(page.url()).searchParams.get('q')).toBe(QUERY);
    await page.getByTestId('rule-form').waitFor();
    expect(await field('Query').inputValue()).toBe(QUERY);
    expect(await field('Name').evaluate((el) => el === document.activeElement)).toBe(true);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL((url) => url.pathname === '/alerts' && !url.searchParams.has('new'));
  });

  it('threw no uncaught exception in the page through all of the above', () => {
    expect(pageErrors).toEqual([]);
  });
});
