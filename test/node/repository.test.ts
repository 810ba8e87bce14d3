/**
 * Rules of the repository that would otherwise rot quietly.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { CONFIG_VARIABLES, type VariableSpec } from '../../shared/config.ts';
import { planSeedSql } from '../../scripts/generate-plan-seed.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => relative(PROJECT_ROOT, join(e.parentPath, e.name)));
}

/** TypeScript and JavaScript sources under `dir`, outside dot-directories (wrangler's .wrangler/ bundles) and node_modules. */
async function sourcesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => relative(PROJECT_ROOT, join(e.parentPath, e.name)))
    .filter((path) => !path.split(sep).some((part) => part.startsWith('.') || part === 'node_modules'));
}

/** The part of the code base a path is in: `workers/<name>`, `durable-objects`, `shared`, or another top directory. */
function areaOf(path: string): string {
  const [top, next] = path.split(sep);
  return top === 'workers' && next !== undefined ? `workers/${next}` : top!;
}

/** Why `from` may not import `to` (areas), or null when it may. */
function crossesBoundary(from: string, to: string): string | null {
  if (from.startsWith('workers/') && to.startsWith('workers/') && from !== to) return 'a worker never imports another worker';
  if (from === 'durable-objects' && to.startsWith('workers')) return 'durable-objects/ never imports workers/';
  if (from === 'shared' && (to.startsWith('workers') || to === 'durable-objects')) return 'shared/ imports neither workers/ nor durable-objects/';
  return null;
}

