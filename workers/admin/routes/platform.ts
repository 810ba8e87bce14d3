/**
 * The platform operator's view of the running platform (platform admin only):
 *
 * - `GET /v1/admin/platform/metrics`: the golden signals summed across every
 *   isolate and actor (the PlatformMetrics aggregator's snapshot, JSON);
 * - `GET /v1/admin/platform/health`: ClickHouse, R2 and D1 reachability and
 *   latency, the oldest unflushed record across the actors, the version — what
 *   the gateway's `GET /healthz?verbose=1` shows with the workers' status;
 * - `GET /metrics`: the same metrics in Prometheus's text format, for a
 *   scraper. Open when NEURALLOG_METRICS_OPEN=1 (a local stack on 127.0.0.1),
 *   else the platform-admin token as a Bearer credential (Prometheus's
 *   `authorization` scrape setting) — docs/operations.md.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { bearerToken } from '../../../shared/credential-precheck.ts';
import { loadConfig } from '../../../shared/config.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import type { MetricsSnapshot } from '../../../shared/platform-metrics/aggregate.ts';
import { PROMETHEUS_CONTENT_TYPE, toPrometheusText } from '../../../shared/platform-metrics/exposition.ts';
import { type DependencyProbe, healthVerdict, type PlatformHealth } from '../../../shared/platform-metrics/health-verdict.ts';
import { PLATFORM_METRICS_OBJECT } from '../../../shared/platform-metrics/reporting.ts';
import { PLATFORM_VERSION } from '../../../shared/platform-metrics/version.ts';
import { assertPlatformAdmin, isPlatformAdminToken } from '../admin-auth.ts';
import type { AdminApp, AdminEnv } from '../env.ts';

/** A dependency that has not answered in this long is down, as far as a health check is concerned. */
const PROBE_TIMEOUT_MS = 3_000;

/** The aggregator's snapshot (its RPC). */
interface SnapshotSource {
  snapshot(): Promise<MetricsSnapshot>;
}

function aggregator(env: AdminEnv): SnapshotSource {
  const ns = env.PLATFORM_METRICS;
  return ns.get(ns.idFromName(PLATFORM_METRICS_OBJECT)) as unknown as SnapshotSource;
}

async function probe(run: (signal: AbortSignal) => Promise<void>): Promise<DependencyProbe> {
  const started = Date.now();
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    await Promise.race([
      run(signal),
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)))),
    ]);
    return { status: 'ok', latencyMs: Date.now() - started };
  } catch (err) {
    // The first line only: enough to tell refused from timed out, never a URL's credentials (none are in it) or a stack.
    return {
      status: 'down',
      latencyMs: Date.now() - started,
      error: String((err as Error)?.message ?? err)
        .split('\n')[0]!
        .slice(0, 200),
    };
  }
}

/** Named, so a query log (or a test's fault proxy) tells the health check's queries apart. */
export const HEALTH_QUERY = 'SELECT 1 AS neurallog_healthz';

