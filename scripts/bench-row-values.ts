/**
 * `npx tsx scripts/bench-row-values.ts`: the serialiser's per-row step, the
 * hand-written `toValues` (shared/row-format.ts) against the same values
 * derived by a loop over the column definitions (shared/log-columns.ts), on
 * 10,000 varied rows as the decoders build them, 1e6 calls per measurement;
 * alone and followed by the JSON.stringify that serializeRows does with it.
 * Rounds alternate the two; the medians are printed. (docs/benchmarks.md,
 * "The row serialiser".)
 */
import { ROW_COLUMNS } from '../shared/log-columns.ts';
import type { LogRow } from '../shared/log-record.ts';
import { normalizeRecord } from '../shared/normalize.ts';
import { toValues } from '../shared/row-format.ts';

const CALLS = 1_000_000;
const ROUNDS = Number(process.env.ROUNDS ?? 9);

/** The derived alternative: one keyed read per column, the column's empty value when the row has none. */
const NAMES = ROW_COLUMNS.map((c) => c.name);
const FALLBACKS = ROW_COLUMNS.map((c) => (c.required ? undefined : c.empty));
function toValuesFromColumns(row: LogRow): unknown[] {
  const values = new Array<unknown>(NAMES.length);
  const record = row as unknown as Record<string, unknown>;
  for (let i = 0; i < NAMES.length; i++) values[i] = record[NAMES[i]!] ?? FALLBACKS[i];
  return values;
}

// Rows of the shapes the decoders produce: plain JSON records with and without level, service, trace and
// attributes (normalizeRecord), and OTLP-like rows with the scope columns set.
const ctx = { tenantId: 'acme', retentionDays: 30, receivedAt: '2026-11-26 06:00:00.000000000', batchId: 'B' };
const rows: LogRow[] = [];
for (let i = 0; i < 10_000; i++) {
  const record: Record<string, unknown> = { message: `request ${i} took ${i % 97} ms`, timestamp: 1_795_000_000_000 + i };
  if (i % 2 === 0) record.level = ['info', 'warn', 'error', 'debug'][i % 4];
  if (i % 3 !== 0) record.service = `svc-${i % 7}`;
  if (i % 5 === 0) Object.assign(record, { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' });
  if (i % 4 !== 1) Object.assign(record, { host: `node-${i % 16}`, status: 200 + (i % 3) * 100 });
  const row = normalizeRecord(record, i, ctx);
  if (i % 10 === 0)
    Object.assign(row, {
      ScopeName: 'io.opentelemetry.sdk',
      ScopeVersion: '1.40.0',
      ScopeAttributes: { 'lib.x': 'y' },
      ResourceSchemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
    });
  rows.push(row);
}
for (const row of rows) if (JSON.stringify(toValues(row)) !== JSON.stringify(toValuesFromColumns(row))) throw new Error('the two differ');

let sink = 0;
function run(fn: (row: LogRow) => unknown[], stringify: boolean): number {
  const started = performance.now();
  for (let n = 0; n < CALLS; ) {
    for (let i = 0; i < rows.length && n < CALLS; i++, n++) {
      const values = fn(rows[i]!);
      sink += stringify ? JSON.stringify(values).length : values.length;
    }
  }
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const stringify of [false, true]) {
  const literal: number[] = [];
  const derived: number[] = [];
  run(toValues, stringify); // warm-up, both
  run(toValuesFromColumns, stringify);
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      literal.push(run(toValues, stringify));
      derived.push(run(toValuesFromColumns, stringify));
    } else {
      derived.push(run(toValuesFromColumns, stringify));
      literal.push(run(toValues, stringify));
    }
  }
  const [l, d] = [median(literal), median(derived)];
  console.log(
    `${stringify ? 'values + JSON.stringify' : 'values only'}: literal ${l.toFixed(1)} ms, derived ${d.toFixed(1)} ms per ${CALLS.toLocaleString('en')} rows ` +
      `(${(((d - l) / l) * 100).toFixed(1)} %; medians of ${ROUNDS})`,
  );
}
if (sink === 0) console.log('');
