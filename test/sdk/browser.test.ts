/**
 * The SDK's core, unchanged, in Chromium (Debian's, driven by
 * playwright-core; skipped with a message without it): a page from the
 * ingest stand-in's origin loads the browser bundle and logs — gzip through
 * the page's CompressionStream; on page hide what is queued goes out with
 * `fetch(…, {keepalive: true})`; with persistence a batch whose answer was
 * lost when the page went away is sent again by the next page under the same
 * Idempotency-Key and stored once.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserBundle } from '../../sdk/build.ts';
import { CHROMIUM, haveChromium, warnIfNoChromium } from '../support/browser.ts';
import { type IngestStandIn, startIngestStandIn } from '../support/ingest-stand-in.ts';
import { eventually } from '../support/eventually.ts';

warnIfNoChromium('sdk');

const KEY = 'nlk_BRoWSeRKeY01_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBCCCCCC';
let ingest: IngestStandIn;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

/** What the stand-in ingest answered, for a wait's timeout: [answered, records] per request. */
const seenByTheIngest = () => `requests: ${JSON.stringify(ingest.requests.map((r) => [r.answered, r.records.length]))}`;

/** The batches the SDK keeps in this origin's IndexedDB: [Idempotency-Key, records]. */
async function savedBatches(): Promise<[string, number][]> {
  return page.evaluate(async () => {
    const [db] = await indexedDB.databases();
    if (!db?.name) return [];
    const open = indexedDB.open(db.name);
    const database = await new Promise<IDBDatabase>((resolve) => (open.onsuccess = () => resolve(open.result)));
    const all = database.transaction('batches').objectStore('batches').getAll();
    const batches = await new Promise<any[]>((resolve) => (all.onsuccess = () => resolve(all.result)));
    database.close();
    return batches.map((b) => [b.key, b.lines.length] as [string, number]);
  });
}

/** Opens the page and creates `window.log` with these options (endpoint and key added). */
async function openWithLogger(options: Record<string, unknown>): Promise<void> {
  await page.goto(`${ingest.url}/app`);
  await page.waitForFunction(() => (window as any).sdk);
  await page.evaluate(
    ([opts, key]) => {
      (window as any).log = (window as any).sdk.createLogger({ endpoint: location.origin, apiKey: key, service: 'web', ...opts });
    },
    [options, KEY] as const,
  );
}

