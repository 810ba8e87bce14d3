/** The time range: a relative one, or absolute bounds (typed, or from a zoom on the histogram). */
import { useEffect, useState } from 'preact/hooks';
import { RELATIVE_RANGES, rangeLabel, search, setAbsoluteRange, setRelativeRange } from './search-state.ts';

function toInput(value: string): string {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
}

export function TimePicker() {
  const s = search.value;
  const [from, setFrom] = useState(toInput(s.from));
  const [to, setTo] = useState(toInput(s.to));
  useEffect(() => {
    setFrom(toInput(s.from));
    setTo(toInput(s.to));
  }, [s.from, s.to]);
  return (
    <div class="time-picker">
      <label>
        <span class="sr-only">Range</span>
        <select value={s.range ?? 'absolute'} data-testid="range" onChange={(e) => setRelativeRange((e.currentTarget as HTMLSelectElement).value)}>
          {RELATIVE_RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
          {s.range === null && <option value="absolute">{rangeLabel(s)}</option>}
        </select>
      </label>
      <form
        class="absolute"
        onSubmit={(e) => {
          e.preventDefault();
          const f = Date.parse(`${from}Z`);
          const t = Date.parse(`${to}Z`);
          if (Number.isFinite(f) && Number.isFinite(t) && f < t) setAbsoluteRange(f, t);
        }}
      >
        <label>
          From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          To <input type="datetime-local" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit">Apply (UTC)</button>
      </form>
    </div>
  );
}
