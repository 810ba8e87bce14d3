/**
 * The local Workers runtime: the gateway, ingest, query and admin workers (and
 * the Durable Objects they host) on one workerd, through Miniflare's API — the
 * library `wrangler dev` itself runs on — without `wrangler dev`'s proxy.
 *
 * Why not `wrangler dev`: it puts a second workerd (a proxy worker, for
 * reloading on change) and its own Node process in front of every request,
 * and relays every console line through the inspector; under `npm run bench`
 * that was ~4 µs of CPU per ingested row (docs/benchmarks.md, issue 17).
 * Here the workers' bindings come from the same wrangler configs
 * (`unstable_getMiniflareWorkerOptions`, as Cloudflare's vitest pool reads
 * them), the sources are bundled with esbuild the way wrangler bundles them,
 * and the state lives where `wrangler dev --persist-to <dir>` keeps it
 * (`<dir>/v3`), so `wrangler d1 … --local --persist-to <dir>` and this runtime
 * share one D1. Before it says it is ready, it migrates the control plane's D1
 * through its own binding, as wrangler would (scripts/control-plane-d1.ts), and
 * writes the stack's rows. Wrangler stays the deployment tool.
 *
 * Run as a process of its own by scripts/stack.ts (so a crash test can kill
 * it with workerd under it, and the embedded ClickHouse in `npm start`'s
 * process does not share an event loop with it): options arrive as JSON in
 * NEURALLOG_RUNTIME_OPTIONS; it prints `READY_LINE <url>` once listening with
 * the control plane prepared.
 */
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4ServiceDesignator, type V4WorkerOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { freePort } from './ports.ts';
import { collectGarbageEvery } from './workerd-inspector.ts';
import { type BoundStatement, CONTROL_DB_BINDING, prepareControlPlane, readD1Migrations } from './control-plane-d1.ts';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const READY_LINE = 'NEURALLOG_RUNTIME_READY';

/** The workers, first the one that receives the origin's requests. */
export const WORKER_CONFIGS = ['wrangler.toml', 'workers/ingest/wrangler.toml', 'workers/query/wrangler.toml', 'workers/admin/wrangler.toml'];

/**
 * The tail worker the others name in `tail_consumers` (self-logging, docs/operations.md). Run only
 * when NEURALLOG_SELF_LOGS is 1: switched off, the producers' `tails` are dropped too, so no
 * invocation pays for a tail event nobody ships.
 */
export const PLATFORM_LOGS_CONFIG = 'workers/ingest/platform-logs/wrangler.toml';

export interface WorkersRuntimeOptions {
  port: number;
  /** As `wrangler dev --persist-to`: the state is kept under `<stateDir>/v3`. */
  stateDir: string;
  /** Values for the workers' declared vars and secrets (each worker gets those its config declares). */
  env: Record<string, string>;
  /** workerd's inspector (CPU profiles: scripts/profile-ingest.ts; heaps: scripts/soak/memory-probe.ts); none when absent. */
  inspectorPort?: number;
  /** The inspector of the actors' own workerd when `actorsApart`; none when absent. */
  actorsInspectorPort?: number;
  /**
   * A full GC of Miniflare's own isolates (not our workers') every this many seconds; 0 turns it
   * off. Needs workerd's inspector: one is opened on a free port when none is given. See
   * `collectLocalRuntimeGarbage`.
   */
  localGcSeconds?: number;
  /**
   * Run the Durable Objects (the tenant actors and their helpers) in a workerd process of their own,
   * reached through Miniflare's dev registry (workerd's debug port), as in production the ingest
   * workers and the actors never share a thread. A measurement mode (NEURALLOG_ACTORS_APART=1):
   * the actors' state then lives under another script name than in the default mode.
   */
  actorsApart?: boolean;
  /**
   * Prepare the control plane's D1 before saying ready: its pending migrations, then these
   * statements (scripts/stack.ts: the dev and platform tenants and their keys). Absent: left as it is
   * (a restart after a crash).
   */
  controlPlane?: BoundStatement[];
}

/** The worker that hosts the Durable Objects when they run apart: the ingest worker's bundle under another name. */
const ACTORS_WORKER = 'neurallog-actors';

