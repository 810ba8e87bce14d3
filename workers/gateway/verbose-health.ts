/**
 * `GET /healthz?verbose=1`: the plain check's view of the workers, plus what
 * the admin worker sees of the dependencies (ClickHouse, R2, D1, the metrics
 * aggregator: reachability and latency), the oldest unflushed record across
 * the actors and the version. The admin worker authenticates it (platform
 * admin only): the gateway authenticates nothing, so it forwards the
 * credential and passes a refusal through as it is.
 */
import { healthVerdict, type PlatformHealth } from '../../shared/platform-metrics/health-verdict.ts';

/** The admin worker's health answer, as far as the gateway reads it. */
type AdminHealth = Pick<PlatformHealth, 'version' | 'build' | 'dependencies' | 'actors'>;

export function wantsVerbose(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}

export async function verboseHealth(admin: Fetcher, authorization: string | undefined, components: Record<string, string>): Promise<Response> {
  const headers = new Headers();
  if (authorization !== undefined) headers.set('Authorization', authorization);
  let platform: AdminHealth | null = null;
  try {
    const res = await admin.fetch('https://internal/v1/admin/platform/health', { headers });
    if (res.status === 401 || res.status === 403) return res; // the admin worker's refusal, unchanged
    if (res.status === 200 || res.status === 503) platform = await res.json<AdminHealth>();
    else await res.body?.cancel();
  } catch {
    platform = null;
  }
  if (platform === null) {
    // Nothing known about the dependencies: the admin worker, which probes them, is what is down.
    const verdict = healthVerdict({ components: { ...components, admin: 'unavailable' }, dependencies: {}, oldestUnflushedAgeSeconds: 0 });
    return Response.json(
      { status: verdict.status, down: verdict.down, degraded: verdict.degraded, components: { ...components, admin: 'unavailable' } },
      { status: 503 },
    );
  }
  const verdict = healthVerdict({
    components,
    dependencies: platform.dependencies,
    oldestUnflushedAgeSeconds: platform.actors?.oldestUnflushedAgeSeconds ?? 0,
  });
  return Response.json(
    {
      status: verdict.status,
      down: verdict.down,
      degraded: verdict.degraded,
      version: platform.version,
      build: platform.build,
      components,
      dependencies: platform.dependencies,
      actors: platform.actors,
    },
    { status: verdict.httpStatus },
  );
}
