/**
 * Run by Deno (test/sdk/deno.test.ts): the SDK's sources, unchanged, logging to
 * the URL given; prints the logger's stats as JSON when everything was acknowledged.
 */
import { createLogger } from '../../../sdk/src/index.ts';

const [endpoint, apiKey] = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args;
const log = createLogger({ endpoint: endpoint!, apiKey: apiKey!, service: 'deno-app', retry: { baseDelayMs: 20, maxDelayMs: 100 } });
const runtime = `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`;
log.child({ runtime }).info('hello from deno', { n: 1 });
log.error(new Error('deno error', { cause: new RangeError('inner') }));
const settled = await log.close();
console.log(JSON.stringify({ settled, stats: log.stats() }));
