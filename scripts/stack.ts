/**
 * The local stack: the embedded ClickHouse (unless CLICKHOUSE_URL points at a
 * real one) with the schema applied, and the gateway, ingest, query and admin
 * workers on workerd (scripts/workers-runtime.ts) — D1/R2/Durable Object state persisted — on one origin.
 *
 * `npm start` (scripts/start.ts) and the end-to-end test both start it through
 * `startStack`, so the test exercises exactly what a newcomer runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../embedded-clickhouse/server.ts';
import { generateApiKey, hashApiKey, parseApiKey } from '../shared/api-keys.ts';
import { CONFIG_VARIABLES, isValidTenantId } from '../shared/config.ts';
import { PLANS, type PlanId } from '../shared/plans.ts';
import { SCOPES, type Scope } from '../shared/scopes.ts';
import { migrateClickHouse } from '../migrations/clickhouse/migrate.ts';
import { buildUi } from './build-ui.ts';
import type { BoundStatement } from './control-plane-d1.ts';
import { READY_LINE, type WorkersRuntimeOptions } from './workers-runtime.ts';

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
  /** The dev tenant's key (an `nlk_` key); generated once and kept in the data directory when absent. */
  devApiKey?: string;
  /** The platform-admin token of the admin API; generated once and kept in the data directory when absent. */
  platformAdminToken?: string;
  /** The dev tenant's id and retention. */
  devTenant?: string;
  devRetentionDays?: number;
  /** Extra variables for the workers (any of shared/config.ts). NEURALLOG_SELF_LOGS defaults to `1` here (self-logging on). */
  workerEnv?: Record<string, string>;
  /** Where the runtime's and the workers' output goes. */
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
  platformAdminToken: string;
  /** The platform tenant (self-logging: the platform's own logs) and its key (read, analytics and alerts; no write). */
  platformTenant: string;
  platformApiKey: string;
  /** NEURALLOG_SESSION_SECRET of every worker (signs the explorer's session cookies). */
  sessionSecret: string;
  stop(): Promise<void>;
  /**
   * `kill -9` of the workers' runtime (its Node process and workerd under it), as a crash: nothing is
   * shut down in order. An embedded ClickHouse stops too; start the stack on the same data
   * directory (and ClickHouse) to see what survived.
   */
  crash(): Promise<void>;
  /**
   * `kill -9` of the workers' runtime only (workerd first, then its supervising Node process, which
   * cannot go on without it), in the middle of whatever it was doing; ClickHouse, embedded or not,
   * keeps running. `restartWorkers()` then starts the runtime again on the same state (the fault suite:
   * scripts/chaos).
   */
  crashWorkers(): Promise<void>;
  /** Starts the workers' runtime again on the same data directory and waits until /healthz answers (whatever it says of ClickHouse). */
  restartWorkers(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // The explorer the gateway serves (ui/dist): rebuilt only when its sources changed.
  if ((await buildUi({ quiet: true })) === 'built') options.onOutput?.('NeuralLog: built the explorer (ui/dist)');
  const { key: devApiKey, generated } = await resolveDevApiKey(dataDir, options.devApiKey);
  const platformAdminToken = await resolvePlatformAdminToken(dataDir, options.platformAdminToken);
  const sessionSecret = await resolveSessionSecret(dataDir, options.workerEnv?.NEURALLOG_SESSION_SECRET);
  const devTenant = options.devTenant ?? 'dev';
  if (!isValidTenantId(devTenant)) throw new Error(`NEURALLOG_DEV_TENANT "${devTenant}" is not a valid tenant id (a-z, 0-9, -; at most 63)`);
  const platformTenant = options.workerEnv?.NEURALLOG_PLATFORM_TENANT ?? CONFIG_VARIABLES.NEURALLOG_PLATFORM_TENANT.default;
  if (!isValidTenantId(platformTenant) || platformTenant === devTenant) {
    throw new Error(`NEURALLOG_PLATFORM_TENANT "${platformTenant}" is not a valid tenant id, or is the dev tenant`);
  }
  const platformApiKey = (await resolveApiKeyFile(join(dataDir, 'platform-api-key'))).key;
  // Written by the workers' runtime once it is up, with the D1 migrations (scripts/control-plane-d1.ts).
  const controlPlane = await controlPlaneRows([
    {
      id: devTenant,
      name: 'Development',
      plan: 'enterprise',
      retentionDays: options.devRetentionDays ?? 30,
      key: devApiKey,
      keyName: 'npm start dev key',
      scopes: SCOPES,
    },
    {
      id: platformTenant,
      name: 'Platform (self-logs)',
      plan: PLATFORM_TENANT_PLAN,
      retentionDays: PLANS[PLATFORM_TENANT_PLAN].retentionDays,
      key: platformApiKey,
      keyName: 'npm start platform key',
      scopes: PLATFORM_KEY_SCOPES,
    },
  ]);

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

  let runtime: ChildProcess | null = null;
  // A process killed by a signal keeps exitCode null (signalCode says how it ended): alive means neither is set.
  const alive = (child: ChildProcess | null): child is ChildProcess => child !== null && child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (alive(runtime)) {
      const exited = new Promise((r) => runtime!.once('exit', r));
      runtime.kill('SIGTERM');
      const timer = setTimeout(() => runtime?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await embedded?.close();
  };

  const crashWorkers = async () => {
    if (alive(runtime)) {
      const exited = new Promise((r) => runtime!.once('exit', r));
      // workerd runs under the runtime's process: kill the whole tree, or it outlives it holding the port and the state.
      for (const pid of [...descendantsOf(runtime.pid!), runtime.pid!]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    }
  };

  const crash = async () => {
    await crashWorkers();
    await embedded?.close();
  };

  const url = `http://127.0.0.1:${options.port}`;
  let runtimeEnv: Record<string, string> = {};
  const restartWorkers = async () => {
    if (alive(runtime)) throw new Error('the workers runtime is still running');
    const spawned = spawnWorkersRuntime(options, dataDir, runtimeEnv);
    runtime = spawned.child;
    await waitForHealthy(url, spawned, options.readyTimeoutMs ?? 90_000, true);
  };

  try {
    await migrateClickHouse(clickhouse);
    runtimeEnv = {
      ...options.workerEnv,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_USER: clickhouse.username,
      CLICKHOUSE_PASSWORD: clickhouse.password,
      CLICKHOUSE_DATABASE: clickhouse.database,
      NEURALLOG_PLATFORM_ADMIN_TOKEN: platformAdminToken,
      NEURALLOG_SESSION_SECRET: sessionSecret,
      // Self-logging is on locally unless the caller turns it off (docs/operations.md).
      NEURALLOG_SELF_LOGS: options.workerEnv?.NEURALLOG_SELF_LOGS ?? '1',
      NEURALLOG_PLATFORM_TENANT: platformTenant,
      // Alert targets may be local receivers (http://, loopback) unless the caller asks for production rules.
      NEURALLOG_ALERTS_ALLOW_LOOPBACK: options.workerEnv?.NEURALLOG_ALERTS_ALLOW_LOOPBACK ?? '1',
      // A local Prometheus scrapes /metrics without a credential (the stack listens on 127.0.0.1; docs/operations.md).
      NEURALLOG_METRICS_OPEN: options.workerEnv?.NEURALLOG_METRICS_OPEN ?? '1',
      // Billing is off locally unless the caller configures Stripe (docs/billing.md).
      STRIPE_SECRET_KEY: options.workerEnv?.STRIPE_SECRET_KEY ?? process.env.STRIPE_SECRET_KEY ?? 'disabled',
      STRIPE_WEBHOOK_SECRET: options.workerEnv?.STRIPE_WEBHOOK_SECRET ?? process.env.STRIPE_WEBHOOK_SECRET ?? 'disabled',
    };
    const spawned = spawnWorkersRuntime(options, dataDir, runtimeEnv, controlPlane);
    runtime = spawned.child;
    await waitForHealthy(url, spawned, options.readyTimeoutMs ?? 90_000);
    return {
      url,
      clickhouseUrl: clickhouse.url,
      embeddedClickHouse: embedded !== null,
      devApiKey,
      devApiKeyGenerated: generated,
      platformAdminToken,
      platformTenant,
      platformApiKey,
      sessionSecret,
      stop,
      crash,
      crashWorkers,
      restartWorkers,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every process under `pid` (children first listed last), from `ps`. */
function descendantsOf(pid: number): number[] {
  let children: number[];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    children = []; // ps exits 1 when there are none
  }
  return children.flatMap((child) => [...descendantsOf(child), child]);
}

/**
 * The platform tenant's plan under `npm start`: an ordinary plan, so its rate, burst, quotas and
 * retention (Starter: 1,000 records/s, bursts of 10,000, 5 GB a day, 7 days) bound what the
 * platform's own logs can cost, as for any tenant.
 */
const PLATFORM_TENANT_PLAN = 'starter' satisfies PlanId;
/** The platform key reads and alerts; it cannot write: only the tail worker writes platform logs. */
const PLATFORM_KEY_SCOPES: readonly Scope[] = ['logs:read', 'analytics:read', 'alerts:read', 'alerts:write'];

interface ProvisionedTenant {
  id: string;
  name: string;
  plan: PlanId;
  retentionDays: number;
  key: string;
  keyName: string;
  scopes: readonly Scope[];
}

/**
 * The stack's rows in the control plane: the dev tenant and the platform tenant (self-logging)
 * with their keys present. A key is stored as its SHA-256 only; any earlier key of the tenant by
 * the same name is revoked, so exactly the key kept in the data directory works.
 */
async function controlPlaneRows(tenants: ProvisionedTenant[]): Promise<BoundStatement[]> {
  const statements: BoundStatement[] = [];
  for (const tenant of tenants) {
    const { keyId } = parseApiKey(tenant.key)!;
    statements.push(
      {
        sql: `INSERT INTO tenants (id, name, plan_id, status, retention_days) VALUES (?, ?, ?, 'active', ?)
              ON CONFLICT (id) DO UPDATE SET status = 'active', retention_days = excluded.retention_days`,
        params: [tenant.id, tenant.name, tenant.plan, Math.trunc(tenant.retentionDays)],
      },
      {
        sql: `UPDATE api_keys SET revoked_at = unixepoch('subsec') * 1000
              WHERE tenant_id = ? AND name = ? AND id <> ? AND revoked_at IS NULL`,
        params: [tenant.id, tenant.keyName, keyId],
      },
      {
        sql: `INSERT INTO api_keys (id, tenant_id, name, scopes, secret_hash) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, scopes = excluded.scopes, revoked_at = NULL`,
        params: [keyId, tenant.id, tenant.keyName, JSON.stringify(tenant.scopes), await hashApiKey(tenant.key)],
      },
    );
  }
  return statements;
}

const QUIET_WRANGLER_ENV = {
  // Offline-friendly and quiet: no telemetry, no request.cf download, no banner/update check.
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
};

/** The workers' runtime process, and whether it said it is ready (listening, its control plane prepared). */
interface WorkersRuntimeProcess {
  child: ChildProcess;
  ready(): boolean;
}

/**
 * The workers' runtime (scripts/workers-runtime.ts: Miniflare's API on one workerd) as a process of
 * its own. Each worker gets the values of the vars and secrets its wrangler config declares from
 * `workerEnv`, else the config's defaults. With `controlPlane`, the runtime migrates the control
 * plane's D1 and writes these rows before it says it is ready.
 */
function spawnWorkersRuntime(
  options: StackOptions,
  dataDir: string,
  workerEnv: Record<string, string>,
  controlPlane?: BoundStatement[],
): WorkersRuntimeProcess {
  const inspectorPort = Number(process.env.NEURALLOG_INSPECTOR_PORT ?? 0);
  const actorsInspectorPort = Number(process.env.NEURALLOG_ACTORS_INSPECTOR_PORT ?? 0);
  const runtimeOptions: WorkersRuntimeOptions = {
    port: options.port,
    stateDir: join(dataDir, 'state'),
    env: workerEnv,
    ...(inspectorPort > 0 ? { inspectorPort } : {}),
    ...(actorsInspectorPort > 0 ? { actorsInspectorPort } : {}),
    ...(process.env.NEURALLOG_LOCAL_GC_SECONDS !== undefined ? { localGcSeconds: Number(process.env.NEURALLOG_LOCAL_GC_SECONDS) } : {}),
    actorsApart: process.env.NEURALLOG_ACTORS_APART === '1',
    ...(controlPlane ? { controlPlane } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts/workers-runtime.ts')], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...QUIET_WRANGLER_ENV,
      // Reading the wrangler configs would warn about secrets absent from this process's environment; they come in the options.
      WRANGLER_LOG: 'error',
      NEURALLOG_RUNTIME_OPTIONS: JSON.stringify(runtimeOptions),
    },
  });
  const output = options.onOutput ?? ((line: string) => process.stdout.write(`${line}\n`));
  let ready = false;
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (data: string) => {
      pending += data;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith(READY_LINE)) ready = true;
        else if (line.trim() !== '') output(line);
      }
    });
  }
  return { child, ready: () => ready };
}

