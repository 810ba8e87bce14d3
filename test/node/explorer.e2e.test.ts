/**
 * The log explorer in a real browser: Debian's Chromium driven by
 * playwright-core, against the stack started as `npm start` starts it (the
 * gateway serving ui/dist). Screenshots of each main page are kept under
 * test-output/screenshots; axe-core checks accessibility.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { CHROMIUM, expectAccessible as expectAccessibleOn, haveChromium, SCREENSHOTS, warnIfNoChromium } from '../support/browser.ts';
import { startStack, type RunningStack } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';

warnIfNoChromium('explorer');

const marker = `ui${Date.now().toString(36)}`;
let dataDir: string;
let stack: RunningStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Uncaught exceptions in the page, over every test: there must be none. */
const pageErrors: string[] = [];

async function api<T>(path: string, init: RequestInit = {}, key = stack.devApiKey): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

async function newContext(): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: stack.url, acceptDownloads: true });
}

async function signIn(target: Page, key = stack.devApiKey): Promise<void> {
  await target.getByTestId('credential').fill(key);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByTestId('query-input').waitFor();
}

async function search(target: Page, q: string): Promise<void> {
  const input = target.getByTestId('query-input');
  await input.click();
  await target.keyboard.press('Control+A');
  await target.keyboard.type(q);
  await target.keyboard.press('Enter');
}

