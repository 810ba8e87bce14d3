/**
 * The SDK's core in Node against a stand-in of the ingest
 * (test/support/ingest-stand-in.ts) that answers what each test scripts:
 * the records as the ingest reads them, batching, retries stored once,
 * Retry-After, pacing by the RateLimit headers, refusals reported with the
 * server's JSON, the bounded queue, flush/close, and never throwing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type DropEvent, type LoggerOptions } from '../../sdk/src/index.ts';
import { type IngestStandIn, startIngestStandIn } from '../support/ingest-stand-in.ts';
import type { LogRecord } from '../../sdk/src/record.ts';

let ingest: IngestStandIn;
const KEY = 'nlk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBCCCCCC';

beforeAll(async () => {
  ingest = await startIngestStandIn();
});
afterAll(async () => {
  await ingest.close();
});
afterEach(() => {
  ingest.requests.length = 0;
  ingest.stored.length = 0;
  ingest.script.length = 0;
  ingest.rateLimit = undefined;
});

const fast = { baseDelayMs: 20, maxDelayMs: 200 };

function logger(options: Partial<LoggerOptions> = {}, drops: DropEvent[] = []) {
  return createLogger({ endpoint: ingest.url, apiKey: KEY, service: 'checkout', retry: fast, onDrop: (e) => drops.push(e), ...options });
}

const messages = () => ingest.stored.map((r) => r.message);

describe('records', () => {
  it('sends the ingest’s native records: level, message, service, attributes (child loggers add theirs), gzip, the Bearer key', async () => {
    const log = logger({ attributes: { region: 'eu' }, resource: { 'service.version': '1.2.3' } });
    log.info('order placed', { order: { id: 'A-17', total: 12.5 }, paid: true });
    log.child({ request: 'r-1' }).warn('slow payment', { ms: 812 });
    log.child({ request: 'r-2' }, { service: 'payments' }).child({ step: 3 }).error('declined');
    expect(await log.flush()).toBe(true);

    expect(ingest.stored).toHaveLength(3);
    const [placed, slow, declined] = ingest.stored;
    expect(placed).toMatchObject({
      level: 'info',
      message: 'order placed',
      service: 'checkout',
      attributes: { region: 'eu', order: { id: 'A-17', total: 12.5 }, paid: true },
      resource: { 'service.version': '1.2.3' },
    });
    expect(Date.parse(placed!.timestamp as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(slow).toMatchObject({ level: 'warn', attributes: { region: 'eu', request: 'r-1', ms: 812 } });
    expect(declined).toMatchObject({ level: 'error', service: 'payments', attributes: { region: 'eu', request: 'r-2', step: 3 } });
    const [request] = ingest.requests;
    expect(request!.headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'content-encoding': 'gzip', 'content-type': 'application/x-ndjson' });
    expect(request!.headers['idempotency-key']).toMatch(/^nls-[0-9a-f]{32}$/);
    expect(request!.wireBytes).toBeLessThan(request!.bytes);
  });

  it('sends the levels at or above its own, by the platform’s names', async () => {
    const log = logger({ level: 'debug' });
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) log[level](`at ${level}`);
    expect(log.isLevelEnabled('trace')).toBe(false);
    expect(log.isLevelEnabled('fatal')).toBe(true);
    await log.flush();
    expect(ingest.stored.map((r) => r.level)).toEqual(['debug', 'info', 'warn', 'error', 'fatal']);
  });

  it('serialises errors with name, message, stack, own properties and cause — a long chain cut, a cycle marked', async () => {
    const log = logger();
    class PaymentError extends Error {
      override name = 'PaymentError';
      code = 'card_declined';
    }
    let deep: Error = new Error('root cause');
    for (let i = 1; i <= 9; i++) deep = new Error(`wrapper ${i}`, { cause: deep });
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    log.error(new PaymentError('card declined', { cause: new TypeError('socket hang up') }));
    log.error('charge failed', { err: deep });
    log.warn('loop', b);
    await log.flush();

    const [payment, chain, loop] = ingest.stored as { message: string; attributes: Record<string, any> }[];
    expect(payment!.message).toBe('card declined');
    expect(payment!.attributes.error).toMatchObject({
      name: 'PaymentError',
      message: 'card declined',
      code: 'card_declined',
      cause: { name: 'TypeError', message: 'socket hang up' },
    });
    expect(payment!.attributes.error.stack).toContain('card declined');
    let depth = 0;
    for (let e = chain!.attributes.err; typeof e === 'object'; e = e.cause) depth++;
    expect(depth).toBe(5); // MAX_CAUSE_DEPTH errors, then "[Truncated]"
    expect(loop!.attributes.error).toMatchObject({ message: 'b', cause: { message: 'a', cause: '[Circular]' } });
  });

  it('keeps hostile and awkward values as data: __proto__ keys, bigints, cycles, throwing getters, non-finite numbers', async () => {
    const log = logger();
    const cyclic: Record<string, unknown> = { name: 'self' };
    cyclic.self = cyclic;
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}');
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    log.info('awkward', { hostile, big: 2n ** 70n, cyclic, getter, nan: Number.NaN, when: new Date(0), fn: () => 1, list: new Set([1]) });
    await log.flush();
    const { attributes } = ingest.stored[0] as { attributes: Record<string, any> };
    expect(Object.hasOwn(attributes.hostile, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(attributes).toMatchObject({ big: '1180591620717411303424', cyclic: { name: 'self', self: '[Circular]' }, getter: { boom: '[Unreadable]' } });
    expect(attributes).toMatchObject({ nan: 'NaN', when: '1970-01-01T00:00:00.000Z', list: [1] });
    expect(attributes.fn).toBeUndefined();
  });
});

describe('batching', () => {
  it('cuts batches by count', async () => {
    const log = logger({ maxBatchRecords: 10 });
    for (let i = 0; i < 25; i++) log.info(`n${i}`);
    await log.flush();
    expect(ingest.requests.map((r) => r.records.length)).toEqual([10, 10, 5]);
    expect(messages()).toEqual(Array.from({ length: 25 }, (_, i) => `n${i}`));
  });

  it('cuts batches by bytes (uncompressed, as the ingest counts them)', async () => {
    const log = logger({ maxBatchBytes: 2_000 });
    for (let i = 0; i < 30; i++) log.info(`${i} ${'x'.repeat(200)}`);
    await log.flush();
    expect(ingest.requests.length).toBeGreaterThan(3);
    for (const r of ingest.requests) expect(r.bytes).toBeLessThanOrEqual(2_000);
    expect(ingest.stored).toHaveLength(30);
  });

  it('sends a batch that is not full when its oldest record is flushIntervalMs old, not before', async () => {
    const log = logger({ flushIntervalMs: 300 });
    const start = Date.now();
    log.info('lonely');
    await new Promise((r) => setTimeout(r, 150));
    expect(ingest.requests).toHaveLength(0);
    while (ingest.stored.length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(ingest.requests[0]!.at - start).toBeGreaterThanOrEqual(290);
  });
});

describe('failures', () => {
  it('retries 503, a dropped connection and 429 under the same Idempotency-Key: stored once, Retry-After honoured', async () => {
    ingest.script.push(
      { status: 503, headers: { 'retry-after': '0' }, body: { error: 'buffer_full' } },
      { drop: 'after-storing' }, // stored, answer lost
      { drop: 'before-storing' },
      { status: 429, headers: { 'retry-after': '1' }, body: { error: 'rate_limited' } },
    );
    const log = logger();
    for (let i = 0; i < 5; i++) log.info(`r${i}`);
    expect(await log.flush()).toBe(true);
    expect(ingest.requests.map((r) => r.answered)).toEqual([503, 'dropped', 'dropped', 429, 202]);
    expect(new Set(ingest.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(messages()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']); // once, though two attempts reached the store
    expect(ingest.requests[4]!.at - ingest.requests[3]!.at).toBeGreaterThanOrEqual(990);
    expect(log.stats()).toMatchObject({ logged: 5, acknowledged: 5, dropped: 0, retries: 4, rateLimited: 1, batches: 1 });
  });

  for (const [status, error] of [
    [400, { error: 'invalid_record', message: 'record 0: field "timestamp" is not a time', record: 0, field: 'timestamp', requestId: 'q1' }],
    [401, { error: 'invalid_credentials', message: 'the API key is not valid', requestId: 'q2' }],
    [403, { error: 'insufficient_scope', message: 'needs logs:write', required: 'logs:write', requestId: 'q3' }],
    [413, { error: 'request_too_large', message: 'too large', limit: 10, requestId: 'q4' }],
  ] as const) {
    it(`drops a batch answered ${status} (not retryable) and reports it with the server's error JSON`, async () => {
      ingest.script.push({ status, body: error });
      const drops: DropEvent[] = [];
      const log = logger({}, drops);
      log.info('one');
      log.info('two');
      expect(await log.flush()).toBe(true);
      expect(ingest.requests).toHaveLength(1);
      expect(drops).toEqual([{ reason: 'rejected', records: 2, status, error, message: expect.stringContaining(`HTTP ${status}`) }]);
      expect(log.stats()).toMatchObject({ dropped: 2, acknowledged: 0, droppedByReason: { rejected: 2 } });
      // The next batch is sent as usual.
      log.info('three');
      await log.flush();
      expect(messages()).toEqual(['three']);
    });
  }

  it('gives up after maxAttempts and reports it', async () => {
    for (let i = 0; i < 3; i++) ingest.script.push({ status: 503, body: { error: 'unavailable' } });
    const drops: DropEvent[] = [];
    const log = logger({ retry: { ...fast, maxAttempts: 3 } }, drops);
    log.info('doomed');
    expect(await log.flush()).toBe(true);
    expect(ingest.requests).toHaveLength(3);
    expect(drops).toMatchObject([{ reason: 'retries_exhausted', records: 1, status: 503, error: { error: 'unavailable' } }]);
  });

  it('holds a bounded queue: drop-oldest keeps the newest, drop-newest the oldest; both report and count', async () => {
    for (const [policy, kept] of [
      ['drop-oldest', ['m15', 'm16', 'm17', 'm18', 'm19']],
      ['drop-newest', ['m0', 'm1', 'm2', 'm3', 'm4']],
    ] as const) {
      ingest.stored.length = 0;
      const drops: DropEvent[] = [];
      const log = logger({ maxQueueRecords: 5, dropPolicy: policy }, drops);
      for (let i = 0; i < 20; i++) log.info(`m${i}`);
      expect(await log.flush()).toBe(true);
      expect(messages()).toEqual(kept);
      expect(drops).toEqual([{ reason: 'queue_full', records: 15, message: expect.stringContaining(policy) }]);
      expect(log.stats()).toMatchObject({ logged: 20, acknowledged: 5, dropped: 15, droppedByReason: { queue_full: 15 } });
    }
  });

  it('drops a record over maxRecordBytes alone', async () => {
    const drops: DropEvent[] = [];
    const log = logger({ maxRecordBytes: 1_000 }, drops);
    log.info('x'.repeat(2_000));
    log.info('fits');
    await log.flush();
    expect(messages()).toEqual(['fits']);
    expect(drops).toMatchObject([{ reason: 'record_too_large', records: 1 }]);
  });
});

describe('pacing by the RateLimit headers', () => {
  it('slows down before being refused: a burst 4× the bucket is sent with no 429 and nothing lost', async () => {
    ingest.rateLimit = { recordsPerSecond: 200, burst: 200 };
    const log = logger({ maxBatchRecords: 100 });
    const start = Date.now();
    for (let i = 0; i < 800; i++) log.info(`burst ${i}`);
    expect(await log.flush()).toBe(true);
    expect(ingest.stored).toHaveLength(800);
    expect(ingest.requests.filter((r) => r.answered === 429)).toEqual([]);
    expect(log.stats().pacedMs).toBeGreaterThan(0);
    // 600 records over the burst at 200/s: the rate was really the bound.
    expect(Date.now() - start).toBeGreaterThanOrEqual(2_900);
  });
});

describe('flush and close', () => {
  it('flush resolves only once the records are acknowledged', async () => {
    ingest.script.push({ status: 503, headers: { 'retry-after': '1' } });
    const log = logger();
    log.info('wait for me');
    const start = Date.now();
    expect(await log.flush()).toBe(true);
    expect(Date.now() - start).toBeGreaterThanOrEqual(990);
    expect(messages()).toEqual(['wait for me']);
  });

  it('close sends what is left, then drops (and reports) what is logged after it', async () => {
    const drops: DropEvent[] = [];
    const log = logger({}, drops);
    log.info('before');
    expect(await log.close()).toBe(true);
    expect(messages()).toEqual(['before']);
    log.info('after');
    expect(drops).toMatchObject([{ reason: 'closed', records: 1 }]);
    expect(await log.flush()).toBe(true);
  });

  it('close with a timeout gives up on a batch the ingest asks to wait past it: dropped at once and reported, not waited for', async () => {
    for (let i = 0; i < 20; i++) ingest.script.push({ status: 503, headers: { 'retry-after': '10' } });
    const drops: DropEvent[] = [];
    const log = logger({}, drops);
    log.info('never acknowledged');
    const start = Date.now();
    // Settled (dropped counts), long before the 10 s the ingest asked for.
    expect(await log.close({ timeoutMs: 500 })).toBe(true);
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(ingest.requests).toHaveLength(1);
    expect(drops).toMatchObject([{ reason: 'closed', records: 1 }]);
  });

  it('flush with a timeout resolves false while retries go on, and the records still arrive', async () => {
    ingest.script.push({ status: 503, headers: { 'retry-after': '1' } });
    const log = logger();
    log.info('late');
    expect(await log.flush({ timeoutMs: 200 })).toBe(false);
    expect(await log.flush()).toBe(true);
    expect(messages()).toEqual(['late']);
  });
});

describe('never throws into the application', () => {
  it('survives a fetch that throws synchronously, a throwing onDrop and a failing transform', async () => {
    const log = createLogger({
      endpoint: ingest.url,
      apiKey: KEY,
      retry: { ...fast, maxAttempts: 2 },
      fetch: () => {
        throw new TypeError('fetch exploded');
      },
      onDrop: () => {
        throw new Error('callback exploded');
      },
      transform: (r) => {
        if (r.message === 'bad') throw new Error('transform exploded');
        return r;
      },
    });
    expect(() => {
      log.info('bad');
      log.info('ok');
      log.error(undefined as unknown as string, 42 as unknown as Record<string, unknown>);
      log.log('nonsense' as 'info', 'x');
    }).not.toThrow();
    expect(await log.flush()).toBe(true);
    expect(log.stats().droppedByReason).toMatchObject({ transform_failed: 1, retries_exhausted: 2 });
  });
});

describe('the transform hook (the seam for client-side encryption)', () => {
  it('applies an async per-record transform in order, and discards records it returns null for', async () => {
    const log = logger({
      transform: async (record) => {
        await new Promise((r) => setTimeout(r, record.message === 'slow' ? 50 : 0));
        if (record.message === 'secret') return null;
        return { ...record, attributes: { ...record.attributes, sealed: true } };
      },
    });
    log.info('slow');
    log.info('secret');
    log.info('fast');
    expect(await log.flush()).toBe(true);
    expect(ingest.stored.map((r) => [r.message, (r.attributes as Record<string, unknown>).sealed])).toEqual([
      ['slow', true],
      ['fast', true],
    ]);
    expect(log.stats().dropped).toBe(0);
  });

  it('overlaps up to transformConcurrency calls, starting them in logging order, and queues records in logging order', async () => {
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const transform = async (record: LogRecord) => {
      started.push(record.message);
      most = Math.max(most, ++running);
      // Later records finish first: the order they are queued in must not follow.
      await new Promise((r) => setTimeout(r, 40 - Number(record.message.slice(1))));
      running--;
      return record;
    };
    const log = logger({ transform, transformConcurrency: 4 });
    for (let i = 0; i < 20; i++) log.info(`r${i}`);
    expect(await log.flush()).toBe(true);
    const order = Array.from({ length: 20 }, (_, i) => `r${i}`);
    expect(started).toEqual(order);
    expect(most).toBe(4);
    expect(messages()).toEqual(order);
  });

  it('awaits each call before the next with transformConcurrency: 1', async () => {
    let running = 0;
    let most = 0;
    const log = logger({
      transformConcurrency: 1,
      transform: async (record) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 1));
        running--;
        return record;
      },
    });
    for (let i = 0; i < 10; i++) log.info(`r${i}`);
    expect(await log.flush()).toBe(true);
    expect(most).toBe(1);
    expect(messages()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  });

  it('bounds the records waiting for a slow transform by maxQueueRecords, and reports the rest as queue_full at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const drops: DropEvent[] = [];
    const log = logger(
      {
        maxQueueRecords: 10,
        transform: async (record) => {
          await gate;
          return record;
        },
      },
      drops,
    );
    for (let i = 0; i < 100; i++) log.info(`r${i}`);
    await new Promise((r) => setTimeout(r, 0));
    // While the hook has not answered once: ten wait, ninety were refused (not held in memory).
    expect(log.stats()).toMatchObject({ logged: 100, queued: 10, dropped: 90 });
    expect(drops.reduce((n, d) => n + (d.reason === 'queue_full' ? d.records : 0), 0)).toBe(90);
    release();
    expect(await log.flush()).toBe(true);
    expect(messages()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  });
});
