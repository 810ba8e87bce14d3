/**
 * Anomaly detection over counts (GET /v1/anomalies, docs/analytics.md,
 * ADR 0014): a pure function from the counts of a range — per service, per
 * pattern, errors per service — and the same slots on earlier days, to what is
 * unusual, each with a kind, what was expected and what happened, and a score
 * (1 is the alarm threshold: below it a finding is listed, not alarmed on).
 *
 * - volume: a series' count far above (spike) or below (drop) its baseline;
 * - silence: a series that logged steadily at this time of day logged nothing;
 * - error ratio: a service's share of error/fatal records far above its usual
 *   share at this time of day;
 * - new pattern: a template first seen in the range and not in the days before,
 *   ranked up at warn and above.
 *
 * Consecutive intervals flagged for the same series are one anomaly (its
 * start, end, and totals). With fewer than MIN_BASELINE_DAYS of history at a
 * slot there is no baseline: nothing is claimed about volume or silence there.
 */
import { LEVEL_NAMES } from '../severity.ts';
import { baselineOf, poissonTailLog10, surprise, type Baseline } from './baseline.ts';

/** Reference days a slot needs before volume, silence and error ratio are judged. */
export const MIN_BASELINE_DAYS = 3;
/** Robust standard deviations that make a volume or error-ratio alarm (score 1). */
export const ALARM_SIGMAS = 6;
/**
 * A spike alarms when its count would happen by chance less than once in 10^7 intervals: a tenant with
 * 200 followed series in 5-minute intervals makes ~60,000 such tests a day.
 */
export const SPIKE_LOG10_CHANCE = 7;
/** The least rate (records per interval) a series is assumed to have: one seen once a week is not "never". */
export const MIN_RATE = 0.5;
/** Silence: standard deviations of the expected count below it, for a score of 1. */
export const SILENCE_SIGMAS = 3;

export type AnomalyKind = 'volume' | 'silence' | 'error_ratio' | 'new_pattern';

/** One series: a service (patternId null) or one pattern of it, over the range's intervals. */
export interface CountSeries {
  service: string;
  patternId: string | null;
  /** The count in each interval of the range. */
  observed: number[];
  /** For each interval: the counts of the same slot on earlier days (days without any record of the tenant left out). */
  reference: number[][];
}

export interface ErrorSeries {
  service: string;
  total: number[];
  errors: number[];
  referenceTotal: number[][];
  referenceErrors: number[][];
}

export interface NewPattern {
  service: string;
  patternId: string;
  /** The highest level its records were logged at (trace … fatal). */
  level: string;
  firstSeen: string;
  count: number;
}

export interface AnomalyInput {
  /** Start of each interval (ISO 8601), and the interval's length. */
  starts: string[];
  intervalSeconds: number;
  volume: CountSeries[];
  errors: ErrorSeries[];
  newPatterns: NewPattern[];
}

export interface Anomaly {
  kind: AnomalyKind;
  service: string;
  patternId: string | null;
  /** spike or drop (volume); up (error ratio). */
  direction?: 'spike' | 'drop' | 'up';
  start: string;
  end: string;
  /** What the baseline expected over [start, end) — a count, or a share for error_ratio. */
  expected: number;
  actual: number;
  score: number;
  /** One sentence a person reads. */
  summary: string;
}

const LEVEL_RANK = new Map<string, number>(LEVEL_NAMES.map((name, rank) => [name, rank]));

interface Flag {
  index: number;
  expected: number;
  actual: number;
  score: number;
  direction?: Anomaly['direction'];
}

