/**
 * Tokenising a log message and masking its variables by shape.
 *
 * A message is split at whitespace. Each token is looked at once, without a
 * regular expression per log source: punctuation that wraps it (brackets,
 * quotes, a trailing comma or colon) is kept, and its core becomes the
 * wildcard `<*>` when its *shape* says it is a value — a number, a hex or
 * decimal id, an IP, host:port, a timestamp, a UUID, a path or URL, an email
 * address, the value of `key=value`. What shape cannot tell (user names,
 * host names, states) is left to the miner's clustering (miner.ts).
 *
 * Tokenising a template gives back its tokens (`<*>` masks to itself), which
 * is what lets a miner be rebuilt from persisted templates.
 */

/** The wildcard: a variable part of a template. */
export const WILDCARD = '<*>';

/**
 * At most this many tokens are looked at; the rest of the message is one
 * trailing wildcard. Keeps the cost of a record bounded however large it is
 * (records may be 256 KiB) — long messages are grouped by their beginning.
 */
export const MAX_TOKENS = 64;

/** At most this many characters are scanned, for the same reason. */
export const MAX_SCAN_CHARS = 4096;

enum Char {
  Tab = 9,
  Newline = 10,
  VerticalTab = 11,
  FormFeed = 12,
  Return = 13,
  Space = 32,
  Digit0 = 48,
  Digit9 = 57,
  Equals = 61,
  Colon = 58,
  Bar = 124,
}

/** Whitespace, and `|`: a field separator wherever it appears in a log line. */
function isSpace(c: number): boolean {
  return c === Char.Space || (c >= Char.Tab && c <= Char.Return) || c === Char.Bar;
}

