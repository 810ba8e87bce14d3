/**
 * ClickHouse error responses, as the HTTP interface sends them.
 *
 * A real server answers a failed query with an HTTP status derived from the
 * exception code, the code again in `X-ClickHouse-Exception-Code`, and a
 * plain-text body `Code: N. DB::Exception: … (NAME) (version …)`. Clients
 * (@clickhouse/client's `parseError`, the Go and Python drivers) parse that
 * body, so we reproduce it byte for byte in shape.
 *
 * The status table is ClickHouse's own `exceptionCodeToHTTPStatus.cpp`, keyed
 * by the error *name* that every engine message ends with, so we need no copy
 * of the numeric code table.
 */

const STATUS_BY_ERROR_NAME: Record<string, number> = {
  REQUIRED_PASSWORD: 401,
  UNKNOWN_USER: 403,
  WRONG_PASSWORD: 403,
  AUTHENTICATION_FAILED: 403,
  SET_NON_GRANTED_ROLE: 403,
  ACCESS_DENIED: 403,
  READONLY: 403,
  QUERY_IS_TOO_LARGE: 413,
  NOT_IMPLEMENTED: 501,
  SOCKET_TIMEOUT: 503,
  CANNOT_OPEN_FILE: 503,
  CANNOT_SCHEDULE_TASK: 503,
  HTTP_LENGTH_REQUIRED: 411,
  TIMEOUT_EXCEEDED: 408,
  UNSUPPORTED_MEDIA_TYPE: 415,
};
for (const name of [
  'BAD_ARGUMENTS',
  'CANNOT_COMPILE_REGEXP',
  'CANNOT_PARSE_TEXT',
  'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_DATE',
  'CANNOT_PARSE_DATETIME',
  'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
  'CANNOT_PARSE_IPV4',
  'CANNOT_PARSE_IPV6',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  'CANNOT_PARSE_UUID',
  'DUPLICATE_COLUMN',
  'ILLEGAL_COLUMN',
  'UNKNOWN_ELEMENT_IN_AST',
  'UNKNOWN_TYPE_OF_AST_NODE',
  'THERE_IS_NO_COLUMN',
  'TOO_DEEP_AST',
  'TOO_BIG_AST',
  'UNEXPECTED_AST_STRUCTURE',
  'SYNTAX_ERROR',
  'INCORRECT_DATA',
  'TYPE_MISMATCH',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'UNKNOWN_QUERY_PARAMETER',
])
  STATUS_BY_ERROR_NAME[name] = 400;
for (const name of [
  'UNKNOWN_TABLE',
  'UNKNOWN_FUNCTION',
  'UNKNOWN_IDENTIFIER',
  'UNKNOWN_TYPE',
  'UNKNOWN_STORAGE',
  'UNKNOWN_DATABASE',
  'UNKNOWN_SETTING',
  'UNKNOWN_DIRECTION_OF_SORTING',
  'UNKNOWN_AGGREGATE_FUNCTION',
  'UNKNOWN_FORMAT',
  'UNKNOWN_DATABASE_ENGINE',
  'UNKNOWN_TYPE_OF_QUERY',
  'UNKNOWN_ROLE',
])
  STATUS_BY_ERROR_NAME[name] = 404;

/** Codes this endpoint raises itself (the engine raises the rest). */
export const ErrorCode = {
  UNKNOWN_QUERY_PARAMETER: 456,
  SYNTAX_ERROR: 62,
  READONLY: 164,
  REQUIRED_PASSWORD: 194,
  AUTHENTICATION_FAILED: 516,
  UNKNOWN_SETTING: 115,
  UNSUPPORTED_METHOD: 1,
  CANNOT_DECOMPRESS: 271,
  NOT_IMPLEMENTED: 48,
  BAD_ARGUMENTS: 36,
} as const;

export class ClickHouseHttpError extends Error {
  constructor(
    readonly code: number,
    readonly errorName: string,
    message: string,
  ) {
    super(`Code: ${code}. DB::Exception: ${message}. (${errorName})`);
  }

  get httpStatus(): number {
    return STATUS_BY_ERROR_NAME[this.errorName] ?? 500;
  }
}

/**
 * Turns whatever chDB threw into a ClickHouseHttpError. chDB's typed errors
 * carry `clickhouseCode` and a message that already has the engine's
 * `Code: N. DB::Exception: … (NAME)` form.
 */
export function toClickHouseError(err: unknown): ClickHouseHttpError {
  if (err instanceof ClickHouseHttpError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const codeMatch = /Code: (\d+)\./.exec(raw);
  const code =
    typeof (err as { clickhouseCode?: unknown })?.clickhouseCode === 'number'
      ? (err as { clickhouseCode: number }).clickhouseCode
      : codeMatch
        ? Number(codeMatch[1])
        : 1001; // STD_EXCEPTION: something outside the engine failed
  const nameMatch = /\(([A-Z][A-Z0-9_]+)\)\s*$/.exec(raw.trim());
  const name = nameMatch?.[1] ?? 'STD_EXCEPTION';
  // Strip the prefix and suffix the constructor adds back, so the text is not doubled.
  const message = raw
    .trim()
    .replace(/^Code: \d+\. DB::Exception: /, '')
    .replace(/\.?\s*\([A-Z][A-Z0-9_]+\)\s*$/, '');
  return new ClickHouseHttpError(code, name, message);
}
