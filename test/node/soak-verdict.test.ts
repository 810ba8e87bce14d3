/**
 * The soak's verdict (scripts/soak/verdict.ts), case by case: flat series
 * pass, a leak, a latency drift or piling parts fail, and noise within the
 * tolerances or during the warm-up does not.
 */
import { describe, expect, it } from 'vitest';
import { type MinuteSample, slope, soakVerdict } from '../../scripts/soak/verdict.ts';

const MIB = 1024 * 1024;

/** `minutes` samples; each series is a function of the minute. */
function run(
  minutes: number,
  series: {
    rss?: (m: number) => number;
    p99?: (m: number) => number;
    parts?: (m: number) => number;
    workerd?: (m: number) => number;
    /** Live heap after GC of the ingest isolate; no heaps in the samples when absent. */
    ingestHeap?: (m: number) => number;
  } = {},
): MinuteSample[] {
  return Array.from({ length: minutes }, (_, i) => {
    const m = i + 1;
    return {
      minute: m,
      rssBytes: { 'embedded ClickHouse': (series.rss ?? (() => 600 * MIB))(m), workerd: (series.workerd ?? (() => 300 * MIB))(m) },
      p50Ms: 20,
      p99Ms: (series.p99 ?? (() => 80))(m),
      activeParts: (series.parts ?? (() => 12))(m),
      ...(series.ingestHeap ? { liveHeapBytes: { 'core:user:neurallog-ingest': series.ingestHeap(m), 'core:user:neurallog': 2 * MIB } } : {}),
    };
  });
}

const failing = (samples: MinuteSample[]) => {
  const v = soakVerdict(samples);
  if (!v.judged) throw new Error(v.reason);
  return v.findings.filter((f) => !f.ok).map((f) => f.what);
};

describe('soakVerdict', () => {
  const cases: [string, MinuteSample[], string[]][] = [
    ['flat everything: passes', run(30), []],
    ['growth only during the warm-up: passes', run(30, { rss: (m) => (m <= 5 ? 300 + 60 * m : 600) * MIB }), []],
    ['noise within the tolerance (±10 MiB on 600): passes', run(30, { rss: (m) => (600 + (m % 2 ? 10 : -10)) * MIB }), []],
    ['1 MiB a minute on the engine after the warm-up (25 MiB < 5 % of 600 = 30): passes', run(30, { rss: (m) => (600 + m) * MIB }), []],
    ['3 MiB a minute on the engine: a leak', run(30, { rss: (m) => (600 + 3 * m) * MIB }), ['memory: embedded ClickHouse']],
    ['workerd climbing 2 MiB a minute (50 MiB over 25 min, tolerated 16): a leak', run(30, { workerd: (m) => (300 + 2 * m) * MIB }), ['memory: workerd']],
    ['p99 tripling over the run (80 to 240 ms): drift', run(30, { p99: (m) => 80 + (m * 160) / 30 }), ['ack latency p99']],
    ['p99 from 80 to 95 ms (within 50 %): no drift', run(30, { p99: (m) => 80 + (m * 15) / 30 }), []],
    ['a single slow minute late in the run: no drift (medians)', run(30, { p99: (m) => (m === 28 ? 900 : 80) }), []],
    ['active parts piling up one a minute: unbounded', run(30, { parts: (m) => 10 + m }), ['ClickHouse active parts']],
    ['active parts sawing between merges: bounded', run(30, { parts: (m) => 10 + (m % 6) }), []],
    ['live heaps flat (27 MiB ± 0.5 after GC): passes', run(30, { ingestHeap: (m) => (27 + (m % 2 ? 0.5 : -0.5)) * MIB }), []],
    [
      'our live heap growing 0.5 MiB a minute (12.5 MiB over 25 min, tolerated 4) while RSS is flat: our leak, named',
      run(30, { ingestHeap: (m) => (27 + 0.5 * m) * MIB }),
      ['live heap after GC: core:user:neurallog-ingest'],
    ],
    [
      "workerd's RSS climbing while our live heaps stay flat: the process's memory fails, not our heaps",
      run(30, { workerd: (m) => (300 + 6 * m) * MIB, ingestHeap: () => 27 * MIB }),
      ['memory: workerd'],
    ],
  ];
  it.each(cases)('%s', (_name, samples, expected) => {
    expect(failing(samples)).toEqual(expected);
  });

  it('does not judge a run with fewer than 3 minutes after the warm-up', () => {
    expect(soakVerdict(run(7))).toMatchObject({ judged: false });
    expect(soakVerdict(run(8))).toMatchObject({ judged: true, ok: true });
  });
});

describe('slope', () => {
  it('is the least-squares slope', () => {
    expect(slope([])).toBe(0);
    expect(slope([[1, 5]])).toBe(0);
    expect(
      slope([
        [1, 2],
        [2, 4],
        [3, 6],
      ]),
    ).toBe(2);
    expect(
      slope([
        [0, 1],
        [1, 0],
        [2, 1],
        [3, 0],
      ]),
    ).toBeCloseTo(-0.2);
  });
});
