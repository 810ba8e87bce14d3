/**
 * Request rate, errors and latency per route: a Hono middleware each worker
 * puts first. After the response it records the matched route *pattern*
 * (Hono's routePath: `/v1/logs/context/:id`, never the raw path), the method
 * and the status, and asks for a report (reporting.ts) — a Map update and, at
 * most once per interval per isolate, one background RPC.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { METHODS } from './catalog.ts';
import { type PlatformMetricsBindings, platformMetrics } from './reporting.ts';

/** The route label: the pattern that answered, or `unmatched` when only middleware ran (a 404). */
export function routeLabel(pattern: string, status: number): string {
  if (pattern === '' || (status === 404 && pattern.endsWith('*'))) return 'unmatched';
  return pattern;
}

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

export function requestMetrics(worker: string): MiddlewareHandler<{ Bindings: PlatformMetricsBindings }> {
  return async function requestMetrics(c, next) {
    const started = Date.now();
    await next();
    const status = c.res.status;
    const route = routeLabel(routePath(c), status);
    const method = methodLabel(c.req.method);
    const metrics = platformMetrics(c.env);
    metrics.count('neurallog_http_requests_total', { worker, method, route, status: String(status) });
    metrics.observe('neurallog_http_request_duration_seconds', { worker, method, route, status_class: statusClass(status) }, (Date.now() - started) / 1000);
    let background: (work: Promise<unknown>) => void;
    try {
      const ctx = c.executionCtx;
      background = (work) => ctx.waitUntil(work);
    } catch {
      return; // no ExecutionContext (an app called directly): the next request reports
    }
    metrics.reportSoon(background);
  };
}
