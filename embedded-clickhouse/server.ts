/**
 * The embedded ClickHouse: chDB (the ClickHouse engine, in process, data on
 * disk) behind an HTTP endpoint that speaks ClickHouse's HTTP interface, so the
 * workers talk to it with @clickhouse/client-web exactly as they would to a
 * real server. Used by `npm start` when CLICKHOUSE_URL is not set, and by the
 * tests.
 *
 * One chDB session serves every request. Settings, the current database and
 * query parameters are session state in chDB, so statements run one at a
 * time: each sets what it needs, runs, and puts the session back as it found
 * it. The engine still uses every core inside a query. INSERTs whose rows are
 * the body are the exception: they carry everything in the statement and run
 * side by side.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Session } from 'chdb';
import { ClickHouseHttpError, ErrorCode, toClickHouseError } from './errors.ts';
import {
  explicitFormat,
  isReadStatement,
  isWriteStatement,
  matchSimpleInsert,
  parseClickHouseRequest,
  parseCredentials,
  sqlString,
  type ParsedClickHouseRequest,
} from './http-request.ts';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotliDecompress = promisify(zlib.brotliDecompress);

/** Formats chDB can take as a raw byte buffer (its whitelist). */
const RAW_INSERT_FORMATS = new Set([
  'JSONEachRow',
  'JSONCompactEachRow',
  'CSV',
  'CSVWithNames',
  'TSV',
  'TabSeparated',
  'TSVWithNames',
  'TabSeparatedWithNames',
]);

/** Binary input formats: chDB's buffer insert refuses them, and as statement text they cannot work. */
const BINARY_INSERT_FORMATS = /^(RowBinary\w*|Native|Parquet|Arrow|ArrowStream|ORC|Avro|Protobuf\w*|MsgPack|CapnProto|BSONEachRow|Npy|RawBLOB)$/;

export interface EmbeddedClickHouseOptions {
  /** Directory for the engine's data (created if missing). */
  dataPath: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Credentials clients must present (Basic auth or X-ClickHouse-User/Key). */
  username?: string;
  password?: string;
  /** Receives one structured line per failed request. */
  log?: (entry: Record<string, unknown>) => void;
}

export interface EmbeddedClickHouse {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface QuerySummary {
  read_rows: number;
  total_rows_to_read: number;
  read_bytes: number;
  written_rows: number;
  written_bytes: number;
  result_rows: number;
  result_bytes: number;
  elapsed_ns: number;
}

interface QueryOutcome {
  body: Buffer;
  format: string | null;
  summary: QuerySummary;
}

export async function startEmbeddedClickHouse(options: EmbeddedClickHouseOptions): Promise<EmbeddedClickHouse> {
  const session = new Session(options.dataPath);
  const engineVersion = (await session.queryAsync('SELECT version()', { format: 'TabSeparatedRaw' })).text().trim();
  const expectedUser = options.username ?? 'default';
  const expectedPasswordHash = sha256(options.password ?? '');

  // Requests run strictly one after another (see the header comment).
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };

  function authenticate(user: string, password: string): void {
    const ok = user === expectedUser && timingSafeEqual(sha256(password), expectedPasswordHash);
    if (!ok) {
      throw new ClickHouseHttpError(
        ErrorCode.AUTHENTICATION_FAILED,
        'AUTHENTICATION_FAILED',
        `${user}: Authentication failed: password is incorrect, or there is no user with such name`,
      );
    }
  }

  /**
   * INSERT whose rows are the body: the bytes go to the engine as they are.
   * These run concurrently (chDB parallelises them): they name their table and
   * carry their settings inside the statement, so they touch no session state.
   */
  async function rawInsert(req: ParsedClickHouseRequest): Promise<QueryOutcome | null> {
    const insert = req.data ? matchSimpleInsert(req.sql) : matchSimpleInsert(req.sql.slice(0, 4096));
    if (insert && BINARY_INSERT_FORMATS.test(insert.format)) {
      // Other formats reach the engine as text inside the statement (fine for Values, TSKV…), and binary
      // rows then fail as a parse error deep in them. Say what this endpoint takes instead.
      throw new ClickHouseHttpError(
        ErrorCode.NOT_IMPLEMENTED,
        'NOT_IMPLEMENTED',
        `the embedded ClickHouse endpoint takes INSERT rows only in ${[...RAW_INSERT_FORMATS].join(', ')}; ${insert.format} needs a ClickHouse server (set CLICKHOUSE_URL)`,
      );
    }
    if (!insert || !RAW_INSERT_FORMATS.has(insert.format) || req.readonly || req.params.size > 0) return null;
    const started = process.hrtime.bigint();
    const data = req.data ?? req.body.subarray(insert.dataOffset);
    const table = insert.table.includes('.') || !req.database ? insert.table : `${req.database}.${insert.table}`;
    const result = await session.insert({
      table,
      columns: insert.columns,
      values: data,
      format: insert.format as 'JSONEachRow',
      settings: Object.fromEntries(req.settings),
    });
    return {
      body: Buffer.alloc(0),
      format: null,
      summary: {
        read_rows: result.rowsSent ?? 0,
        total_rows_to_read: 0,
        read_bytes: result.bytesSent,
        written_rows: result.rowsWritten,
        written_bytes: result.bytesWritten,
        result_rows: 0,
        result_bytes: 0,
        elapsed_ns: Number(process.hrtime.bigint() - started),
      },
    };
  }

