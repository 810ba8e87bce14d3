/**
 * The alert state machine (shared/alerts/alert-state.ts): each case is a rule and a sequence of
 * observations, each step with the state, transition and fields it must leave behind.
 */
import { describe, expect, it } from 'vitest';
import {
  type AlertInstance,
  type AlertRuleTiming,
  type AlertStateName,
  type AlertTransition,
  nextAlertState,
  notificationsAllowed,
  notifies,
} from '../../shared/alerts/alert-state.ts';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;

interface Step {
  at: number;
  breaching: boolean;
  value: number;
  expect: { state: AlertStateName; transition: AlertTransition | null } & Partial<AlertInstance>;
}

interface Case {
  name: string;
  rule: AlertRuleTiming;
  steps: Step[];
}

const step = (at: number, breaching: boolean, value: number, expected: Step['expect']): Step => ({ at, breaching, value, expect: expected });

const cases: Case[] = [
  {
    name: 'for = 0 fires on the first breach, with no pending step',
    rule: { forMs: 0 },
    steps: [step(10 * S, true, 150, { state: 'firing', transition: 'firing', firingSeq: 1, activeSince: 10 * S, firedAt: 10 * S, value: 150 })],
  },
  {
    name: 'a first observation that does not breach is inactive, with no transition',
    rule: { forMs: 0 },
    steps: [step(0, false, 3, { state: 'inactive', transition: null, firingSeq: 0, activeSince: null, firedAt: null, value: 3 })],
  },
  {
    name: 'pending until the condition has held for `for`, firing at exactly `for`',
    rule: { forMs: 5 * M },
    steps: [
      step(0, true, 120, { state: 'pending', transition: 'pending', activeSince: 0, firedAt: null, firingSeq: 0 }),
      step(1 * M, true, 130, { state: 'pending', transition: null, activeSince: 0 }),
      step(5 * M - 1, true, 140, { state: 'pending', transition: null, activeSince: 0, firingSeq: 0 }),
      step(5 * M, true, 150, { state: 'firing', transition: 'firing', activeSince: 0, firedAt: 5 * M, firingSeq: 1, value: 150 }),
    ],
  },
  {
    name: 'a pending alert whose condition clears goes back to inactive without notifying; the next breach restarts the `for` clock',
    rule: { forMs: 2 * M },
    steps: [
      step(0, true, 120, { state: 'pending', transition: 'pending' }),
      step(1 * M, false, 80, { state: 'inactive', transition: 'inactive', activeSince: null, firingSeq: 0, value: 80 }),
      step(2 * M, true, 120, { state: 'pending', transition: 'pending', activeSince: 2 * M }),
      // 3 minutes after the first breach but only 1 after this one: still pending.
      step(3 * M, true, 120, { state: 'pending', transition: null, firingSeq: 0 }),
      step(4 * M, true, 120, { state: 'firing', transition: 'firing', firedAt: 4 * M, activeSince: 2 * M, firingSeq: 1 }),
    ],
  },
  {
    name: 'firing → resolved; resolved stays resolved; a new breach is a new firing instance (firingSeq + 1)',
    rule: { forMs: 0 },
    steps: [
      step(0, true, 200, { state: 'firing', transition: 'firing', firingSeq: 1, firedAt: 0 }),
      step(1 * M, false, 10, { state: 'resolved', transition: 'resolved', resolvedAt: 1 * M, firedAt: 0, activeSince: 0, firingSeq: 1, value: 10 }),
      step(2 * M, false, 5, { state: 'resolved', transition: null, resolvedAt: 1 * M, firingSeq: 1, value: 5 }),
      step(3 * M, true, 300, { state: 'firing', transition: 'firing', firingSeq: 2, firedAt: 3 * M, activeSince: 3 * M, resolvedAt: null }),
      step(4 * M, false, 0, { state: 'resolved', transition: 'resolved', firingSeq: 2, resolvedAt: 4 * M }),
    ],
  },
  {
    name: 'resolved, then a breach with `for` goes through pending; firingSeq moves only when it fires',
    rule: { forMs: 1 * M },
    steps: [
      step(0, true, 200, { state: 'pending', transition: 'pending', firingSeq: 0 }),
      step(1 * M, true, 200, { state: 'firing', transition: 'firing', firingSeq: 1 }),
      step(2 * M, false, 0, { state: 'resolved', transition: 'resolved', firingSeq: 1 }),
      step(3 * M, true, 200, { state: 'pending', transition: 'pending', firingSeq: 1, firedAt: null, resolvedAt: null, activeSince: 3 * M }),
      step(3 * M + 30 * S, false, 0, { state: 'inactive', transition: 'inactive', firingSeq: 1 }),
      step(5 * M, true, 200, { state: 'pending', transition: 'pending', firingSeq: 1 }),
      step(6 * M, true, 200, { state: 'firing', transition: 'firing', firingSeq: 2 }),
    ],
  },
  {
    name: 'repeated firing observations give no transition: no duplicate notification',
    rule: { forMs: 0 },
    steps: [
      step(0, true, 101, { state: 'firing', transition: 'firing', firingSeq: 1 }),
      step(10 * S, true, 102, { state: 'firing', transition: null, firingSeq: 1, firedAt: 0 }),
      step(20 * S, true, 103, { state: 'firing', transition: null, firingSeq: 1, firedAt: 0 }),
      step(30 * S, true, 104, { state: 'firing', transition: null, firingSeq: 1, firedAt: 0, value: 104 }),
    ],
  },
  {
    name: 'keepFiringFor damps a flapping condition and resolves once it has not held for that long',
    rule: { forMs: 0, keepFiringForMs: 2 * M },
    steps: [
      step(0, true, 200, { state: 'firing', transition: 'firing', firingSeq: 1 }),
      step(1 * M, false, 10, { state: 'firing', transition: null, keptFiringSince: 1 * M, value: 10 }),
      // Breaches again inside the window: still the same firing instance, nothing sent.
      step(2 * M, true, 210, { state: 'firing', transition: null, keptFiringSince: null, firingSeq: 1 }),
      step(3 * M, false, 10, { state: 'firing', transition: null, keptFiringSince: 3 * M }),
      step(4 * M, false, 10, { state: 'firing', transition: null, keptFiringSince: 3 * M }),
      step(5 * M - 1, false, 10, { state: 'firing', transition: null, keptFiringSince: 3 * M }),
      step(5 * M, false, 10, { state: 'resolved', transition: 'resolved', resolvedAt: 5 * M, keptFiringSince: null, firingSeq: 1 }),
    ],
  },
  {
    name: 'without keepFiringFor one clear observation resolves',
    rule: { forMs: 0, keepFiringForMs: 0 },
    steps: [step(0, true, 200, { state: 'firing', transition: 'firing' }), step(1, false, 0, { state: 'resolved', transition: 'resolved', resolvedAt: 1 })],
  },
  {
    name: 'an observation older than the last one is ignored, and so is a replay at the same time',
    rule: { forMs: 0 },
    steps: [
      step(2 * M, true, 200, { state: 'firing', transition: 'firing', firingSeq: 1 }),
      step(1 * M, false, 0, { state: 'firing', transition: null, lastEvaluatedAt: 2 * M, value: 200 }),
      step(2 * M, false, 0, { state: 'firing', transition: null, lastEvaluatedAt: 2 * M, value: 200 }),
      step(3 * M, false, 0, { state: 'resolved', transition: 'resolved', lastEvaluatedAt: 3 * M }),
      // A late breach from before the resolution does not start a new firing instance.
      step(2 * M + 30 * S, true, 500, { state: 'resolved', transition: null, firingSeq: 1, value: 0 }),
    ],
  },
  {
    name: 'the value is carried through every state',
    rule: { forMs: 1 * M },
    steps: [
      step(0, false, 1, { state: 'inactive', transition: null, value: 1 }),
      step(1 * M, true, 2, { state: 'pending', transition: 'pending', value: 2 }),
      step(2 * M, true, 3, { state: 'firing', transition: 'firing', value: 3 }),
      step(3 * M, true, 4, { state: 'firing', transition: null, value: 4 }),
      step(4 * M, false, 0.5, { state: 'resolved', transition: 'resolved', value: 0.5 }),
    ],
  },
  {
    name: 'a non-finite value is not breaching, and the instance keeps the last finite value',
    rule: { forMs: 0 },
    steps: [
      step(0, true, Number.NaN, { state: 'inactive', transition: null, value: 0 }),
      step(1 * M, true, 0.2, { state: 'firing', transition: 'firing', value: 0.2 }),
      step(2 * M, true, Number.POSITIVE_INFINITY, { state: 'resolved', transition: 'resolved', value: 0.2 }),
      step(3 * M, true, Number.NaN, { state: 'resolved', transition: null, value: 0.2 }),
    ],
  },
  {
    name: 'a negative `for` counts as 0',
    rule: { forMs: -5 * M },
    steps: [step(0, true, 1, { state: 'firing', transition: 'firing', firingSeq: 1 })],
  },
  {
    name: 'an infinite `for` never fires',
    rule: { forMs: Number.POSITIVE_INFINITY },
    steps: [step(0, true, 1, { state: 'pending', transition: 'pending' }), step(1000 * H, true, 1, { state: 'pending', transition: null, firingSeq: 0 })],
  },
];

