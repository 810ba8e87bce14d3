/**
 * Builds @neurallog/sdk into sdk/dist: one ES module per entry point (the
 * core, and each adapter, which keep their libraries external), code they
 * share in a chunk, and the type declarations (tsc). `npm run build:sdk`.
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

export const SDK_ROOT = dirname(fileURLToPath(import.meta.url));
export const SDK_DIST = join(SDK_ROOT, 'dist');

const ENTRIES = {
  index: 'src/index.ts',
  pino: 'src/adapters/pino.ts',
  winston: 'src/adapters/winston.ts',
  opentelemetry: 'src/adapters/opentelemetry.ts',
  encryption: 'src/encryption/index.ts',
};

/** Into sdk/dist, or `outdir` (tests build their own copy: under the repository, so the adapters find their libraries). */
export async function buildSdk(options: { types?: boolean; outdir?: string } = {}): Promise<void> {
  const outdir = options.outdir ?? SDK_DIST;
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: SDK_ROOT,
    entryPoints: ENTRIES,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['pino-abstract-transport', 'winston-transport', '@opentelemetry/*', '@stablelib/*'],
    logLevel: 'warning',
  });
  if (options.types !== false) {
    execFileSync(process.execPath, [join(SDK_ROOT, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(SDK_ROOT, 'tsconfig.build.json')], {
      stdio: 'inherit',
    });
  }
}

/** The core (or another entry point, e.g. `encryption`) as a browser would load it (minified, one file), and its size gzipped. */
export async function browserBundle(
  options: { entry?: keyof typeof ENTRIES; format?: 'esm' | 'iife'; globalName?: string } = {},
): Promise<{ code: string; bytes: number; gzipBytes: number }> {
  const result = await build({
    absWorkingDir: SDK_ROOT,
    entryPoints: [ENTRIES[options.entry ?? 'index']],
    bundle: true,
    minify: true,
    format: options.format ?? 'esm',
    ...(options.globalName && { globalName: options.globalName }),
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles[0]!.text;
  return { code, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildSdk();
  const { bytes, gzipBytes } = await browserBundle();
  console.log(`sdk/dist built; the core's browser bundle: ${bytes} bytes, ${gzipBytes} gzipped`);
}