/**
 * Waits for the runtime's ready line, then /healthz: 200, or with `anyAnswer` any answer at all —
 * the runtime is up even when /healthz says a dependency is not (a restart while ClickHouse is
 * away: scripts/chaos). The ready line first: workerd may answer before the runtime has prepared
 * the control plane, and a key must work once the stack is said started.
 */
async function waitForHealthy(url: string, runtime: WorkersRuntimeProcess, timeoutMs: number, anyAnswer = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  runtime.child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('the workers runtime exited before the stack became ready (see its output above)');
    if (!runtime.ready()) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok || anyAnswer) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the stack did not answer ${url}/healthz within ${timeoutMs} ms`);
}

async function resolveDevApiKey(dataDir: string, given: string | undefined): Promise<{ key: string; generated: boolean }> {
  if (given) {
    if (!parseApiKey(given)) {
      throw new Error('NEURALLOG_DEV_API_KEY is not a NeuralLog API key (nlk_<id>_<secret><checksum>); unset it to have one generated');
    }
    return { key: given, generated: false };
  }
  return resolveApiKeyFile(join(dataDir, 'dev-api-key'));
}

/** The API key kept in `file`, generated (mode 0600) on first start. */
async function resolveApiKeyFile(file: string): Promise<{ key: string; generated: boolean }> {
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (parseApiKey(key)) return { key, generated: false };
  } catch {
    // first start
  }
  const { key } = generateApiKey();
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { key, generated: true };
}

async function resolvePlatformAdminToken(dataDir: string, given: string | undefined): Promise<string> {
  if (given) {
    if (given.length < 32) throw new Error('NEURALLOG_PLATFORM_ADMIN_TOKEN must be at least 32 characters');
    return given;
  }
  const file = join(dataDir, 'platform-admin-token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 32) return token;
  } catch {
    // first start
  }
  const token = `nlpa_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** NEURALLOG_SESSION_SECRET: the one given, else the one kept in the data directory (generated on first start), so sessions survive restarts. */
async function resolveSessionSecret(dataDir: string, given: string | undefined): Promise<string> {
  if (given) {
    if (given.length < 32) throw new Error('NEURALLOG_SESSION_SECRET must be at least 32 characters');
    return given;
  }
  const file = join(dataDir, 'session-secret');
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret.length >= 32) return secret;
  } catch {
    // first start
  }
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
