/**
 * The query bar: CodeMirror 6 with the query language's highlighting
 * (query-language.ts), the API's syntax errors shown at the position it
 * names, autocomplete of field names, levels, services and top values (from
 * /v1/logs/fields and /values), and the recent queries of this browser.
 * Enter searches; `/` anywhere focuses it.
 */
import { acceptCompletion, autocompletion, closeCompletion, completionKeymap, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { EditorState, Prec, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView, keymap, placeholder } from '@codemirror/view';
import { useEffect, useRef } from 'preact/hooks';
import { ApiFailure } from '../api.ts';
import { BlindQueryError, blindError, blindMode, isBlindQuery, typedQuery } from '../encryption/blind-state.ts';
import { canSearchBlind, tokenizers } from '../encryption/keyring.ts';
import { fieldValues, fields, logsError } from './data.ts';
import { queryHighlighting, queryLanguage } from './query-language.ts';
import { runQuery, search } from './search-state.ts';

const LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const BUILTIN_FIELDS = ['level', 'service', 'trace_id', 'span_id', 'body', 'timestamp', 'id'];
const RECENT_KEY = 'neurallog.recentQueries';

/** Recent queries of this browser (queries only: never a credential). */
export function recentQueries(): string[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((q): q is string => typeof q === 'string').slice(0, 20) : [];
  } catch {
    return [];
  }
}

function remember(q: string): void {
  if (q.trim() === '') return;
  const next = [q, ...recentQueries().filter((r) => r !== q)].slice(0, 20);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    // storage full or disabled: history is a convenience
  }
}

// The error mark: the character the API names (or the end of the query).
const setError = StateEffect.define<{ from: number; to: number } | null>();
const errorMark = Decoration.mark({ class: 'q-error', attributes: { 'aria-invalid': 'true' } });
const errorField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    let next = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setError)) next = effect.value ? Decoration.set([errorMark.range(effect.value.from, effect.value.to)]) : Decoration.none;
    }
    return tr.docChanged ? Decoration.none : next;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** One line: a newline typed or pasted becomes a space. */
const singleLine = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || !tr.newDoc.toString().includes('\n')) return tr;
  const text = tr.newDoc.toString().replace(/\r?\n/g, ' ');
  return [
    tr.startState.update({
      changes: { from: 0, to: tr.startState.doc.length, insert: text },
      selection: { anchor: Math.min(text.length, tr.newSelection.main.head) },
    }),
  ];
});

async function complete(context: CompletionContext): Promise<CompletionResult | null> {
  const valueMatch = context.matchBefore(/[a-zA-Z_@][a-zA-Z0-9_.@-]*(?::|=)[^\s()"]*$/);
  if (valueMatch) {
    const split = valueMatch.text.search(/[:=]/);
    const field = valueMatch.text.slice(0, split);
    const from = valueMatch.from + split + 1;
    if (field === 'level' || field === 'severity') return { from, options: LEVEL_NAMES.map((l) => ({ label: l, type: 'enum' })) };
    try {
      const answer = await fieldValues(field, 20);
      return {
        from,
        options: answer.values.map((v) => ({
          label: /[\s():"\\<>=]/.test(v.value) ? JSON.stringify(v.value) : v.value,
          detail: String(v.count),
          type: 'text',
        })),
      };
    } catch {
      return null;
    }
  }
  const word = context.matchBefore(/[a-zA-Z_@][a-zA-Z0-9_.@-]*$/);
  if (!word && !context.explicit) return null;
  const names = new Set([...BUILTIN_FIELDS, ...(fields.value?.fields.map((f) => f.name) ?? [])]);
  return {
    from: word?.from ?? context.pos,
    options: [
      ...[...names].map((name) => ({ label: `${name}:`, displayLabel: name, type: 'property' })),
      ...['AND', 'OR', 'NOT'].map((k) => ({ label: k, type: 'keyword' })),
      // Recent queries replace the whole text: offered on an empty bar or when asked (Ctrl-Space).
      ...(context.explicit || context.state.doc.length === 0
        ? recentQueries().map((q) => ({
            label: q,
            type: 'history',
            detail: 'recent',
            apply: (view: EditorView) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: q } }),
          }))
        : []),
    ],
  };
}

