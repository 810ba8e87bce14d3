/**
 * The SDK encryption cases `npm run bench:encryption` runs in every runtime
 * (Node, Deno, Chromium, workerd): the same records, the same code path —
 * `createEncryption(…)` and its transform, one record at a time, awaited, as
 * the shipper calls it — so the runtimes' figures compare. Web-standard code
 * only, and the SDK comes in as a parameter: in Chromium it is the SDK's browser
 * bundle of `@neurallog/sdk/encryption` (sdk/build.ts), elsewhere its source.
 */
import type { BlindTokenizer, createEncryption, Encryption, attributeTerm, wordsOf } from '../../sdk/src/encryption/index.ts';
import type { LogRecord } from '../../sdk/src/record.ts';
import { PRFS } from './prfs.ts';

const TEMPLATES = [
  (i: number) => `user u${i % 5000} logged in from 10.0.${i % 256}.${(i * 7) % 256} after ${i % 4} attempts`,
  (i: number) => `payment ${i} declined by issuer: insufficient funds (card ending ${1000 + (i % 9000)})`,
  (i: number) => `GET /api/orders/${i} 200 ${i % 900} ms`,
  (i: number) => `connection reset by peer while reading response from upstream 10.1.${i % 256}.3:8080`,
];

/** Records that look like application logs: 8–14 words with ids and numbers that change, three attributes of which two are encrypted. */
export function benchRecords(n: number): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: new Date(1_780_000_000_000 + i).toISOString(),
    level: 'info',
    message: TEMPLATES[i % TEMPLATES.length]!(i),
    service: 'checkout',
    attributes: { user: `u${i % 5000}`, order: `A-${i}`, region: i % 2 ? 'eu' : 'us' },
  }));
}

export interface SealCase {
  kind: 'seal';
  name: string;
  contentKeyPerRecord: boolean;
  tokens: boolean;
  /** Records whose transforms run at once (1: awaited one after the other, as the shipper did before it overlapped them). */
  inFlight: number;
}

/**
 * A record's blind tokens alone (what the transform computes for the body's words and the two encrypted
 * attributes): with a PRF (cached or not), or only split and normalised (`prf` null) — the tokenizer's share.
 */
export interface TokenCase {
  kind: 'tokens';
  name: string;
  prf: string | null;
  cache: boolean;
}

export type CaseSpec = SealCase | TokenCase;

export const IN_FLIGHT = 16;
/** The attributes the cases encrypt (the third, region, stays clear). */
const ENCRYPTED = ['user', 'order'];

export const CASES: readonly CaseSpec[] = [
  { kind: 'seal', name: 'content key per batch, without blind tokens', contentKeyPerRecord: false, tokens: false, inFlight: 1 },
  { kind: 'seal', name: 'content key per batch, with blind tokens', contentKeyPerRecord: false, tokens: true, inFlight: 1 },
  { kind: 'seal', name: 'content key per record, without blind tokens', contentKeyPerRecord: true, tokens: false, inFlight: 1 },
  { kind: 'seal', name: 'content key per record, with blind tokens', contentKeyPerRecord: true, tokens: true, inFlight: 1 },
  { kind: 'seal', name: `content key per batch, without blind tokens, ${IN_FLIGHT} in flight`, contentKeyPerRecord: false, tokens: false, inFlight: IN_FLIGHT },
  { kind: 'seal', name: `content key per batch, with blind tokens, ${IN_FLIGHT} in flight`, contentKeyPerRecord: false, tokens: true, inFlight: IN_FLIGHT },
  { kind: 'tokens', name: 'tokens only: words split and normalised, no PRF', prf: null, cache: false },
  ...PRFS.flatMap(({ name }): TokenCase[] => [
    { kind: 'tokens', name: `tokens only: ${name}, no cache`, prf: name, cache: false },
    { kind: 'tokens', name: `tokens only: ${name}, cached`, prf: name, cache: true },
  ]),
];

/** The cases whose names contain one of the comma-separated parts of `filter` (BENCH_CASES), or all. */
export function selectCases(filter: string | undefined): readonly CaseSpec[] {
  if (!filter) return CASES;
  const parts = filter.split(',').map((p) => p.trim().toLowerCase());
  const chosen = CASES.filter((c) => parts.some((p) => c.name.toLowerCase().includes(p)));
  if (chosen.length === 0) throw new Error(`BENCH_CASES: no case matches ${filter}`);
  return chosen;
}

/** What the cases need of the SDK (its source, or in Chromium its browser bundle). */
export interface BenchSdk {
  createEncryption: typeof createEncryption;
  BlindTokenizer: typeof BlindTokenizer;
  wordsOf: typeof wordsOf;
  attributeTerm: typeof attributeTerm;
}

