/**
 * Blind-token search from the explorer (docs/encryption.md, "Search"): the
 * query typed is parsed with the query language's own parser, and each word
 * or phrase — and each `name:value` of an attribute that is not a clear
 * field — is replaced by its blind token(s) under the loaded search
 * secret(s), computed here. Only the tokens are sent: never the word next to
 * its token (that pair would tell the server what the token means). Clear
 * fields (level, service, trace_id…, resource.*, and the attributes the
 * fields sidebar lists, which the server already has in clear) stay as typed.
 *
 * Exact words only: a prefix, a range or an existence test over encrypted
 * text cannot be turned into a token, and is refused here with a message.
 */
import type { QueryNode, Value } from '../../../shared/query-language/ast.ts';
import { resolveField } from '../../../shared/query-language/fields.ts';
import { parse } from '../../../shared/query-language/parser.generated.js';
import { attributeTerm, type BlindTokenizer, wordsOf } from '../../../sdk/src/encryption/index.ts';
import { BlindQueryError, rememberTyped } from './blind-state.ts';

/** How tightly the parent binds a term: parentheses are added where the parent binds tighter. */
const Binding = { Or: 0, And: 1, Not: 2 } as const;
type Binding = (typeof Binding)[keyof typeof Binding];

/**
 * The query to send for `text` typed in blind mode; throws BlindQueryError
 * for what tokens cannot express (or a query that does not parse: the
 * message says where).
 */
export function blindQuery(text: string, tokenizers: readonly BlindTokenizer[], clearFields: ReadonlySet<string>): string {
  if (tokenizers.length === 0) throw new BlindQueryError('Blind search needs a key file with its search secret loaded.');
  let tree: QueryNode;
  try {
    tree = parse(text) as QueryNode;
  } catch (err) {
    const at = (err as { location?: { start: { offset: number } } }).location?.start.offset;
    throw new BlindQueryError(`The query does not parse${at === undefined ? '' : ` (at ${at + 1})`}: ${(err as Error).message}`);
  }
  const sent = print(tree, Binding.Or, tokenizers, clearFields);
  rememberTyped(sent, text);
  return sent;
}

function print(node: QueryNode, parent: Binding, tokenizers: readonly BlindTokenizer[], clear: ReadonlySet<string>): string {
  switch (node.type) {
    case 'all':
      return '*';
    case 'and': {
      const text = node.children.map((c) => print(c, Binding.And, tokenizers, clear)).join(' ');
      return parent > Binding.And ? `(${text})` : text;
    }
    case 'or': {
      const text = node.children.map((c) => print(c, Binding.Or, tokenizers, clear)).join(' OR ');
      return parent > Binding.Or ? `(${text})` : text;
    }
    case 'not':
      return `NOT ${print(node.child, Binding.Not, tokenizers, clear)}`;
    case 'text':
      return wordTokens(node, tokenizers, parent);
    case 'field': {
      const target = resolveField(node.field);
      if (target.kind === 'body') return wordTokens(node, tokenizers, parent);
      if (target.kind !== 'map') return `${node.field}${node.op}${value(node)}`;
      // resource.* is never encrypted (the SDK encrypts the record's attributes); clear attributes are the server's already.
      if (!target.maps.includes('LogAttributes') || clear.has(node.field) || clear.has(target.key)) return `${node.field}${node.op}${value(node)}`;
      if ((node.op !== ':' && node.op !== '=') || node.prefix || (node.value === '*' && !node.phrase)) {
        throw new BlindQueryError(
          `"${node.field}${node.op}${value(node)}": an encrypted attribute is found by its exact value only (${target.key}:value) — no prefix, range or existence test.`,
        );
      }
      return alternatives(
        tokenizers.map((t) => [t.token(attributeTerm(target.key, node.value))]),
        parent,
      );
    }
  }
}

/** A word or phrase: every word's token (all must match, in any order); under several secrets, either secret's set. */
function wordTokens(node: Value, tokenizers: readonly BlindTokenizer[], parent: Binding): string {
  if (node.prefix) throw new BlindQueryError(`"${node.value}*": blind search finds exact words only — no prefix or wildcard.`);
  const words = wordsOf(node.value);
  if (words.length === 0) throw new BlindQueryError(`"${node.value}" has no word to search for.`);
  return alternatives(
    tokenizers.map((t) => words.map((w) => t.token(w))),
    parent,
  );
}

function alternatives(sets: string[][], parent: Binding): string {
  const distinct = [...new Map(sets.map((s) => [[...new Set(s)].join(' '), [...new Set(s)]])).values()];
  if (distinct.length === 1) {
    const only = distinct[0]!;
    return only.length === 1 || parent === Binding.And ? only.join(' ') : `(${only.join(' ')})`;
  }
  const text = distinct.map((s) => (s.length === 1 ? s[0]! : `(${s.join(' ')})`)).join(' OR ');
  return parent === Binding.Or ? text : `(${text})`;
}

/** A field's value as query text again: quoted when it was, special characters escaped. */
function value(node: Value): string {
  if (node.phrase) return `"${node.value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  if (node.value === '*') return '*';
  return node.value.replace(/[\s()"\\<>=]/g, (c) => `\\${c}`) + (node.prefix ? '*' : '');
}
