/**
 * Regular expressions in LogQL are Go's RE2. ClickHouse's match() is RE2 too,
 * so the SQL path takes them as written; the in-memory evaluator (live tail,
 * the reference of the differential tests) runs them as JavaScript RegExps.
 * To give a query one meaning in both, the constructs where the two differ
 * or that JavaScript lacks are refused up front (400), as are expressions
 * past MAX_REGEX_CHARS or with repetition counts RE2 refuses (> 1000).
 *
 * Known remaining difference: without the `u` flag (which would refuse
 * escapes RE2 accepts, like `\"`), JavaScript's `.` matches one UTF-16 unit,
 * RE2's one code point — they differ only on characters outside the BMP.
 */
import { LogqlError } from './ast.ts';

export const MAX_REGEX_CHARS = 1024;

const REFUSED: readonly [RegExp, string][] = [
  [/\(\?[=!]|\(\?<[=!]/, 'lookaround assertions'],
  [/\\[1-9]|\\k</, 'back-references'],
  [/\[\[?:[a-z]+:\]/, 'POSIX character classes ([[:alpha:]])'],
  [/\\[pPzAQECX]/, 'the escapes \\p, \\z, \\A, \\Q…\\E, \\C, \\X'],
  [/.\(\?[a-zA-Z-]+[:)]/s, 'flag groups after the start of the expression (only a leading (?i), (?s), (?m) or (?U)-free combination)'],
];

/** Leading `(?flags)` → JavaScript flags; the rest of the expression. */
function splitFlags(source: string): { flags: string; body: string } {
  const m = /^\(\?([ims]+)\)/.exec(source);
  if (!m) return { flags: '', body: source };
  return { flags: [...new Set(m[1]!)].join(''), body: source.slice(m[0].length) };
}

/** Refuses what the two engines would read differently (see above); returns nothing when the expression is fine. */
export function checkRegex(source: string): void {
  if (source.length > MAX_REGEX_CHARS)
    throw new LogqlError(`a regular expression is ${source.length} characters long; at most ${MAX_REGEX_CHARS} are accepted`);
  for (const [pattern, what] of REFUSED) {
    if (pattern.test(source)) throw new LogqlError(`${what} in regular expressions are not supported`);
  }
  for (const m of source.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) {
    if (Number(m[1]) > 1000 || (m[2] && Number(m[2]) > 1000)) throw new LogqlError('a repetition count in a regular expression exceeds 1000');
  }
  jsRegExp(source, false);
}

/** The expression as a JavaScript RegExp; anchored (`^(?:…)$`) for label matchers, as Loki anchors them. */
export function jsRegExp(source: string, anchored: boolean): RegExp {
  const { flags, body } = splitFlags(source);
  const named = body.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(anchored ? `^(?:${named})$` : named, flags);
  } catch (err) {
    throw new LogqlError(
      `invalid regular expression ${JSON.stringify(source.slice(0, 64))}: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`,
    );
  }
}

/** The expression as RE2 reads it in SQL, anchored for label matchers (a leading flag group stays first). */
export function re2Pattern(source: string, anchored: boolean): string {
  if (!anchored) return source;
  const { flags, body } = splitFlags(source);
  return `${flags ? `(?${flags})` : ''}^(?:${body})$`;
}
