import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../shared/normalize.ts';
import { LOG_COLUMNS, RecordTooLargeError, serializeRows, utf8Length } from '../../shared/row-format.ts';

const ctx = { tenantId: 'acme', retentionDays: 7, receivedAt: '2026-11-26 06:00:00.000000000', batchId: 'B' };
const rowsOf = (records: Record<string, unknown>[]) => records.map((r, i) => normalizeRecord(r, i, ctx));

function parseLines(text: string) {
  return text.trimEnd().split('\n').map((line) => Object.fromEntries(LOG_COLUMNS.map((c, i) => [c, JSON.parse(line)[i]])));
}

describe('serializeRows', () => {
  it('writes one JSON array per row, in column order, even when a value looks like a row boundary', () => {
    const tricky = 'a],["acme","x\nnext line';
    const batch = serializeRows(rowsOf([{ message: tricky, k: '],["acme",' }, { message: 'ünïcödé ✓', level: 'warn' }, { message: 'plain' }]), 1 << 20);
    const text = batch.chunks.map((c) => c.text).join('');
    const rows = parseLines(text);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ TenantId: 'acme', Body: tricky, LogAttributes: { k: '],["acme",' }, RetentionDays: 7, LogId: 'B-0' });
    expect(rows[1]).toMatchObject({ Body: 'ünïcödé ✓', SeverityNumber: 13 });
    expect(batch.bytes).toBe(new TextEncoder().encode(text).length);
    expect(batch.rows).toBe(3);
  });

  it('cuts chunks at row boundaries within the size, counting rows and exact bytes per chunk', () => {
    const rows = rowsOf(Array.from({ length: 100 }, (_, i) => ({ message: `row ${i} ${'é'.repeat(50)}` })));
    const batch = serializeRows(rows, 1 << 20, 2000);
    expect(batch.chunks.length).toBeGreaterThan(5);
    for (const chunk of batch.chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(2000);
      expect(chunk.text.endsWith('\n')).toBe(true);
      expect(chunk.rows).toBe(chunk.text.trimEnd().split('\n').length);
      expect(chunk.bytes).toBe(utf8Length(chunk.text));
    }
    expect(parseLines(batch.chunks.map((c) => c.text).join('')).map((r) => r.Body)).toEqual(rows.map((r) => r.Body));
  });

  it('names the record that is too large', () => {
    const rows = rowsOf([{ message: 'ok' }, { message: 'x'.repeat(5000) }]);
    expect(() => serializeRows(rows, 4096)).toThrow(RecordTooLargeError);
    try {
      serializeRows(rows, 4096);
    } catch (err) {
      expect((err as RecordTooLargeError).record).toBe(1);
    }
  });
});
