/**
 * A pino transport: `pino.transport({ target: '@neurallog/sdk/pino', options: { endpoint, apiKey, service } })`.
 * pino runs it in a worker thread and hands it each line; the SDK batches and
 * sends them. pino's numeric levels map to the platform's names, `msg` is the
 * message, `time` the timestamp, `pid`/`hostname` the resource, the rest attributes.
 */
import build from 'pino-abstract-transport';
import type { Level } from '../levels.ts';
import { createLogger, type LogInput } from '../logger.ts';
import type { LoggerOptions } from '../options.ts';

export default async function neurallogTransport(options: LoggerOptions) {
  // Level `trace`: pino has already filtered by its own level.
  const logger = createLogger({ level: 'trace', ...options });
  return build(
    async (source: AsyncIterable<Record<string, unknown>>) => {
      for await (const line of source) logger.write(fromPino(line));
    },
    {
      async close() {
        await logger.close();
      },
    },
  );
}

/** pino's levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal (custom levels fall to the one below). */
function levelOf(level: unknown): Level {
  if (typeof level === 'string') {
    const known: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
    return (known.includes(level) ? level : 'info') as Level;
  }
  const n = typeof level === 'number' ? level : 30;
  if (n >= 60) return 'fatal';
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  if (n >= 20) return 'debug';
  return 'trace';
}

export function fromPino(line: Record<string, unknown>): LogInput {
  const { level, time, msg, message, pid, hostname, trace_id, span_id, v: _version, ...attributes } = line;
  const resource: Record<string, unknown> = {};
  if (pid !== undefined) resource['process.pid'] = pid;
  if (hostname !== undefined) resource['host.name'] = hostname;
  const text = msg ?? message;
  return {
    level: levelOf(level),
    message: typeof text === 'string' ? text : text === undefined ? '' : JSON.stringify(text),
    ...(typeof time === 'number' || typeof time === 'string' ? { timestamp: time } : {}),
    attributes,
    ...(Object.keys(resource).length > 0 && { resource }),
    ...(typeof trace_id === 'string' && { trace_id }),
    ...(typeof span_id === 'string' && { span_id }),
  };
}