function isDigit(c: number): boolean {
  return c >= Char.Digit0 && c <= Char.Digit9;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isHexLetter(c: number): boolean {
  return (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Punctuation that opens a token around its core: `(x`, `[x`, `"x`, `#5`,
 * `@0x1f`. Not `<`: in `<1` it belongs to the value.
 */
function isLeading(c: number): boolean {
  // ( [ { " ' ` @ # $
  return c === 40 || c === 91 || c === 123 || c === 34 || c === 39 || c === 96 || c === 64 || c === 35 || c === 36;
}

/** Punctuation that closes a token around its core: `x)`, `x]`, `x,` `x:` `x.` `x;`. */
function isTrailing(c: number): boolean {
  // ) ] } > " ' ` , ; : . ! ?
  return (
    c === 41 || c === 93 || c === 125 || c === 62 || c === 34 || c === 39 || c === 96 || c === 44 || c === 59 || c === 58 || c === 46 || c === 33 || c === 63
  );
}

/**
 * The classes above of every ASCII character, as bit flags: the tokenizer's
 * loop over every character of a message tells them apart with one lookup.
 * Other characters are in none of them.
 */
const SPACE = 1;
const LETTER = 2;
const QUOTE = 4;
const CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) CLASSES[c] = (isSpace(c) ? SPACE : 0) | (isLetter(c) ? LETTER : 0) | (isQuote(c) ? QUOTE : 0);

/** Whether `s.slice(from, to)` is a key of `key=value`: letters, digits and `_ - .`, starting with a letter or `_`. */
function isKeyIn(s: string, from: number, to: number): boolean {
  const first = s.charCodeAt(from);
  if (!isLetter(first) && first !== 95) return false;
  for (let i = from + 1; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isLetter(c) && !isDigit(c) && c !== 95 && c !== 45 && c !== 46) return false;
  }
  return true;
}

/** Printed booleans and nulls. */
const LITERALS = new Set(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', 'null', 'NULL', 'Null', 'nil', 'None', 'undefined', 'NaN']);

/**
 * Units of measure: after a number they are part of the quantity (`512 KB`,
 * `3 ms`), so `<*> B` and `<*> KB` are one shape.
 */
const UNITS = new Set(
  'B b KB kB KiB MB MiB GB GiB TB TiB PB bytes byte Bytes ms msec msecs us µs ns s sec secs second seconds min mins minute minutes hour hours day days'.split(
    ' ',
  ),
);

/**
 * Whether a token's core is a value by its shape alone. The rules are about
 * logs in general:
 * - numbers in any notation (`42`, `-1.5e3`, `10.1.2.3`, `09:00:55`,
 *   `2005-06-03`, `1,024`): no letters, at least one digit;
 * - ids with a run of two or more digits (`blk_-695…`, `R02-M1`, `node-246`,
 *   `appattempt_1445…`, UUIDs, long hex) — a lone digit is kept (`ssh2`,
 *   `eth0`, `v2` are as often names as values; clustering decides);
 * - booleans and nulls (`true`, `false`, `null`, `None`…): a printed value;
 * - `0x…` hex, paths (`/usr/lib`, `C:\x`, `~/x`, `./x`), URLs (`scheme://`),
 *   email addresses.
 */
export function isVariableShape(core: string): boolean {
  return isVariableShapeIn(core, 0, core.length);
}

/**
 * isVariableShape of `s.slice(from, to)`, without the slice: the tokenizer
 * looks at every token's core in place and only keeps the strings it returns.
 */
function isVariableShapeIn(s: string, from: number, to: number): boolean {
  const n = to - from;
  let letters = 0;
  let slashes = 0;
  let backslashes = 0;
  let at = -1;
  let lastDot = -1;
  // A segment is a maximal run of letters and digits; one made of digits only is a number.
  let segmentDigits = 0;
  let segmentLetters = 0;
  let previousDigit = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      // Two digits in a row: a number or an id, whatever follows — most values end the scan here.
      if (previousDigit) return true;
      previousDigit = true;
      segmentDigits++;
      continue;
    }
    previousDigit = false;
    if (isLetter(c)) {
      letters++;
      segmentLetters++;
      continue;
    }
    // A segment of digits only: a number.
    if (segmentDigits > 0 && segmentLetters === 0) return true;
    segmentDigits = 0;
    segmentLetters = 0;
    if (c === 47) slashes++;
    else if (c === 92) backslashes++;
    else if (c === 64) at = i - from;
    else if (c === 46) lastDot = i - from;
  }
  if (segmentDigits > 0 && segmentLetters === 0) return true;
  // Letters only (the common case: a word) — a value only if a printed boolean or null.
  if (letters === n) return isLiteralIn(s, from, to);
  const c0 = s.charCodeAt(from);
  const c1 = n > 1 ? s.charCodeAt(from + 1) : Number.NaN;
  if (c0 === Char.Digit0 && (c1 === 120 || c1 === 88) && n > 2 && (isDigit(s.charCodeAt(from + 2)) || isHexLetter(s.charCodeAt(from + 2)))) return true;
  // Here every digit sits in a segment with letters, so `letters > 0` means "has a letter or a digit".
  const alphanumeric = letters > 0;
  if (n > 1 && (c0 === 47 || c0 === 126 || (c0 === 46 && c1 === 47)) && alphanumeric) return true;
  if (backslashes > 0 && alphanumeric) return true;
  if (slashes >= 2 && hasSchemeIn(s, from, to)) return true;
  if (at > 0 && lastDot > at + 1 && lastDot < n - 1) return true;
  return false;
}