describe('nextAlertState', () => {
  it.each(cases)('$name', ({ rule, steps }) => {
    let instance: AlertInstance | null = null;
    const transitions: (AlertTransition | null)[] = [];
    for (const [i, { at, breaching, value, expect: expected }] of steps.entries()) {
      const result = nextAlertState(instance, { at, breaching, value }, rule);
      transitions.push(result.transition);
      // The step's index in the message says which row failed.
      expect({ step: i, ...result.instance, transition: result.transition }).toMatchObject({ step: i, ...expected });
      instance = result.instance;
    }
    expect(transitions).toEqual(steps.map((s) => s.expect.transition));
  });

  it('returns the previous instance itself for an ignored observation, so the caller can skip the write', () => {
    const { instance } = nextAlertState(null, { at: 100, breaching: true, value: 7 }, { forMs: 0 });
    const replay = nextAlertState(instance, { at: 100, breaching: true, value: 7 }, { forMs: 0 });
    expect(replay.instance).toBe(instance);
    expect(replay.transition).toBeNull();
    expect(nextAlertState(instance, { at: 101, breaching: true, value: 7 }, { forMs: 0 }).instance).not.toBe(instance);
  });

  it('does not mutate the previous instance', () => {
    const { instance } = nextAlertState(null, { at: 0, breaching: true, value: 7 }, { forMs: 0 });
    const before = structuredClone(instance);
    nextAlertState(instance, { at: 1, breaching: false, value: 0 }, { forMs: 0 });
    expect(instance).toEqual(before);
  });

  it('refuses a non-finite observation time', () => {
    expect(() => nextAlertState(null, { at: Number.NaN, breaching: true, value: 1 }, { forMs: 0 })).toThrow(RangeError);
  });

  it('only firing and resolved notify', () => {
    expect([null, 'inactive', 'pending', 'firing', 'resolved'].map((t) => notifies(t as AlertTransition | null))).toEqual([false, false, false, true, true]);
  });
});

describe('notificationsAllowed', () => {
  const now = 10 * H;
  const table: [string, number[], number, boolean][] = [
    // name, sent at, max per hour, allowed
    ['nothing sent yet', [], 3, true],
    ['under the limit', [now - 10 * M, now - 5 * M], 3, true],
    ['at the limit', [now - 30 * M, now - 20 * M, now - 10 * M], 3, false],
    ['a send exactly an hour ago has left the window', [now - H, now - 20 * M, now - 10 * M], 3, true],
    ['a send 1 ms short of an hour ago still counts', [now - H + 1, now - 20 * M, now - 10 * M], 3, false],
    ['a send at now counts', [now, now - 20 * M, now - 10 * M], 3, false],
    ['a send after now (clock skew) counts', [now + M, now - 20 * M, now - 10 * M], 3, false],
    ['only old sends, in any order', [now - 3 * H, now - 2 * H, now - H - 1], 1, true],
    ['a limit of 0 allows nothing', [], 0, false],
    ['an infinite limit allows everything', [now, now, now], Number.POSITIVE_INFINITY, true],
  ];
  it.each(table)('%s', (_name, sent, max, allowed) => expect(notificationsAllowed(sent, now, max)).toBe(allowed));
});
