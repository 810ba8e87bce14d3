/**
 * The query language (docs/query-language.md) as a CodeMirror language: the
 * tokens of shared/query-language/grammar.peggy — keywords, field names with
 * their comparison, phrases, words and prefixes, negation, brackets — for
 * highlighting. Meaning (and errors) stay the API's: a query that does not
 * parse is shown at the position `400 query_syntax` names.
 */
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';

// The grammar's character classes (FieldName, WordChar), as regular expressions.
const FIELD_THEN_COMPARISON = /^[a-zA-Z_@][a-zA-Z0-9_.@-]*(?=\s*(?:>=|<=|[:=<>]))/;
const COMPARISON = /^(?:>=|<=|[:=<>])/;
const PHRASE = /^"(?:[^"\\]|\\.)*"?/;
const KEYWORD = /^(?:AND|OR|NOT)(?![^ \t\r\n\u00a0():"\\<>=])/;
const WORD = /^(?:\\.|[^ \t\r\n\u00a0():"\\<>=])+/;
const VALUE_WORD = /^(?:\\.|[^ \t\r\n\u00a0()"\\<>=])+/;

interface State {
  /** The previous token was a comparison: a value follows (values may hold colons). */
  afterComparison: boolean;
}

export const queryLanguage = StreamLanguage.define<State>({
  name: 'neurallog-query',
  startState: () => ({ afterComparison: false }),
  token(stream, state) {
    if (stream.eatSpace()) return null;
    const after = state.afterComparison;
    state.afterComparison = false;
    if (stream.match(PHRASE)) return 'string';
    if (after && stream.match(VALUE_WORD)) return stream.current().endsWith('*') ? 'regexp' : 'atom';
    if (stream.match(KEYWORD) || stream.match('&&') || stream.match('||')) return 'keyword';
    if (stream.match(/^[()]/)) return 'bracket';
    if (stream.match(/^[-!](?=\S)/)) return 'operator';
    if (stream.match(FIELD_THEN_COMPARISON)) return 'propertyName';
    if (stream.match(COMPARISON)) {
      state.afterComparison = true;
      return 'operator';
    }
    if (stream.match(WORD)) return stream.current().endsWith('*') ? 'regexp' : null;
    stream.next();
    return 'invalid';
  },
});

export const queryHighlighting = syntaxHighlighting(
  HighlightStyle.define([
    { tag: tags.keyword, class: 'q-keyword' },
    { tag: tags.propertyName, class: 'q-field' },
    { tag: tags.operator, class: 'q-operator' },
    { tag: tags.string, class: 'q-phrase' },
    { tag: tags.atom, class: 'q-value' },
    { tag: tags.regexp, class: 'q-prefix' },
    { tag: tags.bracket, class: 'q-bracket' },
    { tag: tags.invalid, class: 'q-invalid' },
  ]),
);