  /** Any other statement, with this request's database, settings and parameters. */
  async function execute(req: ParsedClickHouseRequest): Promise<QueryOutcome> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started);
    const statement = req.data ? `${req.sql}\n${req.data.toString('utf8')}` : req.sql;
    if (req.readonly && isWriteStatement(statement)) {
      throw new ClickHouseHttpError(ErrorCode.READONLY, 'READONLY', 'Cannot execute query in readonly mode');
    }

    // Session state for this request only: database, settings, parameters.
    const prologue: string[] = [];
    if (req.database) prologue.push(`USE ${req.database}`);
    if (req.settings.size > 0) {
      prologue.push(`SET ${[...req.settings].map(([k, v]) => `${k} = ${settingLiteral(v)}`).join(', ')}`);
    }
    if (req.params.size > 0) {
      // SET param_x = '<text>' hands the engine the value in exactly the
      // escaped text form the HTTP interface defines for param_x.
      prologue.push(`SET ${[...req.params].map(([k, v]) => `param_${k} = ${sqlString(v)}`).join(', ')}`);
    }
    const sql = prologue.length > 0 ? `${prologue.join('; ')}; ${statement}` : statement;
    const format = explicitFormat(statement) ?? req.defaultFormat;
    try {
      // The bound call (its one parameter is unused) makes chDB clear every
      // query parameter when the statement ends, so no value outlives it.
      const result = await session.queryBindAsync(sql, { neurallog_request: '1' }, { format });
      const body = Buffer.from(result.bytes());
      return {
        body,
        format: isReadStatement(statement) ? format : null,
        summary: {
          read_rows: result.rowsRead,
          total_rows_to_read: result.rowsRead,
          read_bytes: result.bytesRead,
          written_rows: 0,
          written_bytes: 0,
          result_rows: countResultRows(format, body),
          result_bytes: body.length,
          elapsed_ns: elapsed(),
        },
      };
    } finally {
      const epilogue: string[] = [];
      if (req.settings.size > 0) epilogue.push(`SET ${[...req.settings.keys()].map((k) => `${k} = DEFAULT`).join(', ')}`);
      if (req.database) epilogue.push('USE default');
      if (epilogue.length > 0) await session.queryAsync(epilogue.join('; ')).catch(() => undefined);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers = toHeaders(req);
    const queryId = url.searchParams.get('query_id') || randomUUID();
    res.setHeader('X-ClickHouse-Server-Display-Name', 'neurallog-embedded-clickhouse');
    res.setHeader('X-ClickHouse-Query-Id', queryId);
    res.setHeader('X-ClickHouse-Timezone', 'UTC');
    try {
      if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') {
        throw new ClickHouseHttpError(ErrorCode.UNSUPPORTED_METHOD, 'UNSUPPORTED_METHOD', `Unsupported HTTP method ${req.method}`);
      }
      // Health probes answer without credentials, as on a real server.
      if (
        url.pathname === '/ping' ||
        url.pathname === '/replicas_status' ||
        (url.pathname === '/' && !url.searchParams.has('query') && req.method !== 'POST')
      ) {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
        return;
      }
      if (url.pathname !== '/') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' }).end(`There is no handle ${url.pathname}\n`);
        return;
      }
      const { user, password } = parseCredentials(url, headers);
      authenticate(user, password);
      if (url.searchParams.get('decompress') === '1' || url.searchParams.get('compress') === '1') {
        throw new ClickHouseHttpError(
          ErrorCode.NOT_IMPLEMENTED,
          'NOT_IMPLEMENTED',
          'ClickHouse native (LZ4 block) compression is not supported by the embedded endpoint; use Content-Encoding',
        );
      }
      const body = await decodeBody(await readBody(req), headers.get('content-encoding'));
      const parsed = await parseClickHouseRequest(req.method ?? 'GET', url, headers, body);
      const outcome = (await rawInsert(parsed)) ?? (await exclusive(() => execute(parsed)));
      res.setHeader('X-ClickHouse-Summary', JSON.stringify(stringifyValues(outcome.summary)));
      if (outcome.format) res.setHeader('X-ClickHouse-Format', outcome.format);
      res.setHeader('Content-Type', contentTypeFor(outcome.format));
      const encoding = parsed.enableHttpCompression ? pickEncoding(headers.get('accept-encoding')) : null;
      const payload = encoding ? await compress(outcome.body, encoding) : outcome.body;
      if (encoding) res.setHeader('Content-Encoding', encoding);
      res.writeHead(200).end(req.method === 'HEAD' ? undefined : payload);
    } catch (err) {
      const error = toClickHouseError(err);
      options.log?.({ msg: 'clickhouse.error', code: error.code, name: error.errorName, status: error.httpStatus, queryId });
      res.setHeader('X-ClickHouse-Exception-Code', String(error.code));
      res.writeHead(error.httpStatus, { 'Content-Type': 'text/plain; charset=UTF-8' }).end(`${error.message} (version ${engineVersion})\n`);
    }
  }

  // Requests being answered: close() waits for them, because closing the
  // chDB session under a running query crashes the process.
  const active = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    const handling = handle(req, res)
      .catch((err) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => active.delete(handling));
    active.add(handling);
  });
  server.keepAliveTimeout = 10_000; // ClickHouse's default keep_alive_timeout

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8123, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8123);

  return {
    url: `http://${host}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.allSettled([...active]);
      server.closeAllConnections();
      await closed;
      await tail;
      await Promise.allSettled([...active]);
      session.close();
    },
  };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function decodeBody(body: Buffer, encoding: string | null): Promise<Buffer> {
  if (!encoding || encoding === 'identity' || body.length === 0) return body;
  try {
    switch (encoding.toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return await gunzip(body);
      case 'deflate':
        return await inflate(body);
      case 'br':
        return await brotliDecompress(body);
    }
  } catch (err) {
    throw new ClickHouseHttpError(ErrorCode.CANNOT_DECOMPRESS, 'CANNOT_DECOMPRESS', `Cannot decompress request body: ${(err as Error).message}`);
  }
  throw new ClickHouseHttpError(ErrorCode.CANNOT_DECOMPRESS, 'UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Encoding: ${encoding}`);
}