export function detectAnomalies(input: AnomalyInput): Anomaly[] {
  const found: Anomaly[] = [];
  const endOf = (index: number) => new Date(Date.parse(input.starts[index]!) + input.intervalSeconds * 1000).toISOString();
  const emit = (kind: AnomalyKind, series: { service: string; patternId: string | null }, flags: Flag[], describe: (a: Omit<Anomaly, 'summary'>) => string) => {
    for (const run of runs(flags)) {
      const first = run[0]!;
      const last = run[run.length - 1]!;
      const base = {
        kind,
        service: series.service,
        patternId: series.patternId,
        ...(first.direction && { direction: first.direction }),
        start: input.starts[first.index]!,
        end: endOf(last.index),
        expected: kind === 'error_ratio' ? round(mean(run.map((f) => f.expected))) : round(run.reduce((n, f) => n + f.expected, 0)),
        actual: kind === 'error_ratio' ? round(mean(run.map((f) => f.actual))) : run.reduce((n, f) => n + f.actual, 0),
        score: round(Math.max(...run.map((f) => f.score))),
      };
      found.push({ ...base, summary: describe(base) });
    }
  };

  for (const series of input.volume) {
    const volume: Flag[] = [];
    const silence: Flag[] = [];
    series.observed.forEach((observed, index) => {
      const baseline = baselineOf(series.reference[index] ?? []);
      if (baseline.days < MIN_BASELINE_DAYS) return;
      const z = surprise(observed, baseline);
      if (observed === 0) {
        // A candidate: judged below over the whole run of silent intervals (an hour of nothing says more than one empty interval).
        if (steady(baseline)) silence.push({ index, expected: baseline.expected, actual: 0, score: baseline.spread ** 2 });
      } else if (observed >= 2 * baseline.expected + 5) {
        // Both unlikely if records came as usual (Poisson, the rate floored: a series rarely seen is not
        // "never" seen), and far outside the day-to-day spread of this slot.
        const chance = -poissonTailLog10(observed, Math.max(baseline.expected, MIN_RATE));
        const score = Math.min(chance / SPIKE_LOG10_CHANCE, z / ALARM_SIGMAS);
        if (score >= 1) volume.push({ index, expected: baseline.expected, actual: observed, score, direction: 'spike' });
      } else if (-z >= ALARM_SIGMAS && observed * 4 <= baseline.expected) {
        volume.push({ index, expected: baseline.expected, actual: observed, score: -z / ALARM_SIGMAS, direction: 'drop' });
      }
    });
    const what = series.patternId === null ? `service ${series.service}` : `pattern ${series.patternId} of ${series.service}`;
    emit('volume', series, volume, (a) => `${what}: ${a.actual} records where ${a.expected} were expected (${a.direction})`);
    emit('silence', series, silentRuns(silence), (a) => `${what} logged nothing where ${a.expected} records were expected`);
  }

  for (const series of input.errors) {
    const flags: Flag[] = [];
    series.total.forEach((total, index) => {
      const errors = series.errors[index] ?? 0;
      const shares = (series.referenceTotal[index] ?? []).flatMap((t, day) => (t > 0 ? [(series.referenceErrors[index]?.[day] ?? 0) / t] : []));
      if (shares.length < MIN_BASELINE_DAYS || total === 0) return;
      const usual = baselineOf(shares).expected;
      // Binomial: how far the errors are above what the usual share gives on this many records.
      const z = (errors - total * usual) / Math.sqrt(total * usual * (1 - usual) + 1);
      if (z >= ALARM_SIGMAS && errors / total - usual >= 0.1 && errors >= 5)
        flags.push({ index, expected: usual, actual: errors / total, score: z / ALARM_SIGMAS, direction: 'up' });
    });
    emit(
      'error_ratio',
      { service: series.service, patternId: null },
      flags,
      (a) => `service ${a.service}: ${pct(a.actual)} of records are errors, usually ${pct(a.expected)}`,
    );
  }

  for (const pattern of input.newPatterns) {
    const serious = (LEVEL_RANK.get(pattern.level) ?? 0) >= LEVEL_RANK.get('warn')!;
    const score = ((serious ? 2 : 0.6) * (1 + Math.log10(1 + pattern.count))) / 2;
    found.push({
      kind: 'new_pattern',
      service: pattern.service,
      patternId: pattern.patternId,
      start: pattern.firstSeen,
      end: input.starts.length > 0 ? endOf(input.starts.length - 1) : pattern.firstSeen,
      expected: 0,
      actual: pattern.count,
      score: round(score),
      summary: `a pattern not seen before in ${pattern.service} (${pattern.level}): ${pattern.count} records`,
    });
  }
  return found.sort((a, b) => b.score - a.score || a.start.localeCompare(b.start));
}

/** Steady: logged on every reference day at this time, and never few. */
function steady(baseline: Baseline): boolean {
  return baseline.min >= 3;
}

/**
 * The silent runs whose total expectation is itself surprising: the run's expected count against the
 * spread of its sum (candidates carry their variance in `score`), every interval scored as the run.
 */
function silentRuns(candidates: Flag[]): Flag[] {
  return runs(candidates).flatMap((run) => {
    const expected = run.reduce((n, f) => n + f.expected, 0);
    const z = expected / Math.sqrt(run.reduce((v, f) => v + f.score, 0));
    return z >= SILENCE_SIGMAS ? run.map((f) => ({ ...f, score: z / SILENCE_SIGMAS })) : [];
  });
}

/** Flags of consecutive intervals, grouped. */
function runs(flags: Flag[]): Flag[][] {
  const out: Flag[][] = [];
  for (const flag of flags) {
    const last = out[out.length - 1];
    if (last && last[last.length - 1]!.index === flag.index - 1 && last[0]!.direction === flag.direction) last.push(flag);
    else out.push([flag]);
  }
  return out;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const round = (n: number) => Math.round(n * 1000) / 1000;
const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
