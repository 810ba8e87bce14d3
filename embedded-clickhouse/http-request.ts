/**
 * Reading a request of ClickHouse's HTTP interface into its parts: the SQL,
 * the query parameters, the settings, the credentials.
 *
 * The rules are the server's (docs: "HTTP Interface"):
 * - the query comes from the `query` URL parameter, the body, or both (then
 *   the body follows the URL query, and is the data of an INSERT);
 * - `param_<name>` URL parameters (or multipart/form-data fields) bind
 *   `{name:Type}` placeholders;
 * - every other URL parameter that is not one of the interface's own is a
 *   setting for this query;
 * - credentials come from Basic auth, the X-ClickHouse-User/Key headers or the
 *   `user`/`password` URL parameters.
 */
import { ClickHouseHttpError, ErrorCode } from './errors.ts';

/** URL parameters that belong to the HTTP interface itself, not to settings. */
const INTERFACE_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'user',
  'password',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'compress',
  'decompress',
  'buffer_size',
  'role',
  'quota_key',
  'stacktrace',
  'readonly',
  'max_result_bytes',
]);

/**
 * Settings that only steer the HTTP layer of a real server; the embedded engine
 * has no such layer, so they are honoured here (compression) or have nothing to
 * do (progress headers, buffering), and must not reach the engine as SET.
 */
const HTTP_LAYER_SETTINGS = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_response_buffer_size',
  'http_send_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
  'http_wait_end_of_query',
  'cancel_http_readonly_queries_on_client_close',
  'http_write_exception_in_output_format',
]);

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ParsedClickHouseRequest {
  /** The SQL text (without INSERT data when the data came as the body). */
  sql: string;
  /** INSERT data, when the URL carried the query and the body the rows. */
  data: Buffer | null;
  /** The request body as received (decompressed). */
  body: Buffer;
  database: string | null;
  defaultFormat: string;
  queryId: string | null;
  /** Raw `param_*` values, in the interface's escaped text form. */
  params: Map<string, string>;
  /** Settings for this query only (HTTP-layer settings removed). */
  settings: Map<string, string>;
  /** `readonly` as the client asked (GET is always read-only). */
  readonly: boolean;
  enableHttpCompression: boolean;
  user: string;
  password: string;
}

export function parseCredentials(url: URL, headers: Headers): { user: string; password: string } {
  const auth = headers.get('authorization');
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    return sep < 0 ? { user: decoded, password: '' } : { user: decoded.slice(0, sep), password: decoded.slice(sep + 1) };
  }
  const user = headers.get('x-clickhouse-user') ?? url.searchParams.get('user') ?? 'default';
  const password = headers.get('x-clickhouse-key') ?? url.searchParams.get('password') ?? '';
  return { user, password };
}

export async function parseClickHouseRequest(method: string, url: URL, headers: Headers, body: Buffer): Promise<ParsedClickHouseRequest> {
  const params = new Map<string, string>();
  const settings = new Map<string, string>();
  let urlQuery = url.searchParams.get('query');
  let data: Buffer | null = null;

  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) params.set(key.slice(6), value);
    else if (!INTERFACE_PARAMS.has(key) && !HTTP_LAYER_SETTINGS.has(key)) settings.set(key, value);
  }

  let sql: string;
  const contentType = headers.get('content-type') ?? '';
  if (contentType.startsWith('multipart/form-data')) {
    // clickhouse-js moves large parameter sets into a multipart body.
    const form = await new Request(url, { method, headers, body: new Uint8Array(body) }).formData();
    for (const [key, value] of form) {
      if (typeof value !== 'string') continue;
      if (key === 'query') urlQuery = value;
      else if (key.startsWith('param_')) params.set(key.slice(6), value);
    }
    sql = urlQuery ?? '';
  } else if (urlQuery !== null) {
    sql = urlQuery;
    if (body.length > 0) data = body;
  } else if (body.length > 65_536 && matchSimpleInsert(body.subarray(0, 4096).toString('utf8'))) {
    // A big INSERT with its rows in the body: keep the rows as bytes; only the
    // statement becomes a string.
    const head = matchSimpleInsert(body.subarray(0, 4096).toString('utf8'))!;
    sql = body.subarray(0, head.dataOffset).toString('utf8').trimEnd();
    data = body.subarray(head.dataOffset);
  } else {
    sql = body.toString('utf8');
  }
  if (sql.trim() === '') {
    throw new ClickHouseHttpError(ErrorCode.SYNTAX_ERROR, 'SYNTAX_ERROR', 'Empty query');
  }

  for (const name of [...params.keys(), ...settings.keys()]) {
    if (!NAME_RE.test(name)) {
      throw new ClickHouseHttpError(ErrorCode.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `Invalid parameter or setting name '${name}'`);
    }
  }
  const database = url.searchParams.get('database') || headers.get('x-clickhouse-database');
  if (database && !NAME_RE.test(database)) {
    throw new ClickHouseHttpError(ErrorCode.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `Invalid database name '${database}'`);
  }
  const readonlyParam = url.searchParams.get('readonly');
  const { user, password } = parseCredentials(url, headers);
  return {
    sql,
    data,
    body,
    database: database || null,
    defaultFormat: url.searchParams.get('default_format') || headers.get('x-clickhouse-format') || 'TabSeparated',
    queryId: url.searchParams.get('query_id') || headers.get('x-clickhouse-query-id'),
    params,
    settings,
    readonly: method === 'GET' || (readonlyParam !== null && readonlyParam !== '0'),
    enableHttpCompression: url.searchParams.get('enable_http_compression') === '1',
    user,
    password,
  };
}

