/**
 * Status conditions the Kubernetes API conventions way: one per type,
 * `lastTransitionTime` moves only when the status flips, every condition says
 * which generation it describes.
 */
import type { Condition, ConditionType } from './tenant.ts';

export function setCondition(
  conditions: Condition[] | undefined,
  type: ConditionType,
  status: Condition['status'],
  reason: string,
  message: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === type);
  const before = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type,
    status,
    reason,
    message,
    ...(generation !== undefined && { observedGeneration: generation }),
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now.toISOString(),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function conditionOf(conditions: Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
