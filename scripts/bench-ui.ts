/**
 * `npm run bench:ui`: the explorer's speed in headless Chromium (Debian's
 * chromium, NEURALLOG_CHROMIUM to point elsewhere) against the stack as
 * `npm start` runs it, with BENCH_UI_ROWS (default 1 million) records of the
 * Loghub corpus in the dev tenant over the last 24 hours.
 *
 * 1. First meaningful paint: a fresh browser (empty cache, the session cookie
 *    already set) opens `/?range=24h`; the time from navigation start to the
 *    first page of results on screen (the `neurallog:search-rendered` mark,
 *    set by the results list in the effect after the frame that shows them).
 *    First contentful paint (the shell) is reported alongside.
 * 2. Search rendered after the API answered: queries typed into the query bar
 *    one after the other; for each, `neurallog:search-rendered` minus
 *    `neurallog:search-answered` (the answer parsed).
 * 3. Scrolling 50,000 loaded rows: rows loaded through the list's own infinite
 *    scroll (the search cursor, 200 at a time), then the list scrolled from
 *    top to bottom, BENCH_UI_SCROLL_STEP pixels per animation frame, with a
 *    PerformanceObserver counting long tasks (over 50 ms) and the frame gaps
 *    measured.
 * 4. JavaScript shipped: the scripts the explorer page loads, raw and gzipped.
 *
 * Medians over BENCH_UI_REPEAT runs where a case repeats.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadLoghubRows } from './bench-corpus.ts';
import { startStackProcess, type Stack } from './bench-stack.ts';

const ROWS = Number(process.env.BENCH_UI_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_UI_REPEAT ?? 7);
const LOADED_ROWS = Number(process.env.BENCH_UI_LOADED_ROWS ?? 50_000);
const SCROLL_STEP = Number(process.env.BENCH_UI_SCROLL_STEP ?? 1_400);
const CHROMIUM = process.env.NEURALLOG_CHROMIUM ?? '/usr/bin/chromium';
const QUERIES = [
  'error',
  'service:openssh',
  'level:warn',
  'authentication failure',
  'status>=500',
  'attr.region:eu-west',
  'block',
  'NOT level:info',
  'session opened',
  '*',
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function max(values: number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

async function sessionCookie(stack: Stack): Promise<string> {
  const res = await fetch(`${stack.url}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ credential: stack.devApiKey }),
  });
  if (!res.ok) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  const cookie = /nl_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) throw new Error('sign-in: no session cookie');
  return cookie;
}

async function freshPage(browser: Browser, stack: Stack, cookie: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: stack.url });
  await context.addCookies([{ name: 'nl_session', value: cookie, url: stack.url }]);
  // tsx keeps function names with an `__name` helper; the functions this script evaluates in the page need it there too.
  await context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  return context.newPage();
}

/** Waits for a User Timing mark set after `since` (ms on the page's clock) and returns its time. */
async function markAfter(page: Page, name: string, since: number): Promise<number> {
  const handle = await page.waitForFunction(
    ([mark, after]) => {
      const found = performance.getEntriesByName(mark as string, 'mark').find((e) => e.startTime > (after as number));
      return found ? found.startTime : false;
    },
    [name, since] as const,
    { timeout: 30_000, polling: 20 },
  );
  return (await handle.jsonValue()) as number;
}

async function firstPaint(
  browser: Browser,
  stack: Stack,
  cookie: string,
): Promise<{ results: number; fcp: number; scripts: { url: string; raw: number; gzip: number }[] }> {
  const page = await freshPage(browser, stack, cookie);
  const scripts: { url: string; raw: number; gzip: number }[] = [];
  page.on('response', async (response) => {
    if (response.request().resourceType() !== 'script') return;
    const body = await response.body();
    scripts.push({ url: new URL(response.url()).pathname, raw: body.length, gzip: gzipSync(body, { level: 9 }).length });
  });
  await page.goto('/?range=24h');
  const results = await markAfter(page, 'neurallog:search-rendered', 0);
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN);
  await page.context().close();
  return { results, fcp, scripts };
}

async function searchRenders(page: Page): Promise<number[]> {
  const gaps: number[] = [];
  for (const q of QUERIES) {
    const since = await page.evaluate(() => performance.now());
    await page.getByTestId('query-input').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(q === '*' ? '' : q);
    await page.keyboard.press('Enter');
    const rendered = await markAfter(page, 'neurallog:search-rendered', since);
    const answered = await page.evaluate(
      (after) =>
        performance
          .getEntriesByName('neurallog:search-answered', 'mark')
          .filter((e) => e.startTime > after)
          .at(-1)!.startTime,
      since,
    );
    gaps.push(rendered - answered);
  }
  return gaps;
}

