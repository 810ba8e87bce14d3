import { createClient } from '@clickhouse/client-web';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../shared/normalize.ts';
import { formatClickHouseTime, instantFromMillis } from '../../shared/timestamp.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';

const clickhouse = createClient({ url: env.TEST_CLICKHOUSE_URL, database: 'neurallog', keep_alive: { enabled: false } });

async function search(key: string, query: string, headers: Record<string, string> = {}) {
  return exports.default.fetch(new Request(`https://neurallog.test/v1/logs?${query}`, { headers: { authorization: `Bearer ${key}`, ...headers } }));
}

describe('search is tenant-scoped by the credential alone', () => {
  it("never shows tenant B's rows to tenant A's key, whatever the request says", async () => {
    const a = `a-${crypto.randomUUID().slice(0, 8)}`;
    const b = `b-${crypto.randomUUID().slice(0, 8)}`;
    await provisionTenant(a);
    await provisionTenant(b);
    const keyA = await provisionKey(a, ['logs:read']);
    const marker = `isolation${crypto.randomUUID().slice(0, 8)}`;
    const now = formatClickHouseTime(instantFromMillis(Date.now()));
    await clickhouse.insert({
      table: 'logs',
      values: [a, b].map((tenantId, i) =>
        normalizeRecord({ message: `${marker} of ${tenantId}` }, i, { tenantId, retentionDays: 7, receivedAt: now, batchId: marker }),
      ),
      format: 'JSONEachRow',
    });
    for (const [query, headers] of [
      [`q=${marker}`, {}],
      [`q=${marker}&tenant=${b}&tenant_id=${b}&TenantId=${b}`, {}],
      [`q=${marker}`, { 'x-scope-orgid': b, 'x-tenant-id': b }],
      [`q=${marker}&service=${b}`, {}],
    ] as const) {
      const res = await search(keyA, query, headers);
      expect(res.status).toBe(200);
      const { logs } = await res.json<{ logs: { body: string }[] }>();
      expect(
        logs.every((l) => !l.body.includes(b)),
        query,
      ).toBe(true);
    }
    const own = await (await search(keyA, `q=${marker}`)).json<{ logs: { body: string }[] }>();
    expect(own.logs.map((l) => l.body)).toEqual([`${marker} of ${a}`]);
  });

  it('refuses a write-only key with 403', async () => {
    const t = `w-${crypto.randomUUID().slice(0, 8)}`;
    await provisionTenant(t);
    const writer = await provisionKey(t, ['logs:write']);
    const res = await search(writer, 'q=x');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope', required: 'logs:read' });
  });
});