/** SELECT 1 through ClickHouse's HTTP interface, with the workers' credentials: reachable and accepting them. */
async function probeClickHouse(env: AdminEnv, signal: AbortSignal): Promise<void> {
  const config = loadConfig(env).clickhouse;
  const res = await fetch(`${config.url.replace(/\/+$/, '')}/?query=${encodeURIComponent(HEALTH_QUERY)}`, {
    headers: { 'X-ClickHouse-User': config.username, 'X-ClickHouse-Key': config.password },
    signal,
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 120)}`);
}

export async function platformHealth(env: AdminEnv): Promise<PlatformHealth> {
  let actors: MetricsSnapshot['actors'] | null = null;
  const [clickhouse, r2, d1, metrics] = await Promise.all([
    probe((signal) => probeClickHouse(env, signal)),
    // A HEAD of a key that never exists: the bucket answered (null) or it did not.
    probe(async () => void (await env.ARCHIVE.head('healthz/probe'))),
    probe(async () => void (await env.CONTROL_DB.prepare('SELECT 1').first())),
    probe(async () => {
      actors = (await aggregator(env).snapshot()).actors;
    }),
  ]);
  const dependencies = { clickhouse, r2, d1, metrics };
  const verdict = healthVerdict({
    components: {},
    dependencies,
    oldestUnflushedAgeSeconds: (actors as MetricsSnapshot['actors'] | null)?.oldestUnflushedAgeSeconds ?? 0,
  });
  return {
    status: verdict.status,
    down: verdict.down,
    degraded: verdict.degraded,
    version: PLATFORM_VERSION,
    build: env.CF_VERSION_METADATA?.id ?? null,
    dependencies,
    actors,
  };
}

const Probe = z.object({ status: z.enum(['ok', 'down']), latencyMs: z.number(), error: z.string().optional() }).openapi('DependencyProbe');
const ActorsSummary = z
  .object({
    reporting: z.number().int(),
    bufferedRows: z.number().int(),
    bufferedBytes: z.number().int(),
    oldestUnflushedAgeSeconds: z.number(),
    oldestUnflushedActor: z.string().nullable(),
  })
  .openapi('ActorsSummary');
export const PlatformHealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'unavailable']),
    down: z.array(z.string()).openapi({ description: 'Components and dependencies that are down' }),
    degraded: z.array(z.string()).openapi({ description: '`oldest_unflushed`: a record has waited longer than 5 minutes to be flushed' }),
    version: z.string(),
    build: z.string().nullable().openapi({ description: "Cloudflare's version id of the deployment, when bound" }),
    dependencies: z.object({ clickhouse: Probe, r2: Probe, d1: Probe, metrics: Probe }),
    actors: ActorsSummary.nullable().openapi({ description: "From the actors' last reports; null when the metrics aggregator is down" }),
  })
  .openapi('PlatformHealth');
const MetricsSnapshotSchema = z
  .object({
    generatedAt: z.string(),
    since: z.string().openapi({ description: 'When the counters started counting (the aggregator started)' }),
    metrics: z.record(
      z.string(),
      z.object({
        type: z.enum(['counter', 'histogram', 'gauge']),
        help: z.string(),
        series: z.array(
          z.object({
            labels: z.record(z.string(), z.string()),
            value: z.number().optional(),
            buckets: z.array(z.object({ le: z.string(), count: z.number() })).optional(),
            sum: z.number().optional(),
            count: z.number().optional(),
          }),
        ),
      }),
    ),
    actors: ActorsSummary,
  })
  .openapi('PlatformMetrics');

export const platformRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

platformRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/metrics',
    summary: "The platform's golden signals across every worker and actor (platform admin only; docs/operations.md)",
    security: BEARER_SECURITY,
    responses: {
      200: {
        description: 'Counters and histograms since the aggregator started; the actors’ buffer state',
        content: { 'application/json': { schema: MetricsSnapshotSchema } },
      },
      ...errorResponses(401, 403, 503),
    },
  }),
  async (c) => {
    assertPlatformAdmin(c.get('admin'));
    return c.json(await snapshotOr503(c.env), 200);
  },
);

platformRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/health',
    summary: 'ClickHouse, R2 and D1 reachability and latency, the oldest unflushed record, the version (platform admin only)',
    security: BEARER_SECURITY,
    responses: {
      200: {
        description: 'Every dependency answered (status ok, or degraded by a stuck flush)',
        content: { 'application/json': { schema: PlatformHealthSchema } },
      },
      503: { description: 'A dependency is down: `down` names it', content: { 'application/json': { schema: PlatformHealthSchema } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    assertPlatformAdmin(c.get('admin'));
    const health = await platformHealth(c.env);
    return c.json(health, health.status === 'unavailable' ? 503 : 200);
  },
);

async function snapshotOr503(env: AdminEnv): Promise<MetricsSnapshot> {
  try {
    return await aggregator(env).snapshot();
  } catch {
    throw new ApiError(503, 'unavailable', 'the metrics aggregator cannot be reached; retry later', {}, { 'Retry-After': '5' });
  }
}

/** `GET /metrics` on the gateway's origin (forwarded here): Prometheus text. */
export const prometheusRoutes = new OpenAPIHono<AdminApp>({ defaultHook: validationHook });

prometheusRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/metrics',
    summary: 'The platform metrics in Prometheus text format (open when NEURALLOG_METRICS_OPEN=1, else the platform-admin token)',
    security: [{ bearer: [] }, {}],
    responses: {
      200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
      ...errorResponses(401, 403, 503),
    },
  }),
  async (c) => {
    await requireScraper(c);
    return c.body(toPrometheusText(await snapshotOr503(c.env)), 200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
  },
);

async function requireScraper(c: Context<AdminApp>): Promise<void> {
  if (loadConfig(c.env).metrics.open) return;
  const token = bearerToken(c.req.header('authorization'));
  if (token === null)
    throw new ApiError(
      401,
      'unauthenticated',
      'GET /metrics needs the platform-admin token as a Bearer credential',
      {},
      { 'WWW-Authenticate': 'Bearer realm="neurallog"' },
    );
  if (!(await isPlatformAdminToken(c.env, token))) throw new ApiError(403, 'forbidden', 'only the platform admin may read the metrics');
}
