/**
 * Where the restore writes: ClickHouse's HTTP interface. An archive object is
 * sent as it is — gzip, `Content-Encoding: gzip` — as
 * `JSONCompactEachRowWithNames`: ClickHouse matches the header's column names
 * to the table's, so an object archived before a column was added is restored
 * with that column's default, as the flush's own inserts are.
 */
import { createClient, parseError } from '@clickhouse/client-web';
import { LOGS_TABLE } from '../../shared/clickhouse.ts';
import type { ClickHouseConnection } from '../../migrations/clickhouse/migrate.ts';
import type { RestoreTarget } from './restore-batch.ts';

/** One insert of a large batch through a busy server: the flush's own timeout is 30 s; a restore is not in a hurry. */
const INSERT_TIMEOUT_MS = 120_000;

export function clickHouseTarget(conn: ClickHouseConnection): RestoreTarget & { close(): Promise<void> } {
  const clickhouse = createClient({ url: conn.url, username: conn.username, password: conn.password, database: conn.database });
  return {
    clickhouse,
    async insertArchiveObject(gzip, token) {
      const params = new URLSearchParams({
        query: `INSERT INTO ${LOGS_TABLE} FORMAT JSONCompactEachRowWithNames`,
        database: conn.database,
        insert_deduplication_token: token,
      });
      const response = await fetch(`${conn.url.replace(/\/+$/, '')}/?${params}`, {
        method: 'POST',
        body: gzip,
        headers: {
          'Content-Encoding': 'gzip',
          'Content-Type': 'application/octet-stream',
          'X-ClickHouse-User': conn.username,
          'X-ClickHouse-Key': conn.password,
        },
        signal: AbortSignal.timeout(INSERT_TIMEOUT_MS),
      });
      const answer = await response.text();
      if (!response.ok || response.headers.has('x-clickhouse-exception-code')) throw parseError(answer);
    },
    close: () => clickhouse.close(),
  };
}
