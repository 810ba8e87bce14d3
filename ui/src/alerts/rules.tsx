/**
 * The tenant's alert rules (GET /v1/alerts/rules): each with its condition in
 * words, its health (GET /v1/alerts), whether it is muted, and — for a
 * session that may change them (`alerts:write` or `admin`) — edit, mute or
 * unmute, a test notification showing what each target answered, and delete
 * after a confirmation. The form creates and edits.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import type { ApiFailure } from '../api.ts';
import { type AlertRule, type AlertTarget, ago, deleteRule, describeCondition, muteRule, type RuleStatus, type TestDelivery, testRule, utc } from './api.ts';
import { SEVERITY_CLASS } from './current.tsx';
import { failureOf, type Loaded } from './load.ts';
import { RuleForm } from './rule-form.tsx';

const MUTE_FOR = [
  { hours: 1, label: '1 hour' },
  { hours: 4, label: '4 hours' },
  { hours: 24, label: '1 day' },
  { hours: 24 * 7, label: '1 week' },
] as const;

export interface FormState {
  /** The rule edited; null: a new one. */
  rule: AlertRule | null;
  /** A new rule's query (from Explore's "Create alert"). */
  query: string;
}

type Panel =
  | { id: string; kind: 'mute'; hours: number }
  | { id: string; kind: 'delete' }
  | { id: string; kind: 'test'; deliveries: TestDelivery[] | null }
  | { id: string; kind: 'error'; failure: ApiFailure };

function isMuted(rule: AlertRule, now: number): boolean {
  return rule.mutedUntil !== null && Date.parse(rule.mutedUntil) > now;
}

function Health({ status }: { status: RuleStatus | undefined }) {
  if (!status) return <span class="muted">—</span>;
  if (status.health === 'error')
    return (
      <span class="health-error" data-testid="rule-health" data-health="error">
        error: {status.error ?? 'unknown'}
      </span>
    );
  if (status.health === 'unknown')
    return (
      <span class="muted" data-testid="rule-health" data-health="unknown">
        not evaluated yet
      </span>
    );
  return (
    <span data-testid="rule-health" data-health="ok" title={status.lastEvaluatedAt ? `Last evaluated ${utc(status.lastEvaluatedAt)} UTC` : undefined}>
      ok{status.lastEvaluatedAt && <span class="muted"> ({ago(status.lastEvaluatedAt)} ago)</span>}
    </span>
  );
}

