/**
 * The baseline an interval's count is compared with (ADR 0014): what the same
 * series logged at the same time of day on earlier days — the median of
 * those counts, and their spread as the median absolute deviation.
 *
 * Why this one: logs follow the day (traffic, batch jobs, backups), so "the
 * last hour" is a bad reference at 9:00 after a quiet night; the same slot on
 * earlier days knows the rhythm. The median and MAD ignore up to half the
 * reference days being odd (an earlier incident does not become normal), and
 * need no model fitted per series: every tenant and series gets the same rule.
 * Counts are Poisson-like, so the spread never goes below √expected (a series
 * of 0, 0, 0… would otherwise make one record "infinitely" surprising).
 */

/** The same slot on earlier days, oldest first: missing days are absent, zero days are 0. */
export interface Baseline {
  /** The usual count: the median of the reference counts, or the mean without the largest when higher. */
  expected: number;
  /** Robust standard deviation: 1.4826 × MAD, at least √expected and at least 1. */
  spread: number;
  /** How many reference days there were. */
  days: number;
  /** The smallest reference count (a steady series never drops near 0). */
  min: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function baselineOf(reference: readonly number[]): Baseline {
  // The median, unless the mean without the largest day is higher: for small counts (a pattern seen
  // 0, 1, 0, 2, 1… times at this hour) the median alone says 0 and makes every record a surprise.
  const sorted = [...reference].sort((a, b) => a - b);
  const trimmed = sorted.length > 1 ? sorted.slice(0, -1) : sorted;
  const trimmedMean = trimmed.reduce((a, b) => a + b, 0) / Math.max(1, trimmed.length);
  const middle = median(reference);
  const expected = Math.max(middle, trimmedMean);
  const mad = median(reference.map((v) => Math.abs(v - middle)));
  return {
    expected,
    spread: Math.max(1.4826 * mad, Math.sqrt(expected), 1),
    days: reference.length,
    min: reference.length === 0 ? 0 : Math.min(...reference),
  };
}

/** How surprising `observed` is against the baseline, in robust standard deviations (signed). */
export function surprise(observed: number, baseline: Baseline): number {
  return (observed - baseline.expected) / baseline.spread;
}

/**
 * log10 of P(X ≥ k) for X ~ Poisson(λ): how unlikely `k` records are where λ are usual, if records
 * arrive independently. Summed from k up in log space (the terms fall once i > λ); 0 when k ≤ λ.
 */
export function poissonTailLog10(k: number, lambda: number): number {
  if (k <= lambda) return 0;
  const rate = Math.max(lambda, 1e-9);
  let logTerm = -rate + k * Math.log(rate) - logFactorial(k);
  let logSum = logTerm;
  for (let i = k + 1; i < k + 10_000; i++) {
    logTerm += Math.log(rate / i);
    if (logTerm < logSum - 40) break; // the rest adds less than e^-40 of the sum
    logSum += Math.log1p(Math.exp(logTerm - logSum));
  }
  return Math.min(0, logSum / Math.LN10);
}

/** ln(n!) — exact below 30, Stirling's series above (error < 1e-10). */
function logFactorial(n: number): number {
  if (n < 30) {
    let sum = 0;
    for (let i = 2; i <= n; i++) sum += Math.log(i);
    return sum;
  }
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3);
}
