/**
 * `npm run load:simulate`: the flush pattern of 1,000 and 10,000 tenants, with
 * the tenant actor's own scheduling code (durable-objects/tenant-actor/
 * flush-scheduler.ts: `flushDue`, `nextAlarmAt`) driven by a simulated clock —
 * what the local stack cannot hold at 10,000 tenants. Each tenant sends a
 * batch every interval from a random phase; its alarm is set where the actor
 * sets it (only ever brought forward), and when it fires every due flush is
 * counted as one insert. Flushes are instantaneous and never fail: this
 * isolates the schedule, not ClickHouse's speed.
 *
 * Printed per scenario and flush rule: ClickHouse inserts per second (mean and
 * the busiest second), rows per insert, and how old the oldest row of a flush
 * was when it went (the freshness the rule costs).
 */
import { type FlushThresholds, flushDue, nextAlarmAt } from '../../durable-objects/tenant-actor/flush-scheduler.ts';

const SIMULATED_SECONDS = Number(process.env.SIM_SECONDS ?? 120);
const WARMUP_SECONDS = 20;

interface TenantLoad {
  /** Records per batch and ms between batches. */
  batch: number;
  intervalMs: number;
}

interface Scenario {
  name: string;
  tenants: TenantLoad[];
}

const uniform = (n: number, batch: number, intervalMs: number): TenantLoad[] => Array.from({ length: n }, () => ({ batch, intervalMs }));

/** Rates ∝ 1/rank (Zipf, s = 1) summing to `total` records/s; each sends every second, or less often with one record. */
function zipf(n: number, total: number): TenantLoad[] {
  let harmonic = 0;
  for (let k = 1; k <= n; k++) harmonic += 1 / k;
  return Array.from({ length: n }, (_, i) => {
    const rate = total / harmonic / (i + 1);
    return rate >= 1 ? { batch: Math.round(rate), intervalMs: 1000 } : { batch: 1, intervalMs: Math.round(1000 / rate) };
  });
}

const SCENARIOS: Scenario[] = [
  { name: '1,000 tenants × 10 records every 5 s (npm run load:tenants)', tenants: uniform(1000, 10, 5000) },
  { name: '1,000 tenants × 10 records/s', tenants: uniform(1000, 10, 1000) },
  { name: '10,000 tenants × 10 records/s', tenants: uniform(10_000, 10, 1000) },
  { name: '10,000 tenants, Zipf, 100,000 records/s in all', tenants: zipf(10_000, 100_000) },
];

const BASE: FlushThresholds = { maxRows: 10_000, maxBytes: 8 * 1024 * 1024, maxAgeMs: 1000, minRows: 1, slowMaxAgeMs: 10_000 };
const RULES: { name: string; thresholds: FlushThresholds }[] = [
  { name: 'today: every flush at 1 s (minRows 1)', thresholds: BASE },
  { name: 'minRows 1,000, slow max age 5 s', thresholds: { ...BASE, minRows: 1000, slowMaxAgeMs: 5000 } },
  { name: 'minRows 1,000, slow max age 10 s', thresholds: { ...BASE, minRows: 1000, slowMaxAgeMs: 10_000 } },
];

/** A binary min-heap of [time, tenant, kind] events. */
class Events {
  readonly #heap: [number, number, 0 | 1][] = [];
  get size() {
    return this.#heap.length;
  }
  push(e: [number, number, 0 | 1]) {
    const h = this.#heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (h[p]![0] <= h[i]![0]) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): [number, number, 0 | 1] {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]![0] < h[m]![0]) m = l;
        if (r < h.length && h[r]![0] < h[m]![0]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

const SEND = 0;
const ALARM = 1;

function simulate(tenants: TenantLoad[], thresholds: FlushThresholds) {
  const end = SIMULATED_SECONDS * 1000;
  const rows = new Float64Array(tenants.length);
  const oldest = new Float64Array(tenants.length).fill(Number.NaN);
  const alarmAt = new Float64Array(tenants.length).fill(Number.NaN);
  const perSecond = new Uint32Array(SIMULATED_SECONDS + 1);
  const ages: number[] = [];
  let inserts = 0;
  let insertedRows = 0;
  const events = new Events();
  // Tenants start at random moments of the warm-up, not together (a fleet does not start in step), in whole
  // milliseconds as Date.now() gives the actor (a fractional clock could make "due at" and "due" disagree by rounding).
  for (let i = 0; i < tenants.length; i++) events.push([Math.floor(Math.random() * WARMUP_SECONDS * 1000), i, SEND]);
  const schedule = (i: number, now: number) => {
    const unassigned = { rows: rows[i]!, bytes: rows[i]! * 300, oldestReceivedAt: Number.isNaN(oldest[i]!) ? null : oldest[i]! };
    const at = nextAlarmAt({ pending: [], unassigned, rollUpAt: null }, now, thresholds);
    // The actor's alarm only ever moves forward (durable-objects/alarm.ts bringForward).
    if (at !== null && (Number.isNaN(alarmAt[i]!) || at < alarmAt[i]!)) {
      alarmAt[i] = at;
      events.push([at, i, ALARM]);
    }
  };
  while (events.size > 0) {
    const [now, i, kind] = events.pop();
    if (now > end) break;
    if (kind === SEND) {
      if (rows[i] === 0) oldest[i] = now;
      rows[i]! += tenants[i]!.batch;
      schedule(i, now);
      events.push([now + tenants[i]!.intervalMs, i, SEND]);
      continue;
    }
    if (alarmAt[i] !== now) continue; // superseded by an earlier alarm
    alarmAt[i] = Number.NaN;
    const unassigned = { rows: rows[i]!, bytes: rows[i]! * 300, oldestReceivedAt: oldest[i]! };
    if (rows[i]! > 0 && flushDue(unassigned, now, thresholds)) {
      if (now >= WARMUP_SECONDS * 1000) {
        inserts++;
        insertedRows += rows[i]!;
        perSecond[Math.floor(now / 1000)]!++;
        ages.push(now - oldest[i]!);
      }
      rows[i] = 0;
      oldest[i] = Number.NaN;
    }
    schedule(i, now);
  }
  const seconds = SIMULATED_SECONDS - WARMUP_SECONDS;
  ages.sort((a, b) => a - b);
  const busiest = Math.max(...perSecond.slice(WARMUP_SECONDS, SIMULATED_SECONDS));
  return {
    insertsPerSecond: inserts / seconds,
    busiest,
    rowsPerInsert: insertedRows / Math.max(1, inserts),
    ageP50: ages[Math.floor(ages.length / 2)] ?? 0,
    ageP99: ages[Math.floor(ages.length * 0.99)] ?? 0,
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log(`SIM_SECONDS=${SIMULATED_SECONDS} npm run load:simulate (the first ${WARMUP_SECONDS} s not counted)\n`);
console.log('| scenario | flush rule | inserts/s (mean) | busiest second | rows per insert | age of the oldest row at flush p50 / p99 |');
console.log('|---|---|---:|---:|---:|---:|');
for (const scenario of SCENARIOS) {
  const totalRate = scenario.tenants.reduce((s, t) => s + (t.batch * 1000) / t.intervalMs, 0);
  for (const rule of RULES) {
    const r = simulate(scenario.tenants, rule.thresholds);
    console.log(
      `| ${scenario.name} (${fmt(totalRate)} records/s) | ${rule.name} | ${fmt(r.insertsPerSecond)} | ${fmt(r.busiest)} | ${fmt(r.rowsPerInsert, 1)} | ${fmt(r.ageP50 / 1000, 1)} / ${fmt(r.ageP99 / 1000, 1)} s |`,
    );
  }
}
