/**
 * The verdict of the fault suite for one tenant: what the canary writer sent
 * and saw acknowledged, against what the public API returned.
 *
 * - lost: acknowledged, never found — the one thing NeuralLog promises never happens;
 * - duplicated: found more than once (each extra copy counts);
 * - phantom: found, never sent (a sequence number no attempt carried);
 * - stored unacknowledged: sent, no acknowledgement seen, found once — allowed
 *   (the answer was lost), reported so that a run shows the case happened.
 *
 * Pure, so a table test pins it (test/node/chaos-logic.test.ts).
 */

export interface Tally {
  sent: number;
  acked: number;
  found: number;
  lost: number;
  duplicated: number;
  phantom: number;
  storedUnacknowledged: number;
  /** A few of each, for the report. */
  examples: { lost: number[]; duplicated: number[]; phantom: number[] };
}

const EXAMPLES = 5;

/** A batch of the canary writer: records `from` … `to - 1`, whether any attempt was made, whether one was acknowledged. */
export interface SentBatch {
  from: number;
  to: number;
  attempted: boolean;
  acked: boolean;
}

/** `found`: the sequence numbers read back, one entry per copy found. */
export function tally(batches: readonly SentBatch[], found: readonly number[]): Tally {
  const copies = new Map<number, number>();
  for (const seq of found) copies.set(seq, (copies.get(seq) ?? 0) + 1);
  // Batches are numbered in order of their records: the batch of a sequence number by binary search.
  const sorted = [...batches].sort((a, b) => a.from - b.from);
  const batchOf = (seq: number): SentBatch | undefined => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = sorted[mid]!;
      if (seq < b.from) hi = mid - 1;
      else if (seq >= b.to) lo = mid + 1;
      else return b;
    }
    return undefined;
  };
  const result: Tally = {
    sent: 0,
    acked: 0,
    found: found.length,
    lost: 0,
    duplicated: 0,
    phantom: 0,
    storedUnacknowledged: 0,
    examples: { lost: [], duplicated: [], phantom: [] },
  };
  for (const [seq, n] of copies) {
    const batch = batchOf(seq);
    if (!batch?.attempted) {
      result.phantom += n;
      if (result.examples.phantom.length < EXAMPLES) result.examples.phantom.push(seq);
      continue;
    }
    if (n > 1) {
      result.duplicated += n - 1;
      if (result.examples.duplicated.length < EXAMPLES) result.examples.duplicated.push(seq);
    }
    if (!batch.acked) result.storedUnacknowledged++;
  }
  for (const batch of sorted) {
    if (batch.attempted) result.sent += batch.to - batch.from;
    if (!batch.acked) continue;
    result.acked += batch.to - batch.from;
    for (let seq = batch.from; seq < batch.to; seq++) {
      if (copies.has(seq)) continue;
      result.lost++;
      if (result.examples.lost.length < EXAMPLES) result.examples.lost.push(seq);
    }
  }
  return result;
}
