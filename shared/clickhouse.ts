/**
 * ClickHouse access for the workers, through the official web client: the
 * same code talks to the embedded endpoint under `npm start` and to a real
 * server or ClickHouse Cloud in production.
 */
import { ClickHouseError, createClient, type ClickHouseClient } from '@clickhouse/client-web';
import type { ClickHouseConfig } from './config.ts';
import { insertStatement } from './row-format.ts';

export const LOGS_TABLE = 'logs';

const clients = new Map<string, ClickHouseClient>();

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
      request_timeout: 30_000,
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
