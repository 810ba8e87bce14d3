/**
 * The core stays small and portable: its browser bundle (minified, gzipped)
 * under 10 KB, and no Node built-ins in it or in any file of the SDK's
 * sources (adapters included: their libraries bring what they need).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserBundle, SDK_ROOT } from '../../sdk/build.ts';

/** The files of the core's entry point (src/index.ts). */
const CORE = new Set([
  'index.ts',
  'logger.ts',
  'shipper.ts',
  'decide.ts',
  'transport.ts',
  'record.ts',
  'levels.ts',
  'options.ts',
  'persistence.ts',
  'browser-globals.ts',
]);

describe('the SDK’s core', () => {
  it('is under 10 KB gzipped as a browser bundle', async () => {
    const { code, gzipBytes } = await browserBundle();
    console.log(`@neurallog/sdk core, browser bundle: ${code.length} bytes, ${gzipBytes} gzipped`);
    expect(code).toContain('/v1/logs'); // it is the SDK that was measured
    expect(gzipBytes).toBeLessThan(10 * 1024);
  });

  it('imports no node: modules (web-standard APIs only), and the core no packages', async () => {
    const files = (await readdir(join(SDK_ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
    for (const file of CORE) expect(files).toContain(file);
    for (const file of files) {
      const source = await readFile(join(SDK_ROOT, 'src', file), 'utf8');
      expect(source, file).not.toMatch(/from\s+['"]node:|require\(['"]node:|import\(['"]node:/);
      // The adapters bring their libraries; other entry points (encryption) choose their own.
      if (!CORE.has(file)) continue;
      const specifiers = [...source.matchAll(/^(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
      expect(
        specifiers.filter((s) => !s.startsWith('./') && s !== '../../shared/severity.ts'),
        file,
      ).toEqual([]);
    }
  });
});
