/**
 * The column definitions (shared/log-columns.ts) and what is derived from
 * them. Their match with the real table: test/node/embedded-clickhouse.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeStoredRow as decodeRow } from '../../shared/row-format.ts';
import { LOG_COLUMNS, ROW_COLUMNS, SEARCHED_COLUMNS } from '../../shared/log-columns.ts';
import { toLogView, type LogRow, type StoredLog } from '../../shared/log-record.ts';
import { toValues } from '../../shared/row-format.ts';
import { SEARCH_COLUMNS } from '../../workers/query/compile-search.ts';

/** A row with a value of its own in every column. */
const full = Object.fromEntries(
  ROW_COLUMNS.map((c, i) => [
    c.name,
    typeof c.empty === 'number'
      ? i + 1
      : c.type.startsWith('DateTime64')
        ? `2026-11-26 06:00:${String(i).padStart(2, '0')}.000000001`
        : typeof c.empty === 'string'
          ? `value of ${c.name}`
          : { key: c.name },
  ]),
) as unknown as LogRow;
const searched = Object.fromEntries(SEARCHED_COLUMNS.map((c) => [c.name, full[c.name]])) as unknown as StoredLog;

describe('column definitions', () => {
  it('name each column once, and search reads back the columns named in SEARCH_COLUMNS', () => {
    expect(new Set(LOG_COLUMNS).size).toBe(LOG_COLUMNS.length);
    expect(SEARCH_COLUMNS.split(', ')).toEqual(SEARCHED_COLUMNS.map((c) => c.name));
    expect(SEARCH_COLUMNS).toBe(
      'Timestamp, ObservedTimestamp, LogId, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes, ScopeName, ScopeVersion, ScopeAttributes, PatternId',
    );
  });

  it('name where a search answer puts each column it reads back (toLogView), and it puts nothing else but the pattern template', () => {
    const view = toLogView(searched) as unknown as Record<string, unknown>;
    const at = (path: string) => path.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], view);
    for (const c of SEARCHED_COLUMNS) {
      const value = full[c.name];
      expect(at(c.search), c.name).toEqual(c.type.startsWith('DateTime64') ? `${(value as string).replace(' ', 'T')}Z` : value);
    }
    const leaves = (v: Record<string, unknown>, prefix = ''): string[] =>
      Object.entries(v).flatMap(([k, x]) => (k === 'scope' ? leaves(x as Record<string, unknown>, 'scope.') : [`${prefix}${k}`]));
    // `pattern` is the template of PatternId, looked up (log-record.ts), not a column.
    expect(leaves(view).sort()).toEqual([...SEARCHED_COLUMNS.map((c) => c.search), 'pattern'].sort());
  });
});

describe("the live tail's decoder of buffered rows", () => {
  it('reads back each column search reads, from its position in the row', () => {
    expect(decodeRow(JSON.stringify(toValues(full)))).toEqual(searched);
  });

  it('reads a row buffered before the scope columns were appended with their empty values', () => {
    const old = JSON.stringify(toValues(full).slice(0, LOG_COLUMNS.indexOf('ScopeName')));
    expect(decodeRow(old)).toEqual({ ...searched, ScopeName: '', ScopeVersion: '', ScopeAttributes: {}, PatternId: '' });
  });

  it('gives every row maps of its own', () => {
    const line = JSON.stringify(toValues({ TenantId: 't', Timestamp: 'x', ObservedTimestamp: 'x', LogId: 'l', Body: '', RetentionDays: 1 }).slice(0, 11));
    const [a, b] = [decodeRow(line), decodeRow(line)];
    expect(a.LogAttributes).toEqual({});
    expect(a.LogAttributes).not.toBe(b.LogAttributes);
    expect(Object.isFrozen(a.LogAttributes)).toBe(false);
  });
});
