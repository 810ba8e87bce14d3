/**
 * The client SDK against the stack started as `npm start` starts it (one
 * start for the file): records logged from Node are stored once — a retry after
 * a lost answer included — and found by search; a browser page built with the
 * SDK ships through a network that drops its first attempts (retried, stored
 * once); and a burst larger than a Starter tenant's rate is smoothed by the
 * SDK's pacing with no record lost.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { browserBundle } from '../../sdk/build.ts';
import { createLogger, type DropEvent } from '../../sdk/src/index.ts';
import { freePort } from '../../scripts/ports.ts';
import { PROJECT_ROOT, type RunningStack, startStack } from '../../scripts/stack.ts';
import { PLANS } from '../../shared/plans.ts';
import { CHROMIUM, haveChromium, warnIfNoChromium } from '../support/browser.ts';
import { eventually } from '../support/eventually.ts';

warnIfNoChromium('sdk end to end');
const execFileAsync = promisify(execFile);
let dataDir: string;
let stack: RunningStack;

/** Rows of a tenant whose body contains `marker`: how many, and how many distinct bodies — equal when each was stored once. */
async function countStored(tenant: string, marker: string, expected: number): Promise<{ rows: number; distinct: number }> {
  const clickhouse = createClient({ url: stack.clickhouseUrl, database: 'neurallog' });
  const count = async () => {
    const [row] = await (
      await clickhouse.query({
        query: 'SELECT count() AS rows, uniqExact(Body) AS distinct FROM logs WHERE TenantId = {t:String} AND position(Body, {m:String}) > 0',
        query_params: { t: tenant, m: marker },
        format: 'JSONEachRow',
      })
    ).json<{ rows: string; distinct: string }>();
    return { rows: Number(row?.rows ?? 0), distinct: Number(row?.distinct ?? 0) };
  };
  try {
    await eventually(`${expected} rows of ${tenant} holding ${marker}`, count, {
      until: (counts) => counts.rows >= expected,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    // A moment more: a duplicate would land with the same flush or the next.
    await new Promise((r) => setTimeout(r, 1_000));
    return await count();
  } finally {
    await clickhouse.close();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-sdk-'));
  stack = await startStack({ port: await freePort(), dataDir, embeddedClickHousePort: await freePort(), workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' } });
});

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the SDK against the stack', () => {
  it('stores what Node logs once — the retry of a batch whose answer was lost included — and search finds it', async () => {
    const marker = `sdke2e${Date.now().toString(36)}`;
    let lose = 1;
    const log = createLogger({
      endpoint: stack.url,
      apiKey: stack.devApiKey,
      service: 'orders',
      maxBatchRecords: 100,
      retry: { baseDelayMs: 50 },
      // The first answer is lost on its way back: the batch was stored, the SDK cannot know.
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (lose-- > 0) {
          await res.arrayBuffer();
          throw new TypeError('connection reset');
        }
        return res;
      },
    });
    for (let i = 0; i < 300; i++) log.child({ order: `A-${i}` }).info(`${marker} order ${i} placed`, { total: i * 1.5 });
    log.error(`${marker} payment failed`, { err: new Error('card declined', { cause: new Error('issuer unavailable') }) });
    expect(await log.close()).toBe(true);
    expect(log.stats()).toMatchObject({ logged: 301, acknowledged: 301, dropped: 0, retries: 1 });

    expect(await countStored('dev', marker, 301)).toEqual({ rows: 301, distinct: 301 });
    const res = await fetch(`${stack.url}/v1/logs?q=${marker}+payment&level=error&from=now-1h`, { headers: { authorization: `Bearer ${stack.devApiKey}` } });
    const { logs } = (await res.json()) as { logs: { body: string; service: string; severityText: string; attributes: Record<string, string> }[] };
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ body: `${marker} payment failed`, service: 'orders', severityText: 'error' });
    expect(logs[0]!.attributes).toMatchObject({ 'err.name': 'Error', 'err.message': 'card declined', 'err.cause.message': 'issuer unavailable' });
  });

  it.skipIf(!haveChromium)('ships from a browser page through a network that drops the first attempts: retried, stored once', async () => {
    const marker = `sdkweb${Date.now().toString(36)}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const context = await browser.newContext();
      // The page is served from the stack's origin (a page elsewhere: the next test).
      const bundle = (await browserBundle()).code;
      await context.route(`${stack.url}/sdk-e2e/**`, (route) =>
        route.fulfill(
          route.request().url().endsWith('.js')
            ? { contentType: 'text/javascript', body: bundle }
            : {
                contentType: 'text/html',
                body: '<!doctype html><html lang="en"><title>shop</title><script type="module">import * as sdk from "/sdk-e2e/sdk.js"; window.sdk = sdk;</script></html>',
              },
        ),
      );
      // The network: the first attempt is lost before the ingest, the second after it stored the batch.
      const attempts: { key: string | undefined; fate: string }[] = [];
      await context.route(`${stack.url}/v1/logs`, async (route) => {
        const key = (await route.request().allHeaders())['idempotency-key'];
        if (attempts.length === 0) {
          attempts.push({ key, fate: 'dropped before the ingest' });
          await route.abort('connectionreset');
        } else if (attempts.length === 1) {
          const answer = await route.fetch();
          attempts.push({ key, fate: `reached the ingest (${answer.status()}), answer dropped` });
          await route.abort('connectionreset');
        } else {
          const answer = await route.fetch();
          attempts.push({ key, fate: `answered ${answer.status()}` });
          await route.fulfill({ response: answer });
        }
      });
      const page = await context.newPage();
      await page.goto(`${stack.url}/sdk-e2e/shop.html`);
      await page.waitForFunction(() => (window as any).sdk);
      const stats = await page.evaluate(
        async ([key, tag]) => {
          const log = (window as any).sdk.createLogger({ endpoint: location.origin, apiKey: key, service: 'shop-web', retry: { baseDelayMs: 100 } });
          for (let i = 0; i < 40; i++) log.info(`${tag} product ${i} viewed`, { path: location.pathname });
          log.error(new Error(`${tag} checkout crashed`));
          await log.flush();
          return log.stats();
        },
        [stack.devApiKey, marker] as const,
      );
      expect(attempts.map((a) => a.fate)).toEqual(['dropped before the ingest', 'reached the ingest (202), answer dropped', 'answered 202']);
      expect(new Set(attempts.map((a) => a.key)).size).toBe(1);
      expect(stats).toMatchObject({ logged: 41, acknowledged: 41, dropped: 0, retries: 2 });
      expect(await countStored('dev', marker, 41)).toEqual({ rows: 41, distinct: 41 });
    } finally {
      await browser.close();
    }
  });

  it.skipIf(!haveChromium)(
    'ships from a page of another origin (CORS: the preflight allows POST with the key and the SDK reads the RateLimit headers)',
    async () => {
      const marker = `sdkcors${Date.now().toString(36)}`;
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const context = await browser.newContext();
        // The shop's own origin: a server of its own on another port (a real one — a page the browser thinks public
        // could not reach a loopback endpoint at all, by Private Network Access, whatever CORS says).
        const bundle = (await browserBundle()).code;
        const server = createServer((req, res) => {
          const js = req.url === '/sdk.js';
          res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
          res.end(
            js
              ? bundle
              : '<!doctype html><html lang="en"><title>shop</title><script type="module">import * as sdk from "/sdk.js"; window.sdk = sdk;</script></html>',
          );
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const shop = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
        const page = await context.newPage();
        await page.goto(`${shop}/index.html`);
        await page.waitForFunction(() => (window as any).sdk);
        const result = await page.evaluate(
          async ([endpoint, key, tag]) => {
            const drops: string[] = [];
            const log = (window as any).sdk.createLogger({
              endpoint,
              apiKey: key,
              service: 'shop-cors',
              retry: { baseDelayMs: 50, maxAttempts: 3 },
              onDrop: (d: { reason: string; message?: string }) => drops.push(`${d.reason}: ${d.message ?? ''}`),
            });
            for (let i = 0; i < 20; i++) log.info(`${tag} basket ${i} updated`);
            await log.flush();
            // What the page can read of an answer across origins: the exposed headers.
            const probe = await fetch(`${endpoint}/v1/logs`, {
              method: 'POST',
              headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `${tag}-probe` },
              body: JSON.stringify([{ message: `${tag} probe` }]),
            });
            return { origin: location.origin, stats: log.stats(), drops, rateLimit: probe.headers.get('ratelimit'), status: probe.status };
          },
          [stack.url, stack.devApiKey, marker] as const,
        );
        expect(result.origin).toBe(shop);
        expect(result.drops).toEqual([]);
        expect(result.stats).toMatchObject({ logged: 20, acknowledged: 20, dropped: 0 });
        expect(result.status).toBe(202);
        expect(result.rateLimit).toMatch(/r=\d+/);
        expect(await countStored('dev', marker, 21)).toEqual({ rows: 21, distinct: 21 });
      } finally {
        await browser.close();
      }
    },
  );

  it('smooths a burst larger than a Starter tenant’s rate: no record lost, none dropped, the rate the bound', async () => {
    const env = { ...process.env, NEURALLOG_URL: stack.url, NEURALLOG_PLATFORM_ADMIN_TOKEN: stack.platformAdminToken };
    const cli = (...args: string[]) => execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { env, cwd: PROJECT_ROOT });
    const tenant = `sdk-burst-${Date.now().toString(36)}`;
    await cli('tenant', 'create', tenant, '--plan', 'starter');
    const key = /nlk_[0-9A-Za-z_]+/.exec((await cli('key', 'create', tenant, '--scopes', 'logs:write')).stdout)![0];
    const { ingestRecordsBurst: burst, ingestRecordsPerSecond: rate } = PLANS.starter;
    const total = burst + 4 * rate; // the whole burst, then four seconds' worth over it

    const drops: DropEvent[] = [];
    // The job logs it all at once: its queue is sized to hold it (the default, 10,000, would drop the oldest and say so).
    const log = createLogger({ endpoint: stack.url, apiKey: key, service: 'batch-job', maxQueueRecords: total, onDrop: (e) => drops.push(e) });
    const start = Date.now();
    for (let i = 0; i < total; i++) log.info(`${tenant} item ${i}`, { i });
    expect(await log.close()).toBe(true);
    const elapsed = Date.now() - start;
    const stats = log.stats();
    console.log(
      `sdk burst: ${total} records to a Starter tenant (${rate}/s, burst ${burst}) in ${elapsed} ms; paced ${stats.pacedMs} ms, ${stats.rateLimited} answers 429, ${stats.batches} batches`,
    );
    expect(drops).toEqual([]);
    expect(stats).toMatchObject({ logged: total, acknowledged: total, dropped: 0 });
    expect(stats.pacedMs).toBeGreaterThan(0); // the RateLimit headers held it back…
    expect(elapsed).toBeGreaterThanOrEqual(((total - burst) / rate) * 1000 - 1_000); // …at the plan's rate
    expect(await countStored(tenant, tenant, total)).toEqual({ rows: total, distinct: total });
  });
});
