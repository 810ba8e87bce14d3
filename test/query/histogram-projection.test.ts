/**
 * The explorer's histogram (GET /v1/logs/histogram) is answered from the
 * per-minute aggregate projection — since migration 0006, the one Grafana's
 * volume histogram uses too (per_minute_edge, whose keys hold the histogram's
 * and one flag more), so one projection is built per insert, not two.
 */
import { describe, expect, it } from 'vitest';
import { parseScope } from '../../shared/search-scope.ts';
import { perMinuteSql } from '../../workers/query/routes/histogram.ts';
import { TEST_TENANT } from '../support/constants.ts';
import { clickhouse } from '../support/in-workerd.ts';

describe('the histogram and the per-minute projection', () => {
  it('reads the projection for a level and service histogram, not the rows', async () => {
    // A few rows of this tenant now, so the plan reads parts (an empty range reads nothing at all).
    const now = Date.now();
    const at = new Date(now - 60_000).toISOString().replace('T', ' ').replace('Z', '');
    await clickhouse.insert({
      table: 'logs',
      values: ['api', 'web', 'api'].map((service, i) => ({
        TenantId: TEST_TENANT,
        Timestamp: at,
        ObservedTimestamp: at,
        LogId: `hp-${now}-${i}`,
        ServiceName: service,
        SeverityNumber: 17,
        Body: 'x',
      })),
      format: 'JSONEachRow',
    });
    for (const search of ['from=now-24h', 'from=now-24h&level=error&service=api', 'from=now-1h&q=level:warn']) {
      const { sql, params } = perMinuteSql(TEST_TENANT, parseScope(new URLSearchParams(search), now), 60);
      const rs = await clickhouse.query({ query: `EXPLAIN indexes = 1 ${sql}`, query_params: params, format: 'TabSeparatedRaw' });
      const text = await rs.text();
      expect(text, search).toMatch(/ReadFromMergeTree \(per_minute_edge\)/);
    }
  });
});
