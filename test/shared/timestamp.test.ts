import { describe, expect, it } from 'vitest';
import { formatClickHouseTime, parseTimestamp } from '../../shared/timestamp.ts';

const text = (v: unknown) => formatClickHouseTime(parseTimestamp(v));

describe('parseTimestamp', () => {
  it('reads RFC 3339 with offsets and up to nanoseconds', () => {
    expect(text('2026-11-26T06:00:00Z')).toBe('2026-11-26 06:00:00.000000000');
    expect(text('2026-11-26T06:00:00.123456789Z')).toBe('2026-11-26 06:00:00.123456789');
    expect(text('2026-11-26T08:30:00.5+02:30')).toBe('2026-11-26 06:00:00.500000000');
    expect(text('2026-11-26 06:00:00')).toBe('2026-11-26 06:00:00.000000000'); // no offset: UTC
  });

  it('tells epoch units apart by magnitude, keeping string precision', () => {
    expect(text(1764136800)).toBe('2025-11-26 06:00:00.000000000');
    expect(text(1764136800.25)).toBe('2025-11-26 06:00:00.250000000');
    expect(text(1764136800123)).toBe('2025-11-26 06:00:00.123000000');
    expect(text(1764136800123456)).toBe('2025-11-26 06:00:00.123456000');
    expect(text('1764136800123456789')).toBe('2025-11-26 06:00:00.123456789');
    expect(text('1764136800.000000001')).toBe('2025-11-26 06:00:00.000000001');
  });

  it('rejects what is not a time', () => {
    for (const bad of ['yesterday', '2026-02-30T00:00:00Z', '2026-11-26T25:00:00Z', -1, true, {}, '99999-01-01T00:00:00Z', '3000-01-01T00:00:00Z']) {
      expect(() => parseTimestamp(bad), String(bad)).toThrow();
    }
  });
});