/**
 * Searches what was typed: as it is, or — Blind search on — as the blind
 * tokens of its words (encryption/blind-query.ts), the words kept out of the
 * URL, the recent queries and every request.
 */
async function submitQuery(text: string): Promise<void> {
  if (blindMode.peek() && canSearchBlind.peek()) {
    const clear = new Set([...(fields.peek()?.builtin ?? []), ...(fields.peek()?.fields.map((f) => f.name) ?? [])]);
    try {
      // The parser comes with the first blind search (a chunk of its own): most sessions never make one.
      const { blindQuery } = await import('../encryption/blind-query.ts');
      const sent = blindQuery(text, tokenizers.peek(), clear);
      blindError.value = null;
      runQuery(sent);
    } catch (err) {
      if (!(err instanceof BlindQueryError)) throw err;
      blindError.value = err.message;
    }
    return;
  }
  blindError.value = null;
  remember(text);
  runQuery(text);
}

function extensions(onSubmit: (q: string) => unknown): Extension[] {
  return [
    queryLanguage,
    queryHighlighting,
    history(),
    singleLine,
    errorField,
    placeholder('Search: words, "phrases", level:error, service:checkout, attr.region:eu-*, status>=500, NOT, OR…'),
    // Enter always searches (a search bar's promise); Tab or a click takes a suggestion.
    autocompletion({ override: [complete], activateOnTyping: true, defaultKeymap: false }),
    Prec.highest(keymap.of([{ key: 'Tab', run: acceptCompletion }, ...completionKeymap.filter((binding) => binding.key !== 'Enter')])),
    keymap.of([
      {
        key: 'Enter',
        run: (view) => {
          closeCompletion(view);
          onSubmit(view.state.doc.toString());
          return true;
        },
      },
      ...historyKeymap,
      ...defaultKeymap,
    ]),
    EditorView.contentAttributes.of({ 'aria-label': 'Query', 'data-testid': 'query-input' }),
  ];
}

export function QueryBar() {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);

  useEffect(() => {
    const editor = new EditorView({
      parent: host.current!,
      state: EditorState.create({ doc: typedQuery(search.peek().q), extensions: extensions(submitQuery) }),
    });
    view.current = editor;
    const focusOnSlash = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== '/' || target?.closest('input, textarea, [contenteditable="true"]')) return;
      event.preventDefault();
      editor.focus();
    };
    window.addEventListener('keydown', focusOnSlash);
    return () => {
      window.removeEventListener('keydown', focusOnSlash);
      editor.destroy();
    };
  }, []);

  // The URL moved (back/forward, a facet clicked): the bar follows — with the words typed, for a blind search made here.
  const q = search.value.q;
  const shown = typedQuery(q);
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== shown) editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: shown } });
  }, [shown]);

  // The API's syntax error, marked where it says.
  const error = logsError.value;
  const syntax = error instanceof ApiFailure && error.code === 'query_syntax' ? error : null;
  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    if (!syntax || typeof syntax.details.position !== 'number') {
      editor.dispatch({ effects: setError.of(null) });
      return;
    }
    const length = editor.state.doc.length;
    const from = Math.min(syntax.details.position as number, length);
    const to = Math.min(from + 1, length);
    editor.dispatch({ effects: setError.of(from === to ? (length > 0 ? { from: length - 1, to: length } : null) : { from, to }) });
  }, [syntax]);

  return (
    <div class="query-bar">
      <div ref={host} class="query-editor" />
      <button type="button" class="primary" onClick={() => void submitQuery(view.current?.state.doc.toString() ?? '')}>
        Search
      </button>
      {blindError.value && (
        <p class="query-error" role="alert" data-testid="blind-error">
          {blindError.value}
        </p>
      )}
      {isBlindQuery(q) && (
        <p class="blind-sent" data-testid="blind-sent">
          Blind search — sent as: <code>{q}</code>
        </p>
      )}
      {syntax && (
        <p class="query-error" role="alert" data-testid="query-error">
          {typeof syntax.details.position === 'number' ? `At ${(syntax.details.position as number) + 1}: ` : ''}
          {syntax.message.replace(/^q: /, '')}
        </p>
      )}
    </div>
  );
}