/** The key the cases seal for (made by generateEncryptionKey where the harness runs). */
export interface BenchKey {
  publicKey: JsonWebKey;
  searchSecret: string;
}

/** Each case's Encryption, made once; `run` seals records with it. */
export class EncryptionCases {
  private constructor(
    private readonly encryptions: ReadonlyMap<string, { spec: SealCase; encryption: Encryption }>,
    /** Token case → a record's tokens; a new tokenizer (an empty cache) each round. */
    private readonly tokenRuns: ReadonlyMap<string, () => Promise<(record: LogRecord) => unknown>>,
    private readonly sample: LogRecord[],
  ) {}

  static async create(sdk: BenchSdk, key: BenchKey, sampleSize = 20_000): Promise<EncryptionCases> {
    const encryptions = new Map<string, { spec: SealCase; encryption: Encryption }>();
    const tokenRuns = new Map<string, () => Promise<(record: LogRecord) => unknown>>();
    for (const spec of CASES) {
      if (spec.kind === 'tokens') {
        const { prf, cache } = spec;
        if (prf === null) {
          tokenRuns.set(spec.name, async () => (record) => {
            const terms = sdk.wordsOf(record.message);
            for (const name of ENCRYPTED) terms.push(sdk.attributeTerm(name, record.attributes![name]));
            return terms;
          });
          continue;
        }
        const factory = PRFS.find((p) => p.name === prf)!.factory;
        tokenRuns.set(spec.name, async () => {
          const tokenizer = await sdk.BlindTokenizer.fromSecret(key.searchSecret, { prf: factory, ...(!cache && { cacheEntries: 0 }) });
          return (record) => tokenizer.recordTokens(record.message, { user: record.attributes!.user, order: record.attributes!.order }, 64);
        });
        continue;
      }
      const encryption = await sdk.createEncryption({
        publicKey: key.publicKey,
        encryptAttributes: ENCRYPTED,
        contentKeyPerRecord: spec.contentKeyPerRecord,
        ...(spec.tokens && { searchSecret: key.searchSecret }),
      });
      encryptions.set(spec.name, { spec, encryption });
    }
    return new EncryptionCases(encryptions, tokenRuns, benchRecords(sampleSize));
  }

  /** Seals `n` records of one case through the transform; the wall time in ms (performance.now: it does not move inside workerd). */
  async run(name: string, n: number): Promise<number> {
    const tokens = this.tokenRuns.get(name);
    if (tokens) {
      const sample = this.sample;
      const tokensOf = await tokens();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) tokensOf(sample[i % sample.length]!);
      return performance.now() - t0;
    }
    const entry = this.encryptions.get(name);
    if (!entry) throw new Error(`no case ${name}`);
    const { spec, encryption } = entry;
    const transform = encryption.transform;
    const sample = this.sample;
    const t0 = performance.now();
    if (spec.inFlight === 1) {
      for (let i = 0; i < n; i++) await transform(sample[i % sample.length]!);
    } else {
      for (let i = 0; i < n; i += spec.inFlight) {
        const group: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(n, i + spec.inFlight); j++) group.push(Promise.resolve(transform(sample[j % sample.length]!)));
        await Promise.all(group);
      }
    }
    return performance.now() - t0;
  }
}

/** One measurement of a case: records sealed, wall ms, CPU ms (of the whole process, every thread, when the runtime can tell). */
export interface Sample {
  name: string;
  records: number;
  wallMs: number;
  cpuMs: number | null;
}

export interface Figure {
  name: string;
  /** µs of CPU per record (the process's, every thread), or of wall time where no CPU clock is available. */
  cpuUsPerRecord: number | null;
  wallUsPerRecord: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Runs every case `rounds` times, interleaved (a change of the machine's load falls on all cases alike), after
 * one warm-up round; each figure is the median of the rounds.
 */
export async function drive(
  measure: (name: string, n: number) => Promise<Sample>,
  records: number,
  rounds: number,
  cases: readonly CaseSpec[] = CASES,
): Promise<Figure[]> {
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]));
  for (const c of cases) await measure(c.name, Math.min(2000, records));
  for (let r = 0; r < rounds; r++) for (const c of cases) samples.get(c.name)!.push(await measure(c.name, records));
  return cases.map((c) => {
    const s = samples.get(c.name)!;
    const cpu = s.every((x) => x.cpuMs !== null) ? median(s.map((x) => (x.cpuMs! * 1000) / x.records)) : null;
    return { name: c.name, cpuUsPerRecord: cpu, wallUsPerRecord: median(s.map((x) => (x.wallMs * 1000) / x.records)) };
  });
}