/** One worker's Miniflare options: its config's bindings, its bundled source, its declared vars from `env`. */
async function workerOptions(configPath: string, env: Record<string, string>): Promise<V4WorkerOptions> {
  const path = join(PROJECT_ROOT, configPath);
  const config = unstable_readConfig({ config: path });
  const { workerOptions, main, define } = unstable_getMiniflareWorkerOptions(config);
  if (!main) throw new Error(`${configPath} names no main module`);
  const bundle = await build({
    entryPoints: [main],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2024',
    // What wrangler uses for workers without nodejs_compat: packages' worker/browser builds, no Node built-ins.
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    define: { ...define, 'process.env.NODE_ENV': '"production"' },
    sourcemap: 'inline',
    outfile: join(dirname(main), 'index.js'),
    external: ['cloudflare:*'],
    logLevel: 'silent',
  });
  const declared = new Set<string>([...Object.keys(config.vars ?? {}), ...(config.secrets?.required ?? [])]);
  const bindings: Record<string, unknown> = { ...(workerOptions.bindings ?? {}) };
  for (const [name, value] of Object.entries(env)) if (declared.has(name)) bindings[name] = value;
  const missing = [...declared].filter((name) => bindings[name] === undefined);
  if (missing.length > 0) throw new Error(`${configPath}: no value for ${missing.join(', ')}`);
  return {
    ...workerOptions,
    name: config.name,
    bindings: bindings as V4WorkerOptions['bindings'],
    modulesRoot: PROJECT_ROOT,
    modules: [{ type: 'ESModule', path: relative(PROJECT_ROOT, join(dirname(main), 'index.js')), contents: bundle.outputFiles[0]!.text }],
  } as V4WorkerOptions;
}

/** Console output of the workers, line by line, the way wrangler prints it. */
function printStructuredLog({ level, message }: { level: string; message: string }): void {
  if (level === 'error' || level === 'warn') process.stderr.write(`${message}\n`);
  else process.stdout.write(`${message}\n`);
}

/** A worker whose Durable Object bindings name the actors' worker in the other workerd. */
function withActorsElsewhere(worker: V4WorkerOptions): V4WorkerOptions {
  const durableObjects = Object.fromEntries(
    Object.entries(worker.durableObjects ?? {}).map(([binding, target]) => [
      binding,
      { ...(typeof target === 'string' ? { className: target } : target), scriptName: ACTORS_WORKER },
    ]),
  );
  return { ...worker, durableObjects } as V4WorkerOptions;
}

function miniflare(options: WorkersRuntimeOptions, port: number, workers: V4WorkerOptions[], devRegistry?: string): Miniflare {
  return new Miniflare(
    convertV4MiniflareOptions({
      host: '127.0.0.1',
      port,
      inspectorPort: port === options.port ? options.inspectorPort : options.actorsInspectorPort,
      resourcePersistencePath: join(options.stateDir, 'v3'),
      log: new Log(LogLevel.WARN),
      handleStructuredLogs: printStructuredLog,
      logRequests: false,
      telemetry: { enabled: false },
      // Offline: no download of a real `request.cf` (the workers read none of it).
      cf: false,
      ...(devRegistry ? { unsafeDevRegistryPath: devRegistry } : {}),
      workers,
    }),
  );
}

/**
 * A producer whose tail consumers are told its name: workerd leaves a tail event's `scriptName`
 * empty (the edge fills it in), so the local runtime passes it as the consumer's `ctx.props.producer`.
 */
function namingProducer(worker: V4WorkerOptions): V4WorkerOptions {
  const tails = (worker as { tails?: V4ServiceDesignator[] }).tails;
  if (!tails) return worker;
  const named = tails.map((tail) => (typeof tail === 'object' && 'name' in tail ? { ...tail, props: { producer: worker.name } } : tail));
  return { ...worker, tails: named } as V4WorkerOptions;
}

/** A producer without its tail consumers (self-logging off). */
function withoutTails(worker: V4WorkerOptions): V4WorkerOptions {
  const { tails: _tails, ...rest } = worker as V4WorkerOptions & { tails?: unknown };
  return rest as V4WorkerOptions;
}

/** What `localGcSeconds` is when the stack does not say. */
export const DEFAULT_LOCAL_GC_SECONDS = 30;

