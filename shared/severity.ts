/**
 * Severity, in OpenTelemetry's terms: a SeverityNumber 1–24 in six ranges of
 * four (TRACE 1–4, DEBUG 5–8, INFO 9–12, WARN 13–16, ERROR 17–20, FATAL 21–24),
 * and the SeverityText the source used. Searching by level works on the number,
 * so `level=error` finds "ERROR", "err" and "E" alike.
 */

export const SEVERITY_RANGES = {
  trace: [1, 4],
  debug: [5, 8],
  info: [9, 12],
  warn: [13, 16],
  error: [17, 20],
  fatal: [21, 24],
} as const satisfies Record<string, readonly [number, number]>;

export type SeverityName = keyof typeof SEVERITY_RANGES;

/**
 * Level names by index: 0 is a record without a level, then the ranges of four above in order, so a
 * SeverityNumber's index is ⌊(n + 3) / 4⌋ (`intDiv(SeverityNumber + 3, 4)` in SQL).
 */
export const LEVEL_NAMES: readonly ('unknown' | SeverityName)[] = ['unknown', ...(Object.keys(SEVERITY_RANGES) as SeverityName[])];

/**
 * Level words seen in the wild (log4j, syslog, Python, Go, Serilog…) → SeverityNumber.
 * A Map, not an object literal: the key is request text, and `"__proto__"` or
 * `"constructor"` must find nothing rather than Object.prototype's members.
 */
// biome-ignore format: one line per level, as people read the table
const NUMBER_BY_TEXT: ReadonlyMap<string, number> = new Map(
  Object.entries({
    trace: 1, trc: 1, finest: 1, verbose: 2, vrb: 2,
    debug: 5, dbg: 5, d: 5, fine: 5,
    info: 9, inf: 9, i: 9, information: 9, informational: 9, notice: 10,
    warn: 13, warning: 13, wrn: 13, w: 13,
    error: 17, err: 17, e: 17, eror: 17,
    critical: 18, crit: 18,
    fatal: 21, ftl: 21, f: 21, alert: 22, emerg: 23, emergency: 23, panic: 23,
  }),
);

/** pino and bunyan numeric levels. */
// biome-ignore format: pino level → SeverityNumber pairs, one table
const NUMBER_BY_PINO_LEVEL: ReadonlyMap<number, number> = new Map([[10, 1], [20, 5], [30, 9], [40, 13], [50, 17], [60, 21]]);

export function severityNumberFromText(text: string): number {
  return NUMBER_BY_TEXT.get(text.trim().toLowerCase()) ?? 0;
}

/**
 * A numeric `level`: pino/bunyan's 10…60 first, then an OpenTelemetry number
 * 1…24; anything else is unspecified (0) and the text keeps the original.
 */
export function severityNumberFromLevelNumber(level: number): number {
  const pino = NUMBER_BY_PINO_LEVEL.get(level);
  if (pino !== undefined) return pino;
  if (Number.isInteger(level) && level >= 1 && level <= 24) return level;
  return 0;
}

/** The canonical short name of a SeverityNumber ("INFO"), for records that carried only a number. */
export function severityTextFromNumber(n: number): string {
  for (const [name, [lo, hi]] of Object.entries(SEVERITY_RANGES)) {
    if (n >= lo && n <= hi) return name.toUpperCase();
  }
  return '';
}

export function isSeverityName(name: string): name is SeverityName {
  return Object.hasOwn(SEVERITY_RANGES, name);
}
