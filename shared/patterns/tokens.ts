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

/** A key of `key=value`: letters, digits and `_ - . [ ]`, starting with a letter or `_`. */
function isKey(s: string, end: number): boolean {
  const first = s.charCodeAt(0);
  if (!isLetter(first) && first !== 95) return false;
  for (let i = 1; i < end; i++) {
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
  if (LITERALS.has(core)) return true;
  const n = core.length;
  let digits = 0;
  let letters = 0;
  let slashes = 0;
  let backslashes = 0;
  let at = -1;
  let lastDot = -1;
  // A segment is a maximal run of letters and digits; one made of digits only is a number.
  let segmentDigits = 0;
  let segmentLetters = 0;
  let numberSegment = false;
  let longestRun = 0;
  let run = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? core.charCodeAt(i) : 0;
    if (isDigit(c)) {
      digits++;
      segmentDigits++;
      if (++run > longestRun) longestRun = run;
      continue;
    }
    run = 0;
    if (isLetter(c)) {
      letters++;
      segmentLetters++;
      continue;
    }
    if (segmentDigits > 0 && segmentLetters === 0) numberSegment = true;
    segmentDigits = 0;
    segmentLetters = 0;
    if (c === 47) slashes++;
    else if (c === 92) backslashes++;
    else if (c === 64) at = i;
    else if (c === 46) lastDot = i;
  }
  if (digits > 0 && (letters === 0 || numberSegment || longestRun >= 2)) return true;
  const c0 = core.charCodeAt(0);
  const c1 = core.charCodeAt(1);
  if (c0 === Char.Digit0 && (c1 === 120 || c1 === 88) && n > 2 && (isDigit(core.charCodeAt(2)) || isHexLetter(core.charCodeAt(2)))) return true;
  if (n > 1 && (c0 === 47 || c0 === 126 || (c0 === 46 && c1 === 47)) && letters + digits > 0) return true;
  if (backslashes > 0 && letters + digits > 0) return true;
  if (slashes >= 2 && core.includes('://')) return true;
  if (at > 0 && lastDot > at + 1 && lastDot < n - 1) return true;
  return false;
}

function isNumber(s: string, from: number): boolean {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
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
function maskValue(token: string, valueStart: number): string {
  let start = valueStart;
  let end = token.length;
  const quote = isQuote(token.charCodeAt(start)) ? token.charCodeAt(start) : -1;
  if (quote >= 0) start++;
  while (end > start) {
    const c = token.charCodeAt(end - 1);
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
    for (let i = start; i < end - 1; i++) if (token.charCodeAt(i) === opener) opened = true;
    if (opened) break;
    end--;
  }
  // The closing quote of a quoted value stays: `"<*>"`.
  if (quote >= 0 && end < token.length && token.charCodeAt(end) !== quote) {
    const close = token.indexOf(String.fromCharCode(quote), end);
    if (close > 0) end = close;
  }
  if (end <= start) return token;
  return `${token.slice(0, start)}${WILDCARD}${token.slice(end)}`;
}

/**
 * A token with its variable parts masked: `uid=0` → `uid=<*>`,
 * `[173.234.31.186]` → `[<*>]`, `port` → `port`. Never contains whitespace.
 */
export function maskToken(token: string): string {
  if (token === WILDCARD) return token;
  const n = token.length;
  let start = 0;
  while (start < n && isLeading(token.charCodeAt(start))) start++;
  let end = n;
  while (end > start && isTrailing(token.charCodeAt(end - 1))) end--;
  if (end === start) return hasSpace(token) ? WILDCARD : token;
  const core = start === 0 && end === n ? token : token.slice(start, end);
  if (core === WILDCARD) return token;
  if (core.includes('://')) return masked(token, start, end);
  // key=value, key:value — the value is a value whatever it looks like (`ready=true` as much as `pid=42`).
  for (let i = 0; i < core.length; i++) {
    const c = core.charCodeAt(i);
    if (c !== Char.Equals && c !== Char.Colon) continue;
    if (i === core.length - 1 && end === n) break;
    // `Class::method` is a name, not `key:value`.
    if (c === Char.Colon && core.charCodeAt(i + 1) === Char.Colon) break;
    // host:port, name:42 — a value as a whole.
    if (c === Char.Colon && isNumber(core, i + 1)) return masked(token, start, end);
    if (c === Char.Equals ? i === 0 || isKey(core, i) : i >= 2 && isKey(core, i) && !isVariableShape(core.slice(0, i))) {
      const out = maskValue(token, start + i + 1);
      return hasSpace(out) ? WILDCARD : out;
    }
    break;
  }
  // Quoted text of several words is a value: a name, a message.
  if (hasSpace(core) || isVariableShape(core)) return masked(token, start, end);
  return hasSpace(token) ? WILDCARD : token;
}

function masked(token: string, start: number, end: number): string {
  const out = start === 0 && end === token.length ? WILDCARD : `${token.slice(0, start)}${WILDCARD}${token.slice(end)}`;
  return hasSpace(out) ? WILDCARD : out;
}

function hasSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isSpace(s.charCodeAt(i))) return true;
  return false;
}

/** English month and weekday names: a date's parts when next to a number (`Thu Aug 18 …`). */
const DATE_WORDS = new Set(
  'Jan Feb Mar Apr May Jun Jul Aug Sep Sept Oct Nov Dec January February March April June July August September October November December Mon Tue Wed Thu Fri Sat Sun Monday Tuesday Wednesday Thursday Friday Saturday Sunday'.split(
    ' ',
  ),
);

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
    while (i < end) {
      const c = message.charCodeAt(i);
      if (isSpace(c)) break;
      if (isQuote(c) && opensQuote(message, i, start)) {
        const close = message.indexOf(String.fromCharCode(c), i + 1);
        if (close > 0 && close < end && close - i <= MAX_QUOTED_CHARS) {
          i = close + 1;
          continue;
        }
      }
      i++;
    }
    // A token cut by the scan limit is not a whole token: it is part of the unread rest.
    if (i === end && end < length && !isSpace(message.charCodeAt(end))) break;
    const token = maskToken(message.slice(start, i));
    if (!dates && DATE_WORDS.has(token)) dates = true;
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
    if (previous.endsWith(WILDCARD)) {
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

/** For a unit with trailing punctuation (`KB),`), the punctuation; null if not a unit. */
function unitSuffix(token: string): string | null {
  let end = token.length;
  while (end > 0 && isTrailing(token.charCodeAt(end - 1))) end--;
  if (end === 0 || !UNITS.has(end === token.length ? token : token.slice(0, end))) return null;
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
      if (!DATE_WORDS.has(tokens[i]!)) continue;
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
