/**
 * The local stack: the embedded ClickHouse (unless CLICKHOUSE_URL points at a
 * real one) with the schema applied, and wrangler serving the gateway, ingest
 * and query workers — D1/R2/Durable Object state persisted — on one origin.
 *
 * `npm start` (scripts/start.ts) and the end-to-end test both start it through
 * `startStack`, so the test exercises exactly what a newcomer runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../embedded-clickhouse/server.ts';
import { migrateClickHouse } from '../migrations/clickhouse/migrate.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface StackOptions {
  /** Port of the public origin (gateway). */
  port: number;
  /** Everything the stack persists lives under here. */
  dataDir: string;
  /** A real ClickHouse; when absent the embedded one is started. */
  clickhouseUrl?: string;
  clickhouseUser?: string;
  clickhousePassword?: string;
  clickhouseDatabase?: string;
  /** Port of the embedded ClickHouse endpoint. */
  embeddedClickHousePort: number;
  /** The dev tenant's key; generated once and kept in the data directory when absent. */
  devApiKey?: string;
  /** Extra variables for the workers (any of shared/config.ts). */
  workerEnv?: Record<string, string>;
  /** Where wrangler's and the workers' output goes. */
  onOutput?: (line: string) => void;
  /** How long to wait for /healthz (ms). */
  readyTimeoutMs?: number;
}

export interface RunningStack {
  url: string;
  clickhouseUrl: string;
  embeddedClickHouse: boolean;
  devApiKey: string;
  devApiKeyGenerated: boolean;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const { key: devApiKey, generated } = await resolveDevApiKey(dataDir, options.devApiKey);

  const clickhouse = {
    url: options.clickhouseUrl ?? '',
    username: options.clickhouseUser ?? 'default',
    password: options.clickhousePassword ?? '',
    database: options.clickhouseDatabase ?? 'neurallog',
  };
  let embedded: EmbeddedClickHouse | null = null;
  if (!clickhouse.url) {
    embedded = await startEmbeddedClickHouse({
      dataPath: join(dataDir, 'clickhouse'),
      port: options.embeddedClickHousePort,
      username: clickhouse.username,
      password: clickhouse.password,
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        throw new Error(
          `port ${options.embeddedClickHousePort} is taken; set NEURALLOG_CLICKHOUSE_PORT to another port, or CLICKHOUSE_URL to use a running ClickHouse`,
        );
      }
      throw err;
    });
    clickhouse.url = embedded.url;
  }

  let wrangler: ChildProcess | null = null;
  const stop = async () => {
    if (wrangler && wrangler.exitCode === null) {
      const exited = new Promise((r) => wrangler!.once('exit', r));
      wrangler.kill('SIGTERM');
      const timer = setTimeout(() => wrangler?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await embedded?.close();
  };

  try {
    await migrateClickHouse(clickhouse);
    wrangler = spawnWrangler(options, dataDir, {
      ...options.workerEnv,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_USER: clickhouse.username,
      CLICKHOUSE_PASSWORD: clickhouse.password,
      CLICKHOUSE_DATABASE: clickhouse.database,
      NEURALLOG_DEV_API_KEY: devApiKey,
    });
    const url = `http://127.0.0.1:${options.port}`;
    await waitForHealthy(url, wrangler, options.readyTimeoutMs ?? 90_000);
    return { url, clickhouseUrl: clickhouse.url, embeddedClickHouse: embedded !== null, devApiKey, devApiKeyGenerated: generated, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function spawnWrangler(options: StackOptions, dataDir: string, workerEnv: Record<string, string>): ChildProcess {
  // Wrangler's bin refuses Node < 22 although its CLI runs on 20; call the CLI directly.
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve('wrangler/package.json')), 'wrangler-dist', 'cli.js');
  const args = [
    cli,
    'dev',
    '--config', join(PROJECT_ROOT, 'wrangler.toml'),
    '--config', join(PROJECT_ROOT, 'workers/ingest/wrangler.toml'),
    '--config', join(PROJECT_ROOT, 'workers/query/wrangler.toml'),
    '--persist-to', join(dataDir, 'state'),
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--inspector-port', process.env.NEURALLOG_INSPECTOR_PORT ?? '0',
    '--show-interactive-dev-session=false',
    '--log-level', 'log',
  ];
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...workerEnv,
      // Offline-friendly and quiet: no telemetry, no request.cf download, no banner/update check.
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      // The project's wrangler configs declare [secrets]; with it, wrangler reads the
      // declared vars and secrets (only those) from this process environment.
      CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: 'true',
    },
  });
  const output = options.onOutput ?? ((line: string) => process.stdout.write(`${line}\n`));
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (data: string) => {
      pending += data;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!isNoise(line)) output(line);
      }
    });
  }
  return child;
}

/** Lines wrangler prints that say nothing to a user of this stack. */
function isNoise(line: string): boolean {
  const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
  return (
    plain.trim() === '' ||
    /Service bindings, Durable Object bindings, and Tail consumers connect to other Wrangler/.test(plain) ||
    /Wrangler requires at least Node\.js/.test(plain)
  );
}

async function waitForHealthy(url: string, wrangler: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  wrangler.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('wrangler exited before the stack became ready (see its output above)');
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the stack did not answer ${url}/healthz within ${timeoutMs} ms`);
}

async function resolveDevApiKey(dataDir: string, given: string | undefined): Promise<{ key: string; generated: boolean }> {
  if (given) return { key: given, generated: false };
  const file = join(dataDir, 'dev-api-key');
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (key) return { key, generated: false };
  } catch {
    // first start
  }
  const key = `nl_dev_${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { key, generated: true };
}
