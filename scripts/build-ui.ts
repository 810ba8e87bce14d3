/**
 * Builds the explorer (ui/, Vite) into ui/dist, which the gateway serves as
 * static assets — only when its sources changed since the last build, so
 * `npm start` stays one command and a restart costs nothing.
 *
 * The sources' fingerprint (every file under ui/ but dist/, the lock file
 * that pins the libraries, and the repository's files outside ui/ the build
 * read) is kept in ui/dist/.sources; `npm run build:ui` builds whatever it says.
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

/**
 * The explorer also bundles code from outside ui/ (the SDK's encryption, the
 * query language's parser): the files of this repository the last build read,
 * kept in the stamp, are fingerprinted too, so a change there rebuilds.
 */
async function sourcesFingerprint(outside: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  const files = [...(await filesUnder(UI_DIR)), join(PROJECT_ROOT, 'package-lock.json'), ...outside.map((f) => join(PROJECT_ROOT, f))];
  for (const file of files) {
    hash.update(relative(PROJECT_ROOT, file));
    hash.update('\0');
    hash.update(await readFile(file).catch(() => 'missing'));
    hash.update('\0');
  }
  return hash.digest('hex');
}

interface Stamp {
  fingerprint: string;
  /** Repository files outside ui/ the build read (relative paths). */
  outside: string[];
}

async function readStamp(): Promise<Stamp | null> {
  try {
    const stamp = JSON.parse(await readFile(STAMP, 'utf8')) as Stamp;
    return typeof stamp.fingerprint === 'string' && Array.isArray(stamp.outside) ? stamp : null;
  } catch {
    return null; // none yet, or the old plain-text stamp: build
  }
}

/** Source files of this repository, outside ui/ and node_modules, that the build's chunks were made of. */
function outsideSources(output: unknown): string[] {
  const results = (Array.isArray(output) ? output : [output]) as { output?: { type: string; moduleIds?: string[] }[] }[];
  const files = new Set<string>();
  for (const result of results) {
    for (const chunk of result.output ?? []) {
      for (const id of chunk.type === 'chunk' ? (chunk.moduleIds ?? []) : []) {
        const path = id.split('?')[0]!;
        const rel = relative(PROJECT_ROOT, path);
        if (rel.startsWith('..') || rel.startsWith('ui/') || rel.includes('node_modules') || path.startsWith('\0')) continue;
        files.add(rel);
      }
    }
  }
  return [...files].sort();
}

/** Builds unless ui/dist was built from these very sources; says which. */
export async function buildUi(options: { force?: boolean; quiet?: boolean } = {}): Promise<'built' | 'fresh'> {
  if (!options.force) {
    const previous = await readStamp();
    if (previous && previous.fingerprint === (await sourcesFingerprint(previous.outside))) return 'fresh';
  }
  const output = await build({ configFile: join(UI_DIR, 'vite.config.ts'), logLevel: options.quiet ? 'warn' : 'info' });
  const outside = outsideSources(output);
  const stamp: Stamp = { fingerprint: await sourcesFingerprint(outside), outside };
  await writeFile(STAMP, JSON.stringify(stamp));
  return 'built';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildUi({ force: true });
}
