/**
 * Prototype encoders of LogRows into ClickHouse's binary input formats,
 * RowBinary and Native, for `npm run bench:engine` (scripts/bench-engine.ts):
 * what they would cost to produce in the ingest worker against what they save
 * the engine. Web-standard APIs only (TextEncoder.encodeInto, DataView,
 * Uint8Array), so the figure measured in Node stands for workerd.
 *
 * Not production code: no row checks (serializeRows' retention, range and
 * UTF-8 checks would come on top — encodeInto turns an unpaired surrogate into
 * U+FFFD silently, where JSON writes an escape the checks look for), times
 * before 1970 not handled.
 *
 * Both formats concatenate: RowBinary rows one after another, Native blocks
 * one after another — so a 1,000-row batch encoded by the worker can be
 * stored and forwarded as it is, and a flush is a concatenation, as with the
 * gzip members of JSONCompactEachRow today.
 */
import { ROW_COLUMNS } from '../shared/log-columns.ts';
import type { LogRow } from '../shared/log-record.ts';
import { toValues } from '../shared/row-format.ts';

type Kind = 'string' | 'time' | 'u8' | 'u16' | 'map';

const KINDS: Kind[] = ROW_COLUMNS.map((c) => {
  if (c.type.startsWith('DateTime64')) return 'time';
  if (c.type === 'UInt8') return 'u8';
  if (c.type === 'UInt16') return 'u16';
  if (c.type.startsWith('Map(')) return 'map';
  return 'string';
});

/**
 * The type each column travels as in a Native block. LowCardinality has a
 * serialisation of its own (dictionary + indexes); the plain String is
 * simpler to write and the engine converts it to the column's type on insert.
 */
const NATIVE_TYPES = ROW_COLUMNS.map((c) => c.type.replaceAll('LowCardinality(String)', 'String'));

const encoder = new TextEncoder();
const TWO_32 = 4_294_967_296;

/** A growable byte buffer with ClickHouse's primitive encodings (little-endian, LEB128 lengths). */
class ByteWriter {
  bytes = new Uint8Array(1 << 16);
  view = new DataView(this.bytes.buffer);
  pos = 0;
  /** Seconds since the epoch of each `YYYY-MM-DD hh:mm` seen: times in a batch share a few minutes. */
  readonly #minutes = new Map<string, number>();

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.pos));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = value;
  }

  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, value, true);
    this.pos += 2;
  }

  /** A UInt64 below 2^53. */
  u64(value: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, value % TWO_32, true);
    this.view.setUint32(this.pos + 4, Math.floor(value / TWO_32), true);
    this.pos += 8;
  }

  varint(value: number): void {
    this.ensure(10);
    while (value >= 0x80) {
      this.bytes[this.pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.pos++] = value;
  }

  /** A String: its UTF-8 length as a varint, then the bytes. */
  string(text: string): void {
    const max = text.length * 3;
    this.ensure(max + 5);
    if (max < 128) {
      const written = encoder.encodeInto(text, this.bytes.subarray(this.pos + 1)).written;
      this.bytes[this.pos] = written;
      this.pos += 1 + written;
      return;
    }
    // Room for the longest length; the bytes move down when the real length is shorter.
    const head = varintSize(max);
    const written = encoder.encodeInto(text, this.bytes.subarray(this.pos + head)).written;
    const need = varintSize(written);
    if (need < head) this.bytes.copyWithin(this.pos + need, this.pos + head, this.pos + head + written);
    this.varint(written);
    this.pos += written;
  }

  /** A DateTime64(9) from its ClickHouse text form (`YYYY-MM-DD hh:mm:ss.nnnnnnnnn`): Int64 nanoseconds. */
  time(text: string): void {
    const minute = text.slice(0, 16);
    let minuteSeconds = this.#minutes.get(minute);
    if (minuteSeconds === undefined) {
      minuteSeconds = Date.UTC(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10), +text.slice(11, 13), +text.slice(14, 16)) / 1000;
      this.#minutes.set(minute, minuteSeconds);
    }
    const seconds = minuteSeconds + +text.slice(17, 19);
    const nanos = text.length > 20 ? +text.slice(20, 29).padEnd(9, '0') : 0;
    // seconds * 1e9 + nanos exceeds 2^53: 1e9 = 1953125 * 512, each step exact in doubles.
    const a = seconds * 1_953_125;
    const aHigh = Math.floor(a / TWO_32);
    const shifted = (a - aHigh * TWO_32) * 512;
    let high = aHigh * 512 + Math.floor(shifted / TWO_32);
    let low = (shifted % TWO_32) + nanos;
    if (low >= TWO_32) {
      low -= TWO_32;
      high += 1;
    }
    this.ensure(8);
    this.view.setUint32(this.pos, low, true);
    this.view.setUint32(this.pos + 4, high, true);
    this.pos += 8;
  }

  take(): Uint8Array {
    return this.bytes.slice(0, this.pos);
  }
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** RowBinary: each row's values in column order, one row after another. */
export function encodeRowBinary(rows: readonly LogRow[]): Uint8Array {
  const out = new ByteWriter();
  for (const row of rows) {
    const values = toValues(row);
    for (let c = 0; c < values.length; c++) {
      const value = values[c];
      switch (KINDS[c]) {
        case 'string':
          out.string(value as string);
          break;
        case 'time':
          out.time(value as string);
          break;
        case 'u8':
          out.u8(value as number);
          break;
        case 'u16':
          out.u16(value as number);
          break;
        case 'map': {
          const map = value as Record<string, string>;
          const keys = Object.keys(map);
          out.varint(keys.length);
          for (const key of keys) {
            out.string(key);
            out.string(map[key]!);
          }
          break;
        }
      }
    }
  }
  return out.take();
}

/**
 * Native: one block — the column and row counts, then per column its name,
 * its type and every row's value (a Map as its cumulative sizes, then every
 * key, then every value).
 */
export function encodeNative(rows: readonly LogRow[]): Uint8Array {
  const out = new ByteWriter();
  const values = rows.map(toValues);
  out.varint(ROW_COLUMNS.length);
  out.varint(rows.length);
  for (let c = 0; c < ROW_COLUMNS.length; c++) {
    out.string(ROW_COLUMNS[c]!.name);
    out.string(NATIVE_TYPES[c]!);
    switch (KINDS[c]) {
      case 'string':
        for (const v of values) out.string(v[c] as string);
        break;
      case 'time':
        for (const v of values) out.time(v[c] as string);
        break;
      case 'u8':
        for (const v of values) out.u8(v[c] as number);
        break;
      case 'u16':
        for (const v of values) out.u16(v[c] as number);
        break;
      case 'map': {
        let total = 0;
        const keys = values.map((v) => Object.keys(v[c] as Record<string, string>));
        for (const k of keys) {
          total += k.length;
          out.u64(total);
        }
        for (const k of keys) for (const key of k) out.string(key);
        for (let r = 0; r < values.length; r++) {
          const map = values[r]![c] as Record<string, string>;
          for (const key of keys[r]!) out.string(map[key]!);
        }
        break;
      }
    }
  }
  return out.take();
}
