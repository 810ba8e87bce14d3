/**
 * The encryption cases (cases.ts) in Chromium — Debian's, driven by
 * playwright-core, as the SDK's browser tests run it — for
 * `npm run bench:encryption`. The page loads the SDK's browser bundle of
 * `@neurallog/sdk/encryption` (sdk/build.ts, minified, as an application
 * ships it) from http://127.0.0.1 (a secure context: crypto.subtle exists),
 * and each round is one `page.evaluate` whose loop is timed with
 * `performance.now()` in the page. CPU is the renderer process's
 * (`ProcessTime` of the DevTools protocol's Performance.getMetrics: every
 * thread of the page's process, Blink's WebCrypto workers included).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { browserBundle } from '../../sdk/build.ts';
import { CHROMIUM } from '../../test/support/browser.ts';
import { type BenchKey, type CaseSpec, drive, type Figure } from './cases.ts';

export async function benchChromium(
  key: BenchKey,
  records: number,
  rounds: number,
  selected: readonly CaseSpec[],
): Promise<{ version: string; figures: Figure[] }> {
  const sdk = (await browserBundle({ entry: 'encryption', format: 'iife', globalName: 'nlEncryption' })).code;
  const cases = (
    await build({
      entryPoints: [new URL('./cases.ts', import.meta.url).pathname],
      bundle: true,
      format: 'iife',
      globalName: 'nlBenchCases',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'warning',
    })
  ).outputFiles[0]!.text;
  const server = createServer((req, res) => {
    const body =
      req.url === '/sdk.js'
        ? sdk
        : req.url === '/cases.js'
          ? cases
          : '<!doctype html><meta charset="utf-8"><script src="/sdk.js"></script><script src="/cases.js"></script>';
    res.writeHead(200, { 'content-type': req.url?.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.evaluate(async (k) => {
      const w = window as unknown as { nlEncryption: never; nlBenchCases: typeof import('./cases.ts'); cases: unknown };
      w.cases = await w.nlBenchCases.EncryptionCases.create(w.nlEncryption, k);
    }, key);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const processTimeMs = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return metrics.find((m) => m.name === 'ProcessTime')!.value * 1000;
    };
    const figures = await drive(
      async (name, n) => {
        const cpu0 = await processTimeMs();
        const wallMs = await page.evaluate(([c, m]) => (window as unknown as { cases: { run: (c: string, m: number) => Promise<number> } }).cases.run(c, m), [
          name,
          n,
        ] as const);
        return { name, records: n, wallMs, cpuMs: (await processTimeMs()) - cpu0 };
      },
      records,
      rounds,
      selected,
    );
    return { version: `Chromium ${browser.version()}`, figures };
  } finally {
    await browser.close();
    server.close();
  }
}