/** Loads rows through the list's infinite scroll until `target` are loaded; returns the count and seconds taken. */
async function loadRows(page: Page, target: number): Promise<{ rows: number; seconds: number }> {
  return page.evaluate(async (wanted) => {
    const list = document.querySelector<HTMLElement>('[data-testid="results"]')!;
    const rowHeight = 28;
    const count = () => Math.round(list.scrollHeight / rowHeight);
    const started = performance.now();
    let stalled = 0;
    while (count() < wanted && stalled < 200) {
      const before = count();
      list.scrollTop = list.scrollHeight;
      await new Promise((r) => setTimeout(r, 25));
      stalled = count() > before ? 0 : stalled + 1;
    }
    return { rows: count(), seconds: (performance.now() - started) / 1000 };
  }, target);
}

async function scrollThrough(page: Page, rows: number, step: number): Promise<{ longTasks: number[]; frames: number[]; seconds: number }> {
  return page.evaluate(
    async ([wanted, px]) => {
      const list = document.querySelector<HTMLElement>('[data-testid="results"]')!;
      list.scrollTop = 0;
      await new Promise((r) => setTimeout(r, 500));
      const longTasks: number[] = [];
      const observer = new PerformanceObserver((entries) => {
        for (const e of entries.getEntries()) longTasks.push(e.duration);
      });
      observer.observe({ type: 'longtask', buffered: false });
      const end = Math.min(list.scrollHeight - list.clientHeight, wanted * 28);
      const frames: number[] = [];
      const started = performance.now();
      await new Promise<void>((done) => {
        let last = performance.now();
        const frame = (now: number) => {
          frames.push(now - last);
          last = now;
          if (list.scrollTop >= end - 1) return done();
          list.scrollTop = Math.min(end, list.scrollTop + px);
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
      await new Promise((r) => setTimeout(r, 200));
      observer.disconnect();
      return { longTasks, frames: frames.slice(1), seconds: (performance.now() - started) / 1000 };
    },
    [rows, step] as const,
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-ui-'));
console.log(`NeuralLog UI bench: ${ROWS.toLocaleString('en')} records in the dev tenant, headless ${CHROMIUM}`);
const stack = await startStackProcess(dataDir);
let browser: Browser | undefined;
try {
  const loadSeconds = await loadLoghubRows(stack.clickhouseUrl, ['dev'], ROWS);
  console.log(`\nloaded in ${loadSeconds.toFixed(1)} s`);
  const cookie = await sessionCookie(stack);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

  // Warm the stack (the workers' first requests compile and open D1) before timing.
  await firstPaint(browser, stack, cookie);
  const paints = [];
  for (let i = 0; i < REPEAT; i++) paints.push(await firstPaint(browser, stack, cookie));
  const scripts = paints[0]!.scripts;
  const raw = scripts.reduce((n, s) => n + s.raw, 0);
  const gzip = scripts.reduce((n, s) => n + s.gzip, 0);
  console.log(
    `\n  first meaningful paint (fresh browser, empty cache; results of 24 h on screen):  median ${median(paints.map((p) => p.results)).toFixed(0)} ms, max ${max(paints.map((p) => p.results)).toFixed(0)} ms (goal < 1000)`,
  );
  console.log(`  first contentful paint (the shell):                                           median ${median(paints.map((p) => p.fcp)).toFixed(0)} ms`);
  console.log(`  JavaScript shipped: ${scripts.length} file(s), ${(raw / 1024).toFixed(1)} KB raw, ${(gzip / 1024).toFixed(1)} KB gzipped (goal < 200)`);

  const page = await freshPage(browser, stack, cookie);
  await page.goto('/?range=24h');
  await markAfter(page, 'neurallog:search-rendered', 0);
  const renders: number[] = [];
  for (let i = 0; i < Math.max(1, Math.ceil(REPEAT / 3)); i++) renders.push(...(await searchRenders(page)));
  console.log(
    `  search rendered after the API answered (${renders.length} searches):                median ${median(renders).toFixed(1)} ms, max ${max(renders).toFixed(1)} ms (goal < 200)`,
  );

  await page.getByTestId('query-input').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  const since = await page.evaluate(() => performance.now());
  await page.keyboard.press('Enter');
  await markAfter(page, 'neurallog:search-rendered', since);
  const loaded = await loadRows(page, LOADED_ROWS);
  console.log(`  rows loaded through infinite scroll: ${loaded.rows.toLocaleString('en')} in ${loaded.seconds.toFixed(1)} s`);
  const scroll = await scrollThrough(page, LOADED_ROWS, SCROLL_STEP);
  const over50 = scroll.longTasks.filter((d) => d > 50);
  console.log(
    `  scrolling ${Math.min(loaded.rows, LOADED_ROWS).toLocaleString('en')} rows top to bottom (${SCROLL_STEP} px a frame, ${scroll.frames.length} frames, ${scroll.seconds.toFixed(1)} s): ` +
      `long tasks > 50 ms: ${over50.length} (goal 0; longest task ${max(scroll.longTasks).toFixed(0)} ms), frame gap median ${median(scroll.frames).toFixed(1)} ms, max ${max(scroll.frames).toFixed(1)} ms`,
  );
} finally {
  await browser?.close();
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