/** Whether `s.slice(from, to)` is digits, at least one. */
function isNumberIn(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** Whether `s.slice(from, to)` contains `://`. */
function hasSchemeIn(s: string, from: number, to: number): boolean {
  for (let i = from; i + 2 < to; i++) if (s.charCodeAt(i) === Char.Colon && s.charCodeAt(i + 1) === 47 && s.charCodeAt(i + 2) === 47) return true;
  return false;
}

/** Whether `s.slice(from, to)`, made of letters, is one of LITERALS. */
function isLiteralIn(s: string, from: number, to: number): boolean {
  // They are 3 to 9 letters and start with one of `t f n u N T F`: most words are ruled out without building a string.
  const n = to - from;
  if (n < 3 || n > 9) return false;
  const c = s.charCodeAt(from);
  if (c !== 116 && c !== 102 && c !== 110 && c !== 117 && c !== 78 && c !== 84 && c !== 70) return false;
  return LITERALS.has(from === 0 && to === s.length ? s : s.slice(from, to));
}

/** Characters that close a bracket (or a quote) at the end of a value, and what opens it. */
function openerOf(c: number): number {
  if (c === 41) return 40; // )
  if (c === 93) return 91; // ]
  if (c === 125) return 123; // }
  if (c === 62) return 60; // >
  if (c === 34 || c === 39 || c === 96) return c; // quotes
  return -1;
}

function isQuote(c: number): boolean {
  return c === 34 || c === 39 || c === 96;
}

/**
 * The value of `key=value` (or `key:value`) masked: `uid=0` → `uid=<*>`,
 * `tag="View Lock",` → `tag="<*>",`, `ws=WorkSource{10113},` → `ws=<*>,`,
 * `(uid=0)` → `(uid=<*>)`. The value runs to the end of the token but for
 * trailing `,` `;` and closers it does not open itself.
 */
function maskValue(s: string, from: number, to: number, valueStart: number): string {
  // The token is s.slice(from, to), looked at in place.
  let start = valueStart;
  let end = to;
  const quote = isQuote(s.charCodeAt(start)) ? s.charCodeAt(start) : -1;
  if (quote >= 0) start++;
  while (end > start) {
    const c = s.charCodeAt(end - 1);
    if (c === 44 || c === 59) {
      end--;
      continue;
    }
    const opener = openerOf(c);
    if (opener < 0) break;
    if (c === quote) {
      end--;
      break;
    }
    let opened = false;
    for (let i = start; i < end - 1; i++) if (s.charCodeAt(i) === opener) opened = true;
    if (opened) break;
    end--;
  }
  // The closing quote of a quoted value stays: `"<*>"`.
  if (quote >= 0 && end < to && s.charCodeAt(end) !== quote) {
    for (let i = end + 1; i < to; i++) {
      if (s.charCodeAt(i) === quote) {
        end = i;
        break;
      }
    }
  }
  if (end <= start) return s.slice(from, to);
  return `${s.slice(from, start)}${WILDCARD}${s.slice(end, to)}`;
}

/**
 * A token with its variable parts masked: `uid=0` → `uid=<*>`,
 * `[173.234.31.186]` → `[<*>]`, `port` → `port`. Never contains whitespace.
 */
export function maskToken(token: string): string {
  if (token === WILDCARD) return token;
  let spaced = false;
  let others = 0;
  let separator = -1;
  let scheme = false;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (isLetter(c)) continue;
    others++;
    if (isSpace(c)) spaced = true;
    else if (c === Char.Colon) {
      if (separator < 0) separator = i;
      if (token.charCodeAt(i + 1) === 47 && token.charCodeAt(i + 2) === 47) scheme = true;
    } else if (c === Char.Equals && separator < 0) separator = i;
  }
  return maskSpan(token, 0, token.length, spaced, others, separator, scheme);
}

/**
 * maskToken of the token `s.slice(from, to)`, looking at it in place: only
 * the string returned is built. What one look at its characters tells is
 * given (the tokenizer learns it on its way through the message):
 * - spaced: whether it holds whitespace (a quoted value);
 * - others: how many of its characters are not letters;
 * - separator: where its first `=` or `:` is, or -1;
 * - scheme: whether it holds `://`.
 * Neither `=` nor `:` opens a token and `/` does not close one, so a
 * separator or `://` is never in the leading punctuation, and `://` is always
 * within the core.
 */
function maskSpan(s: string, from: number, to: number, spaced: boolean, others: number, separator: number, scheme: boolean): string {
  let start = from;
  while (start < to && isLeading(s.charCodeAt(start))) start++;
  let end = to;
  while (end > start && isTrailing(s.charCodeAt(end - 1))) end--;
  // Whitespace can only be in the core: no leading or trailing punctuation is whitespace.
  if (end === start) return spaced ? WILDCARD : s.slice(from, to);
  // Most tokens are words (letters only, but for punctuation around), and a word is a value only when it is a printed boolean or null.
  if (others === start - from + (to - end)) return isLiteralIn(s, start, end) ? maskedSpan(s, from, to, start, end) : s.slice(from, to);
  if (scheme) return maskedSpan(s, from, to, start, end);
  // key=value, key:value — the value is a value whatever it looks like (`ready=true` as much as `pid=42`).
  // Only the first `=` or `:` is looked at, and not when it ends the token (`logname=`).
  const i = separator;
  if (i >= 0 && i < end && !(i === end - 1 && end === to)) {
    const c = s.charCodeAt(i);
    // `Class::method` is a name, not `key:value`.
    if (c === Char.Colon && i + 1 < end && s.charCodeAt(i + 1) === Char.Colon) {
      // fall through to the shape of the whole core
    } else if (c === Char.Colon && isNumberIn(s, i + 1, end)) {
      // host:port, name:42 — a value as a whole.
      return maskedSpan(s, from, to, start, end);
    } else if (c === Char.Equals ? i === start || isKeyIn(s, start, i) : i >= start + 2 && isKeyIn(s, start, i) && !isVariableShapeIn(s, start, i)) {
      const out = maskValue(s, from, to, i + 1);
      return spaced && hasSpaceIn(out, 0, out.length) ? WILDCARD : out;
    }
  }
  // Quoted text of several words is a value: a name, a message.
  if (spaced || isVariableShapeIn(s, start, end)) return maskedSpan(s, from, to, start, end);
  return s.slice(from, to);
}

