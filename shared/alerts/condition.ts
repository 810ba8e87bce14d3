/**
 * An alert rule's condition: its shapes and how it reads in words. The API
 * (shared/alerts/rule.ts validates it with zod, and a compile-time check keeps
 * that schema and these types the same) and the explorer's Alerts page
 * (ui/src/alerts) both take them from here, so the two never describe a rule
 * differently. Dependency-free on purpose: the browser bundle imports it.
 */

/** What an anomaly rule can watch: the kinds of finding /v1/anomalies reports (docs/analytics.md). */
export const ANOMALY_KINDS = ['volume', 'new_pattern', 'error_ratio', 'silence'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export const COMPARISONS = ['>', '>=', '<', '<='] as const;
export type Comparison = (typeof COMPARISONS)[number];

export type AlertCondition =
  | { kind: 'threshold'; op: Comparison; value: number; window: string }
  | { kind: 'ratio'; denominator: string; op: Comparison; value: number; window: string }
  | { kind: 'absence'; below: number; window: string }
  | { kind: 'anomaly'; kinds?: AnomalyKind[] | undefined };

/** The condition in words, as notifications, the API's messages and the Alerts page write it: `> 100 in 5m`. */
export function describeCondition(condition: AlertCondition): string {
  switch (condition.kind) {
    case 'threshold':
      return `${condition.op} ${condition.value} in ${condition.window}`;
    case 'ratio':
      return `${condition.op} ${+(condition.value * 100).toFixed(4)} % in ${condition.window}`;
    case 'absence':
      return `< ${condition.below} in ${condition.window}`;
    case 'anomaly':
      return `anomaly (${(condition.kinds ?? ANOMALY_KINDS).join(', ')})`;
  }
}
