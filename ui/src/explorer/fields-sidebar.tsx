/**
 * The fields seen in the range (GET /v1/logs/fields), by how many records
 * carry them; open one for its top values (GET …/values) and click a value to
 * add `field:value` — or its negation — to the query. Also where the
 * attribute columns of the results are chosen.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiFailure } from '../api.ts';
import { fieldValues, fields } from './data.ts';
import { addToQuery, runQuery, search, setColumns, term } from './search-state.ts';

function Values({ field }: { field: string }) {
  const [values, setValues] = useState<{ value: string; count: number }[] | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const s = search.value;
  useEffect(() => {
    let cancelled = false;
    fieldValues(field)
      .then((answer) => !cancelled && setValues(answer.values))
      .catch((err: ApiFailure) => !cancelled && setError(err));
    return () => {
      cancelled = true;
    };
  }, [field, s.q, s.from, s.to]);
  if (error) return <p class="message error">{error.explanation}</p>;
  if (!values) return <p class="muted">…</p>;
  if (values.length === 0) return <p class="muted">No values in range.</p>;
  return (
    <ul class="values">
      {values.map((v) => (
        <li key={v.value}>
          <button
            type="button"
            class="link"
            data-testid="facet-value"
            onClick={() => runQuery(addToQuery(s.q, term(field, v.value)))}
            title={`Add ${field}:${v.value}`}
          >
            {v.value === '' ? '(empty)' : v.value}
          </button>
          <span class="count">{v.count.toLocaleString('en')}</span>
          <button
            type="button"
            class="icon"
            aria-label={`Exclude ${field} ${v.value}`}
            title="Filter out"
            onClick={() => runQuery(addToQuery(s.q, `-${term(field, v.value)}`))}
          >
            −
          </button>
        </li>
      ))}
    </ul>
  );
}

export function FieldsSidebar() {
  const [open, setOpen] = useState<string | null>('level');
  const s = search.value;
  const names = ['level', 'service', ...(fields.value?.fields ?? []).map((f) => f.name)];
  const counts = new Map((fields.value?.fields ?? []).map((f) => [f.name, f.count]));
  return (
    <nav class="sidebar" aria-label="Fields">
      <h2>Fields</h2>
      <ul class="field-list">
        {names.map((name) => (
          <li key={name}>
            <div class="field-line">
              <button
                type="button"
                class="link field-name"
                aria-expanded={open === name}
                data-testid="facet"
                onClick={() => setOpen(open === name ? null : name)}
              >
                {name}
              </button>
              {counts.has(name) && <span class="count">{counts.get(name)!.toLocaleString('en')}</span>}
              {name !== 'level' && name !== 'service' && (
                <label class="column-toggle" title="Show as a column">
                  <input
                    type="checkbox"
                    checked={s.columns.includes(name)}
                    onChange={(e) => setColumns((e.currentTarget as HTMLInputElement).checked ? [...s.columns, name] : s.columns.filter((c) => c !== name))}
                  />
                  <span class="sr-only">Show {name} as a column</span>
                </label>
              )}
            </div>
            {open === name && <Values field={name} />}
          </li>
        ))}
      </ul>
    </nav>
  );
}
