import { describe, expect, it } from 'vitest';
import { ROW_COLUMNS } from '../../shared/log-columns.ts';
import type { LogRow } from '../../shared/log-record.ts';
import { normalizeRecord } from '../../shared/normalize.ts';
import { ARCHIVE_HEADER, describeRefusal, insertStatement, LOG_COLUMNS, serializeRows, toValues, utf8Length } from '../../shared/row-format.ts';

const ctx = { tenantId: 'acme', retentionDays: 7, receivedAt: '2026-11-26 06:00:00.000000000', batchId: 'B' };
const NOW = Date.UTC(2026, 10, 26, 6, 0, 0);
const options = (maxRecordBytes: number, maxChunkChars?: number) => ({ maxRecordBytes, now: NOW, ...(maxChunkChars !== undefined && { maxChunkChars }) });
const rowsOf = (records: Record<string, unknown>[]) => records.map((r, i) => normalizeRecord(r, i, ctx));

function parseLines(text: string) {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => Object.fromEntries(LOG_COLUMNS.map((c, i) => [c, JSON.parse(line)[i]])));
}

describe('serializeRows', () => {
  it('writes one JSON array per row, in column order, even when a value looks like a row boundary', () => {
    const tricky = 'a],["acme","x\nnext line';
    const batch = serializeRows(
      rowsOf([{ message: tricky, k: '],["acme",' }, { message: 'ünïcödé ✓', level: 'warn' }, { message: 'plain' }]),
      options(1 << 20),
    );
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
    const batch = serializeRows(rows, options(1 << 20, 2000));
    expect(batch.chunks.length).toBeGreaterThan(5);
    for (const chunk of batch.chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(2000);
      expect(chunk.text.endsWith('\n')).toBe(true);
      expect(chunk.rows).toBe(chunk.text.trimEnd().split('\n').length);
      expect(chunk.bytes).toBe(utf8Length(chunk.text));
    }
    expect(parseLines(batch.chunks.map((c) => c.text).join('')).map((r) => r.Body)).toEqual(rows.map((r) => r.Body));
  });

  it('leaves out and names the record that is too large', () => {
    const rows = rowsOf([{ message: 'ok' }, { message: 'x'.repeat(5000) }]);
    const batch = serializeRows(rows, options(4096));
    expect(batch.rows).toBe(1);
    expect(batch.refused).toEqual([
      { record: 1, field: null, code: 'record_too_large', reason: expect.stringMatching(/^\d+ bytes once stored; the limit is 4096$/), limit: 4096 },
    ]);
    expect(describeRefusal(batch.refused[0]!)).toMatch(/^record 1 is \d+ bytes once stored/);
  });

  it('refuses what ClickHouse would refuse or drop, naming the record and field: unpaired surrogates, integers out of range, timestamps past retention', () => {
    const rows = rowsOf([
      { message: 'fine', level: 'info' },
      JSON.parse('{"message": "half a pair \\ud800 here"}'),
      JSON.parse('{"message": "ok", "attributes": {"k\\udc00": "v"}}'),
      JSON.parse('{"message": "ok", "user": "\\udfff"}'),
      { message: 'a pair is fine: \u{1F600}', path: 'C:\\udp\\x' },
      { message: 'expired', timestamp: '2026-11-18T05:59:59Z' },
      { message: 'just kept', timestamp: '2026-11-19T06:00:01Z' },
    ]);
    rows.push({ ...rows[0]!, LogId: 'B-7', SeverityNumber: 300 });
    rows.push({ ...rows[0]!, LogId: 'B-8', TraceFlags: -1 });
    rows.push({ ...rows[0]!, LogId: 'B-9', SeverityNumber: 2.5 });
    rows.push({ ...rows[0]!, LogId: 'B-10', Timestamp: '2106-02-07 06:28:16.000000000' }); // built past the decoders' checks
    rows.push({ ...rows[0]!, LogId: 'B-11', Timestamp: '2106-02-07 06:28:15.999999999' });
    const batch = serializeRows(rows, options(1 << 20));
    expect(batch.refused.map((r) => [r.record, r.field, r.code])).toEqual([
      [1, 'body', 'invalid_record'],
      [2, 'attributes.k\udc00', 'invalid_record'],
      [3, 'attributes.user', 'invalid_record'],
      [5, 'timestamp', 'invalid_record'],
      [7, 'severity_number', 'invalid_record'],
      [8, 'trace_flags', 'invalid_record'],
      [9, 'severity_number', 'invalid_record'],
      [10, 'timestamp', 'invalid_record'],
    ]);
    expect(describeRefusal(batch.refused[3]!)).toMatch(/^record 5: field "timestamp" .* older than the tenant's retention of 7 days/);
    const kept = parseLines(batch.chunks.map((c) => c.text).join(''));
    expect(kept.map((r) => r.LogId)).toEqual(['B-0', 'B-4', 'B-6', 'B-11']);
    expect(kept[1]!.Body).toBe('a pair is fine: \u{1F600}');
  });
});

describe('toValues (hand-written for speed) against the column definitions (shared/log-columns.ts)', () => {
  // A row with a value of its own in every column: each value shows where it landed.
  const full = Object.fromEntries(
    ROW_COLUMNS.map((c, i) => [c.name, typeof c.empty === 'number' ? i + 1 : typeof c.empty === 'string' ? `value of ${c.name}` : { key: c.name }]),
  ) as unknown as LogRow;

  it('writes every column at its position', () => {
    const values = toValues(full);
    expect(values).toHaveLength(ROW_COLUMNS.length);
    for (const [i, c] of ROW_COLUMNS.entries()) expect(values[i], `${c.name} at ${i}`).toBe(full[c.name]);
    expect([...LOG_COLUMNS]).toEqual(ROW_COLUMNS.map((c) => c.name));
  });

  it('writes the empty value of every optional column the row leaves out, and every required one as given', () => {
    const required = Object.fromEntries(ROW_COLUMNS.filter((c) => c.required).map((c) => [c.name, full[c.name]])) as unknown as LogRow;
    const values = toValues(required);
    expect(values).toHaveLength(ROW_COLUMNS.length);
    for (const [i, c] of ROW_COLUMNS.entries()) expect(values[i], `${c.name} at ${i}`).toEqual(c.required ? full[c.name] : c.empty);
  });
});

describe('the stored text (rows buffered by earlier releases must still flush, archives still read)', () => {
  it('is byte for byte what it was, plus columns appended: rows, archive header and INSERT', () => {
    const base = { TenantId: 'acme', Timestamp: '2026-11-26 05:59:59.123456789', ObservedTimestamp: '2026-11-26 06:00:00.000000000', RetentionDays: 7 };
    const rows: LogRow[] = [
      { ...base, LogId: 'B-0', Body: 'plain' },
      {
        ...base,
        LogId: 'B-1',
        Body: 'ünïcödé ✓ "quoted" \\ \n',
        TraceId: '0af7651916cd43dd8448eb211c80319c',
        SpanId: 'b7ad6b7169203331',
        TraceFlags: 1,
        SeverityText: 'warn',
        SeverityNumber: 13,
        ServiceName: 'checkout',
        ResourceAttributes: { 'host.name': 'n1' },
        LogAttributes: { k: 'v' },
        ScopeName: 'io.opentelemetry',
        ScopeVersion: '1.0',
        ScopeAttributes: { a: 'b' },
        ResourceSchemaUrl: 'https://r',
        ScopeSchemaUrl: 'https://s',
      },
    ];
    const text = serializeRows(rows, options(1 << 20))
      .chunks.map((c) => c.text)
      .join('');
    expect(text).toBe(
      '["acme","2026-11-26 05:59:59.123456789","2026-11-26 06:00:00.000000000","B-0","","",0,"",0,"","plain",{},{},7,"","",{},"","",""]\n' +
        '["acme","2026-11-26 05:59:59.123456789","2026-11-26 06:00:00.000000000","B-1","0af7651916cd43dd8448eb211c80319c","b7ad6b7169203331",1,"warn",13,' +
        '"checkout","ünïcödé ✓ \\"quoted\\" \\\\ \\n",{"host.name":"n1"},{"k":"v"},7,"io.opentelemetry","1.0",{"a":"b"},"https://r","https://s",""]\n',
    );
    const columns =
      'TenantId,Timestamp,ObservedTimestamp,LogId,TraceId,SpanId,TraceFlags,SeverityText,SeverityNumber,ServiceName,Body,ResourceAttributes,LogAttributes,' +
      'RetentionDays,ScopeName,ScopeVersion,ScopeAttributes,ResourceSchemaUrl,ScopeSchemaUrl,PatternId';
    expect(ARCHIVE_HEADER).toBe(`${JSON.stringify(columns.split(','))}\n`);
    expect(insertStatement('logs')).toBe(`INSERT INTO logs (${columns.split(',').join(', ')}) FORMAT JSONCompactEachRow`);
  });
});
