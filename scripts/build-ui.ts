/**
 * Builds the explorer (ui/, Vite) into ui/dist, which the gateway serves as
 * static assets — only when its sources changed since the last build, so
 * `npm start` stays one command and a restart costs nothing.
 *
 * The sources' fingerprint (every file under ui/ but dist/, and the lock file
 * that pins the libraries) is kept in ui/dist/.sources; `npm run build:ui`
 * builds whatever it says.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const UI_DIR = join(PROJECT_ROOT, 'ui');
export const UI_DIST = join(UI_DIR, 'dist');
const STAMP = join(UI_DIST, '.sources');

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== UI_DIST && entry.name !== 'node_modules') out.push(...(await filesUnder(path)));
    } else {
      out.push(path);
    }
  }
  return out.sort();
}

async function sourcesFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...(await filesUnder(UI_DIR)), join(PROJECT_ROOT, 'package-lock.json')]) {
    hash.update(relative(PROJECT_ROOT, file));
    hash.update('\0');
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Builds unless ui/dist was built from these very sources; says which. */
export async function buildUi(options: { force?: boolean; quiet?: boolean } = {}): Promise<'built' | 'fresh'> {
  const fingerprint = await sourcesFingerprint();
  if (!options.force) {
    const previous = await readFile(STAMP, 'utf8').catch(() => null);
    if (previous === fingerprint) return 'fresh';
  }
  await build({ configFile: join(UI_DIR, 'vite.config.ts'), logLevel: options.quiet ? 'warn' : 'info' });
  await writeFile(STAMP, fingerprint);
  return 'built';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildUi({ force: true });
}
