/**
 * The form that creates or edits an alert rule: name, query, group-by, the
 * condition (its kind and that kind's fields), interval, `for`, severity,
 * message and the targets, picked from the tenant's. The server checks the
 * rule (shared/alerts/rule.ts); an error it names a field of is shown next to
 * that field — a query's syntax error with its position — and anything else
 * above the buttons.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../api.ts';
import {
  ANOMALY_KINDS,
  type AlertRule,
  type AlertRuleDefinition,
  type AlertTarget,
  type AnomalyKind,
  type Comparison,
  createRule,
  replaceRule,
  type Severity,
} from './api.ts';

type Kind = 'threshold' | 'ratio' | 'absence' | 'anomaly';

/** What the inputs hold: text, as typed, until the form is sent. */
interface Draft {
  name: string;
  query: string;
  groupBy: string;
  kind: Kind;
  op: Comparison;
  /** A count (threshold) or a percentage (ratio). */
  value: string;
  denominator: string;
  below: string;
  window: string;
  kinds: AnomalyKind[];
  interval: string;
  for: string;
  severity: Severity;
  message: string;
  targets: string[];
}

type FieldKey =
  | 'name'
  | 'query'
  | 'groupBy'
  | 'kind'
  | 'op'
  | 'value'
  | 'denominator'
  | 'below'
  | 'window'
  | 'kinds'
  | 'interval'
  | 'for'
  | 'severity'
  | 'message'
  | 'targets';

/** The API's `field` (a path into the rule) → the input that shows it. */
const FIELD_OF: readonly [RegExp, FieldKey][] = [
  [/^name$/, 'name'],
  [/^query$/, 'query'],
  [/^groupBy(\.|$)/, 'groupBy'],
  [/^condition\.denominator$/, 'denominator'],
  [/^condition\.value$/, 'value'],
  [/^condition\.window$/, 'window'],
  [/^condition\.below$/, 'below'],
  [/^condition\.op$/, 'op'],
  [/^condition\.kinds(\.|$)/, 'kinds'],
  [/^condition(\.kind)?$/, 'kind'],
  [/^interval$/, 'interval'],
  [/^for$/, 'for'],
  [/^severity$/, 'severity'],
  [/^message$/, 'message'],
  [/^targets(\.|$)/, 'targets'],
];

const KIND_LABEL: Record<Kind, string> = {
  threshold: 'Threshold: matching records in a window',
  ratio: 'Ratio: matching records / another query’s',
  absence: 'Absence: too few matching records',
  anomaly: 'Anomaly: the anomaly detector’s findings',
};
const ANOMALY_LABEL: Record<AnomalyKind, string> = { volume: 'Volume', new_pattern: 'New pattern', error_ratio: 'Error ratio', silence: 'Silence' };
const OPS: readonly Comparison[] = ['>', '>=', '<', '<='];
const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export function draftOf(rule: AlertRuleDefinition | null, query = ''): Draft {
  const c = rule?.condition;
  return {
    name: rule?.name ?? '',
    query: rule?.query ?? query,
    groupBy: (rule?.groupBy ?? []).join(', '),
    kind: c?.kind ?? 'threshold',
    op: c && (c.kind === 'threshold' || c.kind === 'ratio') ? c.op : '>',
    value: c?.kind === 'threshold' ? String(c.value) : c?.kind === 'ratio' ? String(+(c.value * 100).toFixed(4)) : '0',
    denominator: c?.kind === 'ratio' ? c.denominator : '',
    below: c?.kind === 'absence' ? String(c.below) : '1',
    window: c && c.kind !== 'anomaly' ? c.window : '5m',
    kinds: c?.kind === 'anomaly' ? (c.kinds ?? []) : [],
    interval: rule?.interval ?? '1m',
    for: rule?.for ?? '0s',
    severity: rule?.severity ?? 'warning',
    message: rule?.message ?? '',
    targets: rule?.targets ?? [],
  };
}

