/**
 * When a tenant will reach its daily and monthly volume quota at its current
 * rate (GET /v1/limits and GET /v1/usage). Pure: the routes bring the counts.
 *
 * The rate is today's: the bytes the quota counted since UTC midnight over the
 * time since (at least 10 minutes, so one early burst does not forecast the
 * month) — the quota's own measure (the request's bytes), so the forecast and
 * the refusal it warns of agree.
 */

const MIN_ELAPSED_MS = 10 * 60_000;

/** Bytes per second today, as the daily quota counts them. */
export function todaysBytesPerSecond(usedToday: number, now: number): number {
  const elapsed = Math.max(MIN_ELAPSED_MS, now % 86_400_000);
  return usedToday / (elapsed / 1000);
}

export interface QuotaForecast {
  /** The rate the forecast assumes (bytes/s). */
  bytesPerSecond: number;
  /** When the quota is used up at that rate; null when not before the window resets (or nothing is sent). */
  reachesLimitAt: string | null;
}

export function forecastQuota(usedBytes: number, limitBytes: number, bytesPerSecond: number, now: number, resetsAt: number): QuotaForecast {
  const rate = Math.round(bytesPerSecond * 100) / 100;
  if (usedBytes >= limitBytes) return { bytesPerSecond: rate, reachesLimitAt: new Date(now).toISOString() };
  if (bytesPerSecond <= 0) return { bytesPerSecond: rate, reachesLimitAt: null };
  const at = now + ((limitBytes - usedBytes) / bytesPerSecond) * 1000;
  return { bytesPerSecond: rate, reachesLimitAt: at < resetsAt ? new Date(Math.ceil(at / 1000) * 1000).toISOString() : null };
}
