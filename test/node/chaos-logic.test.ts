/**
 * The fault suite's decisions, as tables: the canary client's next step after
 * an attempt (scripts/chaos/retry-decision.ts) and the checker's tally
 * (scripts/chaos/tally.ts) — what makes a record lost, duplicated or phantom.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BACKOFF_MS, MAX_RETRY_AFTER_MS, nextStep, type AttemptOutcome, type NextStep } from '../../scripts/chaos/retry-decision.ts';
import { type SentBatch, tally } from '../../scripts/chaos/tally.ts';
import { verdict } from '../../scripts/chaos/report.ts';
import type { PhaseResult, SuiteResult } from '../../scripts/chaos/schedule.ts';

describe('the canary client: what follows an attempt', () => {
  const cases: [string, AttemptOutcome, number, number, NextStep][] = [
    ['202: acknowledged', { status: 202, retryAfter: null }, 1, 0.5, { kind: 'acked' }],
    ['503 with Retry-After: waits that long', { status: 503, retryAfter: '1' }, 1, 0.5, { kind: 'retry', afterMs: 1000 }],
    ['429 with Retry-After: 0 → at once', { status: 429, retryAfter: '0' }, 3, 0.5, { kind: 'retry', afterMs: 0 }],
    ['a Retry-After beyond the cap is capped', { status: 503, retryAfter: '3600' }, 1, 0.5, { kind: 'retry', afterMs: MAX_RETRY_AFTER_MS }],
    ['500 without Retry-After: jittered backoff, 1st', { status: 500, retryAfter: null }, 1, 0.5, { kind: 'retry', afterMs: 50 }],
    ['502: backoff doubles, 3rd attempt', { status: 502, retryAfter: null }, 3, 0.5, { kind: 'retry', afterMs: 200 }],
    ['a Retry-After that is not seconds: backoff', { status: 503, retryAfter: 'soon' }, 2, 0.5, { kind: 'retry', afterMs: 100 }],
    ['no answer: backoff, capped', { networkError: 'ECONNREFUSED' }, 40, 0.999, { kind: 'retry', afterMs: Math.floor(0.999 * MAX_BACKOFF_MS) }],
    ['408: retried', { status: 408, retryAfter: null }, 1, 0, { kind: 'retry', afterMs: 0 }],
    ['400: refused for good', { status: 400, retryAfter: null }, 1, 0.5, { kind: 'refused', status: 400 }],
    ['422 (a key reused for another body): refused for good', { status: 422, retryAfter: null }, 1, 0.5, { kind: 'refused', status: 422 }],
  ];
  it.each(cases)('%s', (_name, outcome, attempt, random, expected) => {
    expect(nextStep(outcome, attempt, random)).toEqual(expected);
  });
});

describe('the checker: lost, duplicated, phantom', () => {
  const batch = (from: number, to: number, acked: boolean, attempted = true): SentBatch => ({ from, to, acked, attempted });
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const cases: [string, SentBatch[], number[], Partial<ReturnType<typeof tally>>][] = [
    [
      'everything acknowledged found once',
      [batch(0, 3, true), batch(3, 6, true)],
      range(0, 6),
      { sent: 6, acked: 6, found: 6, lost: 0, duplicated: 0, phantom: 0 },
    ],
    [
      'an acknowledged record missing is lost',
      [batch(0, 3, true), batch(3, 6, true)],
      [0, 1, 2, 3, 5],
      { lost: 1, examples: { lost: [4], duplicated: [], phantom: [] } },
    ],
    ['a record found twice is one duplicate', [batch(0, 3, true)], [0, 1, 1, 2], { duplicated: 1, lost: 0 }],
    ['three copies are two duplicates', [batch(0, 2, true)], [0, 0, 0, 1], { duplicated: 2 }],
    ['a number never sent is a phantom', [batch(0, 2, true)], [0, 1, 7], { phantom: 1, examples: { lost: [], duplicated: [], phantom: [7] } }],
    [
      'a batch made but never attempted is not sent: its records are phantoms',
      [batch(0, 2, true), batch(2, 4, false, false)],
      [0, 1, 2],
      { sent: 2, phantom: 1 },
    ],
    ['a foreign record (seq -1) is a phantom', [batch(0, 1, true)], [0, -1], { phantom: 1 }],
    [
      'sent, unacknowledged and found: stored, its answer lost — not an error',
      [batch(0, 2, true), batch(2, 4, false)],
      range(0, 4),
      { lost: 0, duplicated: 0, phantom: 0, storedUnacknowledged: 2, acked: 2, sent: 4 },
    ],
    ['sent, unacknowledged, not found: not lost (never promised)', [batch(0, 2, false)], [], { lost: 0, sent: 2, acked: 0 }],
  ];
  it.each(cases)('%s', (_name, batches, found, expected) => {
    expect(tally(batches, found)).toMatchObject(expected);
  });
});

describe('the verdict: which 504s fail a run', () => {
  const phase = (fault: string, answers: Record<string, number>): PhaseResult => ({
    fault,
    what: fault,
    notes: [],
    durationMs: 1_000,
    resumeMs: 100,
    drainMs: 200,
    answers,
    refusalsWithoutRetryAfter: 0,
  });
  const run = (phases: PhaseResult[], unknownOutcomes: number): SuiteResult =>
    ({ phases, unknownOutcomes, tallies: [], refused: [], unacknowledged: 0, serverErrors: 0, tooManyParts: 0 }) as unknown as SuiteResult;
  // A 504 while the actors' disk is full is the known deviation (docs/reliability.md); anywhere else it fails the run.
  const cases: [string, PhaseResult[], number, boolean][] = [
    ['no 504 at all', [phase('workerd-kill', { 202: 10 })], 0, true],
    ['a 504 during a full disk', [phase('disk-full', { 503: 4, 504: 1 })], 1, true],
    ['504s during a full disk with ClickHouse away', [phase('disk-full+clickhouse-down', { 503: 20, 504: 3 })], 3, true],
    ['a 504 during a kill', [phase('workerd-kill', { 0: 5, 504: 1 })], 1, false],
    ['a 504 outside every phase window', [phase('disk-full', { 503: 4, 504: 1 })], 2, false],
  ];
  it.each(cases)('%s', (_name, phases, unknownOutcomes, ok) => {
    expect(verdict(run(phases, unknownOutcomes)).ok).toBe(ok);
  });
});
