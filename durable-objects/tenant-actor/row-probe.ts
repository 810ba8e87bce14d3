/**
 * Whether a row is in ClickHouse: a point lookup by primary key (tenant,
 * service, second) and LogId. An insert is one block, all or nothing, so one
 * row of a range tells whether the range landed. The flush asks it before
 * resending a range (./flush.ts, ADR 0011); the archive restore asks it of
 * archived batches (scripts/restore/restore-batch.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { LOGS_TABLE } from '../../shared/clickhouse.ts';

export async function isRowStored(
  clickhouse: ClickHouseClient,
  row: { tenant: unknown; service: unknown; timestamp: unknown; logId: unknown },
): Promise<boolean> {
  const result = await clickhouse.query({
    query:
      `SELECT 1 FROM ${LOGS_TABLE} WHERE TenantId = {tenant:String} AND ServiceName = {service:String} ` +
      "AND TimestampTime = toDateTime({ts:DateTime64(9, 'UTC')}) AND Timestamp = {ts:DateTime64(9, 'UTC')} AND LogId = {id:String} LIMIT 1",
    query_params: { tenant: row.tenant, service: row.service, ts: row.timestamp, id: row.logId },
    format: 'JSONEachRow',
  });
  return (await result.json()).length > 0;
}
