/**
 * The alerts of now (GET /v1/alerts): firing first, then pending, then those
 * resolved in the last hour — each with its rule, group, value and since when,
 * muted ones marked — and the rules whose evaluation fails, with the reason.
 */
import { type AlertRule, ago, type CurrentAlert, type CurrentAlerts, groupText, utc } from './api.ts';
import type { Loaded } from './load.ts';

const ORDER: Record<string, number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };
export const STATE_CLASS: Record<string, string> = { firing: 'level-error', pending: 'level-warn', resolved: 'state-resolved', inactive: 'level-unknown' };
export const SEVERITY_CLASS: Record<string, string> = { critical: 'level-fatal', warning: 'level-warn', info: 'level-info' };

/** When the alert entered the state it is in. */
function since(a: CurrentAlert): string | null {
  if (a.state === 'firing') return a.firedAt ?? a.activeSince;
  if (a.state === 'resolved') return a.resolvedAt;
  return a.activeSince;
}

/** A measured value as its rule's condition reads it: a ratio as a percentage, a count as a number. */
export function formatValue(value: number | null, rule: AlertRule | undefined): string {
  if (value === null) return '';
  if (rule?.rule.condition.kind === 'ratio') return `${+(value * 100).toFixed(2)} %`;
  return value.toLocaleString('en', { maximumFractionDigits: 2 });
}

export function CurrentAlertsPart({
  current,
  rules,
  refreshedAt,
}: {
  current: Loaded<CurrentAlerts>;
  rules: ReadonlyMap<string, AlertRule>;
  refreshedAt: number | null;
}) {
  const { data, error } = current;
  const alerts = [...(data?.alerts ?? [])].sort(
    (a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || Date.parse(since(b) ?? '') - Date.parse(since(a) ?? '') || a.ruleName.localeCompare(b.ruleName),
  );
  const failing = (data?.rules ?? []).filter((r) => r.health === 'error');
  const now = Date.now();
  return (
    <section class="alerts-part" aria-labelledby="current-title" data-testid="current-alerts">
      <div class="part-head">
        <h2 id="current-title">Current alerts</h2>
        {refreshedAt !== null && <span class="muted small">Refreshed every 5 s · last at {new Date(refreshedAt).toISOString().slice(11, 19)} UTC</span>}
      </div>
      {error && (
        <p class="message error" role="alert" data-testid="current-error">
          {error.explanation}
        </p>
      )}
      {!error && !data && <p class="muted loading">Loading…</p>}
      {failing.length > 0 && (
        <div class="message error rules-in-error" data-testid="rules-in-error">
          <strong>{failing.length === 1 ? 'A rule cannot be evaluated:' : `${failing.length} rules cannot be evaluated:`}</strong>
          <ul>
            {failing.map((r) => (
              <li key={r.id}>
                <strong>{r.name}</strong> — {r.error ?? 'unknown error'}
                {r.errorSince && <span class="muted"> (since {utc(r.errorSince)} UTC)</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
      {data && alerts.length === 0 && <p class="muted">No alert is pending or firing, and none resolved in the last hour.</p>}
      {alerts.length > 0 && (
        <table class="table alerts-table stack">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Rule</th>
              <th scope="col">Group</th>
              <th scope="col" class="number">
                Value
              </th>
              <th scope="col">Since (UTC)</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((a) => {
              const at = since(a);
              return (
                <tr key={`${a.ruleId}-${JSON.stringify(a.group)}`} data-testid="current-alert" data-state={a.state} data-rule={a.ruleId}>
                  <td data-label="State">
                    <span class={`badge ${STATE_CLASS[a.state] ?? 'level-unknown'}`}>{a.state}</span>
                    {a.muted && (
                      <span class="tag" title="The rule is muted: no notification is sent" data-testid="alert-muted">
                        muted
                      </span>
                    )}
                  </td>
                  <td data-label="Rule">
                    {a.ruleName} <span class={`badge ${SEVERITY_CLASS[a.severity] ?? 'level-unknown'}`}>{a.severity}</span>
                  </td>
                  <td data-label="Group">
                    <code>{groupText(a.group)}</code>
                  </td>
                  <td data-label="Value" class="number">
                    {formatValue(a.value, rules.get(a.ruleId))}
                  </td>
                  <td data-label="Since (UTC)">
                    {at ? (
                      <>
                        {utc(at)} <span class="muted">({ago(at, now)} ago)</span>
                      </>
                    ) : (
                      ''
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
