/**
 * An OpenTelemetry `LogRecordExporter` (@opentelemetry/sdk-logs) that sends
 * through the SDK: put it under a BatchLogRecordProcessor and the OTel logs
 * API (and every instrumentation that emits through it) reaches NeuralLog with
 * the SDK's batching, retries and pacing. An export succeeds when its records
 * were acknowledged; it fails when any was dropped.
 */
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { type Level, LEVELS, levelOfSeverityNumber } from '../levels.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { LoggerOptions } from '../options.ts';
import { toJsonSafe } from '../record.ts';

// Type-only imports keep @opentelemetry/core out of the bundle; its enum's values are stable (SUCCESS 0, FAILED 1).
const SUCCESS = 0 as ExportResultCode;
const FAILED = 1 as ExportResultCode;

export class NeuralLogExporter implements LogRecordExporter {
  readonly logger: Logger;

  /** The SDK's options (level defaults to `trace`: OpenTelemetry filters before exporting), or a logger to share. */
  constructor(options: LoggerOptions | { logger: Logger }) {
    this.logger = 'logger' in options ? options.logger : createLogger({ level: 'trace', ...options });
  }

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    const before = this.logger.stats().dropped;
    for (const record of logs) {
      try {
        this.logger.write(fromOtel(record));
      } catch {
        // never into the processor
      }
    }
    this.logger.flush().then(
      (settled) => resultCallback({ code: settled && this.logger.stats().dropped === before ? SUCCESS : FAILED }),
      () => resultCallback({ code: FAILED }),
    );
  }

  async forceFlush(): Promise<void> {
    await this.logger.flush();
  }

  async shutdown(): Promise<void> {
    await this.logger.close();
  }
}

/** An OpenTelemetry log record in the SDK's terms: time in nanoseconds (digit string), level from the SeverityNumber, scope and event name as attributes. */
export function fromOtel(record: ReadableLogRecord) {
  const [seconds, nanos] = record.hrTime;
  const resource = record.resource?.attributes ?? {};
  const service = resource['service.name'];
  const attributes: Record<string, unknown> = { ...record.attributes };
  if (record.instrumentationScope?.name) attributes['otel.scope.name'] = record.instrumentationScope.name;
  if (record.instrumentationScope?.version) attributes['otel.scope.version'] = record.instrumentationScope.version;
  if (record.eventName) attributes['event.name'] = record.eventName;
  const body = record.body;
  return {
    level: levelOf(record.severityNumber, record.severityText),
    message: typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(toJsonSafe(body)),
    timestamp: (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString(),
    attributes,
    resource: { ...resource },
    ...(typeof service === 'string' && { service }),
    ...(record.spanContext?.traceId && { trace_id: record.spanContext.traceId, span_id: record.spanContext.spanId }),
  };
}

function levelOf(severityNumber: number | undefined, severityText: string | undefined): Level {
  const byNumber = severityNumber === undefined ? undefined : levelOfSeverityNumber(severityNumber);
  if (byNumber) return byNumber;
  const text = severityText?.toLowerCase();
  return LEVELS.find((level) => level === text) ?? 'info';
}
