/**
 * The anomaly detector's decisions, as a table: the counts of a range and of
 * the same slots on earlier days in, the anomalies out.
 */
import { describe, expect, it } from 'vitest';
import { detectAnomalies, type AnomalyInput, type CountSeries } from '../../shared/analytics/anomalies.ts';
import { baselineOf, median } from '../../shared/analytics/baseline.ts';

const T = Date.UTC(2026, 10, 20, 12, 0, 0);
const starts = (n: number) => Array.from({ length: n }, (_, i) => new Date(T + i * 300_000).toISOString());
/** A series of `n` slots observed as given, each slot's reference days as given (same for every slot unless a function). */
function series(observed: number[], reference: number[] | ((slot: number) => number[]), patternId: string | null = null): CountSeries {
  return { service: 'api', patternId, observed, reference: observed.map((_, i) => (typeof reference === 'function' ? reference(i) : reference)) };
}
function detect(volume: CountSeries[], extra: Partial<AnomalyInput> = {}) {
  return detectAnomalies({ starts: starts(volume[0]?.observed.length ?? 4), intervalSeconds: 300, volume, errors: [], newPatterns: [], ...extra });
}
const week = (v: number) => [v, v, v, v, v, v, v];

describe('baseline', () => {
  it('is the median and MAD of the same slot on earlier days, never narrower than Poisson', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(baselineOf([100, 100, 100, 100, 1000])).toMatchObject({ expected: 100, spread: 10, days: 5 }); // one odd day changes nothing
    expect(baselineOf([0, 0, 0]).spread).toBe(1);
  });
});

describe('detectAnomalies', () => {
  const cases: [string, CountSeries[], Partial<AnomalyInput>, { kind: string; direction?: string; start?: number; end?: number }[]][] = [
    ['the usual counts: nothing', [series([100, 96, 104, 99], [98, 100, 103, 97, 101, 100, 99])], {}, []],
    [
      'a tenfold burst over two intervals: one volume spike, both intervals',
      [series([100, 1000, 1000, 100], week(100))],
      {},
      [{ kind: 'volume', direction: 'spike', start: 1, end: 3 }],
    ],
    ['a 30 % rise: no alarm', [series([130, 130, 130, 130], week(100))], {}, []],
    ['a burst on a quiet series: needs more than noise', [series([0, 4, 0, 0], week(0))], {}, []],
    ['a burst on a quiet series well past noise', [series([0, 60, 0, 0], week(0))], {}, [{ kind: 'volume', direction: 'spike', start: 1, end: 2 }]],
    ['a steady series logs nothing: silence', [series([100, 0, 0, 100], week(100))], {}, [{ kind: 'silence', start: 1, end: 3 }]],
    ['an unsteady series logs nothing: no silence (it often does)', [series([5, 0, 0, 5], [0, 10, 0, 8, 0, 9, 7])], {}, []],
    ['a drop to a tenth: volume drop', [series([100, 8, 100, 100], week(100))], {}, [{ kind: 'volume', direction: 'drop', start: 1, end: 2 }]],
    ['two reference days are not a baseline', [series([100, 1000, 0, 100], [100, 100])], {}, []],
    [
      'an earlier incident in the reference does not become normal',
      [series([100, 1000, 100, 100], [100, 1000, 100, 100, 100, 100, 100])],
      {},
      [{ kind: 'volume', direction: 'spike' }],
    ],
    ['the daily rhythm: busy hours are compared with busy hours', [series([1000, 1000, 20, 20], (i) => week(i < 2 ? 1000 : 20))], {}, []],
  ];
  for (const [name, volume, extra, expected] of cases) {
    it(name, () => {
      const found = detect(volume, extra);
      expect(found.map((a) => ({ kind: a.kind, ...(a.direction && { direction: a.direction }) }))).toEqual(
        expected.map(({ kind, direction }) => ({ kind, ...(direction && { direction }) })),
      );
      for (const [i, want] of expected.entries()) {
        if (want.start !== undefined) expect(found[i]!.start).toBe(starts(8)[want.start]);
        if (want.end !== undefined) expect(found[i]!.end).toBe(starts(8)[want.end]);
        expect(found[i]!.score).toBeGreaterThanOrEqual(1);
      }
    });
  }

  it("finds a service's error share jumping, not a busier service with its usual share", () => {
    const input: AnomalyInput = {
      starts: starts(3),
      intervalSeconds: 300,
      volume: [],
      newPatterns: [],
      errors: [
        {
          service: 'api',
          total: [200, 200, 200],
          errors: [4, 80, 4],
          referenceTotal: [week(200), week(200), week(200)],
          referenceErrors: [week(4), week(4), week(4)],
        },
        {
          service: 'web',
          total: [2000, 2000, 2000],
          errors: [40, 40, 40],
          referenceTotal: [week(200), week(200), week(200)],
          referenceErrors: [week(4), week(4), week(4)],
        },
      ],
    };
    const found = detectAnomalies(input);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'error_ratio', service: 'api', start: starts(3)[1], expected: 0.02, actual: 0.4 });
  });

  it('ranks a new pattern at warn or above over a new info one, and only the former alarms', () => {
    const found = detectAnomalies({
      starts: starts(1),
      intervalSeconds: 300,
      volume: [],
      errors: [],
      newPatterns: [
        { service: 'api', patternId: 'a', level: 'info', firstSeen: starts(1)[0]!, count: 50 },
        { service: 'api', patternId: 'b', level: 'error', firstSeen: starts(1)[0]!, count: 2 },
      ],
    });
    expect(found.map((a) => a.patternId)).toEqual(['b', 'a']);
    expect(found[0]!.score).toBeGreaterThanOrEqual(1);
    expect(found[1]!.score).toBeLessThan(1);
  });
});
