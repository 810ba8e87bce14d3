/**
 * Run by Deno for `npm run bench:encryption` (scripts/bench-encryption/runtimes.ts): the cases of cases.ts in
 * this Deno process. Arguments: the key as JSON, records per round, rounds, the cases (BENCH_CASES, may be empty). Prints the figures as one JSON line.
 * CPU is the process's (node:process's cpuUsage in Deno: every thread, WebCrypto's work included).
 */
import process from 'node:process';
import * as sdk from '../../sdk/src/encryption/index.ts';
import { type BenchKey, drive, EncryptionCases, selectCases } from './cases.ts';

const [keyJson, records, rounds, filter] = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args;
const key = JSON.parse(keyJson!) as BenchKey;
const cases = await EncryptionCases.create(sdk, key);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const figures = await drive(
  async (name, n) => {
    const cpu0 = cpuMs();
    const wallMs = await cases.run(name, n);
    return { name, records: n, wallMs, cpuMs: cpuMs() - cpu0 };
  },
  Number(records),
  Number(rounds),
  selectCases(filter),
);
console.log(JSON.stringify(figures));
