/**
 * What a request (or a tail call) hands to its `waitUntil`, collected for a test:
 * `background` is the hook to pass, `count` how many pieces of work were handed,
 * `settled` awaits them all — work handed on while settling included.
 */
import type { Background } from '../../shared/background.ts';

export function backgroundWork(): { background: Background; count: () => number; settled: () => Promise<void> } {
  const pending: Promise<unknown>[] = [];
  let handed = 0;
  return {
    background: (work) => {
      handed++;
      pending.push(work);
    },
    count: () => handed,
    settled: async () => {
      while (pending.length > 0) await pending.shift();
    },
  };
}