/** `[vars]` of a wrangler.toml: KEY = "value" lines up to the next table. */
async function wranglerVars(path: string): Promise<Record<string, string>> {
  const text = await readFile(join(PROJECT_ROOT, path), 'utf8');
  const section = text.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  return Object.fromEntries([...section.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
}

/** The wrangler config of each worker a configuration variable's `usedBy` names (the actor runs in ingest). */
const WORKER_CONFIGS: Partial<Record<string, string>> = {
  actor: 'workers/ingest/wrangler.toml',
  ingest: 'workers/ingest/wrangler.toml',
  query: 'workers/query/wrangler.toml',
  admin: 'workers/admin/wrangler.toml',
  'platform-logs': 'workers/ingest/platform-logs/wrangler.toml',
};

/**
 * Optional secrets: declaring them in `[secrets] required` would make every deployment set them,
 * so `npm start` cannot pass them (README says so); production sets them with `wrangler secret put`.
 */
const NOT_PASSED_BY_NPM_START = new Set(['NEURALLOG_JWT_SECRET', 'NEURALLOG_SECRETS_KEY', 'NEURALLOG_MAIL_API_KEY']);

function wranglerRequiredSecrets(toml: string): string[] {
  const section = toml.split(/^\[secrets\]\s*$/m)[1]?.split(/^\[/m)[0] ?? '';
  return [...(section.match(/required\s*=\s*\[([^\]]*)\]/)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

describe('repository', () => {
  it('keeps workers, durable objects and shared code on web-standard APIs (no node: imports)', async () => {
    const offenders: string[] = [];
    for (const dir of ['workers', 'durable-objects', 'shared']) {
      for (const file of await filesUnder(dir)) {
        const source = await readFile(join(PROJECT_ROOT, file), 'utf8');
        if (/from\s+['"]node:|require\(['"]node:/.test(source)) offenders.push(file);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps the import boundaries: workers never import each other, durable-objects/ never imports workers/, shared/ neither', async () => {
    // Every module specifier TypeScript finds — import and export … from, type-only imports, import() and
    // import('…').Type — outside comments and strings; relative ones resolved to the file they name.
    const offenders: string[] = [];
    let crossings = 0;
    for (const file of (await Promise.all(['workers', 'durable-objects', 'shared'].map(sourcesUnder))).flat()) {
      const { importedFiles } = ts.preProcessFile(await readFile(join(PROJECT_ROOT, file), 'utf8'), true, true);
      for (const { fileName: specifier } of importedFiles) {
        if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue; // a package
        const target = normalize(join(dirname(file), specifier));
        if (areaOf(target) !== areaOf(file)) crossings++;
        const reason = crossesBoundary(areaOf(file), areaOf(target));
        if (reason) offenders.push(`${file} imports '${specifier}' (${target}): ${reason}`);
      }
    }
    expect(crossings, 'imports between areas were found at all').toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });

  it('documents every configuration variable in the README', async () => {
    const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const missing = Object.keys(CONFIG_VARIABLES).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('gives every wrangler [vars] entry the default shared/config.ts documents', async () => {
    // (The admin worker's Stripe price ids are billing's, documented in docs/billing.md.)
    for (const path of ['workers/ingest/wrangler.toml', 'workers/query/wrangler.toml', 'workers/ingest/platform-logs/wrangler.toml']) {
      const vars = await wranglerVars(path);
      expect(Object.keys(vars).length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(vars)) {
        expect(CONFIG_VARIABLES, `${path}: ${name}`).toHaveProperty(name);
        expect(value, `${path}: ${name}`).toBe(CONFIG_VARIABLES[name as keyof typeof CONFIG_VARIABLES].default);
      }
    }
  });

  it("declares every variable a worker reads in that worker's wrangler config, so npm start's environment reaches it", async () => {
    // wrangler dev passes a worker only the vars and secrets its config declares: an undeclared
    // variable set in the environment is silently ignored (the tail budget once was).
    const missing: string[] = [];
    for (const [name, variable] of Object.entries(CONFIG_VARIABLES) as [string, VariableSpec][]) {
      if (NOT_PASSED_BY_NPM_START.has(name)) continue;
      for (const user of variable.usedBy.split(',').map((u) => u.trim())) {
        const path = WORKER_CONFIGS[user];
        if (!path) continue; // npm start itself
        const text = await readFile(join(PROJECT_ROOT, path), 'utf8');
        const declared = variable.secret ? wranglerRequiredSecrets(text).includes(name) : Object.hasOwn(await wranglerVars(path), name);
        if (!declared) missing.push(`${path}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('lists every optional platform package of chdb in package-lock.json, so `npm ci` works', async () => {
    // The registry these machines reach serves only chDB's linux-x64 library; npm then leaves
    // the other platforms out of the lock, and `npm ci` refuses a lock that misses them.
    // Their entries (version + os/cpu, marked optional) were added by hand; npm keeps them.
    const lock = JSON.parse(await readFile(join(PROJECT_ROOT, 'package-lock.json'), 'utf8'));
    const chdb = lock.packages['node_modules/chdb'];
    const missing = Object.keys(chdb.optionalDependencies ?? {}).filter((name) => !lock.packages[`node_modules/${name}`]);
    expect(missing).toEqual([]);
  });

  it("seeds D1's plans table from shared/plans.ts (the latest plan seed migration matches it)", async () => {
    const dir = join(PROJECT_ROOT, 'migrations/d1');
    const seeds = (await readdir(dir)).filter((f) => f.endsWith('_plan_seed.sql')).sort();
    expect(seeds.length).toBeGreaterThan(0);
    const latest = await readFile(join(dir, seeds[seeds.length - 1]!), 'utf8');
    expect(latest, 'shared/plans.ts changed: run `npm run db:plan-seed`').toBe(planSeedSql());
  });

  it('commits the protobuf code that the vendored .proto files generate (npm run proto:generate)', async () => {
    const protoDir = join(PROJECT_ROOT, 'workers/ingest/protocols/proto');
    const out = await mkdtemp(join(tmpdir(), 'neurallog-proto-'));
    try {
      const template = join(out, 'buf.gen.yaml');
      await writeFile(template, (await readFile(join(protoDir, 'buf.gen.yaml'), 'utf8')).replace('out: ../generated', `out: ${join(out, 'generated')}`));
      await promisify(execFile)(join(PROJECT_ROOT, 'node_modules/.bin/buf'), ['generate', '--template', template], {
        cwd: protoDir,
        env: { ...process.env, PATH: `${join(PROJECT_ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
      });
      const generated = (await readdir(join(out, 'generated'), { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
      const committed = (await readdir(join(PROJECT_ROOT, 'workers/ingest/protocols/generated'), { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
      expect(committed).toEqual(generated);
      expect(generated.length).toBeGreaterThan(0);
      for (const file of generated) {
        expect(await readFile(join(PROJECT_ROOT, 'workers/ingest/protocols/generated', file), 'utf8'), file).toBe(
          await readFile(join(out, 'generated', file), 'utf8'),
        );
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('commits the query parser that grammar.peggy generates (npm run grammar:generate)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'neurallog-grammar-'));
    try {
      await promisify(execFile)(join(PROJECT_ROOT, 'node_modules/.bin/peggy'), [
        '--format',
        'es',
        '--dts',
        '-o',
        join(out, 'parser.generated.js'),
        join(PROJECT_ROOT, 'shared/query-language/grammar.peggy'),
      ]);
      for (const file of ['parser.generated.js', 'parser.generated.d.ts']) {
        expect(await readFile(join(PROJECT_ROOT, 'shared/query-language', file), 'utf8'), file).toBe(await readFile(join(out, file), 'utf8'));
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
