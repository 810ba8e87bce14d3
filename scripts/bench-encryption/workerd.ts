/**
 * The encryption cases (cases.ts) in workerd — Cloudflare's Workers runtime,
 * through Miniflare as scripts/workers-runtime.ts runs the workers — for
 * `npm run bench:encryption`. A worker bundled as wrangler bundles one runs
 * each round in one request. Inside a worker the clocks stand still while it
 * computes (Spectre mitigation), so wall time is the request's, taken here,
 * and CPU is the workerd process's (/proc/<pid>/stat, every thread; Linux).
 */
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { cpuSnapshot } from '../process-cpu.ts';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from 'miniflare';
import { type BenchKey, type CaseSpec, drive, type Figure } from './cases.ts';

/** The ingest worker's (workers/ingest/wrangler.toml). */
const COMPATIBILITY_DATE = '2026-11-01';

const WORKER = `
import * as sdk from '../../sdk/src/encryption/index.ts';
import { EncryptionCases } from './cases.ts';
let cases;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      cases = await EncryptionCases.create(sdk, await request.json());
      return new Response('ok');
    }
    await cases.run(url.searchParams.get('case'), Number(url.searchParams.get('n')));
    return new Response('ok');
  },
};`;

/** CPU ms of the workerd processes under this process (scripts/process-cpu.ts reads their utime + stime). */
function workerdCpuMs(): number {
  let seconds = 0;
  for (const [name, cpu] of cpuSnapshot()) if (name.startsWith('workerd')) seconds += cpu;
  return seconds * 1000;
}

export async function benchWorkerd(
  key: BenchKey,
  records: number,
  rounds: number,
  cases: readonly CaseSpec[],
): Promise<{ version: string; figures: Figure[] }> {
  const script = (
    await build({
      stdin: { contents: WORKER, resolveDir: new URL('.', import.meta.url).pathname, sourcefile: 'worker.ts', loader: 'ts' },
      bundle: true,
      format: 'esm',
      target: 'es2024',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['browser', 'module', 'main'],
      write: false,
      logLevel: 'warning',
    })
  ).outputFiles[0]!.text;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      log: new Log(LogLevel.WARN),
      telemetry: { enabled: false },
      cf: false,
      workers: [{ name: 'bench-encryption', compatibilityDate: COMPATIBILITY_DATE, modules: [{ type: 'ESModule', path: 'worker.js', contents: script }] }],
    }),
  );
  try {
    const url = await mf.ready;
    const setup = await mf.dispatchFetch(new URL('/setup', url), { method: 'POST', body: JSON.stringify(key) });
    if (!setup.ok) throw new Error(`workerd setup: ${setup.status} ${await setup.text()}`);
    await setup.text();
    const figures = await drive(
      async (name, n) => {
        const cpu0 = workerdCpuMs();
        const t0 = performance.now();
        const res = await mf.dispatchFetch(new URL(`/run?case=${encodeURIComponent(name)}&n=${n}`, url));
        if (!res.ok) throw new Error(`workerd ${name}: ${res.status} ${await res.text()}`);
        await res.text();
        return { name, records: n, wallMs: performance.now() - t0, cpuMs: workerdCpuMs() - cpu0 };
      },
      records,
      rounds,
      cases,
    );
    const version = JSON.parse(readFileSync(new URL('../../node_modules/workerd/package.json', import.meta.url), 'utf8')).version as string;
    return { version: `workerd ${version}`, figures };
  } finally {
    await mf.dispose();
  }
}
