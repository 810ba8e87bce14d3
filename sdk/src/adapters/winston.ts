/**
 * A winston transport: `new NeuralLogTransport({ endpoint, apiKey, service })`
 * among a logger's transports. winston's npm and syslog levels map to the
 * platform's names; `message` is the message, a `timestamp` (the timestamp
 * format) the time, every other property an attribute (errors with their
 * cause chain).
 */
import TransportStream from 'winston-transport';
import type { Level } from '../levels.ts';
import { createLogger, type LogInput, type Logger } from '../logger.ts';
import type { LoggerOptions } from '../options.ts';

// biome-ignore format: one row per winston level
const LEVELS_OF_WINSTON: ReadonlyMap<string, Level> = new Map([
  ['silly', 'trace'], ['debug', 'debug'], ['verbose', 'debug'], ['http', 'info'], ['info', 'info'], ['notice', 'info'],
  ['warn', 'warn'], ['warning', 'warn'], ['error', 'error'], ['crit', 'fatal'], ['alert', 'fatal'], ['emerg', 'fatal'],
]);

export type NeuralLogTransportOptions = LoggerOptions & TransportStream.TransportStreamOptions;

export class NeuralLogTransport extends TransportStream {
  readonly logger: Logger;

  constructor(options: NeuralLogTransportOptions) {
    super(options);
    // Level `trace` here: winston filters by the transport's own `level` option.
    const { level: _winstonLevel, format: _format, silent: _silent, handleExceptions: _e, handleRejections: _r, ...sdk } = options;
    this.logger = createLogger({ ...sdk, level: 'trace' });
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    this.logger.write(fromWinston(info));
    this.emit('logged', info);
    callback();
  }

  /** Resolves once every record so far was acknowledged or dropped. */
  flush(): Promise<boolean> {
    return this.logger.flush();
  }

  override close(): void {
    void this.logger.close();
  }
}

export function fromWinston(info: Record<string | symbol, unknown>): LogInput {
  // The level before any colorize format: winston keeps it under Symbol.for('level').
  const raw = info[Symbol.for('level')] ?? info.level;
  const { level: _level, message, timestamp, trace_id, span_id, ...attributes } = info as Record<string, unknown>;
  return {
    level: (typeof raw === 'string' && LEVELS_OF_WINSTON.get(raw)) || 'info',
    message: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
    ...((typeof timestamp === 'string' || typeof timestamp === 'number') && { timestamp }),
    attributes,
    ...(typeof trace_id === 'string' && { trace_id }),
    ...(typeof span_id === 'string' && { span_id }),
  };
}
