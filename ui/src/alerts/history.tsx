/**
 * What happened to alerts and their notifications (GET /v1/alerts/history),
 * newest first, of every rule or one; "Older events" pages back with the
 * answer's `next`. A refresh brings the newest page in above what is shown.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiFailure } from '../api.ts';
import { type AlertRule, groupText, type HistoryEvent, loadHistory, utc } from './api.ts';
import { formatValue } from './current.tsx';
import { failureOf } from './load.ts';

const PAGE = 50;

const EVENT_CLASS: Record<string, string> = {
  firing: 'level-error',
  pending: 'level-warn',
  resolved: 'state-resolved',
  error: 'level-fatal',
  notification_failed: 'level-fatal',
  test_failed: 'level-fatal',
};

interface Shown {
  events: HistoryEvent[];
  next: number | null;
  /** Pages older than the first are shown. */
  paged: boolean;
}

/** The newest page over what is shown: the older pages kept below it when the two overlap, else the newest page alone (a gap would hide events). */
function merge(shown: Shown | null, first: { events: HistoryEvent[]; next: number | null }): Shown {
  if (!shown?.paged) return { ...first, paged: false };
  const oldest = first.events.at(-1)?.seq;
  const newestShown = shown.events[0]?.seq;
  if (oldest === undefined || newestShown === undefined || newestShown < oldest) return { ...first, paged: false };
  return { events: [...first.events, ...shown.events.filter((e) => e.seq < oldest)], next: shown.next, paged: true };
}

export function HistoryPart({ tick, rules }: { tick: number; rules: AlertRule[] | null }) {
  const [rule, setRule] = useState('');
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  /** The filter a request was for: an answer for another is dropped. */
  const current = useRef(rule);
  current.current = rule;
  const rulesById = new Map((rules ?? []).map((r) => [r.id, r]));

  useEffect(() => {
    setShown(null);
    setError(null);
  }, [rule]);
  useEffect(() => {
    const asked = rule;
    loadHistory({ rule: asked || undefined, limit: PAGE }).then(
      (first) => {
        if (current.current !== asked) return;
        setShown((s) => merge(s, first));
        setError(null);
      },
      (err: unknown) => {
        if (current.current === asked) setError(failureOf(err));
      },
    );
  }, [rule, tick]);

  const older = async () => {
    if (!shown || shown.next === null) return;
    const asked = rule;
    setLoadingOlder(true);
    try {
      const page = await loadHistory({ rule: asked || undefined, before: shown.next, limit: PAGE });
      if (current.current !== asked) return;
      setShown(
        (s) =>
          s && {
            events: [...s.events, ...page.events.filter((e) => e.seq < (s.events.at(-1)?.seq ?? Number.POSITIVE_INFINITY))],
            next: page.next,
            paged: true,
          },
      );
    } catch (err) {
      setError(failureOf(err));
    } finally {
      setLoadingOlder(false);
    }
  };

  return (
    <section class="alerts-part" aria-labelledby="history-title" data-testid="alert-history">
      <div class="part-head">
        <h2 id="history-title">History</h2>
        <label>
          Rule{' '}
          <select value={rule} data-testid="history-rule" onChange={(e) => setRule((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">All rules</option>
            {(rules ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.rule.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && (
        <p class="message error" role="alert" data-testid="history-error">
          {error.explanation}
        </p>
      )}
      {!error && !shown && <p class="muted loading">Loading…</p>}
      {shown && shown.events.length === 0 && (
        <p class="muted">{rule ? 'Nothing has happened to this rule’s alerts yet.' : 'Nothing has happened to any alert yet.'}</p>
      )}
      {shown && shown.events.length > 0 && (
        <table class="table history-table stack">
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              <th scope="col">Rule</th>
              <th scope="col">Group</th>
              <th scope="col">Event</th>
              <th scope="col" class="number">
                Value
              </th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.events.map((e) => (
              <tr key={e.seq} data-testid="history-event" data-event={e.event} data-rule={e.ruleId}>
                <td data-label="When (UTC)" class="nowrap">
                  {utc(e.at)}
                </td>
                <td data-label="Rule">{e.ruleName}</td>
                <td data-label="Group">
                  <code>{groupText(e.group)}</code>
                </td>
                <td data-label="Event">
                  <span class={`event ${EVENT_CLASS[e.event] ? `badge ${EVENT_CLASS[e.event]}` : ''}`}>{e.event.replace(/_/g, ' ')}</span>
                </td>
                <td data-label="Value" class="number">
                  {formatValue(e.value, rulesById.get(e.ruleId))}
                </td>
                <td data-label="Detail" class="event-detail">
                  {e.detail ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown && shown.next !== null && (
        <button type="button" onClick={() => void older()} disabled={loadingOlder} data-testid="history-older">
          {loadingOlder ? 'Loading…' : 'Older events'}
        </button>
      )}
    </section>
  );
}
