/**
 * The soak's verdict (`npm run soak`), as a pure function of its per-minute
 * samples, so what counts as "growth" or "drift" is a table test
 * (test/node/soak-verdict.test.ts), not a judgement made while reading a
 * table at the end of a 30-minute run.
 *
 * After the warm-up (caches filling, the first merges, the JIT), a healthy
 * stack is flat: a least-squares line through each series must not climb by
 * more than a tolerance over the judged window. Tolerances are absolute and
 * relative (the larger of the two), because a 1 MiB wobble on a 60 MiB
 * process is noise and a 5 % climb on a 600 MiB one is a leak worth seeing.
 */

export interface MinuteSample {
  minute: number;
  /** Resident bytes per process label. */
  rssBytes: Readonly<Record<string, number>>;
  /** Ack latency this minute (ms); NaN when nothing was acknowledged. */
  p50Ms: number;
  p99Ms: number;
  /** Active parts of the logs table at the end of the minute. */
  activeParts: number;
  /**
   * Our workers' isolates' live JS heap right after a full GC (workerd's inspector; absent when it
   * is off). Process RSS counts garbage not yet collected and the local runtime's own isolates
   * (Miniflare's entry worker, R2 and D1 simulators); a state of ours that accumulates shows here.
   */
  liveHeapBytes?: Readonly<Record<string, number>>;
}

export interface VerdictOptions {
  warmupMinutes: number;
  /** Growth over the judged window that is tolerated: the larger of these. */
  memoryToleranceBytes: number;
  memoryToleranceRatio: number;
  /** The last third's median p99 may exceed the first third's by the larger of these. */
  latencyToleranceMs: number;
  latencyToleranceRatio: number;
  /** Fitted growth of the active parts over the window that is tolerated. */
  partsTolerance: number;
  /** Growth of an isolate's live heap over the judged window that is tolerated: the larger of these. */
  heapToleranceBytes: number;
  heapToleranceRatio: number;
}

export const DEFAULT_VERDICT_OPTIONS: VerdictOptions = {
  warmupMinutes: 5,
  memoryToleranceBytes: 16 * 1024 * 1024,
  memoryToleranceRatio: 0.05,
  latencyToleranceMs: 20,
  latencyToleranceRatio: 0.5,
  partsTolerance: 20,
  // A live heap of 27 MiB wobbles by about 1 MiB between minutes (caches, the JIT); 4 MiB over the
  // window is a structure of ours that keeps growing (issue 20: 26.8–27.7 MiB over a soak).
  heapToleranceBytes: 4 * 1024 * 1024,
  heapToleranceRatio: 0.1,
};

export interface Finding {
  what: string;
  ok: boolean;
  detail: string;
}

export type Verdict = { judged: false; reason: string } | { judged: true; ok: boolean; findings: Finding[] };

/** Slope of the least-squares line through (x, y), per unit of x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const MIB = 1024 * 1024;

export function soakVerdict(samples: readonly MinuteSample[], options: VerdictOptions = DEFAULT_VERDICT_OPTIONS): Verdict {
  const judged = samples.filter((s) => s.minute > options.warmupMinutes);
  if (judged.length < 3) {
    return { judged: false, reason: `only ${judged.length} minute(s) after the ${options.warmupMinutes}-minute warm-up: at least 3 are needed to see a trend` };
  }
  const span = judged[judged.length - 1]!.minute - judged[0]!.minute;
  const findings: Finding[] = [];

  const growthFindings = (
    what: string,
    series: (s: MinuteSample) => Readonly<Record<string, number>> | undefined,
    toleranceBytes: number,
    toleranceRatio: number,
  ) => {
    const labels = [...new Set(judged.flatMap((s) => Object.keys(series(s) ?? {})))].sort();
    for (const label of labels) {
      const points = judged.flatMap((s) => {
        const y = series(s)?.[label];
        return y === undefined ? [] : [[s.minute, y] as const];
      });
      const mean = points.reduce((a, [, y]) => a + y, 0) / Math.max(1, points.length);
      const growth = slope(points) * span;
      const tolerance = Math.max(toleranceBytes, toleranceRatio * mean);
      findings.push({
        what: `${what}: ${label}`,
        ok: growth <= tolerance,
        detail: `${(slope(points) / MIB).toFixed(2)} MiB/min after the warm-up, ${(growth / MIB).toFixed(1)} MiB over ${span} min (tolerated ${(tolerance / MIB).toFixed(1)})`,
      });
    }
  };
  growthFindings('memory', (s) => s.rssBytes, options.memoryToleranceBytes, options.memoryToleranceRatio);
  growthFindings('live heap after GC', (s) => s.liveHeapBytes, options.heapToleranceBytes, options.heapToleranceRatio);

  const third = Math.max(1, Math.floor(judged.length / 3));
  const early = median(judged.slice(0, third).map((s) => s.p99Ms));
  const late = median(judged.slice(-third).map((s) => s.p99Ms));
  const allowed = early + Math.max(options.latencyToleranceMs, options.latencyToleranceRatio * early);
  findings.push({
    what: 'ack latency p99',
    ok: !(late > allowed),
    detail: `median p99 ${early.toFixed(1)} ms in the first third after the warm-up, ${late.toFixed(1)} ms in the last (tolerated ${allowed.toFixed(1)})`,
  });

  const partsGrowth = slope(judged.map((s) => [s.minute, s.activeParts] as const)) * span;
  findings.push({
    what: 'ClickHouse active parts',
    ok: partsGrowth <= options.partsTolerance,
    detail: `fitted growth ${partsGrowth.toFixed(1)} parts over ${span} min (tolerated ${options.partsTolerance}); most seen ${Math.max(...judged.map((s) => s.activeParts))}`,
  });

  return { judged: true, ok: findings.every((f) => f.ok), findings };
}
