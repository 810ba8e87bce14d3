/** The quota forecast: when, at today's rate, the daily and monthly quotas run out. */
import { describe, expect, it } from 'vitest';
import { forecastQuota, todaysBytesPerSecond } from '../../shared/analytics/forecast.ts';

const H = 3_600_000;
const now = Date.UTC(2026, 10, 29, 10, 30);

describe('todaysBytesPerSecond', () => {
  it("is today's bytes over the time since midnight, at least 10 minutes", () => {
    expect(todaysBytesPerSecond(37_800, now)).toBe(1); // 10:30 is 37,800 s after midnight
    expect(todaysBytesPerSecond(600, Date.UTC(2026, 10, 29, 0, 1))).toBe(1); // one minute in: counted as ten
    expect(todaysBytesPerSecond(0, now)).toBe(0);
  });
});

describe('forecastQuota', () => {
  const table: [string, number, number, number, number, string | null][] = [
    // name, used, limit, rate, resetsAt, reachesLimitAt
    ['reached before the reset', 0, 3_600, 1, now + 2 * H, new Date(now + H).toISOString()],
    ['not before the reset', 0, 3_600, 1, now + H / 2, null],
    ['nothing sent: no forecast', 100, 3_600, 0, now + 2 * H, null],
    ['already used up: now', 3_600, 3_600, 1, now + 2 * H, new Date(now).toISOString()],
  ];
  for (const [name, used, limit, rate, resetsAt, expected] of table) {
    it(name, () => expect(forecastQuota(used, limit, rate, now, resetsAt).reachesLimitAt).toBe(expected));
  }
});
