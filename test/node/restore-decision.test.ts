/**
 * The archive restore's pure parts (scripts/restore): what it does next with a
 * batch, and which archive keys and days a run covers.
 */
import { describe, expect, it } from 'vitest';
import { dayPrefix, daysBetween, MAX_RESTORE_DAYS, parseArchiveKey } from '../../scripts/restore/archive-layout.ts';
import { nextRestoreStep, type RestoreStep } from '../../scripts/restore/restore-decision.ts';

describe('nextRestoreStep', () => {
  const table: [insertsSent: number, stored: boolean, step: RestoreStep][] = [
    [0, true, { kind: 'done', outcome: 'already-stored' }],
    [0, false, { kind: 'insert', token: 'B1' }],
    [1, true, { kind: 'done', outcome: 'restored' }],
    // ClickHouse dropped the insert as a duplicate of the flush's, whose rows were deleted since.
    [1, false, { kind: 'insert', token: 'B1:restore' }],
    [2, true, { kind: 'done', outcome: 'restored' }],
    [2, false, { kind: 'give-up', reason: 'ClickHouse accepted 2 inserts of the batch but its rows are not found' }],
  ];
  it.each(table)('after %i inserts, stored=%s → %o', (insertsSent, stored, step) => {
    expect(nextRestoreStep('B1', insertsSent, stored)).toEqual(step);
  });
});

describe('the archive layout', () => {
  it('reads the keys the flush writes (tenant-actor/archive.ts archiveKey) and nothing else', () => {
    expect(parseArchiveKey('logs/acme-1/dt=2026-11-30/hour=07/01M8NTP1DK1T10HQQNZCHYS513.ndjson.gz')).toEqual({
      key: 'logs/acme-1/dt=2026-11-30/hour=07/01M8NTP1DK1T10HQQNZCHYS513.ndjson.gz',
      tenant: 'acme-1',
      date: '2026-11-30',
      batchId: '01M8NTP1DK1T10HQQNZCHYS513',
    });
    for (const key of [
      'deadletter/acme/dt=2026-11-30/01M8NTP1DK1T10HQQNZCHYS513.ndjson',
      'logs/acme/dt=2026-11-30/01M8NTP1DK1T10HQQNZCHYS513.ndjson.gz',
      'logs/ACME/dt=2026-11-30/hour=07/B.ndjson.gz',
      'logs/acme/dt=2026-11-30/hour=07/../x.ndjson.gz',
      'logs/acme/dt=2026-11-30/hour=07/B.ndjson.gz.tmp',
    ]) {
      expect(parseArchiveKey(key), key).toBeNull();
    }
    expect(dayPrefix('acme', '2026-11-30')).toBe('logs/acme/dt=2026-11-30/');
  });

  it('lists the days of a range, both ends included, and refuses what is not a range of days', () => {
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(daysBetween('2026-11-30', '2026-11-30')).toEqual(['2026-11-30']);
    expect(() => daysBetween('2026-11-31', '2026-12-01')).toThrow(/YYYY-MM-DD/);
    expect(() => daysBetween('yesterday', '2026-12-01')).toThrow(/--from/);
    expect(() => daysBetween('2026-12-02', '2026-12-01')).toThrow(/before/);
    expect(() => daysBetween('2000-01-01', '2026-12-01')).toThrow(new RegExp(`at most ${MAX_RESTORE_DAYS}`));
  });
});
