/**
 * A record opened from the results (the `row` in the URL): every field, the
 * whole record as pretty-printed JSON, copy buttons, "filter for / filter
 * out" a value, its trace as a search, and the lines around it from the same
 * service (GET /v1/logs/context). Opened from a shared URL, the record is
 * fetched even when it is not among the rows loaded.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiFailure } from '../api.ts';
import { BodyDetail, BodyText } from '../encryption/body.tsx';
import { decryptionOf } from '../encryption/decrypted.ts';
import { context, levelOf, logs, type LogView } from './data.ts';
import { addToQuery, runQuery, search, selectRow, term } from './search-state.ts';

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // clipboard refused (permissions): nothing to do but not to break
  }
}

function FieldRow({ name, value, field }: { name: string; value: string; field: string | null }) {
  const q = search.value.q;
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>
        <code class="value">{value}</code>
      </td>
      <td class="actions">
        <button type="button" class="icon" title={`Copy ${name}`} aria-label={`Copy ${name}`} onClick={() => copy(value)}>
          copy
        </button>
        {field !== null && (
          <>
            <button
              type="button"
              class="icon"
              title="Filter for this value"
              aria-label={`Filter for ${name}`}
              onClick={() => runQuery(addToQuery(q, term(field, value)))}
            >
              +
            </button>
            <button
              type="button"
              class="icon"
              title="Filter out this value"
              aria-label={`Filter out ${name}`}
              onClick={() => runQuery(addToQuery(q, `-${term(field, value)}`))}
            >
              −
            </button>
          </>
        )}
      </td>
    </tr>
  );
}

export function Detail() {
  const id = search.value.row;
  const [around, setAround] = useState<{ log: LogView; before: LogView[]; after: LogView[] } | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const loaded = id === null ? undefined : logs.value.find((l) => l.id === id);

  useEffect(() => {
    setAround(null);
    setError(null);
    if (id === null) return;
    let cancelled = false;
    context(id)
      .then((answer) => !cancelled && setAround(answer))
      .catch((err: ApiFailure) => !cancelled && setError(err));
    return () => {
      cancelled = true;
    };
  }, [id]);

  if (id === null) return null;
  const log = loaded ?? around?.log;
  const decryption = log ? decryptionOf(log) : null;
  return (
    <aside class="detail" aria-label="Record" data-testid="detail">
      <header>
        <h2>Record</h2>
        <button type="button" class="icon" aria-label="Close the record" onClick={() => selectRow(null)}>
          ✕
        </button>
      </header>
      {!log && !error && <p class="muted">Loading…</p>}
      {!log && error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {log && (
        <>
          <table class="fields-table">
            <tbody>
              <FieldRow name="timestamp" value={log.timestamp} field={null} />
              <FieldRow name="level" value={log.severityText || levelOf(log.severityNumber)} field={log.severityNumber > 0 ? 'level' : null} />
              <FieldRow name="service" value={log.service} field="service" />
              {decryption?.state === 'clear' ? (
                <FieldRow name="body" value={log.body} field={null} />
              ) : (
                <tr>
                  <th scope="row">body</th>
                  <td colSpan={2}>
                    <BodyDetail decryption={decryption!} body={log.body} />
                  </td>
                </tr>
              )}
              {log.traceId && <FieldRow name="trace_id" value={log.traceId} field="trace_id" />}
              {log.spanId && <FieldRow name="span_id" value={log.spanId} field="span_id" />}
              {log.patternId && <FieldRow name="pattern" value={log.patternId} field="pattern" />}
              <FieldRow name="id" value={log.id} field={null} />
              {Object.entries(log.attributes).map(([k, v]) => (
                <FieldRow key={`a.${k}`} name={`attr.${k}`} value={v} field={`attr.${k}`} />
              ))}
              {decryption?.state === 'decrypted' &&
                Object.entries(decryption.attributes).map(([k, v]) => (
                  // Decrypted here: the server cannot filter on it (blind search can, by exact value).
                  <FieldRow key={`d.${k}`} name={`attr.${k} (decrypted)`} value={v} field={null} />
                ))}
              {Object.entries(log.resource).map(([k, v]) => (
                <FieldRow key={`r.${k}`} name={`resource.${k}`} value={v} field={`resource.${k}`} />
              ))}
            </tbody>
          </table>
          {log.patternId && (
            <p>
              <a href={`/?q=${encodeURIComponent(`pattern:${log.patternId}`)}&range=24h`} data-testid="pattern-link">
                Every log of its pattern
              </a>{' '}
              <code class="template">{log.pattern}</code>
            </p>
          )}
          {log.traceId && (
            <p>
              <a href={`/?q=${encodeURIComponent(`trace_id:${log.traceId}`)}&range=7d`} data-testid="trace-link">
                Every log of trace {log.traceId.slice(0, 12)}…
              </a>
            </p>
          )}
          <details>
            <summary>{decryption?.state === 'clear' ? 'JSON' : 'JSON as stored (the envelope)'}</summary>
            <button type="button" onClick={() => copy(JSON.stringify(log, null, 2))}>
              Copy JSON
            </button>
            <pre class="json">{JSON.stringify(log, null, 2)}</pre>
          </details>
          <h3>Around it, in {log.service || 'the same service'}</h3>
          {error && (
            <p class="message error" role="alert">
              {error.explanation}
            </p>
          )}
          {!around && !error && <p class="muted">Loading the lines around it…</p>}
          {around && (
            <ol class="context" data-testid="context">
              {[...around.before, around.log, ...around.after].map((line) => (
                <li key={line.id} class={line.id === log.id ? 'current' : ''}>
                  <span class="col-time">{line.timestamp.slice(11, 23)}</span>{' '}
                  <span class={`badge level-${levelOf(line.severityNumber)}`}>{line.severityText || levelOf(line.severityNumber)}</span>{' '}
                  <BodyText record={line} matcher={null} />
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </aside>
  );
}
