/**
 * `npm run bench:anomalies`: does GET /v1/anomalies find what happened, and
 * only that?
 *
 * 1. Starts the stack as `npm start` does (own data directory), one tenant.
 * 2. Generates eight simulated days (the eight UTC days before today) of
 *    traffic: eight services, each logging the message bodies of a Loghub
 *    sample (the `Content` of ../shared/data/loghub/groundtruth/*_2k.original.csv),
 *    drawn at random (seeded), at a Poisson rate with a daily rhythm (quiet
 *    nights, busy afternoons). Each record gets the pattern id the miner gives
 *    it (the actor's code) and is written straight into ClickHouse.
 * 3. Injects labelled incidents on days 3–7 — a pattern bursting ×10 for
 *    10 minutes, a new error pattern, a service silent for an hour, an error
 *    ratio jump, a second burst — and harmless changes that must not alarm:
 *    a day with 25 % more traffic, a new info-level pattern at low volume, a
 *    service whose rhythm runs an hour late.
 * 4. Asks GET /v1/anomalies for each of days 3–7 (each has ≥ 3 baseline days)
 *    and reports, per day and in total, the incidents found (recall), the
 *    alarms (score ≥ 1) that match an incident (precision) and the false
 *    alarms per simulated day.
 * 5. BGL: the 2,000 lines of ../shared/data/loghub/BGL_2k.log (its first
 *    column labels alert lines; `-` is normal) as a ninth service, in their
 *    order over the eight days; reports how the patterns of its alert lines
 *    rank among the anomalies listed for it.
 *
 * BENCH_SEED changes the random draw.
 */
import { createClient } from '@clickhouse/client-web';
import { parse } from 'csv-parse/sync';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PatternMiner } from '../shared/patterns/miner.ts';
import { admin, startStackProcess } from './bench-stack.ts';
import { PROJECT_ROOT } from './stack.ts';

const LOGHUB_DIR = process.env.NEURALLOG_LOGHUB_DIR ?? resolve(PROJECT_ROOT, '../shared/data/loghub');
const SEED = Number(process.env.BENCH_SEED ?? 1);
const TENANT = 'bench-anomalies';
const DAY = 86_400_000;
const STEP = 60_000; // records are generated minute by minute
const SERVICES = ['HDFS', 'OpenSSH', 'Apache', 'Zookeeper', 'Spark', 'Hadoop', 'Proxifier', 'Mac'];
const EVALUATED_DAYS = [3, 4, 5, 6, 7];

