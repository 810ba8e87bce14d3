/**
 * Loki's time parameters, shared by the read API (query worker) and live tail
 * (ingest worker): a timestamp is nanoseconds since the epoch, float seconds,
 * or RFC 3339.
 */
import { LogqlError } from './ast.ts';

const NS_PER_S = 1_000_000_000n;

/** A Loki timestamp → nanoseconds since the epoch (a 400 naming `name` otherwise). */
export function parseLokiTime(name: string, text: string): bigint {
  const t = text.trim();
  if (t.length > 64) throw new LogqlError(`invalid ${name}: longer than 64 characters`);
  if (/^-?\d+$/.test(t)) return BigInt(t);
  if (/^-?\d+\.\d*$/.test(t)) {
    const [whole, frac = ''] = t.split('.');
    const ns = BigInt(whole!) * NS_PER_S + BigInt(`${frac}000000000`.slice(0, 9)) * (t.startsWith('-') ? -1n : 1n);
    return ns;
  }
  const ms = Date.parse(t);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(t) || Number.isNaN(ms))
    throw new LogqlError(`invalid ${name}: "${t.slice(0, 40)}" is not a nanosecond epoch, seconds or RFC 3339 time`);
  const frac = /\.(\d+)/.exec(t)?.[1] ?? '';
  return BigInt(Math.floor(ms / 1000)) * NS_PER_S + BigInt(`${frac}000000000`.slice(0, 9));
}

/** ClickHouse's DateTime64(9) text (`YYYY-MM-DD hh:mm:ss.nnnnnnnnn`, UTC) → nanoseconds since the epoch. */
export function clickHouseTimeToNs(text: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) throw new Error(`not a ClickHouse time: ${text.slice(0, 40)}`);
  const seconds = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  return BigInt(seconds) * NS_PER_S + BigInt(`${m[7] ?? ''}000000000`.slice(0, 9));
}
