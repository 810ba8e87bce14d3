/**
 * The capacity model (scripts/capacity-model.ts), checked against the local figures it is built from. Pure
 * arithmetic: nothing is started (the bytes-per-row measurement is a one-off, `npm run capacity -- --measure`).
 */
import { describe, expect, it } from 'vitest';
import {
  capacity,
  CLICKHOUSE_CPU_US_PER_ROW,
  coresFor,
  formatTable,
  LOCAL_CORES,
  LOCAL_CPU_UTILISATION,
  LOCAL_END_TO_END_ROWS_PER_SEC,
  LOCAL_ONLY_CPU_US_PER_ROW,
  MEASURED_INPUT,
  rowsPerSecond,
  scaleTable,
  WORKERD_CPU_US_PER_ROW,
} from '../../scripts/capacity-model.ts';

const base = { ...MEASURED_INPUT, logsPerDay: 1e8, activeTenants: 1_000 };

describe('the capacity model against this machine', () => {
  // Every process's CPU per row (docs/benchmarks.md:46), summed: 48.7 µs per row on 2 cores.
  const cpuPerRow = WORKERD_CPU_US_PER_ROW + CLICKHOUSE_CPU_US_PER_ROW + Object.values(LOCAL_ONLY_CPU_US_PER_ROW).reduce((a, b) => a + b, 0);

  it('predicts the measured end-to-end rate within 10 % from the CPU per row and the measured utilisation', () => {
    const predicted = rowsPerSecond(LOCAL_CORES, cpuPerRow, LOCAL_CPU_UTILISATION);
    expect(Math.abs(predicted - LOCAL_END_TO_END_ROWS_PER_SEC) / LOCAL_END_TO_END_ROWS_PER_SEC).toBeLessThan(0.1);
  });

  it('bounds the measured rate from above at full utilisation (the CPU figures do not undercount)', () => {
    expect(rowsPerSecond(LOCAL_CORES, cpuPerRow)).toBeGreaterThan(LOCAL_END_TO_END_ROWS_PER_SEC);
    expect(coresFor(LOCAL_END_TO_END_ROWS_PER_SEC, cpuPerRow)).toBeLessThanOrEqual(LOCAL_CORES);
  });
});

describe('monotonicity and units', () => {
  it('doubles CPU, requests, disk and R2 when the logs double', () => {
    const one = capacity(base);
    const two = capacity({ ...base, logsPerDay: 2e8 });
    for (const key of [
      'workerCpuSecondsPerDay',
      'actorCpuSecondsPerDay',
      'clickhouseCoresPerReplica',
      'diskBytesPerDay',
      'r2BytesPerMonth',
      'gbIngestedPerDay',
    ] as const) {
      expect(two[key]).toBeCloseTo(one[key] * 2, 6);
    }
    // Requests grow at most linearly: a quiet tenant sends one request per shipper batch, whatever it holds.
    expect(two.ingestRequestsPerDay).toBeGreaterThanOrEqual(one.ingestRequestsPerDay);
    expect(two.ingestRequestsPerDay).toBeLessThanOrEqual(one.ingestRequestsPerDay * 2);
  });

  it('never asks for fewer than one actor per hot tenant, and more as the hot tenant grows', () => {
    expect(capacity({ ...base, logsPerDay: 1 }).actorsPerHotTenant).toBe(1);
    const rising = [1e6, 1e8, 1e9, 1e10, 1e11].map((logsPerDay) => capacity({ ...base, logsPerDay }).actorsPerHotTenant);
    expect(rising).toEqual([...rising].sort((a, b) => a - b));
    expect(Math.min(...rising)).toBeGreaterThanOrEqual(1);
  });

  it('keeps inserts within the flush size and the disk proportional to retention', () => {
    const out = capacity({ ...base, logsPerDay: 1e12, activeTenants: 1 });
    expect(out.rowsPerInsert).toBeLessThanOrEqual(MEASURED_INPUT.flushMaxRows);
    expect(capacity({ ...base, retentionDays: 60 }).diskBytesRetained).toBeCloseTo(capacity(base).diskBytesRetained * 2, 3);
  });

  it('sizes a hot tenant at its plan ceiling within the plan shard count', () => {
    const out = capacity({ ...base, logsPerDay: 1e12, hotTenantShare: 1 });
    expect(out.hotTenantPeakRecordsPerSec).toBe(MEASURED_INPUT.hotTenantMaxRecordsPerSec);
    expect(out.actorsPerHotTenant).toBeLessThanOrEqual(8);
  });

  it('gives positive, finite costs per GB, cheaper per GB at larger scale', () => {
    const rows = scaleTable();
    for (const { out } of rows) {
      for (const v of [out.cost.cloudflarePerGb, out.cost.clickhousePerGb]) expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(rows[2]!.out.cost.totalPerGb).toBeLessThan(rows[0]!.out.cost.totalPerGb);
  });
});

describe('the three-scale table', () => {
  it('is produced for 1 M, 100 M and 10 B logs a day', () => {
    expect(scaleTable().map((r) => r.logsPerDay)).toEqual([1e6, 1e8, 1e10]);
    const table = formatTable();
    expect(table.split('\n')).toHaveLength(22);
    expect(table).toContain('actors per hot tenant');
    expect(table).toContain('10,000,000,000/day');
  });
});
