/** The explorer: query, time, histogram, fields, results or live tail, and the record opened. */
import { useEffect } from 'preact/hooks';
import { blindError, blindMode } from '../encryption/blind-state.ts';
import { canSearchBlind } from '../encryption/keyring.ts';
import { followSearch } from '../explorer/data.ts';
import { Detail } from '../explorer/detail.tsx';
import { FieldsSidebar } from '../explorer/fields-sidebar.tsx';
import { HistogramChart } from '../explorer/histogram.tsx';
import { LiveTail } from '../explorer/live-tail.tsx';
import { QueryBar } from '../explorer/query-bar.tsx';
import { Results } from '../explorer/results.tsx';
import { SavedSearches } from '../explorer/saved-searches.tsx';
import { search, setLive } from '../explorer/search-state.ts';
import { TimePicker } from '../explorer/time-picker.tsx';
import type { Page } from './page.ts';

function Explore() {
  useEffect(() => followSearch(), []);
  const s = search.value;
  return (
    <div class="explorer">
      <div class="toolbar">
        <QueryBar />
        <TimePicker />
        <SavedSearches />
        <label class="live-toggle">
          <input
            type="checkbox"
            role="switch"
            aria-checked={s.live}
            checked={s.live}
            data-testid="live-toggle"
            onChange={(e) => setLive((e.currentTarget as HTMLInputElement).checked)}
          />{' '}
          Live
        </label>
        {canSearchBlind.value && (
          <label class="live-toggle" title="Search encrypted records: the words typed are sent as their blind tokens (exact words only)">
            <input
              type="checkbox"
              role="switch"
              aria-checked={blindMode.value}
              checked={blindMode.value}
              data-testid="blind-toggle"
              onChange={(e) => {
                blindMode.value = (e.currentTarget as HTMLInputElement).checked;
                blindError.value = null;
              }}
            />{' '}
            Blind search
          </label>
        )}
      </div>
      {!s.live && <HistogramChart />}
      <div class="explorer-main">
        <FieldsSidebar />
        <div class="explorer-center">{s.live ? <LiveTail /> : <Results />}</div>
        <Detail />
      </div>
    </div>
  );
}

export const explorePage: Page = { path: '/', title: 'Explore', allowed: (scopes) => scopes.has('logs:read'), component: Explore };
