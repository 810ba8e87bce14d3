/**
 * Measuring a miner against labelled logs the way the published figures
 * were measured (logpai/logparser `logparser/utils/evaluator.py`):
 *
 * - Grouping Accuracy (GA): the share of messages whose group is exactly
 *   right — the set of messages given the same pattern is the set the ground
 *   truth gives one event.
 * - Parsing Accuracy (PA, as in Loghub-2.0's evaluation): the share of
 *   messages whose template is the ground truth's template, text for text
 *   (runs of whitespace collapsed on both sides).
 *
 * The miner's answers are taken as the platform shows them: an id that a
 * later template replaced is followed to its replacement (the alias).
 */
import type { PatternChange } from './miner.ts';

/** Final id for every id: follows `replaces` aliases to the template that is live now. */
export function resolveAliases(changes: readonly PatternChange[]): Map<string, string> {
  const next = new Map<string, string>();
  for (const change of changes) for (const old of change.replaces) next.set(old, change.patternId);
  const resolved = new Map<string, string>();
  for (const id of next.keys()) {
    let current = id;
    const seen = new Set<string>();
    while (next.has(current) && !seen.has(current)) {
      seen.add(current);
      current = next.get(current)!;
    }
    resolved.set(id, current);
  }
  return resolved;
}

/** GA: `truth[i]` and `parsed[i]` are the event of message i by the ground truth and by the miner. */
export function groupingAccuracy(truth: readonly string[], parsed: readonly string[]): number {
  if (truth.length !== parsed.length) throw new Error('groupingAccuracy: lengths differ');
  if (truth.length === 0) return 1;
  const truthSize = new Map<string, number>();
  for (const t of truth) truthSize.set(t, (truthSize.get(t) ?? 0) + 1);
  const groups = new Map<string, { size: number; truths: Set<string> }>();
  for (let i = 0; i < parsed.length; i++) {
    let group = groups.get(parsed[i]!);
    if (!group) {
      group = { size: 0, truths: new Set() };
      groups.set(parsed[i]!, group);
    }
    group.size++;
    group.truths.add(truth[i]!);
  }
  let correct = 0;
  for (const group of groups.values()) {
    if (group.truths.size !== 1) continue;
    const [only] = group.truths;
    if (truthSize.get(only!) === group.size) correct += group.size;
  }
  return correct / truth.length;
}

/** PA: the share of messages whose template equals the ground truth's (whitespace runs collapsed). */
export function parsingAccuracy(truth: readonly string[], parsed: readonly string[]): number {
  if (truth.length !== parsed.length) throw new Error('parsingAccuracy: lengths differ');
  if (truth.length === 0) return 1;
  let correct = 0;
  for (let i = 0; i < truth.length; i++) if (collapse(truth[i]!) === collapse(parsed[i]!)) correct++;
  return correct / truth.length;
}

function collapse(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}
