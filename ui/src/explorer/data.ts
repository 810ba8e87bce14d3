/**
 * The explorer's data, fetched from the public search API whenever the query
 * or the range changes: a page of logs (more on scroll, through the cursor),
 * the histogram, and the fields in range. A newer search aborts the older
 * one; every failure is kept to be shown where its data would be.
 */
import { batch, effect, signal } from '@preact/signals';
import { ApiFailure, json, query } from '../api.ts';
import { search, searchAgain } from './search-state.ts';

export interface LogView {
  id: string;
  timestamp: string;
  observedTimestamp: string;
  severityText: string;
  severityNumber: number;
  service: string;
  body: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
  scope: { name: string; version: string; attributes: Record<string, string> };
  /** The record's pattern (message template) and its text; empty for records stored before patterns were mined. */
  patternId: string;
  pattern: string;
}

interface SearchPage {
  logs: LogView[];
  nextCursor: string | null;
  truncated?: boolean;
}

export interface HistogramBucket {
  start: string;
  total: number;
  levels: Record<string, number>;
}

export interface Histogram {
  interval: string;
  intervalSeconds: number;
  total: number;
  buckets: HistogramBucket[];
}

export interface FieldCount {
  name: string;
  count: number;
}

export const PAGE_SIZE = 200;
/** The most rows the list holds: past it, a search narrows better than scrolling. */
export const MAX_LOADED_ROWS = 100_000;

export const logs = signal<LogView[]>([]);
export const nextCursor = signal<string | null>(null);
export const loading = signal(false);
export const loadingMore = signal(false);
export const logsError = signal<ApiFailure | null>(null);
export const histogram = signal<Histogram | null>(null);
export const histogramError = signal<ApiFailure | null>(null);
export const fields = signal<{ builtin: string[]; fields: FieldCount[] } | null>(null);
/**
 * The first page of the latest search's answer. When the list has rendered it,
 * the results mark `neurallog:search-rendered`; `neurallog:search-answered`
 * marks the answer's arrival — User Timing marks a person sees in the browser's
 * performance panel and `npm run bench:ui` reads.
 */
let answeredPage: LogView[] | null = null;
export function isAnsweredPage(rows: LogView[]): boolean {
  return rows === answeredPage;
}

let controller: AbortController | null = null;

function scopeParams() {
  const s = search.value;
  return { q: s.q, from: s.from, to: s.to };
}

function failure(err: unknown): ApiFailure | null {
  if ((err as Error).name === 'AbortError') return null;
  return err instanceof ApiFailure ? err : new ApiFailure(0, 'client', (err as Error).message, {}, null);
}

export async function refresh(): Promise<void> {
  controller?.abort();
  const mine = new AbortController();
  controller = mine;
  const params = scopeParams();
  batch(() => {
    loading.value = true;
    logsError.value = null;
    histogramError.value = null;
  });
  const page = json<SearchPage>(`/v1/logs${query({ ...params, limit: PAGE_SIZE })}`, { signal: mine.signal })
    .then((answer) => {
      if (controller !== mine) return;
      batch(() => {
        logs.value = answer.logs;
        nextCursor.value = answer.nextCursor;
        answeredPage = answer.logs;
        performance.mark('neurallog:search-answered');
      });
    })
    .catch((err) => {
      if (controller !== mine) return;
      const f = failure(err);
      if (!f) return;
      batch(() => {
        logs.value = [];
        nextCursor.value = null;
        logsError.value = f;
      });
    });
  const chart = json<Histogram>(`/v1/logs/histogram${query(params)}`, { signal: mine.signal })
    .then((answer) => {
      if (controller === mine) histogram.value = answer;
    })
    .catch((err) => {
      if (controller !== mine) return;
      const f = failure(err);
      if (!f) return;
      batch(() => {
        histogram.value = null;
        histogramError.value = f;
      });
    });
  const sidebar = json<{ builtin: string[]; fields: FieldCount[] }>(`/v1/logs/fields${query(params)}`, { signal: mine.signal })
    .then((answer) => {
      if (controller === mine) fields.value = answer;
    })
    .catch(() => {
      if (controller === mine) fields.value = null; // the sidebar shows nothing rather than an error twice
    });
  await Promise.allSettled([page, chart, sidebar]);
  if (controller === mine) loading.value = false;
}

/** The next page, through the cursor (infinite scroll). */
export async function loadMore(): Promise<void> {
  const cursor = nextCursor.value;
  if (cursor === null || loadingMore.value || logs.value.length >= MAX_LOADED_ROWS) return;
  const mine = controller;
  loadingMore.value = true;
  try {
    const answer = await json<SearchPage>(`/v1/logs${query({ ...scopeParams(), limit: PAGE_SIZE, cursor })}`, { signal: mine?.signal });
    if (controller !== mine) return;
    batch(() => {
      logs.value = [...logs.value, ...answer.logs];
      nextCursor.value = answer.nextCursor;
    });
  } catch (err) {
    const f = failure(err);
    if (f && controller === mine) logsError.value = f;
  } finally {
    loadingMore.value = false;
  }
}

/** Top values of one field in the current scope. */
export function fieldValues(name: string, limit = 10): Promise<{ values: { value: string; count: number }[]; total: number }> {
  return json(`/v1/logs/fields/${encodeURIComponent(name)}/values${query({ ...scopeParams(), limit })}`);
}

/** The lines around one record from the same service. */
export function context(id: string): Promise<{ log: LogView; before: LogView[]; after: LogView[] }> {
  return json(`/v1/logs/context/${encodeURIComponent(id)}${query({ before: 20, after: 20 })}`);
}

/** Searches again whenever the query or the range changes (not for columns or the selected row). */
export function followSearch(): () => void {
  let last = '';
  return effect(() => {
    const s = search.value;
    const key = JSON.stringify([s.q, s.from, s.to, searchAgain.value]);
    if (key === last) return;
    last = key;
    void refresh();
  });
}

export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unknown'] as const;

/** The level badge of a record, from its SeverityNumber (the API's ranges). */
export function levelOf(severityNumber: number): (typeof LEVELS)[number] {
  if (severityNumber === 0) return 'unknown';
  if (severityNumber <= 4) return 'trace';
  if (severityNumber <= 8) return 'debug';
  if (severityNumber <= 12) return 'info';
  if (severityNumber <= 16) return 'warn';
  if (severityNumber <= 20) return 'error';
  return 'fatal';
}