describe.skipIf(!haveChromium)('the SDK in Chromium', () => {
  beforeAll(async () => {
    ingest = await startIngestStandIn();
    ingest.files.set('/sdk.js', ['text/javascript', (await browserBundle()).code]);
    // The page loads the bundle as an application would: a module script.
    const html = (name: string) =>
      `<!doctype html><html lang="en"><title>${name}</title><body>${name}<script type="module">import * as sdk from '/sdk.js'; window.sdk = sdk;</script></body></html>`;
    ingest.files.set('/app', ['text/html', html('app')]);
    ingest.files.set('/elsewhere', ['text/html', html('elsewhere')]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Without the back/forward cache a page navigated away from is gone, as a closed tab is: it can never see a late answer.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-features=BackForwardCache',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await ingest?.close();
  });

  beforeEach(async () => {
    await context?.close();
    context = await browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    ingest.requests.length = 0;
    ingest.stored.length = 0;
    ingest.script.length = 0;
  });

  it('logs from a page: gzip via CompressionStream, retried after a 503, flush() resolves once stored', async () => {
    // (A dropped connection would be retried by Chromium itself on a reused socket, unseen by the SDK: the end-to-end test drops them in the browser's network.)
    ingest.script.push({ status: 503, headers: { 'retry-after': '0' }, body: { error: 'buffer_full' } });
    await openWithLogger({ retry: { baseDelayMs: 20, maxDelayMs: 100 } });
    const stats = await page.evaluate(async () => {
      const log = (window as any).log;
      log.info('clicked buy', { button: 'buy', ua: navigator.userAgent });
      log.error(new Error('render failed', { cause: new Error('undefined is not a function') }));
      await log.flush();
      return log.stats();
    });
    expect(stats).toMatchObject({ logged: 2, acknowledged: 2, dropped: 0, retries: 1 });
    expect(ingest.requests.map((r) => r.answered)).toEqual([503, 202]);
    expect(ingest.requests[1]!.headers).toMatchObject({ 'content-encoding': 'gzip', authorization: `Bearer ${KEY}` });
    expect(ingest.stored).toMatchObject([
      { message: 'clicked buy', service: 'web', attributes: { button: 'buy', ua: expect.stringContaining('Chrome') } },
      { level: 'error', message: 'render failed', attributes: { error: { cause: { message: 'undefined is not a function' } } } },
    ]);
    expect(pageErrors).toEqual([]);
  });

  it('sends what is queued with keepalive when the page goes away', async () => {
    await openWithLogger({ flushIntervalMs: 600_000 });
    await page.evaluate(() => {
      for (let i = 0; i < 50; i++) (window as any).log.info(`queued ${i}`);
    });
    expect(ingest.requests).toEqual([]);
    await page.goto(`${ingest.url}/elsewhere`); // pagehide
    await eventually('the keepalive batch', () => ingest.stored.length >= 50, { timeoutMs: 15_000, intervalMs: 25, context: seenByTheIngest });
    expect(ingest.stored.map((r) => r.message)).toEqual(Array.from({ length: 50 }, (_, i) => `queued ${i}`));
    // Sent from the event handler itself: not compressed (that would wait for the event loop).
    expect(ingest.requests[0]!.headers['content-encoding']).toBeUndefined();
  });

  it('persists in IndexedDB: a tab hidden then killed — its batch’s answer never seen — is sent again by the next page, stored once', async () => {
    // The keepalive request is stored, but answered only after the tab is gone: the page never learns it was.
    ingest.script.push({ status: 202, delayMs: 5_000, body: { accepted: 20 } });
    await openWithLogger({ flushIntervalMs: 600_000, persist: true });
    await page.evaluate(() => {
      for (let i = 0; i < 20; i++) (window as any).log.info(`kept ${i}`);
    });
    // The user switches tabs: the page is hidden (the last event a mobile browser promises before killing a background tab).
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await eventually('the keepalive batch', () => ingest.requests.length >= 1, { timeoutMs: 15_000, intervalMs: 25, context: seenByTheIngest });
    expect(ingest.stored).toHaveLength(20);
    // Saved in IndexedDB (the write commits on the browser's time): the batch, under the key it was sent with.
    let saved = await savedBatches();
    for (const deadline = Date.now() + 5_000; saved.length === 0 && Date.now() < deadline; saved = await savedBatches())
      await new Promise((r) => setTimeout(r, 100));
    expect(saved).toEqual([[ingest.requests[0]!.headers['idempotency-key'], 20]]);
    // Then the tab is killed, no unload events: it never sees the late answer.
    await page.close({ runBeforeUnload: false });
    page = await context.newPage();
    // The next page of the origin: the saved batch goes again, under its key; the ingest replays its answer.
    await openWithLogger({ persist: true });
    await eventually('the restored batch', () => ingest.requests.length >= 2, { timeoutMs: 15_000, intervalMs: 25, context: seenByTheIngest });
    const stats = await page.evaluate(async () => {
      await (window as any).log.flush();
      return (window as any).log.stats();
    });
    expect(ingest.requests.map((r) => r.answered)).toEqual([202, 202]);
    expect(ingest.requests[1]!.headers['idempotency-key']).toBe(ingest.requests[0]!.headers['idempotency-key']);
    expect(ingest.stored.map((r) => r.message)).toEqual(Array.from({ length: 20 }, (_, i) => `kept ${i}`));
    expect(stats).toMatchObject({ acknowledged: 20, dropped: 0 });

    // Acknowledged, so removed: a third page sends nothing.
    await new Promise((r) => setTimeout(r, 200));
    expect(await savedBatches()).toEqual([]);
    await openWithLogger({ persist: true });
    await page.evaluate(() => (window as any).log.flush());
    await new Promise((r) => setTimeout(r, 300));
    expect(ingest.requests).toHaveLength(2);
  });
});
