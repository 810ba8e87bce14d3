/**
 * Saved searches of the tenant (GET/POST/DELETE /v1/saved-searches): save the
 * current query and range under a name, open one (it becomes the URL, so it
 * is a history entry like any search), delete one. And export: the current
 * result set as NDJSON or CSV, streamed by GET /v1/logs/export. And "Create
 * alert": the Alerts page's form, on this search's query.
 */
import { useEffect, useState } from 'preact/hooks';
import { CreateAlertLink } from '../alerts/create-alert-link.tsx';
import { type ApiFailure, json, query, request } from '../api.ts';
import { navigate } from '../router.ts';
import { search } from './search-state.ts';

interface SavedSearch {
  id: string;
  name: string;
  params: { q?: string; from?: string; to?: string; columns?: string[] };
  createdAt: string;
}

export function SavedSearches() {
  const [open, setOpen] = useState(false);
  const [saved, setSaved] = useState<SavedSearch[] | null>(null);
  const [name, setName] = useState('');
  const [error, setError] = useState<ApiFailure | null>(null);
  const s = search.value;

  const load = () =>
    json<{ savedSearches: SavedSearch[] }>('/v1/saved-searches').then(
      (answer) => setSaved(answer.savedSearches),
      (err: ApiFailure) => setError(err),
    );
  useEffect(() => {
    if (open) void load();
  }, [open]);

  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await json('/v1/saved-searches', {
        method: 'POST',
        body: JSON.stringify({ name: name.trim(), params: { q: s.q, from: s.from, to: s.to, ...(s.columns.length > 0 && { columns: s.columns }) } }),
      });
      setName('');
      await load();
    } catch (err) {
      setError(err as ApiFailure);
    }
  };
  const remove = async (id: string) => {
    setError(null);
    try {
      await request(`/v1/saved-searches/${encodeURIComponent(id)}`, { method: 'DELETE' });
      await load();
    } catch (err) {
      setError(err as ApiFailure);
    }
  };
  const openSaved = (item: SavedSearch) => {
    const relative = /^now-(\w+)$/.exec(item.params.from ?? '');
    const params =
      relative && item.params.to === 'now' ? { q: item.params.q, range: relative[1] } : { q: item.params.q, from: item.params.from, to: item.params.to };
    navigate('/', { ...params, cols: item.params.columns?.join(',') });
    setOpen(false);
  };
  const exportHref = (format: 'ndjson' | 'csv') => `/v1/logs/export${query({ format, q: s.q, from: s.from, to: s.to })}`;

  return (
    <div class="saved">
      <button type="button" aria-expanded={open} data-testid="saved-toggle" onClick={() => setOpen(!open)}>
        Saved searches
      </button>
      <a class="button" href={exportHref('ndjson')} download data-testid="export-ndjson">
        Export NDJSON
      </a>
      <a class="button" href={exportHref('csv')} download data-testid="export-csv">
        CSV
      </a>
      <CreateAlertLink q={s.q} />
      {open && (
        <div class="saved-panel card" role="dialog" aria-label="Saved searches">
          <form onSubmit={save}>
            <label>
              Save this search as{' '}
              <input required maxLength={200} value={name} data-testid="saved-name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
            </label>{' '}
            <button type="submit" class="primary">
              Save
            </button>
          </form>
          {error && (
            <p class="message error" role="alert">
              {error.explanation}
            </p>
          )}
          {saved === null && !error && <p class="muted">Loading…</p>}
          {saved?.length === 0 && <p class="muted">No saved searches yet.</p>}
          <ul class="saved-list">
            {(saved ?? []).map((item) => (
              <li key={item.id}>
                <button type="button" class="link" data-testid="saved-item" onClick={() => openSaved(item)}>
                  {item.name}
                </button>{' '}
                <code class="muted">{item.params.q || '(everything)'}</code>{' '}
                <button type="button" class="icon" aria-label={`Delete ${item.name}`} onClick={() => remove(item.id)}>
                  delete
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
