/**
 * Patterns: the message templates of the tenant's logs in a range (GET
 * /v1/patterns), most frequent first, each with its share, levels, when it was
 * last seen and a sparkline; a click searches the pattern in the explorer.
 */
import { useEffect, useState } from 'preact/hooks';
import { analyticsRange, RangeSelect, Sparkline } from '../analytics/range.tsx';
import { type ApiFailure, json, query } from '../api.ts';
import { location, navigate, setParams } from '../router.ts';
import type { Page } from './page.ts';

interface Pattern {
  patternId: string;
  template: string;
  service: string;
  count: number;
  share: number;
  lastSeen: string;
  levels: string[];
  counts: number[];
}
interface Patterns {
  total: number;
  unpatterned: number;
  patterns: Pattern[];
}

function PatternsPage() {
  const range = analyticsRange('24h');
  const service = location.value.params.get('service') ?? '';
  const [answer, setAnswer] = useState<Patterns | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    setAnswer(null);
    setError(null);
    json<Patterns>(`/v1/patterns${query({ from: range.from, to: range.to, service, limit: 200 })}`).then(setAnswer, setError);
  }, [range.from, service]);
  const open = (p: Pattern) => navigate('/', { q: `pattern:${p.patternId}`, range: range.key === '6h' ? '24h' : range.key });
  return (
    <div class="page analytics">
      <h1>Patterns</h1>
      <div class="analytics-toolbar">
        <RangeSelect defaultKey="24h" />
        <label>
          Service{' '}
          <input
            type="search"
            value={service}
            placeholder="all"
            data-testid="patterns-service"
            onChange={(e) => setParams({ service: (e.target as HTMLInputElement).value.trim() || null })}
          />
        </label>
      </div>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {!error && !answer && <p class="muted loading">Loading…</p>}
      {answer && answer.patterns.length === 0 && <p class="muted">No records in this range.</p>}
      {answer && answer.patterns.length > 0 && (
        <>
          <p class="muted">
            {answer.total.toLocaleString('en')} records in {answer.patterns.length.toLocaleString('en')} patterns
            {answer.unpatterned > 0 && ` (${answer.unpatterned.toLocaleString('en')} stored before patterns were mined)`}.
          </p>
          <table class="patterns" data-testid="patterns">
            <thead>
              <tr>
                <th scope="col">Over time</th>
                <th scope="col">Pattern</th>
                <th scope="col">Service</th>
                <th scope="col" class="number">
                  Records
                </th>
                <th scope="col" class="number">
                  Share
                </th>
                <th scope="col">Levels</th>
              </tr>
            </thead>
            <tbody>
              {answer.patterns.map((p) => (
                <tr key={p.patternId} data-testid="pattern-row">
                  <td>
                    <Sparkline counts={p.counts} label={`${p.count} records over the range`} />
                  </td>
                  <td class="template">
                    <a
                      href={`/?${new URLSearchParams({ q: `pattern:${p.patternId}` })}`}
                      onClick={(e) => {
                        e.preventDefault();
                        open(p);
                      }}
                    >
                      {p.template || p.patternId}
                    </a>
                  </td>
                  <td>{p.service}</td>
                  <td class="number">{p.count.toLocaleString('en')}</td>
                  <td class="number">{(p.share * 100).toFixed(1)} %</td>
                  <td>
                    {p.levels.map((l) => (
                      <span key={l} class={`badge level-${l}`}>
                        {l}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

export const patternsPage: Page = { path: '/patterns', title: 'Patterns', allowed: (scopes) => scopes.has('logs:read'), component: PatternsPage };
