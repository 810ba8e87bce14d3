/**
 * The stack as the benchmarks run it: started exactly as `npm start` starts
 * it, in its own process tree, and driven through its admin API.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { PROJECT_ROOT } from './stack.ts';

/**
 * The stack runs in its own process tree, started exactly as `npm start` does,
 * so the load generator (this process) does not share an event loop with the
 * embedded ClickHouse endpoint.
 */
export async function startStackProcess(
  dataDir: string,
): Promise<{ url: string; clickhouseUrl: string; devApiKey: string; platformAdminToken: string; stop(): Promise<void> }> {
  const port = await freePort();
  const clickhousePort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts/start.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NEURALLOG_PORT: String(port), NEURALLOG_CLICKHOUSE_PORT: String(clickhousePort), NEURALLOG_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (process.env.BENCH_VERBOSE) process.stdout.write(d);
      if (output.includes('NeuralLog is running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => reject(new Error(`the stack exited:\n${output}`)));
  });
  const devApiKey = (await readFile(join(dataDir, 'dev-api-key'), 'utf8')).trim();
  const platformAdminToken = (await readFile(join(dataDir, 'platform-admin-token'), 'utf8')).trim();
  return {
    url: `http://127.0.0.1:${port}`,
    clickhouseUrl: `http://127.0.0.1:${clickhousePort}`,
    devApiKey,
    platformAdminToken,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStackProcess>>;

export async function admin(stack: Stack, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${stack.url}/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.platformAdminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