/** mulberry32: a small seeded PRNG, so a run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
function poisson(lambda: number): number {
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian()));
  let k = 0;
  let p = Math.exp(-lambda);
  let s = p;
  const u = random();
  while (u > s) {
    k++;
    p *= lambda / k;
    s += p;
  }
  return k;
}
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const levelOf = (text: string) => (/\b(error|fail(ed|ure)?|fatal|exception)\b/i.test(text) ? 'error' : /\bwarn(ing)?\b/i.test(text) ? 'warn' : 'info');
const SEVERITY: Record<string, number> = { info: 9, warn: 13, error: 17, fatal: 21 };

interface Incident {
  name: string;
  day: number;
  service: string;
  kinds: string[];
  start: number;
  end: number;
}

interface Row {
  service: string;
  body: string;
  level: string;
  at: number;
  alert?: boolean;
}

const midnight = Math.floor(Date.now() / DAY) * DAY;
const D0 = midnight - 8 * DAY; // simulated day d is [D0 + d·DAY, D0 + (d+1)·DAY)
const at = (day: number, hour: number, minute = 0) => D0 + day * DAY + hour * 3_600_000 + minute * 60_000;

async function corpus(service: string): Promise<string[]> {
  const text = await readFile(join(LOGHUB_DIR, 'groundtruth', `${service}_2k.original.csv`), 'utf8');
  return (parse(text, { columns: true, skip_empty_lines: true }) as { Content: string }[]).map((r) => r.Content);
}

async function generate(): Promise<{ rows: Row[]; incidents: Incident[]; harmless: string[] }> {
  const lines = new Map<string, string[]>();
  for (const s of SERVICES) lines.set(s, await corpus(s));
  const rows: Row[] = [];
  const base = new Map(SERVICES.map((s, i) => [s, 2 + i * 1.5])); // records per minute at the daily mean
  // Harmless: day 4 has 25 % more of everything; Spark's rhythm runs an hour late from day 6 on.
  const growth = (t: number) => (t >= at(4, 0) && t < at(5, 0) ? 1.25 : 1);
  const rhythm = (s: string, t: number) => {
    const hour = ((t - D0) % DAY) / 3_600_000 - (s === 'Spark' && t >= at(6, 0) ? 1 : 0);
    return 0.55 + 0.45 * Math.sin((2 * Math.PI * (hour - 8)) / 24);
  };
  const silentC = { from: at(5, 13), to: at(5, 14) }; // Zookeeper says nothing for an hour
  const ratioD = { from: at(6, 9), to: at(6, 9, 30) }; // half of Hadoop's records are errors
  for (let t = D0; t < D0 + 8 * DAY; t += STEP) {
    for (const s of SERVICES) {
      if (s === 'Zookeeper' && t >= silentC.from && t < silentC.to) continue;
      const n = poisson(base.get(s)! * rhythm(s, t) * growth(t));
      const pool = lines.get(s)!;
      for (let i = 0; i < n; i++) {
        const body = pool[Math.floor(random() * pool.length)]!;
        const inRatio = s === 'Hadoop' && t >= ratioD.from && t < ratioD.to && random() < 0.5;
        rows.push({ service: s, body, level: inRatio ? 'error' : levelOf(body), at: t + Math.floor(random() * STEP) });
      }
    }
  }
  // Bursts: ×10 of one pattern's lines of a service for 10 minutes.
  const burst = (s: string, needle: string, from: number) => {
    const pool = lines.get(s)!.filter((l) => l.includes(needle));
    const perMinute = (base.get(s)! * rhythm(s, from) * pool.length) / lines.get(s)!.length;
    for (let t = from; t < from + 10 * STEP; t += STEP) {
      for (let i = 0; i < Math.max(3, Math.round(perMinute * 9)); i++)
        rows.push({ service: s, body: pool[Math.floor(random() * pool.length)]!, level: 'info', at: t + Math.floor(random() * STEP) });
    }
  };
  burst('HDFS', 'PacketResponder', at(3, 10));
  burst('Apache', 'jk2_init() Found child', at(7, 16));
  // A new error pattern: 30 records over 10 minutes in OpenSSH.
  for (let i = 0; i < 30; i++)
    rows.push({ service: 'OpenSSH', body: `fatal: checksum mismatch on session ${4000 + i} after rekey`, level: 'error', at: at(4, 15) + i * 20_000 });
  // Harmless: a new info pattern at low volume (5 an hour) in Proxifier from day 6, noon.
  for (let t = at(6, 12); t < at(8, 0); t += 12 * STEP)
    rows.push({ service: 'Proxifier', body: `cache warmed in ${100 + Math.floor(random() * 50)} ms`, level: 'info', at: t });
  const incidents: Incident[] = [
    { name: 'HDFS PacketResponder ×10 for 10 min', day: 3, service: 'HDFS', kinds: ['volume'], start: at(3, 10), end: at(3, 10, 10) },
    { name: 'new error pattern in OpenSSH', day: 4, service: 'OpenSSH', kinds: ['new_pattern'], start: at(4, 15), end: at(4, 15, 10) },
    { name: 'Zookeeper silent for an hour', day: 5, service: 'Zookeeper', kinds: ['silence'], start: silentC.from, end: silentC.to },
    { name: 'Hadoop error ratio to 50 % for 30 min', day: 6, service: 'Hadoop', kinds: ['error_ratio'], start: ratioD.from, end: ratioD.to },
    { name: 'Apache jk2_init ×10 for 10 min', day: 7, service: 'Apache', kinds: ['volume'], start: at(7, 16), end: at(7, 16, 10) },
  ];
  const harmless = ['day 4: 25 % more traffic everywhere', "day 6–7: Spark's rhythm an hour late", 'day 6–7: a new info pattern in Proxifier, 5 an hour'];
  return { rows, incidents, harmless };
}

async function bgl(): Promise<Row[]> {
  const lines = (await readFile(join(LOGHUB_DIR, 'BGL_2k.log'), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  // Label, epoch, date, node, time, node, type, component, level, content…
  return lines.map((line, i) => {
    const fields = line.split(' ');
    const level = (fields[8] ?? 'INFO').toLowerCase();
    return {
      service: 'BGL',
      body: fields.slice(9).join(' '),
      level: level === 'severe' ? 'error' : level === 'warning' ? 'warn' : level in SEVERITY ? level : 'info',
      at: D0 + Math.floor((i / lines.length) * 8 * DAY),
      alert: fields[0] !== '-',
    };
  });
}

const dataDir = await mkdtemp(join(tmpdir(), 'neurallog-bench-anomalies-'));
console.log(`NeuralLog anomaly bench (seed ${SEED}): 8 simulated days (${new Date(D0).toISOString().slice(0, 10)} …), ${SERVICES.length} services + BGL`);
const stack = await startStackProcess(dataDir);
try {
  await admin(stack, 'POST', '/tenants', { id: TENANT, name: TENANT, plan: 'enterprise' });
  const { key } = (await admin(stack, 'POST', `/tenants/${TENANT}/keys`, { name: 'bench', scopes: ['logs:read'] })) as { key: string };
  const { rows, incidents, harmless } = await generate();
  const bglRows = await bgl();
  const all = [...rows, ...bglRows].sort((a, b) => a.at - b.at);

  // Patterns as the actors would mine them, records in time order.
  const miner = new PatternMiner();
  const mined = all.map((r) => miner.assign(r.service, r.body));
  const ch = createClient({ url: stack.clickhouseUrl, database: 'neurallog' });
  const templates = new Map(mined.map((m, i) => [m.patternId, { service: all[i]!.service, template: m.template }]));
  await ch.insert({
    table: 'log_patterns',
    values: [...templates].map(([id, t]) => ({ TenantId: TENANT, PatternId: id, ServiceName: t.service, Template: t.template, FirstSeen: D0 })),
    format: 'JSONEachRow',
  });
  const aliases = miner.takeChanges().flatMap((c) => c.replaces.map((from) => ({ TenantId: TENANT, FromId: from, ToId: c.patternId, At: D0 })));
  if (aliases.length > 0) await ch.insert({ table: 'log_pattern_aliases', values: aliases, format: 'JSONEachRow' });
  const started = performance.now();
  for (let i = 0; i < all.length; i += 100_000) {
    await ch.insert({
      table: 'logs',
      format: 'JSONEachRow',
      values: all.slice(i, i + 100_000).map((r, j) => {
        const time = new Date(r.at).toISOString().replace('T', ' ').replace('Z', '000000');
        return {
          TenantId: TENANT,
          Timestamp: time,
          ObservedTimestamp: time,
          LogId: `AN-${i + j}`,
          SeverityText: r.level.toUpperCase(),
          SeverityNumber: SEVERITY[r.level] ?? 9,
          ServiceName: r.service,
          Body: r.body,
          RetentionDays: 30,
          PatternId: mined[i + j]!.patternId,
        };
      }),
    });
  }
  console.log(`loaded ${all.length.toLocaleString('en')} records in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const anomaliesOf = async (day: number, service?: string) => {
    const params = new URLSearchParams({ from: new Date(at(day, 0)).toISOString(), to: new Date(at(day + 1, 0)).toISOString(), ...(service && { service }) });
    const res = await fetch(`${stack.url}/v1/anomalies?${params}`, { headers: { authorization: `Bearer ${key}` } });
    if (!res.ok) throw new Error(`GET /v1/anomalies day ${day}: ${res.status} ${await res.text()}`);
    return (await res.json()) as {
      anomalies: {
        kind: string;
        service: string;
        patternId: string | null;
        start: string;
        end: string;
        score: number;
        summary: string;
        template: string | null;
      }[];
    };
  };

  console.log('\n  day  incidents found   alarms  matching  false alarms');
  let found = 0;
  let alarmsTotal = 0;
  let matchingTotal = 0;
  const falseAlarms: string[] = [];
  for (const day of EVALUATED_DAYS) {
    const { anomalies } = await anomaliesOf(day, SERVICES.join(','));
    const alarms = anomalies.filter((a) => a.score >= 1);
    const slack = 30 * 60_000; // one interval of a day's view
    const matches = (a: (typeof alarms)[number], inc: Incident) =>
      a.service === inc.service && inc.kinds.includes(a.kind) && Date.parse(a.start) < inc.end + slack && Date.parse(a.end) > inc.start - slack;
    const todays = incidents.filter((i) => i.day === day);
    const hit = todays.filter((inc) => alarms.some((a) => matches(a, inc)));
    const matching = alarms.filter((a) => todays.some((inc) => matches(a, inc)));
    found += hit.length;
    alarmsTotal += alarms.length;
    matchingTotal += matching.length;
    for (const a of alarms) if (!matching.includes(a)) falseAlarms.push(`day ${day}: ${a.kind} ${a.summary} (score ${a.score})`);
    console.log(
      `  ${String(day).padStart(3)}  ${`${hit.length}/${todays.length}`.padStart(15)}   ${String(alarms.length).padStart(6)}  ${String(matching.length).padStart(8)}  ${String(alarms.length - matching.length).padStart(12)}`,
    );
  }
  console.log(
    `\n  recall ${found}/${incidents.length} incidents; precision ${matchingTotal}/${alarmsTotal} alarms; ` +
      `false alarms ${(falseAlarms.length / EVALUATED_DAYS.length).toFixed(2)} per simulated day`,
  );
  for (const inc of incidents) console.log(`    incident: day ${inc.day}, ${inc.name}`);
  for (const h of harmless) console.log(`    harmless: ${h}`);
  for (const f of falseAlarms) console.log(`    false alarm: ${f}`);

  // BGL: where do the patterns of its labelled alert lines rank among the anomalies listed for it?
  const alertIds = new Set(all.flatMap((r, i) => (r.alert && r.at >= at(EVALUATED_DAYS[0]!, 0) ? [mined[i]!.patternId] : [])));
  const normalIds = new Set(all.flatMap((r, i) => (r.service === 'BGL' && !r.alert ? [mined[i]!.patternId] : [])));
  const ranked: { patternId: string | null; kind: string; score: number }[] = [];
  for (const day of EVALUATED_DAYS) ranked.push(...(await anomaliesOf(day, 'BGL')).anomalies);
  ranked.sort((a, b) => b.score - a.score);
  const listed = ranked.filter((a) => a.patternId !== null);
  const isAlert = (a: { patternId: string | null }) => a.patternId !== null && alertIds.has(a.patternId);
  const top = (k: number) => listed.slice(0, k).filter(isAlert).length;
  const alertLines = all.filter((r) => r.alert && r.at >= at(EVALUATED_DAYS[0]!, 0)).length;
  const covered = new Set(listed.filter(isAlert).map((a) => a.patternId));
  console.log(
    `\n  BGL (days ${EVALUATED_DAYS[0]}–${EVALUATED_DAYS.at(-1)}): ${alertLines} alert lines in ${alertIds.size} patterns (${[...alertIds].filter((id) => normalIds.has(id)).length} of them shared with normal lines); ` +
      `${listed.length} pattern anomalies listed; alert patterns among the first 5: ${top(5)}, first 10: ${top(10)}, first 20: ${top(20)}; ` +
      `alert patterns listed at all: ${covered.size}/${alertIds.size}`,
  );
  await ch.close();
} finally {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