export function RulesPart({
  rules,
  statuses,
  targets,
  canWrite,
  form,
  onOpenForm,
  onCloseForm,
  onChanged,
}: {
  rules: Loaded<AlertRule[]>;
  statuses: ReadonlyMap<string, RuleStatus> | null;
  targets: Loaded<AlertTarget[]>;
  canWrite: boolean;
  form: FormState | null;
  onOpenForm: (state: FormState) => void;
  onCloseForm: () => void;
  /** A rule was created, changed or deleted: reload what shows it. */
  onChanged: () => void;
}) {
  const [panel, setPanel] = useState<Panel | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const targetNames = new Map((targets.data ?? []).map((t) => [t.id, t.name]));
  const now = Date.now();

  const act = async (id: string, action: () => Promise<Panel | null>) => {
    setBusy(id);
    try {
      setPanel(await action());
      onChanged();
    } catch (err) {
      setPanel({ id, kind: 'error', failure: failureOf(err) });
    } finally {
      setBusy(null);
    }
  };
  const mute = (rule: AlertRule, hours: number) =>
    act(rule.id, async () => {
      await muteRule(rule.id, new Date(Date.now() + hours * 3_600_000).toISOString());
      return null;
    });
  const unmute = (rule: AlertRule) =>
    act(rule.id, async () => {
      await muteRule(rule.id, null);
      return null;
    });
  const remove = (rule: AlertRule) =>
    act(rule.id, async () => {
      await deleteRule(rule.id);
      if (form?.rule?.id === rule.id) onCloseForm();
      return null;
    });
  const test = (rule: AlertRule) => {
    setPanel({ id: rule.id, kind: 'test', deliveries: null });
    return act(rule.id, async () => ({ id: rule.id, kind: 'test', deliveries: await testRule(rule.id) }));
  };

  const list = rules.data ?? [];
  const columns = canWrite ? 6 : 5;
  return (
    <section class="alerts-part" aria-labelledby="rules-title" data-testid="alert-rules">
      <div class="part-head">
        <h2 id="rules-title">Rules</h2>
        {canWrite && !form && (
          <button type="button" class="primary" data-testid="new-rule" onClick={() => onOpenForm({ rule: null, query: '' })}>
            New rule
          </button>
        )}
      </div>
      {canWrite && form && (
        <RuleForm
          key={form.rule?.id ?? 'new'}
          editing={form.rule}
          initialQuery={form.query}
          targets={targets.data}
          targetsError={targets.error}
          onSaved={() => {
            onCloseForm();
            onChanged();
          }}
          onCancel={onCloseForm}
        />
      )}
      {rules.error && (
        <p class="message error" role="alert" data-testid="rules-error">
          {rules.error.explanation}
        </p>
      )}
      {!rules.error && !rules.data && <p class="muted loading">Loading…</p>}
      {rules.data && list.length === 0 && (
        <p class="muted">{canWrite ? 'No alert rules yet: “New rule” makes one, as does “Create alert” in Explore.' : 'No alert rules yet.'}</p>
      )}
      {list.length > 0 && (
        <table class="table rules-table stack">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Query</th>
              <th scope="col">Condition</th>
              <th scope="col">Notifies</th>
              <th scope="col">Health</th>
              {canWrite && (
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.map((r) => {
              const d = r.rule;
              const muted = isMuted(r, now);
              const open = panel?.id === r.id ? panel : null;
              return (
                <Fragment key={r.id}>
                  <tr data-testid="rule-row" data-rule={r.id} data-muted={muted ? 'true' : 'false'}>
                    <th scope="row">
                      {d.name} <span class={`badge ${SEVERITY_CLASS[d.severity] ?? 'level-unknown'}`}>{d.severity}</span>
                      {muted && (
                        <span class="tag" data-testid="rule-muted" title={`No notification before ${utc(r.mutedUntil)} UTC`}>
                          muted until {utc(r.mutedUntil)} UTC
                        </span>
                      )}
                    </th>
                    <td data-label="Query">
                      <code class="rule-query">{d.query || '(every record)'}</code>
                    </td>
                    <td data-label="Condition">
                      <span data-testid="rule-condition">{describeCondition(d.condition)}</span>
                      <div class="muted small">
                        {d.groupBy.length > 0 && <>per {d.groupBy.join(', ')} · </>}
                        every {d.interval}
                        {d.for !== '0s' && <> · for {d.for}</>}
                      </div>
                    </td>
                    <td data-label="Notifies">
                      {d.targets.length === 0 ? <span class="muted">nobody</span> : d.targets.map((id) => targetNames.get(id) ?? id).join(', ')}
                    </td>
                    <td data-label="Health">
                      <Health status={statuses?.get(r.id)} />
                    </td>
                    {canWrite && (
                      <td class="actions">
                        <button type="button" onClick={() => onOpenForm({ rule: r, query: '' })} disabled={busy === r.id}>
                          Edit
                        </button>
                        {muted ? (
                          <button type="button" onClick={() => void unmute(r)} disabled={busy === r.id}>
                            Unmute
                          </button>
                        ) : (
                          <button
                            type="button"
                            aria-expanded={open?.kind === 'mute'}
                            onClick={() => setPanel({ id: r.id, kind: 'mute', hours: 1 })}
                            disabled={busy === r.id}
                          >
                            Mute
                          </button>
                        )}
                        <button type="button" onClick={() => void test(r)} disabled={busy === r.id}>
                          Test
                        </button>
                        <button
                          type="button"
                          class="danger"
                          aria-expanded={open?.kind === 'delete'}
                          onClick={() => setPanel({ id: r.id, kind: 'delete' })}
                          disabled={busy === r.id}
                        >
                          Delete
                        </button>
                      </td>
                    )}
                  </tr>
                  {open && (
                    <tr class="rule-panel">
                      <td colSpan={columns}>
                        <RulePanel
                          panel={open}
                          rule={r}
                          busy={busy === r.id}
                          targetNames={targetNames}
                          onMute={(hours) => void mute(r, hours)}
                          onDelete={() => void remove(r)}
                          onChange={setPanel}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RulePanel({
  panel,
  rule,
  busy,
  targetNames,
  onMute,
  onDelete,
  onChange,
}: {
  panel: Panel;
  rule: AlertRule;
  busy: boolean;
  targetNames: ReadonlyMap<string, string>;
  onMute: (hours: number) => void;
  onDelete: () => void;
  onChange: (panel: Panel | null) => void;
}) {
  const close = (
    <button type="button" onClick={() => onChange(null)}>
      {panel.kind === 'test' || panel.kind === 'error' ? 'Close' : 'Cancel'}
    </button>
  );
  switch (panel.kind) {
    case 'mute':
      return (
        <div class="panel-line">
          <label>
            Mute “{rule.rule.name}” for{' '}
            <select
              value={panel.hours}
              data-testid="mute-for"
              onChange={(e) => onChange({ ...panel, hours: Number((e.currentTarget as HTMLSelectElement).value) })}
            >
              {MUTE_FOR.map((m) => (
                <option key={m.hours} value={m.hours}>
                  {m.label}
                </option>
              ))}
            </select>
          </label>{' '}
          <span class="muted small">It is still evaluated and its alerts still show; no notification is sent.</span>
          <button type="button" class="primary" disabled={busy} data-testid="confirm-mute" onClick={() => onMute(panel.hours)}>
            Mute
          </button>
          {close}
        </div>
      );
    case 'delete':
      return (
        <div class="panel-line">
          <span>Delete the rule “{rule.rule.name}”? Its alerts end and it cannot be undone.</span>
          <button type="button" class="danger" disabled={busy} data-testid="confirm-delete" onClick={onDelete}>
            Delete rule
          </button>
          {close}
        </div>
      );
    case 'test':
      return (
        <div class="test-result" role="status" data-testid="test-result">
          {panel.deliveries === null ? (
            <p class="muted">Sending a test notification to each target…</p>
          ) : panel.deliveries.length === 0 ? (
            <p>The rule notifies nobody: there was nothing to send. Pick targets in its form.</p>
          ) : (
            <ul>
              {panel.deliveries.map((d) => (
                <li key={d.targetId} data-testid="test-delivery" data-delivered={d.delivered ? 'true' : 'false'}>
                  <strong>{targetNames.get(d.targetId) ?? d.targetId}</strong>:{' '}
                  <span class={d.delivered ? 'ok' : 'health-error'}>{d.delivered ? 'delivered' : 'failed'}</span>
                  {d.detail && <span class="muted"> — {d.detail}</span>}
                </li>
              ))}
            </ul>
          )}
          {close}
        </div>
      );
    case 'error':
      return (
        <div class="panel-line">
          <p class="message error" role="alert">
            {panel.failure.explanation}
          </p>
          {close}
        </div>
      );
  }
}
