/**
 * The URL is the state: the page, and for the explorer the query, the range,
 * the columns and the selected row. Changing what a person searches pushes a
 * history entry (back and forward move through searches and zooms); small
 * changes (a column, the selected row) replace it. Pasting the URL elsewhere
 * reproduces the view.
 */
import { signal } from '@preact/signals';

export interface Location {
  path: string;
  params: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

export const location = signal<Location>(current());

window.addEventListener('popstate', () => {
  location.value = current();
});

export function navigate(path: string, params: Record<string, string | null | undefined> | URLSearchParams = {}, options: { replace?: boolean } = {}): void {
  const search = params instanceof URLSearchParams ? new URLSearchParams(params) : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') search.set(k, v);
  const text = search.toString();
  const url = `${path}${text ? `?${text}` : ''}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  location.value = current();
}

/** Changes some parameters of the current URL, keeping the others. */
export function setParams(changes: Record<string, string | null | undefined>, options: { replace?: boolean } = {}): void {
  const params = new URLSearchParams(location.value.params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  navigate(location.value.path, params, options);
}
