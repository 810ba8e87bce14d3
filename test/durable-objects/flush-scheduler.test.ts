/**
 * The tenant actor's alarm decision, case by case: what is due next, as a pure
 * function of the pending flushes, the unflushed rows, the usage roll-up and
 * the time (durable-objects/tenant-actor/flush-scheduler.ts).
 */
import { describe, expect, it } from 'vitest';
import { dueAge, flushDue, nextAlarmAt, type SchedulerState, type Unassigned } from '../../durable-objects/tenant-actor/flush-scheduler.ts';

const NOW = 1_800_000_000_000;
const THRESHOLDS = { maxRows: 1000, maxBytes: 1_000_000, maxAgeMs: 1000, minRows: 1, slowMaxAgeMs: 10_000 };
/** Small flushes wait: fewer than 100 rows flush at 10 s instead of 1 s. */
const SLOW = { ...THRESHOLDS, minRows: 100 };
const HOUR_END = NOW - (NOW % 3_600_000) + 3_600_000;
const none: Unassigned = { rows: 0, bytes: 0, oldestReceivedAt: null };
const rows = (n: number, bytes: number, ageMs: number): Unassigned => ({ rows: n, bytes, oldestReceivedAt: NOW - ageMs });
const state = (partial: Partial<SchedulerState>): SchedulerState => ({ pending: [], unassigned: none, rollUpAt: null, ...partial });

describe('nextAlarmAt', () => {
  const cases: [string, SchedulerState, number | null][] = [
    ['nothing buffered, nothing counted: no alarm', state({}), null],
    ['idle with usage counted: the end of the hour, to roll it up', state({ rollUpAt: HOUR_END }), HOUR_END],
    ['idle after a failed roll-up: its retry time', state({ rollUpAt: NOW + 60_000 }), NOW + 60_000],
    ['a few young rows: when the oldest reaches the maximum age', state({ unassigned: rows(10, 500, 200), rollUpAt: HOUR_END }), NOW + 800],
    ['rows past the maximum age: now', state({ unassigned: rows(10, 500, 1000) }), NOW],
    ['the row threshold reached: now', state({ unassigned: rows(1000, 500, 0) }), NOW],
    ['the byte threshold reached: now', state({ unassigned: rows(3, 1_000_000, 0) }), NOW],
    ['a flush recorded but never tried (evicted mid-flush): now', state({ pending: [{ attempts: 0, nextAttemptAt: null }], rollUpAt: HOUR_END }), NOW],
    [
      'a failed flush: its retry, even with new rows due now',
      state({ pending: [{ attempts: 2, nextAttemptAt: NOW + 4000 }], unassigned: rows(1000, 500, 5000) }),
      NOW + 4000,
    ],
    [
      'two failed flushes: the earlier retry',
      state({
        pending: [
          { attempts: 1, nextAttemptAt: NOW + 9000 },
          { attempts: 3, nextAttemptAt: NOW + 2000 },
        ],
      }),
      NOW + 2000,
    ],
    [
      'a retry after the hour ends: the retry, not the roll-up (flush alarms roll up as they run)',
      state({ pending: [{ attempts: 1, nextAttemptAt: HOUR_END + 5000 }], rollUpAt: HOUR_END }),
      HOUR_END + 5000,
    ],
    [
      'a retry and a flush never tried: the retry',
      state({
        pending: [
          { attempts: 0, nextAttemptAt: null },
          { attempts: 1, nextAttemptAt: NOW + 3000 },
        ],
      }),
      NOW + 3000,
    ],
    ['rows waiting and a closed hour to roll up: the rows', state({ unassigned: rows(5, 100, 100), rollUpAt: NOW }), NOW + 900],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(nextAlarmAt(input, NOW, THRESHOLDS)).toBe(expected);
  });
});

describe('flushDue', () => {
  const cases: [string, Unassigned, boolean][] = [
    ['nothing', none, false],
    ['young and small', rows(999, 999_999, 999), false],
    ['old enough', rows(1, 1, 1000), true],
    ['enough rows', rows(1000, 1, 0), true],
    ['enough bytes', rows(1, 1_000_000, 0), true],
  ];
  it.each(cases)('%s', (_name, unassigned, expected) => {
    expect(flushDue(unassigned, NOW, THRESHOLDS)).toBe(expected);
  });
});

describe('small flushes wait (minRows > 1)', () => {
  const due: [string, Unassigned, boolean][] = [
    ['a trickle at the maximum age: not yet', rows(5, 500, 1000), false],
    ['a trickle at 9.9 s: not yet', rows(5, 500, 9999), false],
    ['a trickle at the slow maximum age: due', rows(5, 500, 10_000), true],
    ['enough rows at the maximum age: due, as fresh as without the rule', rows(100, 5000, 1000), true],
    ['enough rows but young: not yet', rows(100, 5000, 999), false],
    ['the row threshold: due at once', rows(1000, 5000, 0), true],
    ['the byte threshold: due at once, however few rows', rows(3, 1_000_000, 0), true],
  ];
  it.each(due)('flushDue: %s', (_name, unassigned, expected) => {
    expect(flushDue(unassigned, NOW, SLOW)).toBe(expected);
  });

  const alarms: [string, SchedulerState, number | null][] = [
    ['a trickle: when its oldest row is 10 s old', state({ unassigned: rows(5, 500, 200) }), NOW + 9800],
    ['enough rows, young: when the oldest is 1 s old', state({ unassigned: rows(150, 500, 200) }), NOW + 800],
    ['enough rows, old enough: now', state({ unassigned: rows(150, 500, 1500) }), NOW],
    ['a failed flush still comes first', state({ pending: [{ attempts: 1, nextAttemptAt: NOW + 4000 }], unassigned: rows(5, 500, 0) }), NOW + 4000],
  ];
  it.each(alarms)('nextAlarmAt: %s', (_name, input, expected) => {
    expect(nextAlarmAt(input, NOW, SLOW)).toBe(expected);
  });

  it('never flushes earlier than the plain age rule (a slow maximum age below maxAgeMs counts as maxAgeMs)', () => {
    expect(dueAge(5, { ...SLOW, slowMaxAgeMs: 10 })).toBe(1000);
    expect(dueAge(5, THRESHOLDS)).toBe(1000);
    expect(dueAge(5, SLOW)).toBe(10_000);
    expect(dueAge(100, SLOW)).toBe(1000);
  });
});
