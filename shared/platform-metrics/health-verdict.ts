/**
 * What `GET /healthz?verbose=1` concludes from its probes: a pure function,
 * so each rule has a row in its table test.
 *
 * - a worker behind the gateway not ready, or a dependency (ClickHouse, R2,
 *   D1, the metrics aggregator) down → `unavailable`, 503, naming each one;
 * - everything up but the oldest unflushed record older than
 *   STUCK_FLUSH_AFTER_S → `degraded`, 200: nothing is lost (the actors hold the
 *   rows durably) but a flush is stuck — the runbook's "stuck flush";
 * - else `ok`, 200.
 */
import type { MetricsSnapshot } from './aggregate.ts';

export type ProbeStatus = 'ok' | 'down';

export interface DependencyProbe {
  status: ProbeStatus;
  latencyMs: number;
  /** Why it is down (a short message, never a credential). */
  error?: string;
}

/** The admin worker's answer to the verbose health check (`GET /v1/admin/platform/health`), which the gateway completes with the workers' status. */
export interface PlatformHealth {
  status: HealthVerdict['status'];
  down: string[];
  degraded: string[];
  version: string;
  build: string | null;
  dependencies: Record<'clickhouse' | 'r2' | 'd1' | 'metrics', DependencyProbe>;
  actors: MetricsSnapshot['actors'] | null;
}

export interface HealthInput {
  /** The workers behind the gateway: each one's /healthz status. */
  components: Record<string, string>;
  dependencies: Record<string, DependencyProbe>;
  oldestUnflushedAgeSeconds: number;
}

export interface HealthVerdict {
  status: 'ok' | 'degraded' | 'unavailable';
  httpStatus: 200 | 503;
  /** Components and dependencies that are down, by name. */
  down: string[];
  /** Why the verdict is degraded, when it is. */
  degraded: string[];
}

/** Five minutes: flushes happen within a second normally, and retries of a short outage are well inside this. */
export const STUCK_FLUSH_AFTER_S = 300;

export function healthVerdict(input: HealthInput): HealthVerdict {
  const down = [
    ...Object.entries(input.components)
      .filter(([, status]) => status !== 'ok')
      .map(([name]) => name),
    ...Object.entries(input.dependencies)
      .filter(([, probe]) => probe.status !== 'ok')
      .map(([name]) => name),
  ];
  if (down.length > 0) return { status: 'unavailable', httpStatus: 503, down, degraded: [] };
  if (input.oldestUnflushedAgeSeconds > STUCK_FLUSH_AFTER_S) return { status: 'degraded', httpStatus: 200, down, degraded: ['oldest_unflushed'] };
  return { status: 'ok', httpStatus: 200, down, degraded: [] };
}
