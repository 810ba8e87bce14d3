/**
 * Log timestamps with nanosecond precision.
 *
 * A JavaScript number cannot hold nanoseconds since 1970 (2^53 ≈ 9e15), so a
 * time is kept as whole seconds plus nanoseconds, and rendered in the text form
 * ClickHouse parses fastest for DateTime64(9, 'UTC'):
 * `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`.
 */

export interface Instant {
  /** Whole seconds since the Unix epoch (UTC). */
  seconds: number;
  /** 0 … 999 999 999. */
  nanos: number;
}

/**
 * The latest second a record may carry: the table's `TimestampTime`
 * (DateTime, unsigned 32-bit seconds) ends at 2106-02-07 06:28:15 UTC.
 * DateTime64 would go on to 2262, but a later time wraps TimestampTime into
 * the past, where the retention TTL drops the row as it arrives — so it is
 * refused instead. The one place this fact lives (OTLP and Loki check
 * their integer times against it too).
 */
export const MAX_STORABLE_SECONDS = 4_294_967_295;
/** The range as people read it, for error messages. */
export const STORABLE_RANGE = '1970-01-01 … 2106-02-07';

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;
const DIGITS_RE = /^(\d+)(?:\.(\d+))?$/;

export class TimestampError extends Error {}

/**
 * Reads a timestamp as clients send it: RFC 3339 (a missing offset means UTC),
 * or a Unix epoch in seconds, milliseconds, microseconds or nanoseconds, as a
 * number or a string of digits. The unit of an epoch follows from its size, as
 * Vector and the Datadog agent decide it: below 1e11 seconds, below 1e14
 * milliseconds, below 1e17 microseconds, otherwise nanoseconds. Strings keep
 * full precision; JSON numbers past 2^53 have lost theirs before we see them.
 */
export function parseTimestamp(value: unknown): Instant {
  if (typeof value === 'number') return fromEpochNumber(value);
  if (typeof value !== 'string') throw new TimestampError('must be an RFC 3339 string or a Unix epoch number');
  const text = value.trim();
  const digits = DIGITS_RE.exec(text);
  if (digits) return fromEpochDigits(digits[1]!, digits[2] ?? '');
  const m = RFC3339_RE.exec(text);
  if (!m) throw new TimestampError('must be an RFC 3339 string (2024-05-01T12:00:00.123Z) or a Unix epoch');
  const [, y, mo, d, h, mi, s, frac = '', z, sign, oh, om] = m;
  const year = Number(y),
    month = Number(mo),
    day = Number(d),
    hour = Number(h),
    minute = Number(mi),
    second = Number(s);
  const ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) {
    throw new TimestampError('is not a valid calendar date and time');
  }
  let seconds = Math.floor(ms / 1000) + (second === 60 ? 1 : 0); // a leap second becomes the next second
  if (!z && sign) {
    const offset = (Number(oh) * 60 + Number(om)) * 60;
    if (Number(oh) > 23 || Number(om) > 59) throw new TimestampError('has an invalid UTC offset');
    seconds += sign === '+' ? -offset : offset;
  }
  return checkRange({ seconds, nanos: Number(frac.slice(0, 9).padEnd(9, '0')) });
}

function fromEpochNumber(value: number): Instant {
  if (!Number.isFinite(value) || value < 0) throw new TimestampError('must be a non-negative Unix epoch');
  const divisor = value < 1e11 ? 1 : value < 1e14 ? 1e3 : value < 1e17 ? 1e6 : 1e9;
  const seconds = Math.floor(value / divisor);
  const nanos = Math.min(999_999_999, Math.max(0, Math.round((value - seconds * divisor) * (1e9 / divisor))));
  return checkRange({ seconds, nanos });
}

function fromEpochDigits(whole: string, fraction: string): Instant {
  const magnitude = whole.replace(/^0+/, '').length;
  // Digits of the integer part that are seconds: all of them for seconds,
  // three fewer for milliseconds, and so on.
  const scale = magnitude <= 11 ? 0 : magnitude <= 14 ? 3 : magnitude <= 17 ? 6 : 9;
  const secondsText = whole.slice(0, Math.max(0, whole.length - scale)) || '0';
  const subSecond = (whole.slice(whole.length - scale) + fraction).slice(0, 9).padEnd(9, '0');
  return checkRange({ seconds: Number(secondsText), nanos: scale === 0 ? Number(fraction.slice(0, 9).padEnd(9, '0')) : Number(subSecond) });
}

function checkRange(instant: Instant): Instant {
  if (!Number.isSafeInteger(instant.seconds) || instant.seconds < 0 || instant.seconds > MAX_STORABLE_SECONDS) {
    throw new TimestampError(`is outside the supported range (${STORABLE_RANGE})`);
  }
  return instant;
}

export function instantFromMillis(ms: number): Instant {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`, UTC: ClickHouse's DateTime64(9) text form. */
export function formatClickHouseTime(instant: Instant): string {
  const iso = new Date(instant.seconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(instant.nanos).padStart(9, '0')}`;
}

/** ClickHouse's DateTime64(9) text back to RFC 3339 with nanoseconds. */
export function clickHouseTimeToRfc3339(text: string): string {
  return `${text.replace(' ', 'T')}Z`;
}

const RELATIVE_RE = /^now(?:\s*-\s*(\d+)\s*(ms|s|m|h|d|w))?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** What people type for a time in a search: `now`, `now-15m` (ms s m h d w), RFC 3339, or a Unix epoch. */
export function parseTimeExpression(value: string, now: number): Instant {
  const relative = RELATIVE_RE.exec(value.trim());
  if (relative) return instantFromMillis(now - (relative[1] ? Number(relative[1]) * UNIT_MS[relative[2]!]! : 0));
  return parseTimestamp(value);
}
