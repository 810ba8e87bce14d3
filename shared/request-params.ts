/**
 * Query-string parameters every API reads the same way: a 400
 * `invalid_parameter` naming the parameter, and times as `now`, `now-15m`,
 * RFC 3339 or a Unix epoch.
 */
import { ApiError } from './api-error.ts';
import { parseTimeExpression, TimestampError, type Instant } from './timestamp.ts';

export function invalid(param: string, message: string): ApiError {
  return new ApiError(400, 'invalid_parameter', `${param}: ${message}`, { parameter: param });
}

/** `now`, `now-15m`, RFC 3339, or a Unix epoch (s/ms/µs/ns). */
export function parseTime(param: string, value: string, now: number): Instant {
  try {
    return parseTimeExpression(value, now);
  } catch (err) {
    if (err instanceof TimestampError) throw invalid(param, `${err.message}, or now / now-15m`);
    throw err;
  }
}
