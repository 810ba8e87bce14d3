import { describe, expect, it } from 'vitest';
import { EventuallyTimeoutError, eventually } from '../support/eventually.ts';

/** A probe that answers `values` in turn (the last one from then on), counting its calls. */
function answers<T>(...values: T[]): { probe: () => T; calls: () => number } {
  let calls = 0;
  return { probe: () => values[Math.min(calls++, values.length - 1)]!, calls: () => calls };
}

describe('eventually', () => {
  it('returns the first value that meets the condition, calling no more', async () => {
    const { probe, calls } = answers(1, 2, 3, 4);
    expect(await eventually('three', probe, { until: (n) => n >= 3, timeoutMs: 5_000, intervalMs: 1 })).toBe(3);
    expect(calls()).toBe(3);
  });

  it('without a condition, waits for a truthy value and returns it', async () => {
    const { probe } = answers<{ id: string } | undefined>(undefined, undefined, { id: 'a' });
    const found: { id: string } = await eventually('the record', probe, { timeoutMs: 5_000, intervalMs: 1 });
    expect(found).toEqual({ id: 'a' });
  });

  it('on timeout, says what it waited for, how long, and the last value seen', async () => {
    const { probe } = answers({ logs: [] as string[] }, { logs: ['one'] });
    const waiting = eventually('2 records', probe, { until: (f) => f.logs.length === 2, timeoutMs: 60, intervalMs: 10 });
    const error = await waiting.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EventuallyTimeoutError);
    // The last value is the second answer: it kept trying (how often depends on the machine's load).
    expect((error as Error).message).toMatch(/^timed out after 60 ms \(\d+ tries, every 10 ms\) waiting for 2 records\nlast value: \{"logs":\["one"\]\}$/);
  });

  it('adds the context to the timeout, and describes the last value as told', async () => {
    const waiting = eventually('a flush', () => ({ buffered: 3 }), {
      until: (m) => m.buffered === 0,
      timeoutMs: 0,
      intervalMs: 1,
      describe: (m) => `${m.buffered} rows buffered`,
      context: () => 'receiver got nothing',
    });
    await expect(waiting).rejects.toThrow(/waiting for a flush\nlast value: 3 rows buffered\nreceiver got nothing$/);
  });

  it('fails at once when the probe throws, unless errors are retried', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      throw new Error('500 from the stack');
    };
    await expect(eventually('records', failing, { timeoutMs: 5_000, intervalMs: 1 })).rejects.toThrow('500 from the stack');
    expect(calls).toBe(1);
  });

  it('with retryErrors, a throwing probe means not yet: the value once it stops throwing, else the last error', async () => {
    let calls = 0;
    const listening = () => {
      if (++calls < 3) throw new Error('ECONNREFUSED');
      return 'connected';
    };
    expect(await eventually('a listener', listening, { retryErrors: true, timeoutMs: 5_000, intervalMs: 1 })).toBe('connected');
    expect(calls).toBe(3);

    const never = eventually(
      'a listener',
      () => {
        throw new Error('ECONNREFUSED');
      },
      { retryErrors: true, timeoutMs: 30, intervalMs: 5 },
    );
    const error = await never.then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/waiting for a listener\nlast error: ECONNREFUSED$/);
    expect(error?.cause).toMatchObject({ message: 'ECONNREFUSED' });
  });

  it('keeps calling until the deadline, then once more', async () => {
    const started = Date.now();
    const { probe, calls } = answers(false);
    await expect(eventually('never', probe, { timeoutMs: 100, intervalMs: 20 })).rejects.toThrow(EventuallyTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    // Every 20 ms over 100 ms, and the call after the deadline: about 6 (fewer when the machine is slow).
    expect(calls()).toBeGreaterThanOrEqual(2);
    expect(calls()).toBeLessThanOrEqual(7);
  });

  it('describes a value JSON cannot hold, and cuts a long one', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(eventually('x', () => circular, { until: () => false, timeoutMs: 0, intervalMs: 1 })).rejects.toThrow('last value: [object Object]');
    await expect(eventually('x', () => 'a'.repeat(5_000), { until: () => false, timeoutMs: 0, intervalMs: 1 })).rejects.toThrow(
      /last value: "a{1999}… \(5002 characters\)$/,
    );
  });
});
