/**
 * Anomalies: what is unusual in a range (GET /v1/anomalies) — alarms first
 * (score ≥ 1), then findings — each with what was expected and what happened;
 * a click opens the explorer on the records concerned, over the anomaly's time.
 */
import { useEffect, useState } from 'preact/hooks';
import { analyticsRange, RangeSelect } from '../analytics/range.tsx';
import { type ApiFailure, json, query } from '../api.ts';
import { navigate } from '../router.ts';
import type { Page } from './page.ts';

interface Anomaly {
  kind: 'volume' | 'silence' | 'error_ratio' | 'new_pattern';
  service: string;
  patternId: string | null;
  template: string | null;
  direction?: string;
  start: string;
  end: string;
  expected: number;
  actual: number;
  score: number;
  summary: string;
}
interface Anomalies {
  interval: string;
  baselineDays: number;
  anomalies: Anomaly[];
}

const KIND_LABEL: ReadonlyMap<string, string> = new Map([
  ['volume', 'Volume'],
  ['silence', 'Silence'],
  ['error_ratio', 'Error ratio'],
  ['new_pattern', 'New pattern'],
]);

function time(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16);
}

function AnomaliesPage() {
  const range = analyticsRange('24h');
  const [answer, setAnswer] = useState<Anomalies | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    setAnswer(null);
    setError(null);
    json<Anomalies>(`/v1/anomalies${query({ from: range.from, to: range.to })}`).then(setAnswer, setError);
  }, [range.from]);
  const open = (a: Anomaly) => {
    const q = a.patternId ? `pattern:${a.patternId}` : `service:${JSON.stringify(a.service)}`;
    // The anomaly's time, with an interval's margin either side so the change shows in the histogram.
    const margin = Math.max(5 * 60_000, Date.parse(a.end) - Date.parse(a.start));
    navigate('/', {
      q,
      from: new Date(Date.parse(a.start) - margin).toISOString(),
      to: new Date(Math.min(Date.now(), Date.parse(a.end) + margin)).toISOString(),
    });
  };
  const alarms = answer?.anomalies.filter((a) => a.score >= 1) ?? [];
  const findings = answer?.anomalies.filter((a) => a.score < 1) ?? [];
  const list = (items: Anomaly[]) => (
    <ul class="anomalies">
      {items.map((a) => (
        <li key={`${a.kind}-${a.service}-${a.patternId}-${a.start}`} class="card anomaly" data-testid="anomaly" data-kind={a.kind}>
          <div class="anomaly-head">
            <span class={`kind kind-${a.kind}`}>{KIND_LABEL.get(a.kind) ?? a.kind}</span>
            <strong>{a.service}</strong>
            <span class="muted">
              {time(a.start)} → {time(a.end)} UTC
            </span>
            <span class="score" title="1 or more is an alarm">
              score {a.score.toFixed(2)}
            </span>
          </div>
          {a.template && <code class="template">{a.template}</code>}
          <p>{a.summary}</p>
          <button type="button" onClick={() => open(a)}>
            Show the records
          </button>
        </li>
      ))}
    </ul>
  );
  return (
    <div class="page analytics">
      <h1>Anomalies</h1>
      <div class="analytics-toolbar">
        <RangeSelect defaultKey="24h" />
      </div>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {!error && !answer && <p class="muted loading">Loading…</p>}
      {answer && (
        <>
          <p class="muted" data-testid="baseline">
            {answer.baselineDays >= 3
              ? `Judged against the same time of day on the ${answer.baselineDays} days before, in ${answer.interval} intervals.`
              : `Fewer than 3 days of history at these hours (${answer.baselineDays}): volume, silence and error ratio are not judged yet; new patterns are.`}
          </p>
          <h2>Alarms</h2>
          {alarms.length === 0 ? <p class="muted">Nothing unusual enough to alarm on.</p> : list(alarms)}
          {findings.length > 0 && (
            <>
              <h2>Findings</h2>
              {list(findings)}
            </>
          )}
        </>
      )}
    </div>
  );
}

export const anomaliesPage: Page = { path: '/anomalies', title: 'Anomalies', allowed: (scopes) => scopes.has('logs:read'), component: AnomaliesPage };
