import { describe, expect, it } from 'vitest';
import { normalizeRecord, RecordError } from '../../shared/normalize.ts';

const ctx = { tenantId: 'acme', retentionDays: 7, receivedAt: '2026-11-26 06:00:00.000000000', batchId: 'B' };

describe('normalizeRecord', () => {
  it('maps the common aliases and keeps everything else as attributes', () => {
    const row = normalizeRecord(
      {
        time: 1764136800000,
        msg: 'hello',
        level: 50,
        service: 'api',
        traceId: '4BF92F3577B34DA6A3CE929D0E0E4736',
        span_id: '00f067aa0ba902b7',
        http: { status: 500, path: '/x' },
        tags: ['a', 'b'],
        user: null,
      },
      3,
      ctx,
    );
    expect(row).toMatchObject({
      TenantId: 'acme',
      LogId: 'B-3',
      Timestamp: '2025-11-26 06:00:00.000000000',
      ObservedTimestamp: ctx.receivedAt,
      Body: 'hello',
      SeverityNumber: 17,
      SeverityText: 'ERROR',
      ServiceName: 'api',
      TraceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      SpanId: '00f067aa0ba902b7',
      RetentionDays: 7,
      LogAttributes: { 'http.status': '500', 'http.path': '/x', tags: '["a","b"]', user: '' },
    });
  });

  it('takes the first alias by priority and keeps the others as attributes', () => {
    const row = normalizeRecord({ msg: 'second', message: 'first', severity: 'warning' }, 0, ctx);
    expect(row.Body).toBe('first');
    expect(row.LogAttributes).toEqual({ msg: 'second' });
    expect(row).toMatchObject({ SeverityText: 'warning', SeverityNumber: 13 });
  });

  it('uses the receive time when there is no timestamp, and resource service.name when there is no service', () => {
    const row = normalizeRecord({ body: { structured: true }, resource: { service: { name: 'billing' } } }, 0, ctx);
    expect(row.Timestamp).toBe(ctx.receivedAt);
    expect(row.Body).toBe('{"structured":true}');
    expect(row.ServiceName).toBe('billing');
    expect(row.ResourceAttributes).toEqual({ 'service.name': 'billing' });
  });

  it('names the record and the field at fault', () => {
    const cases: [unknown, string | null][] = [
      ['just a string', null],
      [{ timestamp: 'soon' }, 'timestamp'],
      [{ trace_id: 'abc' }, 'trace_id'],
      [{ spanId: 12 }, 'spanId'],
      [{ severity_number: 99 }, 'severity_number'],
      [{ level: { nested: true } }, 'level'],
      [{ service: 42 }, 'service'],
      [{ attributes: [1, 2] }, 'attributes'],
    ];
    for (const [record, field] of cases) {
      try {
        normalizeRecord(record, 5, ctx);
        expect.unreachable(JSON.stringify(record));
      } catch (err) {
        expect(err).toBeInstanceOf(RecordError);
        expect((err as RecordError).record).toBe(5);
        expect((err as RecordError).field).toBe(field);
      }
    }
  });
});
