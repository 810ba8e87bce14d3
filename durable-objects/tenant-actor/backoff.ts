/**
 * Retry delays for failed flushes: doubling from `baseMs`, capped at `maxMs`,
 * with ±20 % jitter so that many tenants' actors, failing together when
 * ClickHouse goes away, do not all come back in the same instant.
 */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.8 + 0.4 * random()));
}
