/**
 * What the explorer shows, read from the URL (router.ts): the query, the time
 * range — a relative one (`range=1h`) or absolute bounds from a zoom
 * (`from`, `to`) — the attribute columns and the selected row.
 */
import { computed, signal } from '@preact/signals';
import { location, setParams } from '../router.ts';

export const RELATIVE_RANGES = [
  { key: '15m', label: 'Last 15 minutes' },
  { key: '1h', label: 'Last hour' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
] as const;
export const DEFAULT_RANGE = '1h';
const RELATIVE = new Map<string, string>(RELATIVE_RANGES.map((r) => [r.key, r.label]));

export interface SearchState {
  q: string;
  /** The API's `from` and `to`: `now-1h`/`now`, or RFC 3339 times. */
  from: string;
  to: string;
  /** A relative range's key, or null for absolute bounds. */
  range: string | null;
  columns: string[];
  row: string | null;
  live: boolean;
}

export const search = computed<SearchState>(() => {
  const p = location.value.params;
  const from = p.get('from');
  const to = p.get('to');
  const absolute = from !== null && to !== null;
  const range = absolute ? null : RELATIVE.has(p.get('range') ?? '') ? p.get('range')! : DEFAULT_RANGE;
  return {
    q: p.get('q') ?? '',
    from: absolute ? from : `now-${range}`,
    to: absolute ? to : 'now',
    range,
    columns: (p.get('cols') ?? '').split(',').filter((c) => c !== ''),
    row: p.get('row'),
    live: p.get('live') === '1',
  };
});

export function rangeLabel(state: SearchState): string {
  if (state.range !== null) return RELATIVE.get(state.range) ?? state.range;
  return `${shortTime(state.from)} → ${shortTime(state.to)}`;
}

function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').slice(0, 19);
}

/** Bumped when the same search is asked for again: the results are fetched afresh. */
export const searchAgain = signal(0);

/** A new search: a history entry of its own (the same one again refreshes the results). */
export function runQuery(q: string): void {
  const before = search.peek();
  setParams({ q, row: null });
  const after = search.peek();
  // The same scope (even if the URL's spelling changed, %20 to +): fetch again rather than nothing.
  if (after.q === before.q && after.from === before.from && after.to === before.to) searchAgain.value++;
}

export function setRelativeRange(key: string): void {
  setParams({ range: key, from: null, to: null, row: null });
}

export function setAbsoluteRange(fromMs: number, toMs: number): void {
  setParams({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), range: null, row: null });
}

export function selectRow(id: string | null): void {
  setParams({ row: id }, { replace: true });
}

export function setColumns(columns: string[]): void {
  setParams({ cols: columns.join(',') }, { replace: true });
}

export function setLive(live: boolean): void {
  setParams({ live: live ? '1' : null }, { replace: true });
}

/** `field:value`, quoted when it must be, for adding to a query. */
export function term(field: string, value: string): string {
  const needsQuotes = value === '' || /[\s():"\\<>=]/.test(value);
  return `${field}:${needsQuotes ? `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"` : value}`;
}

export function addToQuery(q: string, clause: string): string {
  return q.trim() === '' ? clause : `${q.trim()} ${clause}`;
}