/** The definition to send, or the fields that cannot make one. Labels are kept from the rule edited (the form does not show them). */
function definitionOf(d: Draft, base: AlertRuleDefinition | null): AlertRuleDefinition | Partial<Record<FieldKey, string>> {
  const errors: Partial<Record<FieldKey, string>> = {};
  if (d.name.trim() === '') errors.name = 'A name is required';
  const number = (key: FieldKey, text: string, check: (n: number) => boolean, rule: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || !check(n)) errors[key] = rule;
    return n;
  };
  let condition: AlertRuleDefinition['condition'];
  switch (d.kind) {
    case 'threshold':
      condition = { kind: 'threshold', op: d.op, value: number('value', d.value, (n) => n >= 0, 'A number, 0 or more'), window: d.window.trim() };
      break;
    case 'ratio':
      condition = {
        kind: 'ratio',
        denominator: d.denominator.trim(),
        op: d.op,
        value: number('value', d.value, (n) => n >= 0 && n <= 100, 'A percentage from 0 to 100') / 100,
        window: d.window.trim(),
      };
      break;
    case 'absence':
      condition = {
        kind: 'absence',
        below: number('below', d.below, (n) => Number.isInteger(n) && n >= 1, 'A whole number, 1 or more'),
        window: d.window.trim(),
      };
      break;
    case 'anomaly':
      condition = d.kinds.length > 0 ? { kind: 'anomaly', kinds: d.kinds } : { kind: 'anomaly' };
      break;
  }
  if (Object.keys(errors).length > 0) return errors;
  return {
    name: d.name.trim(),
    query: d.query.trim(),
    groupBy: d.groupBy
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== ''),
    condition,
    interval: d.interval.trim(),
    for: d.for.trim() || '0s',
    severity: d.severity,
    labels: base?.labels ?? {},
    ...(d.message.trim() !== '' && { message: d.message }),
    targets: d.targets,
  };
}

/** What a refusal says about one field, without repeating the field's name the label already gives. */
function fieldMessage(failure: ApiFailure, field: string): string {
  let text = failure.message.startsWith(`${field}: `) ? failure.message.slice(field.length + 2) : failure.message;
  if (failure.code === 'query_syntax') {
    text = text.replace(/^q: /, '');
    const position = failure.details.position;
    if (typeof position === 'number') text = `At ${position + 1}: ${text}`;
  }
  return text;
}