/**
 * The token `s.slice(from, to)` with its core `s.slice(start, end)` masked.
 * What is kept around the core is leading and trailing punctuation, never
 * whitespace.
 */
function maskedSpan(s: string, from: number, to: number, start: number, end: number): string {
  if (start === from && end === to) return WILDCARD;
  // Most are a wildcard in a bracket or before a comma or colon (`[<*>]`, `<*>,`, `<*>]:`): those are built once.
  if (start - from <= 1 && to - end <= 2) {
    const key = (start > from ? s.charCodeAt(from) : 0) | ((end < to ? s.charCodeAt(end) : 0) << 7) | ((end + 1 < to ? s.charCodeAt(end + 1) : 0) << 14);
    let affixed = AFFIXED.get(key);
    if (affixed === undefined) {
      affixed = `${s.slice(from, start)}${WILDCARD}${s.slice(end, to)}`;
      AFFIXED.set(key, affixed);
    }
    return affixed;
  }
  return `${s.slice(from, start)}${WILDCARD}${s.slice(end, to)}`;
}

/** Wildcards with one leading and up to two trailing punctuation characters (ASCII), by those characters: at most a few thousand. */
const AFFIXED = new Map<number, string>();

function hasSpaceIn(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (isSpace(s.charCodeAt(i))) return true;
  return false;
}

/** English month and weekday names: a date's parts when next to a number (`Thu Aug 18 …`). */
const DATE_WORDS = new Set(
  'Jan Feb Mar Apr May Jun Jul Aug Sep Sept Oct Nov Dec January February March April June July August September October November December Mon Tue Wed Thu Fri Sat Sun Monday Tuesday Wednesday Thursday Friday Saturday Sunday'.split(
    ' ',
  ),
);

/** Whether a token is one of DATE_WORDS: 3 to 9 letters, capitalised — most tokens are ruled out without hashing them. */
function isDateWord(token: string): boolean {
  const c = token.charCodeAt(0);
  return token.length >= 3 && token.length <= 9 && c >= 65 && c <= 90 && DATE_WORDS.has(token);
}

/** Where a quote may open a quoted value: at a token's start or after `=` `:` `(` `[` `{` `,`. */
function opensQuote(message: string, at: number, tokenStart: number): boolean {
  if (at === tokenStart) return true;
  const p = message.charCodeAt(at - 1);
  return p === Char.Equals || p === Char.Colon || p === 40 || p === 91 || p === 123 || p === 44;
}

/** A quoted value may hold whitespace; it is one token if it closes within this many characters. */
const MAX_QUOTED_CHARS = 256;

/**
 * The masked tokens of a message: at most MAX_TOKENS of the first
 * MAX_SCAN_CHARS characters, a month or weekday name next to a value masked
 * with it, runs of bare wildcards collapsed into one (a value that spans
 * several tokens — a date and time, a list of numbers — is one variable, so
 * messages of one kind keep one length), and a trailing wildcard standing for
 * whatever was not looked at.
 */
