/**
 * The wrangler CLI run as a child process, for what only the CLI does locally
 * (`d1 execute --file`, `d1 migrations list`): the copy in node_modules, no
 * telemetry, no banner, no prompts. Its output (stdout and stderr) is returned;
 * a non-zero exit throws with that output.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function runWranglerCli(args: readonly string[]): Promise<string> {
  const cli = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'wrangler-dist', 'cli.js');
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_HIDE_BANNER: 'true', CI: 'true' },
  });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`wrangler ${args.slice(0, 2).join(' ')} failed (exit ${code}):\n${output}`);
  return output;
}
