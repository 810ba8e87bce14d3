/**
 * The time range of the analytics pages, in the URL like the explorer's
 * (`range=24h`, or absolute `from`/`to`), so a link to a page is its view and
 * a click through to the explorer keeps the range.
 */
import { location, setParams } from '../router.ts';

export const ANALYTICS_RANGES = [
  { key: '1h', label: 'Last hour' },
  { key: '6h', label: 'Last 6 hours' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
] as const;
const KEYS = new Map<string, string>(ANALYTICS_RANGES.map((r) => [r.key, r.label]));

export function analyticsRange(defaultKey: string): { key: string; from: string; to: string } {
  const p = location.value.params;
  const key = KEYS.has(p.get('range') ?? '') ? p.get('range')! : defaultKey;
  return { key, from: `now-${key}`, to: 'now' };
}

export function RangeSelect({ defaultKey }: { defaultKey: string }) {
  const { key } = analyticsRange(defaultKey);
  return (
    <label class="range-select">
      Range{' '}
      <select value={key} data-testid="analytics-range" onChange={(e) => setParams({ range: (e.target as HTMLSelectElement).value })}>
        {ANALYTICS_RANGES.map((r) => (
          <option key={r.key} value={r.key}>
            {r.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A small line of counts (a sparkline): an SVG path, no chart library needed for 60 points. */
export function Sparkline({ counts, label }: { counts: number[]; label: string }) {
  const width = 120;
  const height = 24;
  const max = Math.max(1, ...counts);
  const step = counts.length > 1 ? width / (counts.length - 1) : width;
  const points = counts.map((c, i) => `${(i * step).toFixed(1)},${(height - 1 - (c / max) * (height - 2)).toFixed(1)}`).join(' ');
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}
