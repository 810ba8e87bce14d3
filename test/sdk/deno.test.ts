/**
 * The SDK's core, unchanged, under Deno (the `deno` npm package's binary):
 * its CompressionStream, fetch and timers, a retry after a dropped connection,
 * against the ingest stand-in.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { type IngestStandIn, startIngestStandIn } from '../support/ingest-stand-in.ts';

const run = promisify(execFile);
const DENO = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno');
let ingest: IngestStandIn;

beforeAll(async () => {
  ingest = await startIngestStandIn();
});
afterAll(async () => {
  await ingest.close();
});

describe('the SDK under Deno', () => {
  it('ships gzip batches, retries a dropped connection under the same key, and stores once', async () => {
    ingest.script.push({ drop: 'after-storing' });
    const host = new URL(ingest.url).host;
    const { stdout } = await run(
      DENO,
      ['run', '--no-config', '--no-lock', '--no-prompt', `--allow-net=${host}`, join(PROJECT_ROOT, 'test', 'sdk', 'deno', 'ship.ts'), ingest.url, 'nlk_deno'],
      { cwd: PROJECT_ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ settled: true, stats: { logged: 2, acknowledged: 2, dropped: 0, retries: 1 } });
    expect(ingest.requests.map((r) => r.answered)).toEqual(['dropped', 202]);
    expect(ingest.requests[0]!.headers['idempotency-key']).toBe(ingest.requests[1]!.headers['idempotency-key']);
    expect(ingest.requests[1]!.headers['content-encoding']).toBe('gzip');
    expect(ingest.stored).toMatchObject([
      { level: 'info', message: 'hello from deno', service: 'deno-app', attributes: { n: 1, runtime: expect.stringMatching(/^deno 2\./) } },
      { level: 'error', message: 'deno error', attributes: { error: { name: 'Error', cause: { name: 'RangeError', message: 'inner' } } } },
    ]);
  });
});
