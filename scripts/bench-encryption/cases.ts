/**
 * The SDK encryption cases `npm run bench:encryption` runs in every runtime
 * (Node, Deno, Chromium, workerd): the same records, the same code path —
 * `createEncryption(…)` and its transform, one record at a time, awaited, as
 * the shipper calls it — so the runtimes' figures compare. Web-standard code
 * only, and the SDK comes in as a parameter: in Chromium it is the SDK's browser
 * bundle of `@neurallog/sdk/encryption` (sdk/build.ts), elsewhere its source.
 */
import type { createEncryption, Encryption } from '../../sdk/src/encryption/index.ts';
import type { LogRecord } from '../../sdk/src/record.ts';

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

export interface CaseSpec {
  name: string;
  contentKeyPerRecord: boolean;
  tokens: boolean;
  /** Records whose transforms run at once (1: awaited one after the other, as the shipper did before it overlapped them). */
  inFlight: number;
}

export const IN_FLIGHT = 16;

export const CASES: readonly CaseSpec[] = [
  { name: 'content key per batch, without blind tokens', contentKeyPerRecord: false, tokens: false, inFlight: 1 },
  { name: 'content key per batch, with blind tokens', contentKeyPerRecord: false, tokens: true, inFlight: 1 },
  { name: 'content key per record, without blind tokens', contentKeyPerRecord: true, tokens: false, inFlight: 1 },
  { name: 'content key per record, with blind tokens', contentKeyPerRecord: true, tokens: true, inFlight: 1 },
  { name: `content key per batch, without blind tokens, ${IN_FLIGHT} in flight`, contentKeyPerRecord: false, tokens: false, inFlight: IN_FLIGHT },
  { name: `content key per batch, with blind tokens, ${IN_FLIGHT} in flight`, contentKeyPerRecord: false, tokens: true, inFlight: IN_FLIGHT },
];

/** The key the cases seal for (made by generateEncryptionKey where the harness runs). */
export interface BenchKey {
  publicKey: JsonWebKey;
  searchSecret: string;
}

/** Each case's Encryption, made once; `run` seals records with it. */
export class EncryptionCases {
  private constructor(
    private readonly encryptions: ReadonlyMap<string, { spec: CaseSpec; encryption: Encryption }>,
    private readonly sample: LogRecord[],
  ) {}

  static async create(sdk: { createEncryption: typeof createEncryption }, key: BenchKey, sampleSize = 20_000): Promise<EncryptionCases> {
    const encryptions = new Map<string, { spec: CaseSpec; encryption: Encryption }>();
    for (const spec of CASES) {
      const encryption = await sdk.createEncryption({
        publicKey: key.publicKey,
        encryptAttributes: ['user', 'order'],
        contentKeyPerRecord: spec.contentKeyPerRecord,
        ...(spec.tokens && { searchSecret: key.searchSecret }),
      });
      encryptions.set(spec.name, { spec, encryption });
    }
    return new EncryptionCases(encryptions, benchRecords(sampleSize));
  }

  /** Seals `n` records of one case through the transform; the wall time in ms (performance.now: it does not move inside workerd). */
  async run(name: string, n: number): Promise<number> {
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
export async function drive(measure: (name: string, n: number) => Promise<Sample>, records: number, rounds: number): Promise<Figure[]> {
  const samples = new Map<string, Sample[]>(CASES.map((c) => [c.name, []]));
  for (const c of CASES) await measure(c.name, Math.min(2000, records));
  for (let r = 0; r < rounds; r++) for (const c of CASES) samples.get(c.name)!.push(await measure(c.name, records));
  return CASES.map((c) => {
    const s = samples.get(c.name)!;
    const cpu = s.every((x) => x.cpuMs !== null) ? median(s.map((x) => (x.cpuMs! * 1000) / x.records)) : null;
    return { name: c.name, cpuUsPerRecord: cpu, wallUsPerRecord: median(s.map((x) => (x.wallMs * 1000) / x.records)) };
  });
}
