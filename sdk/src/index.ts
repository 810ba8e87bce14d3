/**
 * @neurallog/sdk — send logs to NeuralLog from browsers, Node ≥ 20, Deno and
 * Cloudflare Workers, with web-standard APIs only. docs/sdk.md.
 */
export { createLogger, type Logger, type LogInput, logsUrl } from './logger.ts';
export { LEVELS, type Level, levelOfSeverityNumber, severityNumberOf } from './levels.ts';
export type { DropEvent, LoggerOptions, RecordTransform, ShipperStats } from './options.ts';
export { type Attributes, type LogRecord, type SerializedError, serializeError } from './record.ts';
export {
  type Answer,
  type DecideInput,
  type DropReason,
  decide,
  paceDelay,
  parseRateLimit,
  parseRetryAfter,
  type RateState,
  type RetryPolicy,
  type Step,
} from './decide.ts';
