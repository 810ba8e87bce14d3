/**
 * The fast path of alerting (issue 16): counts of records as the tenant's
 * actors accept them — before they are flushed to ClickHouse — per rule and
 * group, in per-second buckets of the records' own timestamps, for threshold
 * rules whose breach a partial count can prove (`>`/`>=`, window ≤ 15 min:
 * fastPathEligible). A threshold crossed here fires within about a second of
 * the crossing batch's acknowledgement; the scheduled ClickHouse evaluation
 * stays the judge of everything else (resolution, absence, ratios).
 *
 * In memory only: after the evaluator restarts it counts from the records it
 * sees next, which undercounts until a window has passed — a lower bound
 * still, so a breach it reports is real; the scheduled path covers the rest.
 * Bounded: at most FAST_PATH_MAX_GROUPS groups per rule (records of further
 * groups are left to the scheduled path), buckets older than the window are
 * dropped on every update.
 */
import { groupKey, groupValuesOf } from '../../shared/alerts/evaluation-query.ts';
import type { MatchableRecord } from '../../shared/query-language/evaluate.ts';

export const FAST_PATH_MAX_GROUPS = 1_000;
/** Records stamped this far in the future still count (clock skew of the sender). */
const FUTURE_TOLERANCE_S = 5;

export interface FastRule {
  id: string;
  matches: (record: MatchableRecord) => boolean;
  groupBy: readonly string[];
  windowSeconds: number;
}

interface GroupCounter {
  group: Array<[string, string]>;
  /** Unix second → records stamped in it. */
  buckets: Map<number, number>;
}

export interface FastCount {
  groupKey: string;
  group: Array<[string, string]>;
  count: number;
}

export class FastPathCounters {
  readonly #rules = new Map<string, Map<string, GroupCounter>>();

  /** Counts the records `rule` matches; returns the groups that got records, with their count in the window ending now. */
  add(rule: FastRule, records: readonly MatchableRecord[], now: number): FastCount[] {
    let groups = this.#rules.get(rule.id);
    if (!groups) {
      groups = new Map();
      this.#rules.set(rule.id, groups);
    }
    const nowSecond = Math.floor(now / 1000);
    const oldest = nowSecond - rule.windowSeconds + 1;
    const touched = new Set<string>();
    for (const record of records) {
      const second = secondOf(record.Timestamp);
      if (second === null || second < oldest || second > nowSecond + FUTURE_TOLERANCE_S) continue;
      if (!rule.matches(record)) continue;
      const values = groupValuesOf(record, rule.groupBy);
      const key = groupKey(values);
      let counter = groups.get(key);
      if (!counter) {
        if (groups.size >= FAST_PATH_MAX_GROUPS) continue;
        counter = { group: rule.groupBy.map((field, i) => [field, values[i]!]), buckets: new Map() };
        groups.set(key, counter);
      }
      counter.buckets.set(second, (counter.buckets.get(second) ?? 0) + 1);
      touched.add(key);
    }
    return [...touched].map((key) => {
      const counter = groups.get(key)!;
      return { groupKey: key, group: counter.group, count: windowCount(counter, oldest) };
    });
  }

  /** A group's count in the window ending now (0 when nothing was seen). */
  count(ruleId: string, key: string, windowSeconds: number, now: number): number {
    const counter = this.#rules.get(ruleId)?.get(key);
    return counter ? windowCount(counter, Math.floor(now / 1000) - windowSeconds + 1) : 0;
  }

  /** Every group with records in the window ending now. */
  groups(ruleId: string, windowSeconds: number, now: number): FastCount[] {
    const groups = this.#rules.get(ruleId);
    if (!groups) return [];
    const oldest = Math.floor(now / 1000) - windowSeconds + 1;
    const out: FastCount[] = [];
    for (const [key, counter] of groups) {
      const count = windowCount(counter, oldest);
      if (count === 0) groups.delete(key);
      else out.push({ groupKey: key, group: counter.group, count });
    }
    return out;
  }

  forget(ruleId: string): void {
    this.#rules.delete(ruleId);
  }
}

/** Sums the buckets from `oldest` on, dropping older ones. */
function windowCount(counter: GroupCounter, oldest: number): number {
  let total = 0;
  for (const [second, n] of counter.buckets) {
    if (second < oldest) counter.buckets.delete(second);
    else total += n;
  }
  return total;
}

/** The Unix second of a stored timestamp (`2026-11-30 02:00:00.123456789`, UTC). */
function secondOf(timestamp: string): number | null {
  const ms = Date.parse(`${timestamp.slice(0, 10)}T${timestamp.slice(11, 19)}Z`);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
