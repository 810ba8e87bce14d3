/**
 * ClickHouse access for the workers, through the official web client: the
 * same code talks to the embedded endpoint under `npm start` and to a real
 * server or ClickHouse Cloud in production.
 */
import { ClickHouseError, createClient, parseError, type ClickHouseClient } from '@clickhouse/client-web';
import type { ClickHouseConfig } from './config.ts';
import { insertStatement } from './row-format.ts';

export const LOGS_TABLE = 'logs';

const clients = new Map<string, ClickHouseClient>();

/** How long one request to ClickHouse may take, through the client or not. */
const REQUEST_TIMEOUT_MS = 30_000;

/** One client per configuration per isolate; the client is stateless between requests. */
export function clickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  const key = `${config.url}\u0000${config.username}\u0000${config.password}\u0000${config.database}`;
  let client = clients.get(key);
  if (!client) {
    client = createClient({
      url: config.url,
      username: config.username,
      password: config.password,
      database: config.database,
      // Workers' fetch manages its own connections; the keepalive flag is a browser notion.
      keep_alive: { enabled: false },
      request_timeout: REQUEST_TIMEOUT_MS,
    });
    clients.set(key, client);
  }
  return client;
}

/**
 * Inserts rows that are already serialised (shared/row-format.ts). The text
 * goes to the server as it is — the rows are never parsed or re-encoded on
 * the way.
 *
 * `insert_deduplication_token` makes the insert idempotent: the table keeps the
 * tokens of its recent inserts (non_replicated_deduplication_window), so a
 * retried insert of the same batch is dropped by ClickHouse instead of
 * duplicating rows. Rows buffered before a column was appended to LOG_COLUMNS
 * carry fewer values; ClickHouse fills the missing trailing columns with their
 * defaults instead of refusing the batch.
 */
export async function insertRows(client: ClickHouseClient, table: string, rows: string, deduplicationToken: string): Promise<void> {
  await client.command({
    query: `${insertStatement(table)}\n${rows}`,
    clickhouse_settings: { insert_deduplication_token: deduplicationToken, input_format_json_compact_allow_variable_number_of_columns: 1 },
  });
}

/**
 * `insertRows` for rows that are already gzip (the flush's body, shared/gzip.ts):
 * the statement in the URL, the bytes as the body with `Content-Encoding: gzip`,
 * which ClickHouse's HTTP interface decompresses as it parses. Plain fetch —
 * the web client sends no custom bodies — with the client's own error parser,
 * so a refusal is the same ClickHouseError `isDataRefusal` reads.
 */
export async function insertCompressedRows(
  config: ClickHouseConfig,
  table: string,
  gzipBody: Uint8Array<ArrayBuffer>,
  deduplicationToken: string,
): Promise<void> {
  // The URL as one string: the profile showed URL.searchParams.set costing more than the insert's own work.
  const params = new URLSearchParams({
    query: insertStatement(table),
    insert_deduplication_token: deduplicationToken,
    input_format_json_compact_allow_variable_number_of_columns: '1',
  });
  if (config.database !== '') params.set('database', config.database);
  const url = `${config.url.replace(/\/+$/, '')}/?${params}`;
  const response = await fetch(url, {
    method: 'POST',
    body: gzipBody,
    headers: {
      'Content-Encoding': 'gzip',
      'Content-Type': 'application/octet-stream',
      'X-ClickHouse-User': config.username,
      'X-ClickHouse-Key': config.password,
    },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const answer = await response.text();
  if (!response.ok || response.headers.has('x-clickhouse-exception-code')) throw parseError(answer);
}

/**
 * ClickHouse refused the data itself — a value it cannot parse or that does
 * not fit its column — rather than failing to take it: the same rows will be
 * refused however often they are sent. Everything else (the network, a 5xx
 * without a code, a timeout, too many parts, memory) may pass on a retry.
 */
const DATA_REFUSALS = new Set([
  'CANNOT_PARSE_TEXT',
  'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  'CANNOT_PARSE_DATE',
  'CANNOT_PARSE_DATETIME',
  'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_UUID',
  'CANNOT_PARSE_BOOL',
  'CANNOT_PARSE_IPV4',
  'CANNOT_PARSE_IPV6',
  'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
  'CANNOT_READ_ALL_DATA',
  'ATTEMPT_TO_READ_AFTER_EOF',
  'INCORRECT_DATA',
  'TYPE_MISMATCH',
  'CANNOT_CONVERT_TYPE',
  'ARGUMENT_OUT_OF_BOUND',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'TOO_LARGE_STRING_SIZE',
  'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN',
  'INCORRECT_NUMBER_OF_COLUMNS',
  'DECIMAL_OVERFLOW',
  'UNKNOWN_ELEMENT_OF_ENUM',
]);

export function isDataRefusal(err: unknown): boolean {
  return err instanceof ClickHouseError && DATA_REFUSALS.has(err.type ?? '');
}