export function tokenize(message: string): string[] {
  const raw: string[] = [];
  const length = message.length;
  const end = Math.min(length, MAX_SCAN_CHARS);
  let i = 0;
  let truncated = end < length;
  let dates = false;
  while (i < end) {
    while (i < end && isSpace(message.charCodeAt(i))) i++;
    if (i >= end) break;
    if (raw.length === MAX_TOKENS) {
      truncated = true;
      break;
    }
    const start = i;
    // What maskSpan needs to know of the token, learnt on the way (most characters are letters, which tell nothing).
    let quoted = false;
    let others = 0;
    let separator = -1;
    let scheme = false;
    while (i < end) {
      const c = message.charCodeAt(i);
      const k = c < 128 ? CLASSES[c]! : 0;
      if (k !== LETTER) {
        if (k & SPACE) break;
        if (k & QUOTE && opensQuote(message, i, start)) {
          const close = message.indexOf(String.fromCharCode(c), i + 1);
          if (close > 0 && close < end && close - i <= MAX_QUOTED_CHARS) {
            i = close + 1;
            quoted = true;
            continue;
          }
        }
        others++;
        if (c === Char.Colon) {
          if (separator < 0) separator = i;
          // Past the scan limit these are not read: the token would be cut there, and dropped below.
          if (message.charCodeAt(i + 1) === 47 && message.charCodeAt(i + 2) === 47) scheme = true;
        } else if (c === Char.Equals && separator < 0) separator = i;
      }
      i++;
    }
    // A token cut by the scan limit is not a whole token: it is part of the unread rest.
    if (i === end && end < length && !isSpace(message.charCodeAt(end))) break;
    // A quoted value was skipped unread (and may hold whitespace): such a token, rare, is looked at on its own.
    let token: string;
    if (quoted) token = maskToken(message.slice(start, i));
    else if (others === 0) {
      // Letters only, the commonest token: a value only if a printed boolean or null; perhaps a date word.
      token = isLiteralIn(message, start, i) ? WILDCARD : message.slice(start, i);
      if (!dates && isDateWord(token)) dates = true;
    } else token = maskSpan(message, start, i, false, others, separator, scheme);
    raw.push(token);
  }
  if (dates) maskDateWords(raw);
  const tokens: string[] = [];
  // Whether tokens[i] is a value that took a unit: `512 bytes (0.5 KB)` is one quantity said twice.
  let quantity = false;
  let previousQuantity = false;
  for (const t of raw) {
    const last = tokens.length - 1;
    const previous = last >= 0 ? tokens[last]! : '';
    if (endsWithWildcard(previous)) {
      const suffix = unitSuffix(t);
      if (suffix !== null) {
        tokens[last] = previous + suffix;
        if (previousQuantity && last >= 1 && tokens[last - 1] === WILDCARD) {
          const rest = restatementSuffix(tokens[last]!);
          if (rest !== null) {
            tokens.pop();
            tokens[last - 1] = WILDCARD + rest;
            quantity = false;
            continue;
          }
        }
        quantity = true;
        continue;
      }
      // A run of the same value shape is one list (`@0x1 @0x2 @0x3`, `1 2 3`).
      if (t === previous) continue;
    }
    tokens.push(t);
    previousQuantity = quantity;
    quantity = false;
  }
  if (truncated && tokens[tokens.length - 1] !== WILDCARD) tokens.push(WILDCARD);
  return tokens;
}

function endsWithWildcard(token: string): boolean {
  // Most wildcards are WILDCARD itself, and most other tokens do not end with `>`: no call to endsWith for them.
  return token === WILDCARD || (token.charCodeAt(token.length - 1) === 62 && token.endsWith(WILDCARD));
}

/** For a unit with trailing punctuation (`KB),`), the punctuation; null if not a unit. */
function unitSuffix(token: string): string | null {
  // Units are 1 to 7 letters (`µs` included): most tokens are ruled out without building a string.
  const c = token.charCodeAt(0);
  if (!isLetter(c) && c !== 181) return null;
  let end = token.length;
  while (end > 0 && isTrailing(token.charCodeAt(end - 1))) end--;
  if (end === 0 || end > 7 || !UNITS.has(end === token.length ? token : token.slice(0, end))) return null;
  return token.slice(end);
}

/** For `(<*>)` with trailing punctuation, the punctuation after the bracket; else null. */
function restatementSuffix(token: string): string | null {
  const open = token.charCodeAt(0);
  if (open !== 40 || !token.startsWith(WILDCARD, 1) || token.charCodeAt(1 + WILDCARD.length) !== 41) return null;
  const rest = token.slice(2 + WILDCARD.length);
  for (let i = 0; i < rest.length; i++) if (!isTrailing(rest.charCodeAt(i))) return null;
  return rest;
}

function maskDateWords(tokens: string[]): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < tokens.length; i++) {
      if (!isDateWord(tokens[i]!)) continue;
      if (tokens[i - 1] === WILDCARD || tokens[i + 1] === WILDCARD) {
        tokens[i] = WILDCARD;
        changed = true;
      }
    }
  }
}

/** The text of a template: its tokens separated by single spaces. */
export function templateText(tokens: readonly string[]): string {
  return tokens.join(' ');
}

/** Exported for the miner: whether two tokens differ only in their digits (`node-1`, `node-7`). */
export function differOnlyInDigits(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y && !(isDigit(x) && isDigit(y))) return false;
  }
  return true;
}

/** Exported for tests and the miner: whether a character code is whitespace as the tokenizer sees it. */
export { isSpace };
