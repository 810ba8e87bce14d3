/**
 * The words and phrases of a query that match text of the body, marked in
 * each result: the free-text terms (not field:value, not negated, not
 * keywords), as the search matches them — case-insensitively.
 */
import type { ComponentChildren } from 'preact';

const TOKEN = /(-?)("(?:[^"\\]|\\.)*"|[^\s()"]+)/g;

export function textTerms(q: string): string[] {
  const terms: string[] = [];
  for (const [, negated, raw] of q.matchAll(TOKEN)) {
    if (negated || raw === undefined) continue;
    if (raw === 'AND' || raw === 'OR' || raw === 'NOT' || raw === '&&' || raw === '||') continue;
    if (raw.startsWith('"')) {
      const phrase = raw.slice(1, raw.endsWith('"') && raw.length > 1 ? -1 : undefined).replace(/\\(.)/g, '$1');
      if (phrase !== '') terms.push(phrase);
      continue;
    }
    if (/^[a-zA-Z_@][a-zA-Z0-9_.@-]*(?:>=|<=|[:=<>])/.test(raw)) continue; // a field term
    const word = raw.replace(/\\(.)/g, '$1').replace(/\*$/, '');
    if (word !== '' && word !== '*') terms.push(word);
  }
  return terms;
}

export function matcherOf(q: string): RegExp | null {
  const terms = textTerms(q).sort((a, b) => b.length - a.length);
  if (terms.length === 0) return null;
  return new RegExp(terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
}

export function Highlighted({ text, matcher }: { text: string; matcher: RegExp | null }): ComponentChildren {
  if (!matcher) return text;
  const parts: ComponentChildren[] = [];
  let last = 0;
  matcher.lastIndex = 0;
  for (const m of text.matchAll(matcher)) {
    if (m[0] === '') break;
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(<mark>{m[0]}</mark>);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}
