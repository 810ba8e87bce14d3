/**
 * Loading for the Alerts page's parts: the answer of the newest request wins
 * (a slow refresh never overwrites a newer one), and a failed refresh keeps
 * what was shown, with the API's message beside it — never a blank part.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../api.ts';

export interface Loaded<T> {
  /** null until the first answer. */
  data: T | null;
  /** The last request's failure, or null once one succeeds. */
  error: ApiFailure | null;
}

/** Any failure as an ApiFailure, so each part shows it the same way. */
export function failureOf(err: unknown): ApiFailure {
  return err instanceof ApiFailure ? err : new ApiFailure(-1, 'client', (err as Error)?.message ?? String(err), {}, null);
}

/** Runs `load` when `deps` change; `reset` (when it changes) forgets the data shown, as a different question needs. */
export function useLoaded<T>(load: () => Promise<T>, deps: unknown[], reset: unknown = null): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null });
  const sent = useRef(0);
  const applied = useRef(0);
  const lastReset = useRef(reset);
  useEffect(() => {
    if (lastReset.current !== reset) {
      lastReset.current = reset;
      applied.current = sent.current; // answers to the old question are dropped
      setState({ data: null, error: null });
    }
    const mine = ++sent.current;
    load().then(
      (data) => {
        if (mine <= applied.current) return;
        applied.current = mine;
        setState({ data, error: null });
      },
      (err: unknown) => {
        if (mine <= applied.current) return;
        applied.current = mine;
        setState((s) => ({ data: s.data, error: failureOf(err) }));
      },
    );
  }, [...deps, reset]);
  return state;
}
