/**
 * The results: a virtualised list (TanStack Virtual) that stays smooth at
 * tens of thousands of rows — only the rows in view are in the DOM — with
 * infinite scroll through the search cursor. Each row: time, level badge,
 * service, the chosen attribute columns, and the body with the query's
 * matches marked. `j`/`k` move, Enter opens a row, Esc closes it.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import { useEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { BodyText } from '../encryption/body.tsx';
import { type Decryption, decryptionOf } from '../encryption/decrypted.ts';
import { typedQuery } from '../encryption/blind-state.ts';
import { isAnsweredPage, loading, loadingMore, loadMore, logs, logsError, levelOf, MAX_LOADED_ROWS, nextCursor, type LogView } from './data.ts';
import { matcherOf } from './highlight.tsx';
import { search, selectRow } from './search-state.ts';

export const ROW_HEIGHT = 28;

export function attributeOf(log: LogView, column: string, decryption: Decryption = { state: 'clear' }): string {
  if (column.startsWith('resource.')) {
    const key = column.slice(9);
    return Object.hasOwn(log.resource, key) ? log.resource[key]! : '';
  }
  const key = column.startsWith('attr.') ? column.slice(5) : column;
  if (Object.hasOwn(log.attributes, key)) return log.attributes[key]!;
  // An encrypted attribute, decrypted in this browser.
  return decryption.state === 'decrypted' && Object.hasOwn(decryption.attributes, key) ? decryption.attributes[key]! : '';
}

export function Results() {
  const scroller = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [focused, setFocused] = useState(0);
  // The key handler reads the focused row through a ref: effects run after
  // paint, so a closure over the state would be a frame behind fast keys
  // (j j k Enter opened the row before last).
  const focusedRef = useRef(0);
  focusedRef.current = focused;
  const rows = logs.value;
  const s = search.value;
  // A blind search's tokens mark nothing: the words typed do, in the decrypted messages.
  const matcher = useMemo(() => matcherOf(typedQuery(s.q)), [s.q]);

  const virtualizer = useMemo(
    () =>
      new Virtualizer<HTMLDivElement, HTMLDivElement>({
        count: 0,
        getScrollElement: () => scroller.current,
        estimateSize: () => ROW_HEIGHT,
        overscan: 15,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(0),
      }),
    [],
  );
  useEffect(() => virtualizer._didMount(), [virtualizer]);
  virtualizer.setOptions({ ...virtualizer.options, count: rows.length });
  useEffect(() => {
    virtualizer._willUpdate();
  });

  const items = virtualizer.getVirtualItems();
  const lastShown = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (rows.length > 0 && lastShown >= rows.length - 30 && nextCursor.value !== null) void loadMore();
  }, [lastShown, rows.length]);

  // Effects run after the frame is painted: the answer is on screen.
  useEffect(() => {
    if (isAnsweredPage(rows)) performance.mark('neurallog:search-rendered');
  }, [rows]);

  // A new search starts at the top.
  useEffect(() => {
    focusedRef.current = 0;
    setFocused(0);
    scroller.current?.scrollTo({ top: 0 });
  }, [s.q, s.from, s.to]);

  useEffect(() => {
    const keys = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target?.closest('input, textarea, select, [contenteditable="true"]')) return;
      if (event.key === 'j' || event.key === 'k') {
        event.preventDefault();
        const next = Math.max(0, Math.min(rows.length - 1, focusedRef.current + (event.key === 'j' ? 1 : -1)));
        focusedRef.current = next;
        setFocused(next);
        virtualizer.scrollToIndex(next, { align: 'auto' });
      } else if (event.key === 'Enter' && rows[focusedRef.current]) {
        selectRow(rows[focusedRef.current]!.id);
      } else if (event.key === 'Escape') {
        selectRow(null);
      }
    };
    window.addEventListener('keydown', keys);
    return () => window.removeEventListener('keydown', keys);
  }, [rows, virtualizer]);

  const error = logsError.value;
  return (
    <section class="results" aria-label="Results">
      <div class="results-head" aria-hidden="true">
        <span class="col-time">Time (UTC)</span>
        <span class="col-level">Level</span>
        <span class="col-service">Service</span>
        {s.columns.map((c) => (
          <span class="col-attr" key={c}>
            {c}
          </span>
        ))}
        <span class="col-body">Message</span>
      </div>
      {error && error.code !== 'query_syntax' && (
        <p class="message error" role="alert" data-testid="results-error">
          {error.explanation}
        </p>
      )}
      {!error && !loading.value && rows.length === 0 && (
        <p class="message" data-testid="no-results">
          No logs match in this range. Widen the range or loosen the query.
        </p>
      )}
      <div ref={scroller} class="results-scroll" data-testid="results" role="listbox" aria-label="Logs, newest first" tabIndex={0}>
        <div style={{ height: `${virtualizer.getTotalSize()}px`, position: 'relative' }}>
          {items.map((item) => {
            const log = rows[item.index]!;
            const level = levelOf(log.severityNumber);
            const decryption = s.columns.length > 0 ? decryptionOf(log) : undefined;
            return (
              <div
                key={log.id}
                role="option"
                tabIndex={-1}
                aria-selected={log.id === s.row}
                class={`row${item.index === focused ? ' focused' : ''}${log.id === s.row ? ' selected' : ''}`}
                style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}
                data-testid="result-row"
                data-id={log.id}
                onClick={() => {
                  focusedRef.current = item.index;
                  setFocused(item.index);
                  selectRow(log.id);
                }}
                onKeyDown={(event) => {
                  if (event.key === 'Enter') selectRow(log.id);
                }}
              >
                <span class="col-time">{log.timestamp.slice(0, 23).replace('T', ' ')}</span>
                <span class="col-level">
                  <span class={`badge level-${level}`}>{log.severityText || level}</span>
                </span>
                <span class="col-service">{log.service}</span>
                {s.columns.map((c) => (
                  <span class="col-attr" key={c}>
                    {attributeOf(log, c, decryption)}
                  </span>
                ))}
                <span class="col-body">
                  <BodyText record={log} matcher={matcher} />
                </span>
              </div>
            );
          })}
        </div>
      </div>
      <p class="results-foot muted" aria-live="polite">
        {loading.value ? 'Searching…' : `${rows.length.toLocaleString('en')} loaded${nextCursor.value ? ' · scroll for more' : ''}`}
        {loadingMore.value ? ' · loading more…' : ''}
        {rows.length >= MAX_LOADED_ROWS ? ' · the list is full: narrow the search to see more' : ''}
      </p>
    </section>
  );
}