export function RuleForm({
  editing,
  initialQuery,
  targets,
  targetsError,
  onSaved,
  onCancel,
}: {
  /** The rule edited, or null for a new one. */
  editing: AlertRule | null;
  initialQuery: string;
  targets: AlertTarget[] | null;
  targetsError: ApiFailure | null;
  onSaved: (rule: AlertRule) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(editing?.rule ?? null, initialQuery));
  const [errors, setErrors] = useState<Partial<Record<FieldKey, string>>>({});
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [saving, setSaving] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    form.current?.scrollIntoView?.({ block: 'nearest' });
    form.current?.querySelector<HTMLInputElement>('#rule-name')?.focus();
  }, [editing?.id]);

  // The first field in error takes the focus, so a keyboard or screen-reader user lands on it.
  useEffect(() => {
    const first = Object.keys(errors)[0];
    if (first) form.current?.querySelector<HTMLElement>(`#rule-${first}`)?.focus();
  }, [errors]);

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    if (errors[key as FieldKey]) setErrors((e) => ({ ...e, [key]: undefined }));
  };
  /** The id, error state and descriptions (hint, error) of a field's control. */
  const described = (key: FieldKey) => ({
    id: `rule-${key}`,
    'aria-invalid': errors[key] ? true : undefined,
    'aria-describedby': [errors[key] && `rule-${key}-error`, HINTS[key] && `rule-${key}-hint`].filter(Boolean).join(' ') || undefined,
  });
  const text = (key: 'name' | 'query' | 'groupBy' | 'value' | 'denominator' | 'below' | 'window' | 'interval' | 'for' | 'message') => ({
    ...described(key),
    value: draft[key],
    onInput: (e: Event) => set(key, (e.currentTarget as HTMLInputElement).value),
  });
  const toggle = <T,>(list: T[], item: T, on: boolean) => (on ? [...list, item] : list.filter((x) => x !== item));

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    const definition = definitionOf(draft, editing?.rule ?? null);
    if (!('condition' in definition)) {
      setErrors(definition);
      return;
    }
    setErrors({});
    setSaving(true);
    try {
      const saved = editing ? await replaceRule(editing.id, definition) : await createRule(definition);
      onSaved(saved);
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      const field = typeof err.details.field === 'string' ? err.details.field : null;
      const key = field === null ? undefined : FIELD_OF.find(([pattern]) => pattern.test(field))?.[1];
      if (field !== null && key && (key !== 'kinds' || draft.kind === 'anomaly')) setErrors({ [key]: fieldMessage(err, field) });
      else setFailure(err);
    } finally {
      setSaving(false);
    }
  };

  const windowed = draft.kind !== 'anomaly';
  return (
    <form ref={form} class="card rule-form" onSubmit={submit} aria-labelledby="rule-form-title" data-testid="rule-form" noValidate>
      <h3 id="rule-form-title">{editing ? `Edit “${editing.rule.name}”` : 'New rule'}</h3>
      <div class="fields">
        <Field id="name" label="Name" error={errors.name}>
          <input {...text('name')} required maxLength={200} autoComplete="off" />
        </Field>
        <Field id="severity" label="Severity" error={errors.severity}>
          <select {...described('severity')} value={draft.severity} onChange={(e) => set('severity', (e.currentTarget as HTMLSelectElement).value as Severity)}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field id="query" label="Query" error={errors.query} wide>
          <input {...text('query')} class="mono" spellcheck={false} autoComplete="off" maxLength={4096} data-testid="rule-query" />
        </Field>
        <Field id="groupBy" label="Group by" error={errors.groupBy}>
          <input {...text('groupBy')} class="mono" spellcheck={false} autoComplete="off" placeholder="service, level" />
        </Field>
        <Field id="kind" label="Condition" error={errors.kind}>
          <select {...described('kind')} value={draft.kind} onChange={(e) => set('kind', (e.currentTarget as HTMLSelectElement).value as Kind)}>
            {(Object.keys(KIND_LABEL) as Kind[]).map((k) => (
              <option key={k} value={k}>
                {KIND_LABEL[k]}
              </option>
            ))}
          </select>
        </Field>
        {draft.kind === 'ratio' && (
          <Field id="denominator" label="Of the records matching (denominator)" error={errors.denominator} wide>
            <input {...text('denominator')} class="mono" spellcheck={false} autoComplete="off" maxLength={4096} />
          </Field>
        )}
        {(draft.kind === 'threshold' || draft.kind === 'ratio') && (
          <>
            <Field id="op" label="Comparison" error={errors.op}>
              <select {...described('op')} value={draft.op} onChange={(e) => set('op', (e.currentTarget as HTMLSelectElement).value as Comparison)}>
                {OPS.map((op) => (
                  <option key={op} value={op}>
                    {op}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="value" label={draft.kind === 'ratio' ? 'Percentage' : 'Records'} error={errors.value}>
              <input {...text('value')} type="number" min={0} max={draft.kind === 'ratio' ? 100 : undefined} step="any" inputMode="decimal" />
            </Field>
          </>
        )}
        {draft.kind === 'absence' && (
          <Field id="below" label="Fewer than (records)" error={errors.below}>
            <input {...text('below')} type="number" min={1} step={1} inputMode="numeric" />
          </Field>
        )}
        {windowed && (
          <Field id="window" label="In a window of" error={errors.window}>
            <input {...text('window')} class="mono" autoComplete="off" maxLength={16} />
          </Field>
        )}
        {draft.kind === 'anomaly' && (
          <fieldset class="wide" id="rule-kinds" tabIndex={-1} aria-describedby={errors.kinds ? 'rule-kinds-error' : undefined}>
            <legend>Findings that fire it (none checked: all)</legend>
            {ANOMALY_KINDS.map((k) => (
              <label key={k} class="inline">
                <input
                  type="checkbox"
                  checked={draft.kinds.includes(k)}
                  onChange={(e) => set('kinds', toggle(draft.kinds, k, (e.currentTarget as HTMLInputElement).checked))}
                />{' '}
                {ANOMALY_LABEL[k]}
              </label>
            ))}
            {errors.kinds && (
              <p class="field-error" id="rule-kinds-error" data-testid="field-error-kinds">
                {errors.kinds}
              </p>
            )}
          </fieldset>
        )}
        <Field id="interval" label="Evaluated every" error={errors.interval}>
          <input {...text('interval')} class="mono" autoComplete="off" maxLength={16} />
        </Field>
        <Field id="for" label="Firing after holding for" error={errors.for}>
          <input {...text('for')} class="mono" autoComplete="off" maxLength={16} />
        </Field>
        <Field id="message" label="Message (optional)" error={errors.message} wide>
          <textarea {...text('message')} rows={2} maxLength={2000} placeholder="{{rule}}: {{value}} matching records ({{condition}}) {{group}}" />
        </Field>
        <fieldset class="wide" id="rule-targets" tabIndex={-1} aria-describedby={errors.targets ? 'rule-targets-error' : undefined}>
          <legend>Notify</legend>
          {targetsError && (
            <p class="message error" role="alert">
              The targets could not be read: {targetsError.explanation}
            </p>
          )}
          {!targetsError && targets === null && <p class="muted">Loading…</p>}
          {targets?.length === 0 && (
            <p class="muted">This tenant has no notification targets yet (POST /v1/alerts/targets): the rule’s alerts are only shown here.</p>
          )}
          {(targets ?? []).map((t) => (
            <label key={t.id} class="inline">
              <input
                type="checkbox"
                checked={draft.targets.includes(t.id)}
                data-testid="rule-target"
                onChange={(e) => set('targets', toggle(draft.targets, t.id, (e.currentTarget as HTMLInputElement).checked))}
              />{' '}
              {t.name} <span class="muted">({t.kind})</span>
            </label>
          ))}
          {draft.targets
            .filter((id) => targets !== null && !targets.some((t) => t.id === id))
            .map((id) => (
              <label key={id} class="inline">
                <input type="checkbox" checked onChange={() => set('targets', toggle(draft.targets, id, false))} /> <code>{id}</code>{' '}
                <span class="muted">(no longer exists)</span>
              </label>
            ))}
          {errors.targets && (
            <p class="field-error" id="rule-targets-error" data-testid="field-error-targets">
              {errors.targets}
            </p>
          )}
        </fieldset>
      </div>
      {failure && (
        <p class="message error" role="alert" data-testid="rule-form-error">
          {failure.explanation}
        </p>
      )}
      <div class="form-buttons">
        <button type="submit" class="primary" disabled={saving}>
          {saving ? 'Saving…' : editing ? 'Save rule' : 'Create rule'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const HINTS: Partial<Record<FieldKey, string>> = {
  query: 'The records the rule counts, in the query language as in Explore (empty: every record).',
  groupBy: 'Comma-separated; one alert per value: service, level, pattern or an attribute.',
  denominator: 'Empty: every record.',
  window: 'A duration: 30s, 5m, 1h, 1d.',
  interval: 'At least 10s (the plan may ask more).',
  for: '0s fires at once; otherwise the alert is pending until then.',
};

function Field({ id, label, error, wide, children }: { id: FieldKey; label: string; error: string | undefined; wide?: boolean; children: ComponentChildren }) {
  return (
    <div class={`field${wide ? ' wide' : ''}`}>
      <label for={`rule-${id}`}>{label}</label>
      {children}
      {HINTS[id] && (
        <p class="hint muted small" id={`rule-${id}-hint`}>
          {HINTS[id]}
        </p>
      )}
      {error && (
        <p class="field-error" id={`rule-${id}-error`} data-testid={`field-error-${id}`}>
          {error}
        </p>
      )}
    </div>
  );
}