async function shot(name: string, target = page): Promise<void> {
  await target.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

const expectAccessible = (name: string, target = page) => expectAccessibleOn(target, name);

describe.skipIf(!haveChromium)('the log explorer, in Chromium', () => {
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'neurallog-ui-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    stack = await startStack({
      port: await freePort(),
      dataDir,
      embeddedClickHousePort: await freePort(),
      workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300', NEURALLOG_KEY_CACHE_TTL_MS: '1000', NEURALLOG_TAIL_MAX_RECORDS_PER_S: '100' },
    });
    // Records of the last half hour: four services, every level, a marker to find them by.
    const levels = ['info', 'info', 'info', 'warn', 'error', 'debug'];
    const records = Array.from({ length: 300 }, (_, i) => ({
      timestamp: new Date(Date.now() - 30 * 60_000 + i * 5_000).toISOString(),
      level: levels[i % levels.length],
      service: ['checkout', 'cart', 'auth', 'search'][i % 4],
      message: `${marker} request ${i} ${i % 7 === 0 ? 'connection reset by peer' : 'done'}`,
      region: i % 2 === 0 ? 'eu' : 'us',
      trace_id: (i % 50 === 0 ? 'a' : 'b').repeat(32),
    }));
    await api('/v1/logs', { method: 'POST', body: JSON.stringify(records) });
    await eventually('the 300 records searchable', async () => (await api<{ logs: unknown[] }>(`/v1/logs?q=${marker}&limit=1000`)).logs.length, {
      until: (found) => found === 300,
      timeoutMs: 20_000,
      intervalMs: 200,
    });
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
    context = await newContext();
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the explorer with a strict CSP and long-lived caching for hashed files', async () => {
    const res = await fetch(`${stack.url}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const asset = await fetch(`${stack.url}${script}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.arrayBuffer();
  });

  it('signs in with the dev key (the key is not kept by the page), and a search shows the rows and the histogram total the API gives', async () => {
    await page.goto('/');
    await shot('sign-in');
    await expectAccessible('sign-in');
    await signIn(page);
    expect(await page.evaluate(() => JSON.stringify(localStorage) + document.cookie)).not.toContain(stack.devApiKey);
    const q = `${marker} level:error`;
    await search(page, q);
    await expect.poll(() => page.url()).toContain(`q=${encodeURIComponent(q).replace(/%20/g, '+')}`);
    const answer = await api<{ logs: { id: string }[] }>(`/v1/logs?q=${encodeURIComponent(q)}&from=now-1h&to=now&limit=200`);
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(0);
    const shown = await page.getByTestId('result-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    expect(shown).toEqual(answer.logs.slice(0, shown.length).map((l) => l.id));
    const chart = await api<{ total: number }>(`/v1/logs/histogram?q=${encodeURIComponent(q)}&from=now-1h&to=now`);
    await expect.poll(async () => page.getByTestId('histogram-total').textContent()).toBe(`${chart.total.toLocaleString('en')} records`);
    expect(chart.total).toBe(50);
    await shot('explorer');
  });

  it('shows a syntax error at the position the API names', async () => {
    await search(page, 'level:error AND');
    const error = page.getByTestId('query-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^At 16: /);
    expect(await page.locator('.q-error').count()).toBe(1);
  });

  it('adds a facet value to the query, and the results follow', async () => {
    await search(page, marker);
    await page
      .getByTestId('facet')
      .filter({ hasText: /^service$/ })
      .click();
    await page.getByTestId('facet-value').filter({ hasText: 'cart' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(`${marker} service:cart`);
    await expect
      .poll(async () => (await page.locator('.row .col-service').allTextContents()).every((s) => s === 'cart') && (await page.locator('.row').count()) > 0)
      .toBe(true);
  });

  it('zooms by dragging across the histogram; back returns to the previous range', async () => {
    await search(page, marker);
    const plot = page.locator('.histogram-plot .u-over');
    await plot.waitFor();
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBeNull();
    expect(new URL(page.url()).searchParams.get('to')).not.toBeNull();
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).toBeNull();
  });

  it("opens a row's detail and the lines around it", async () => {
    await search(page, marker);
    const first = page.getByTestId('result-row').first();
    const id = await first.getAttribute('data-id');
    await first.click();
    await page.getByTestId('detail').waitFor();
    await page.getByTestId('context').waitFor();
    expect(await page.locator('.context li.current').count()).toBe(1);
    expect(new URL(page.url()).searchParams.get('row')).toBe(id);
    await shot('detail');
    await expectAccessible('explorer with a record open');
  });

  it('reproduces the view from its URL in a fresh browser', async () => {
    const url = page.url();
    const fresh = await newContext();
    const other = await fresh.newPage();
    await other.goto(url);
    await signIn(other);
    expect(other.url()).toBe(url);
    await other.getByTestId('detail').waitFor();
    expect(await other.getByTestId('query-input').textContent()).toBe(new URL(url).searchParams.get('q'));
    await expect.poll(async () => other.getByTestId('result-row').count()).toBeGreaterThan(0);
    await fresh.close();
  });

  it('is used from the keyboard: / focuses the query, j and k move, Enter opens a record, Esc closes it', async () => {
    await page.goto('/?range=1h');
    await page.getByTestId('query-input').waitFor();
    await page.locator('body').click({ position: { x: 5, y: 400 } });
    await page.keyboard.press('/');
    await page.keyboard.type(marker);
    await page.keyboard.press('Enter');
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(2);
    await page.getByTestId('results').focus();
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    const second = await page.getByTestId('result-row').nth(1).getAttribute('data-id');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('row')).toBe(second);
    await page.getByTestId('detail').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).searchParams.get('row')).toBeNull();
    expect(await page.getByTestId('detail').count()).toBe(0);
  });

  it('returns to sign-in when the session ends under it, and to the same view after signing in again', async () => {
    const url = `/?q=${encodeURIComponent(`${marker} service:cart`)}&range=1h`;
    await page.goto(url);
    await page.getByTestId('query-input').waitFor();
    // The session ends elsewhere (signed out in another tab): this page learns it at its next request.
    const cookie = (await context.cookies()).find((c) => c.name === 'nl_session')!;
    const session = await (await fetch(`${stack.url}/v1/session`, { headers: { cookie: `nl_session=${cookie.value}` } })).json();
    const ended = await fetch(`${stack.url}/v1/session`, {
      method: 'DELETE',
      headers: { cookie: `nl_session=${cookie.value}`, 'x-csrf-token': session.csrfToken },
    });
    expect(ended.status, await ended.text()).toBe(204);
    await new Promise((r) => setTimeout(r, 1200)); // the workers' credential cache
    await search(page, `${marker} service:cart`);
    await page.getByTestId('credential').waitFor();
    expect(page.url()).toContain('service%3Acart');
    await signIn(page);
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.get('q')).toBe(`${marker} service:cart`);
  });

  it('saves a search, opens it again after a reload, and exports the result set', async () => {
    await page.goto('/?range=1h');
    await page.getByTestId('query-input').waitFor();
    await search(page, `${marker} service:auth`);
    await page.getByTestId('saved-toggle').click();
    await page.getByTestId('saved-name').fill(`auth ${marker}`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page
      .getByTestId('saved-item')
      .filter({ hasText: `auth ${marker}` })
      .waitFor();
    await page.goto('/?q=nothing&range=15m');
    await page.getByTestId('saved-toggle').click();
    await page
      .getByTestId('saved-item')
      .filter({ hasText: `auth ${marker}` })
      .click();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(`${marker} service:auth`);
    expect(new URL(page.url()).searchParams.get('range')).toBe('1h');
    // Export: the download holds what search returns for the same scope.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-ndjson').click()]);
    const lines = (await streamText(await download.createReadStream()))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { service: string; id: string });
    const answer = await api<{ logs: { id: string }[] }>(`/v1/logs?q=${encodeURIComponent(`${marker} service:auth`)}&from=now-1h&to=now&limit=1000`);
    expect(lines.map((l) => l.id)).toEqual(answer.logs.map((l) => l.id));
    expect(lines.every((l) => l.service === 'auth')).toBe(true);
  });

  it('streams matching records in live tail within 2 s of their ingestion', async () => {
    const tag = `live${Date.now().toString(36)}`;
    await search(page, tag);
    await page.getByTestId('live-toggle').check();
    await page.locator('[data-testid="tail-status"][data-state="live"]').waitFor();
    const sent = Date.now();
    await api('/v1/logs', { method: 'POST', body: JSON.stringify([{ message: `${tag} arrived`, level: 'warn', service: 'tail' }]) });
    await page
      .getByTestId('live-row')
      .filter({ hasText: `${tag} arrived` })
      .waitFor({ timeout: 2000 });
    expect(Date.now() - sent).toBeLessThan(2000);
    await shot('live-tail');
    await page.getByTestId('live-toggle').uncheck();
  });

  it('tells how many records live tail dropped past its budget, pauses when scrolled, and resumes with what arrived meanwhile', async () => {
    const tag = `burst${Date.now().toString(36)}`;
    await search(page, tag);
    await page.getByTestId('live-toggle').check();
    await page.locator('[data-testid="tail-status"][data-state="live"]').waitFor();
    // 250 records at once against a budget of 100 a second (NEURALLOG_TAIL_MAX_RECORDS_PER_S above).
    const burst = Array.from({ length: 250 }, (_, i) => ({ message: `${tag} burst ${i}`, service: 'tail' }));
    await api('/v1/logs', { method: 'POST', body: JSON.stringify(burst) });
    const dropped = async () =>
      Number(
        (
          (await page
            .getByTestId('tail-dropped')
            .textContent()
            .catch(() => '')) ?? ''
        ).replace(/\D/g, '') || 0,
      );
    await expect.poll(async () => (await page.getByTestId('live-row').count()) + (await dropped()), { timeout: 10_000 }).toBe(250);
    expect(await dropped()).toBeGreaterThan(0);
    const shown = await page.getByTestId('live-row').count();
    // Scrolled away from the newest: the list holds still, new records wait behind "Resume".
    await page.locator('.live-rows').evaluate((list) => {
      list.scrollTop = 400;
    });
    await page.getByRole('button', { name: /Resume/ }).waitFor();
    await new Promise((r) => setTimeout(r, 1100)); // the budget refills
    await api('/v1/logs', { method: 'POST', body: JSON.stringify([1, 2, 3].map((i) => ({ message: `${tag} later ${i}`, service: 'tail' }))) });
    await page.getByRole('button', { name: 'Resume (3 new)' }).waitFor({ timeout: 5000 });
    expect(await page.getByTestId('live-row').count()).toBe(shown);
    await page.getByRole('button', { name: 'Resume (3 new)' }).click();
    await expect
      .poll(async () =>
        page
          .getByTestId('live-row')
          .filter({ hasText: `${tag} later` })
          .count(),
      )
      .toBe(3);
    expect(await page.getByTestId('live-row').count()).toBe(shown + 3);
    await page.getByTestId('live-toggle').uncheck();
  });

  it('reconnects a lost live tail with backoff, and records sent after it arrive', async () => {
    const tag = `relive${Date.now().toString(36)}`;
    // The page's sockets go through a proxy this test controls, so it can cut one as a network would.
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(
      (url) => url.pathname === '/v1/tail',
      (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      },
    );
    await search(page, tag);
    await page.getByTestId('live-toggle').check();
    await page.locator('[data-testid="tail-status"][data-state="live"]').waitFor();
    const opened = sockets.length;
    await sockets.at(-1)!.close({ code: 1001, reason: 'going away' }); // as when a server restarts
    await page.locator('[data-testid="tail-status"][data-state="reconnecting"]').waitFor();
    await page.locator('[data-testid="tail-status"][data-state="live"]').waitFor({ timeout: 5000 });
    expect(sockets.length).toBe(opened + 1);
    await api('/v1/logs', { method: 'POST', body: JSON.stringify([{ message: `${tag} after the reconnect`, service: 'tail' }]) });
    await page
      .getByTestId('live-row')
      .filter({ hasText: `${tag} after the reconnect` })
      .waitFor({ timeout: 5000 });
    await page.getByTestId('live-toggle').uncheck();
    await page.unrouteAll();
  });

  it('shows every API error as a message where its data would be (429 with its retry time, 503, no network as the query worker sends them; a real 403), never a blank page', async () => {
    await page.goto('/?range=1h');
    await page.getByTestId('query-input').waitFor();
    // The bodies and headers the query worker sends (workers/query/run-query.ts, shared/auth.ts).
    const failures: { status: number; headers: Record<string, string>; body: Record<string, unknown>; shown: RegExp }[] = [
      {
        status: 429,
        headers: { 'Retry-After': '7' },
        body: { error: 'too_many_queries', message: '4 searches of this tenant are running; the plan allows 4 at once — retry shortly', limit: 4 },
        shown: /retry shortly \(retry in 7 s\)/,
      },
      {
        status: 503,
        headers: { 'Retry-After': '5' },
        body: { error: 'unavailable', message: 'the log store cannot be reached; retry later' },
        shown: /cannot be reached; retry later/,
      },
      { status: 0, headers: {}, body: {}, shown: /server cannot be reached/ },
    ];
    for (const failure of failures) {
      await page.route(
        (url) => url.pathname === '/v1/logs' || url.pathname === '/v1/logs/histogram',
        (route) =>
          failure.status === 0
            ? route.abort('connectionrefused')
            : route.fulfill({
                status: failure.status,
                headers: { 'content-type': 'application/json', ...failure.headers },
                body: JSON.stringify(failure.body),
              }),
      );
      await search(page, `${marker} ${failure.status}`);
      await expect.poll(async () => page.getByTestId('results-error').textContent()).toMatch(failure.shown);
      expect(await page.locator('.histogram.message').textContent()).toMatch(failure.shown);
      expect(await page.getByTestId('query-input').isVisible()).toBe(true);
      await page.unrouteAll();
    }
    await shot('error');
    // A real 403: the tenant is suspended while the page is open.
    const suspend = (status: string) => api(`/v1/admin/tenants/dev`, { method: 'PATCH', body: JSON.stringify({ status }) }, stack.platformAdminToken);
    await suspend('suspended');
    try {
      await new Promise((r) => setTimeout(r, 1200)); // the workers' credential cache
      await search(page, `${marker} 403`);
      await expect.poll(async () => page.getByTestId('results-error').textContent()).toMatch(/this tenant is suspended/);
      expect(await page.locator('.histogram.message').textContent()).toMatch(/this tenant is suspended/);
    } finally {
      await suspend('active');
    }
    await new Promise((r) => setTimeout(r, 1200));
    // The API is back: the same page searches again.
    await search(page, marker);
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('results-error').count()).toBe(0);
  });

  it('shows the patterns of the range with their share and a sparkline, and a click searches one pattern', async () => {
    await page.goto('/patterns');
    await page.getByTestId('pattern-row').first().waitFor();
    const answer = await api<{ patterns: { patternId: string; template: string; count: number }[] }>('/v1/patterns?from=now-24h&to=now&limit=200');
    expect(await page.getByTestId('pattern-row').count()).toBe(answer.patterns.length);
    // The marker is a variable when its random letters happen to hold a run of digits: match the rest.
    const reset = answer.patterns.find((p) => p.template.endsWith(' request <*> connection reset by peer'))!;
    expect(reset).toBeDefined();
    const row = page.getByTestId('pattern-row').filter({ hasText: reset.template }).first();
    expect(await row.locator('svg.sparkline').count()).toBe(1);
    expect(await row.textContent()).toContain(reset.count.toLocaleString('en'));
    await shot('patterns');
    await expectAccessible('patterns');
    await row.getByRole('link').click();
    await page.waitForURL((url) => url.pathname === '/' && (url.searchParams.get('q') ?? '').startsWith('pattern:'));
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(0);
    for (const body of await page.getByTestId('result-row').allTextContents()) expect(body).toContain('connection reset by peer');
  });

  it('shows the anomalies of the range, says when there is no baseline yet, and opens the records of one', async () => {
    await page.goto('/anomalies');
    await page.getByTestId('baseline').waitFor();
    // A tenant with minutes of history: nothing judged on volume, every pattern new.
    expect(await page.getByTestId('baseline').textContent()).toContain('Fewer than 3 days');
    const kinds = await page.getByTestId('anomaly').evaluateAll((items) => items.map((i) => i.getAttribute('data-kind')));
    expect(kinds.length).toBeGreaterThan(0);
    expect(new Set(kinds)).toEqual(new Set(['new_pattern']));
    await shot('anomalies');
    await expectAccessible('anomalies');
    await page.getByTestId('anomaly').first().getByRole('button', { name: 'Show the records' }).click();
    await page.waitForURL((url) => url.pathname === '/' && (url.searchParams.get('q') ?? '').startsWith('pattern:') && url.searchParams.has('from'));
    await expect.poll(async () => page.getByTestId('result-row').count()).toBeGreaterThan(0);
  });

  it('shows the tenant pages to a key that may see them, and not to a logs:read key', async () => {
    for (const [path, name] of [
      ['/keys', 'keys'],
      ['/usage', 'usage'],
      ['/audit', 'audit'],
    ] as const) {
      await page.goto(path);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.locator('.loading, p.muted:text-is("Loading…")').waitFor({ state: 'detached' });
      await shot(name);
      await expectAccessible(name);
      if (name === 'usage') {
        // Each quota with its forecast, as /v1/limits gives it.
        const limits = await api<{ quota: { daily: { forecast: { reachesLimitAt: string | null } } } }>('/v1/limits');
        const forecasts = await page.getByTestId('quota-forecast').allTextContents();
        expect(forecasts).toHaveLength(2);
        const at = limits.quota.daily.forecast.reachesLimitAt;
        expect(forecasts[0]).toContain(at === null ? 'not used up before it resets' : at.replace('T', ' ').slice(0, 16));
      }
    }
    const reader = await api<{ key: string }>(`/v1/admin/tenants/dev/keys`, {
      method: 'POST',
      body: JSON.stringify({ name: 'ui reader', scopes: ['logs:read'] }),
    });
    const readerContext = await newContext();
    const readerPage = await readerContext.newPage();
    await readerPage.goto('/keys');
    await readerPage.getByTestId('credential').fill(reader.key);
    await readerPage.getByRole('button', { name: 'Sign in' }).click();
    await readerPage.getByText('may not open that page').waitFor();
    expect(await readerPage.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await readerContext.close();
  });

  it('fits a phone in a dark system theme: nothing wider than the screen, a record opens over the list', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      colorScheme: 'dark',
      baseURL: stack.url,
    });
    const small = await phone.newPage();
    small.on('pageerror', (err) => pageErrors.push(err.message));
    await small.goto(`/?q=${marker}&range=1h`);
    await signIn(small);
    await expect.poll(async () => small.getByTestId('result-row').count()).toBeGreaterThan(0);
    // The dark theme follows the system: the page's background is dark.
    const background = await small.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
    expect((r! + g! + b!) / 3, background).toBeLessThan(80);
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('phone-dark', small);
    await expectAccessible('phone, dark', small);
    await small.getByTestId('result-row').first().tap();
    await small.getByTestId('detail').waitFor();
    const detail = (await small.getByTestId('detail').boundingBox())!;
    expect(detail.width).toBeGreaterThan(350);
    await phone.close();
  });

  it('threw no uncaught exception in the page through all of the above', () => {
    expect(pageErrors).toEqual([]);
  });

  it('signs out: the session cookie no longer works', async () => {
    await page.goto('/');
    await page.getByTestId('query-input').waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'nl_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    await page.getByTestId('sign-out').click();
    await page.getByTestId('credential').waitFor();
    await new Promise((r) => setTimeout(r, 1200)); // the workers' credential cache (1 s here)
    const res = await fetch(`${stack.url}/v1/logs`, { headers: { cookie: `nl_session=${cookie!.value}` } });
    expect(res.status).toBe(401);
  });
});
