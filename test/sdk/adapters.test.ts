/**
 * The adapters with the libraries themselves, against the ingest stand-in:
 * pino's transport in pino's own worker thread (the built package, as
 * `pino.transport({ target })` loads it), a winston transport, and the
 * OpenTelemetry LogRecordExporter under the SDK's BatchLogRecordProcessor.
 */
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import { buildSdk } from '../../sdk/build.ts';
import { NeuralLogExporter } from '../../sdk/src/adapters/opentelemetry.ts';
import { NeuralLogTransport } from '../../sdk/src/adapters/winston.ts';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { type IngestStandIn, startIngestStandIn } from '../support/ingest-stand-in.ts';

const KEY = 'nlk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBCCCCCC';
const BUILT = join(PROJECT_ROOT, 'test-output', `sdk-build-${process.pid}`);
let ingest: IngestStandIn;

beforeAll(async () => {
  ingest = await startIngestStandIn();
  await buildSdk({ outdir: BUILT, types: false });
});
afterAll(async () => {
  await ingest.close();
});
afterEach(() => {
  ingest.requests.length = 0;
  ingest.stored.length = 0;
});

type Stored = {
  level: string;
  message: string;
  service?: string;
  timestamp: string;
  trace_id?: string;
  span_id?: string;
  attributes: Record<string, any>;
  resource?: Record<string, any>;
};
const stored = () => ingest.stored as Stored[];

describe('adapters, with their libraries', () => {
  it('pino: a transport pino runs in its worker thread (the built @neurallog/sdk/pino); levels, msg, time, err, bindings', async () => {
    const transport = pino.transport({
      target: join(BUILT, 'pino.js'),
      options: { endpoint: ingest.url, apiKey: KEY, service: 'api', flushIntervalMs: 50 },
    });
    const logger = pino({ level: 'trace' }, transport);
    const child = logger.child({ requestId: 'r-9' });
    child.trace('tracing');
    child.info({ userId: 7 }, 'user signed in');
    child.error(new Error('db down', { cause: new Error('ECONNREFUSED') }), 'query failed');
    logger.fatal('bye');
    // The worker sends them after flushIntervalMs. (Ending the transport now would block this thread —
    // thread-stream waits for the worker synchronously — and with it the stand-in the worker is sending to.)
    for (const deadline = Date.now() + 20_000; stored().length < 4 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 25));
    await new Promise<void>((resolve) => {
      transport.on('close', () => resolve());
      transport.end();
    });

    expect(stored().map((r) => [r.level, r.message])).toEqual([
      ['trace', 'tracing'],
      ['info', 'user signed in'],
      ['error', 'query failed'],
      ['fatal', 'bye'],
    ]);
    const [, signedIn, failed] = stored();
    expect(signedIn).toMatchObject({
      service: 'api',
      attributes: { requestId: 'r-9', userId: 7 },
      resource: { 'process.pid': expect.any(Number), 'host.name': expect.any(String) },
    });
    expect(Math.abs(Date.parse(signedIn!.timestamp) - Date.now())).toBeLessThan(60_000);
    // pino's own err serializer: the cause's message joined to the error's.
    expect(failed!.attributes.err).toMatchObject({ type: 'Error', message: 'db down: ECONNREFUSED', stack: expect.stringContaining('db down') });
    expect(JSON.stringify(failed!.attributes.err)).toContain('ECONNREFUSED');
  });

  it('winston: a transport among the logger’s; npm levels mapped, meta as attributes, errors serialised, flush()', async () => {
    const transport = new NeuralLogTransport({ endpoint: ingest.url, apiKey: KEY, service: 'billing' });
    const logger = winston.createLogger({
      level: 'silly',
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      transports: [transport],
    });
    logger.silly('very chatty');
    logger.verbose('chatty');
    logger.http('GET /invoices 200', { ms: 12 });
    logger.warn('slow invoice', { invoice: 'I-1' });
    logger.error('charge failed', { err: new TypeError('card expired') });
    logger.child({ tenant: 'acme' }).info('child logger');
    expect(await transport.flush()).toBe(true);

    expect(stored().map((r) => [r.level, r.message])).toEqual([
      ['trace', 'very chatty'],
      ['debug', 'chatty'],
      ['info', 'GET /invoices 200'],
      ['warn', 'slow invoice'],
      ['error', 'charge failed'],
      ['info', 'child logger'],
    ]);
    expect(stored()[2]).toMatchObject({ service: 'billing', attributes: { ms: 12 } });
    expect(stored()[4]!.attributes.err).toMatchObject({ name: 'TypeError', message: 'card expired' });
    expect(stored()[5]!.attributes).toEqual({ tenant: 'acme' });
    // winston's timestamp() format is the record's time.
    expect(Math.abs(Date.parse(stored()[0]!.timestamp) - Date.now())).toBeLessThan(60_000);
    logger.close();
  });

  it('OpenTelemetry: a LogRecordExporter under BatchLogRecordProcessor; severity, body, trace context, resource, scope; export succeeds when acknowledged', async () => {
    const exporter = new NeuralLogExporter({ endpoint: ingest.url, apiKey: KEY });
    const results: number[] = [];
    const inner = exporter.export.bind(exporter);
    exporter.export = (logs, done) =>
      inner(logs, (result) => {
        results.push(result.code);
        done(result);
      });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment': 'test' }),
      processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 50 })],
    });
    const otel = provider.getLogger('com.acme.cart', '2.0.0');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const inSpan = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    otel.emit({ severityNumber: SeverityNumber.WARN2, severityText: 'WARNING', body: 'cart abandoned', attributes: { items: 3 }, context: inSpan });
    otel.emit({ severityNumber: SeverityNumber.ERROR, body: { structured: true }, timestamp: new Date('2026-01-02T03:04:05.678Z') });
    await provider.forceFlush();
    await provider.shutdown();

    expect(stored()).toHaveLength(2);
    expect(stored()[0]).toMatchObject({
      level: 'warn',
      message: 'cart abandoned',
      service: 'checkout',
      trace_id: traceId,
      span_id: spanId,
      attributes: { items: 3, 'otel.scope.name': 'com.acme.cart', 'otel.scope.version': '2.0.0' },
      resource: { 'service.name': 'checkout', 'deployment.environment': 'test' },
    });
    expect(stored()[1]).toMatchObject({ level: 'error', message: '{"structured":true}', timestamp: '1767323045678000000' });
    expect(results).toEqual([0]); // ExportResultCode.SUCCESS
  });

  it('OpenTelemetry: an export fails when the ingest refuses its records', async () => {
    ingest.script.push({ status: 401, body: { error: 'invalid_credentials' } });
    const exporter = new NeuralLogExporter({ endpoint: ingest.url, apiKey: KEY });
    const result = await new Promise<number>((resolve) =>
      exporter.export([{ hrTime: [1, 0], attributes: {}, resource: { attributes: {} }, body: 'x' } as never], (r) => resolve(r.code)),
    );
    expect(result).toBe(1); // ExportResultCode.FAILED
  });
});
