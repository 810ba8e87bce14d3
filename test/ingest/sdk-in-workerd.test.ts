/**
 * The SDK's core, unchanged, inside workerd (the Workers runtime), sending
 * through the ingest worker itself (`fetch` option: the worker's own fetch, as
 * a service binding would be): CompressionStream, crypto and timers as
 * Workers have them, the real `POST /v1/logs` reading the gzip NDJSON, the
 * actor storing the batch; a retry of an answered batch is replayed, not stored twice.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../sdk/src/index.ts';
import { TEST_API_KEY } from '../support/constants.ts';
import { storedRowsOfBatch } from '../support/in-workerd.ts';

describe('the SDK in workerd', () => {
  it('ships gzip batches to the real ingest, which stores them; a lost answer’s retry is replayed under the same Idempotency-Key', async () => {
    const answers: { status: number; batchId: string; replayed: string | null; key: string | null; encoding: string | null }[] = [];
    let loseNext = true;
    const log = createLogger({
      endpoint: 'https://neurallog.test',
      apiKey: TEST_API_KEY,
      service: 'edge-worker',
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const res = await exports.default.fetch(request.clone());
        const body = await res.clone().json<{ batchId: string }>();
        answers.push({
          status: res.status,
          batchId: body.batchId,
          replayed: res.headers.get('idempotent-replayed'),
          key: request.headers.get('idempotency-key'),
          encoding: request.headers.get('content-encoding'),
        });
        if (loseNext) {
          loseNext = false;
          throw new TypeError('network connection lost'); // stored, but the answer never arrives
        }
        return res;
      },
    });
    const marker = `sdk-workerd-${crypto.randomUUID()}`;
    log.info(marker, { colo: 'test', attempt: 1 });
    log.child({ route: '/checkout' }).error(new Error('upstream timed out', { cause: new Error('ETIMEDOUT') }));
    expect(await log.flush()).toBe(true);
    expect(log.stats()).toMatchObject({ logged: 2, acknowledged: 2, dropped: 0, retries: 1 });

    expect(answers.map((a) => [a.status, a.replayed, a.encoding])).toEqual([
      [202, null, 'gzip'],
      [202, 'true', 'gzip'],
    ]);
    expect(answers[1]!.key).toBe(answers[0]!.key);
    // Stored once: under the first request's batch, nothing under the replay's.
    expect(await storedRowsOfBatch(answers[1]!.batchId)).toEqual([]);
    const rows = await storedRowsOfBatch(answers[0]!.batchId);
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => [r.Body, r.ServiceName, r.SeverityText])).toEqual([
      [marker, 'edge-worker', 'info'],
      ['upstream timed out', 'edge-worker', 'error'],
    ]);
  });
});