/**
 * Why Miniflare's isolates are collected by hand (issue 20, docs/benchmarks.md "workerd memory in
 * the soak"): every request passes through Miniflare's entry worker (and the assets router and RPC
 * proxy in front of the gateway), and every flush through its R2 simulator. Their JS heaps are a
 * few MiB and allocate little, so V8 rarely runs a full GC in them, but each request's garbage
 * there (requests, bodies, streams) keeps workerd's native memory for it alive until one runs:
 * workerd's RSS grew ~25 MiB/min at half load with our isolates' live heaps flat. These isolates
 * exist only in the local runtime (on Cloudflare there is no entry worker or R2 simulator in the
 * workers' process), so collecting them changes nothing our code can see; a full GC of a few-MiB
 * heap is a pause of about a millisecond each. Our workers' isolates are left to V8's heuristics,
 * as in production.
 */
function collectLocalRuntimeGarbage(inspectorPort: number, seconds: number): { stop(): void } {
  // A failed round (workerd restarting: a crash test, a restart) is not reported: the next one collects again.
  return collectGarbageEvery(inspectorPort, 'miniflare', seconds * 1000);
}

/** The control plane's D1, through the ingest worker's binding (the one its wrangler config declares). */
async function prepare(mf: Miniflare, statements: BoundStatement[] | undefined): Promise<void> {
  if (!statements) return;
  const db = await mf.getD1Database(CONTROL_DB_BINDING, 'neurallog-ingest');
  const applied = await prepareControlPlane(db, readD1Migrations(PROJECT_ROOT), statements);
  if (applied.length > 0) process.stdout.write(`NeuralLog: applied the D1 migrations ${applied.join(', ')}\n`);
}

export async function startWorkersRuntime(options: WorkersRuntimeOptions): Promise<{ url: URL; dispose(): Promise<void> }> {
  const gcSeconds = options.localGcSeconds ?? DEFAULT_LOCAL_GC_SECONDS;
  if (gcSeconds > 0) {
    options = {
      ...options,
      inspectorPort: options.inspectorPort ?? (await freePort()),
      ...(options.actorsApart ? { actorsInspectorPort: options.actorsInspectorPort ?? (await freePort()) } : {}),
    };
  }
  const collectors: { stop(): void }[] = [];
  const collect = (port: number | undefined) => {
    if (gcSeconds > 0 && port) collectors.push(collectLocalRuntimeGarbage(port, gcSeconds));
  };
  const stopCollecting = () => {
    for (const c of collectors) c.stop();
  };
  const selfLogs = options.env.NEURALLOG_SELF_LOGS === '1';
  const configs = selfLogs ? [...WORKER_CONFIGS, PLATFORM_LOGS_CONFIG] : WORKER_CONFIGS;
  const built = await Promise.all(configs.map((config) => workerOptions(config, options.env)));
  const workers = selfLogs ? built.map(namingProducer) : built.map(withoutTails);
  if (!options.actorsApart) {
    const mf = miniflare(options, options.port, workers);
    const url = await mf.ready;
    await prepare(mf, options.controlPlane).catch(async (err) => {
      await mf.dispose();
      throw err;
    });
    collect(options.inspectorPort);
    return {
      url,
      dispose: () => {
        stopCollecting();
        return mf.dispose();
      },
    };
  }
  const devRegistry = join(options.stateDir, 'dev-registry');
  const ingest = workers.find((w) => w.name === 'neurallog-ingest')!;
  // (The actors' own logs are not shipped in this measurement mode: their tail consumer runs in the other workerd.)
  const actors = miniflare(options, 0, [{ ...withoutTails(ingest), name: ACTORS_WORKER }], devRegistry);
  await actors.ready;
  const front = miniflare(options, options.port, workers.map(withActorsElsewhere), devRegistry);
  const url = await front.ready;
  await prepare(front, options.controlPlane).catch(async (err) => {
    await Promise.all([front.dispose(), actors.dispose()]);
    throw err;
  });
  collect(options.inspectorPort);
  collect(options.actorsInspectorPort);
  return {
    url,
    dispose: async () => {
      stopCollecting();
      await Promise.all([front.dispose(), actors.dispose()]);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = JSON.parse(process.env.NEURALLOG_RUNTIME_OPTIONS ?? 'null') as WorkersRuntimeOptions | null;
  if (!options) throw new Error('NEURALLOG_RUNTIME_OPTIONS is not set (this process is started by scripts/stack.ts)');
  const runtime = await startWorkersRuntime(options);
  process.stdout.write(`${READY_LINE} ${runtime.url.href}\n`);
  const stop = () => void runtime.dispose().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
