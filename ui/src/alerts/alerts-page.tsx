/**
 * Alerts (issue 16): the alerts of now — refreshed every few seconds while the
 * page is open —, the tenant's rules with their health (and, for a session
 * that may change them, the form, mute, test and delete), and the history of
 * what happened. `/alerts?new=1&q=…` opens the form for a new rule on that
 * query: Explore's "Create alert" links there. A chunk of its own, loaded
 * when the page is opened (pages/alerts.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { location, setParams } from '../router.ts';
import { scopes } from '../session.ts';
import { loadCurrent, loadRules, loadTargets } from './api.ts';
import { CurrentAlertsPart } from './current.tsx';
import { HistoryPart } from './history.tsx';
import { useLoaded } from './load.ts';
import { type FormState, RulesPart } from './rules.tsx';

/** How often the current alerts, the rules and the newest history are read again. */
export const REFRESH_MS = 5_000;

export const canWriteAlerts = (s: ReadonlySet<string>) => s.has('alerts:write') || s.has('admin');

export function AlertsPage() {
  const canWrite = canWriteAlerts(scopes.value);
  const params = location.value.params;
  const wantsNew = params.get('new') === '1';
  const prefill = params.get('q') ?? '';

  // The refresh: every REFRESH_MS while the page is shown, stopped when it is left.
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') setTick((t) => t + 1);
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const [rulesVersion, setRulesVersion] = useState(0);
  const [refreshedAt, setRefreshedAt] = useState<number | null>(null);

  const current = useLoaded(
    () =>
      loadCurrent().then((answer) => {
        setRefreshedAt(Date.now());
        return answer;
      }),
    [tick],
  );
  // Rules are read again with the alerts too: one changed elsewhere (another tab, the API) shows.
  const rules = useLoaded(loadRules, [rulesVersion, tick]);
  const [form, setForm] = useState<FormState | null>(null);
  const targets = useLoaded(loadTargets, [rulesVersion, form !== null]);
  useEffect(() => {
    if (wantsNew && canWrite) setForm({ rule: null, query: prefill });
  }, [wantsNew, prefill, canWrite]);
  const closeForm = () => {
    setForm(null);
    if (wantsNew) setParams({ new: null, q: null }, { replace: true });
  };
  const changed = () => {
    setRulesVersion((v) => v + 1);
    setTick((t) => t + 1);
  };

  const statuses = current.data ? new Map(current.data.rules.map((r) => [r.id, r])) : null;
  const rulesById = new Map((rules.data ?? []).map((r) => [r.id, r]));
  return (
    <div class="page alerts">
      <h1>Alerts</h1>
      {wantsNew && !canWrite && (
        <p class="message" role="status">
          This session may read alerts but not create rules: its key lacks the alerts:write scope.
        </p>
      )}
      <CurrentAlertsPart current={current} rules={rulesById} refreshedAt={refreshedAt} />
      <RulesPart
        rules={rules}
        statuses={statuses}
        targets={targets}
        canWrite={canWrite}
        form={form}
        onOpenForm={(state) => {
          setForm(state);
          if (wantsNew) setParams({ new: null, q: null }, { replace: true });
        }}
        onCloseForm={closeForm}
        onChanged={changed}
      />
      <HistoryPart tick={tick} rules={rules.data} />
    </div>
  );
}