/** A string literal for ClickHouse SQL: backslash and quote escaped. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const FIRST_KEYWORD_RE = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*\(?\s*([A-Za-z]+)/;
const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN']);
const WRITE_KEYWORDS = new Set([
  'INSERT',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'RENAME',
  'OPTIMIZE',
  'SYSTEM',
  'KILL',
  'GRANT',
  'REVOKE',
  'SET',
  'USE',
  'DELETE',
  'UPDATE',
  'ATTACH',
  'DETACH',
  'EXCHANGE',
  'UNDROP',
  'BACKUP',
  'RESTORE',
  'MOVE',
]);

function firstKeyword(sql: string): string | undefined {
  return FIRST_KEYWORD_RE.exec(sql)?.[1]?.toUpperCase();
}

/** Statements that return rows (the response gets a format and a content type). */
export function isReadStatement(sql: string): boolean {
  const first = firstKeyword(sql);
  return first !== undefined && READ_KEYWORDS.has(first);
}

/**
 * Real servers run GET requests and `readonly=1` under the engine's read-only
 * mode. The embedded engine shares one session between requests, and read-only
 * mode cannot be switched off again once on, so we refuse statements that
 * write by their first keyword instead; anything else goes to the engine,
 * which reports syntax errors as a server would.
 */
export function isWriteStatement(sql: string): boolean {
  const first = firstKeyword(sql);
  return first !== undefined && WRITE_KEYWORDS.has(first);
}

/** The output format named by a trailing `FORMAT x` clause, if any. */
export function explicitFormat(sql: string): string | null {
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql)?.[1] ?? null;
}

export interface SimpleInsert {
  table: string;
  columns?: string[];
  format: string;
  /** Byte offset of the data in the body, when the statement and data came together. */
  dataOffset: number;
}

const SIMPLE_INSERT_RE =
  /^\s*INSERT\s+INTO\s+(?:TABLE\s+)?([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)\s*(?:\(([A-Za-z0-9_,\s]*)\))?\s*FORMAT\s+([A-Za-z]+)[ \t]*(?:\r?\n|$)/i;

/**
 * Recognises `INSERT INTO t [(a, b)] FORMAT F` (what clickhouse-js and most
 * clients send), so its rows can go to the engine as a buffer without ever
 * becoming a JavaScript string. Anything else takes the general SQL path.
 */
export function matchSimpleInsert(statement: string): SimpleInsert | null {
  const m = SIMPLE_INSERT_RE.exec(statement);
  if (!m) return null;
  const columns = m[2]
    ?.split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  return {
    table: m[1]!,
    columns: columns && columns.length > 0 ? columns : undefined,
    format: m[3]!,
    dataOffset: Buffer.byteLength(m[0], 'utf8'),
  };
}