function pickEncoding(acceptEncoding: string | null): 'gzip' | 'deflate' | 'br' | null {
  const accepted = (acceptEncoding ?? '').toLowerCase();
  if (accepted.includes('gzip')) return 'gzip';
  if (accepted.includes('deflate')) return 'deflate';
  if (accepted.includes('br')) return 'br';
  return null;
}

async function compress(body: Buffer, encoding: 'gzip' | 'deflate' | 'br'): Promise<Buffer> {
  if (encoding === 'gzip') return promisify(zlib.gzip)(body);
  if (encoding === 'deflate') return promisify(zlib.deflate)(body);
  return promisify(zlib.brotliCompress)(body);
}

/** Setting values arrive as text; numbers stay numbers, the rest become string literals. */
function settingLiteral(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : sqlString(value);
}

function contentTypeFor(format: string | null): string {
  if (!format) return 'text/plain; charset=UTF-8';
  if (format === 'JSONEachRow' || format === 'JSONStringsEachRow' || format === 'JSONCompactEachRow') {
    return 'application/x-ndjson; charset=UTF-8';
  }
  if (format.startsWith('JSON')) return 'application/json; charset=UTF-8';
  if (format.startsWith('TSV') || format.startsWith('TabSeparated')) return 'text/tab-separated-values; charset=UTF-8';
  if (format.startsWith('CSV')) return 'text/csv; charset=UTF-8; header=absent';
  return 'application/octet-stream';
}

/** result_rows for the summary header, for the line formats where it is cheap and exact. */
function countResultRows(format: string, body: Buffer): number {
  if (!/^(JSONEachRow|JSONCompactEachRow|JSONStringsEachRow|TSV|TabSeparated|CSV)$/.test(format)) return 0;
  let rows = 0;
  for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) rows++;
  return rows;
}

function stringifyValues(summary: QuerySummary): Record<string, string> {
  // ClickHouse sends every summary figure as a string (they are UInt64).
  return Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, String(v)]));
}
