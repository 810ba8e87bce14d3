/**
 * The R2 archive restores a lost hot store (scripts/restore, `npm run
 * restore:archive`): on the stack as `npm start` runs it, records of two
 * tenants are stored and found, then lost from ClickHouse (a DELETE of their
 * rows: a simulated loss, and the hard one — ClickHouse still remembers the
 * flushes' deduplication tokens), restored from the archive with the stack
 * stopped, and found again through GET /v1/logs, each exactly once. A batch
 * that was never lost is skipped, and a second run restores nothing. The
 * control plane (D1) goes through its backup too: exported, its state
 * removed, imported into an empty database — the second tenant's key, which
 * only D1 knows, still authenticates.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { exportControlPlane, importControlPlane } from '../../scripts/restore/control-plane-backup.ts';
import { restoreLocalArchive } from '../../scripts/restore/main.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { eventually } from '../support/eventually.ts';

let dataDir: string;
let stack: RunningStack | null = null;
const output: string[] = [];

async function start(): Promise<RunningStack> {
  return startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' },
    onOutput: (line) => output.push(line),
  });
}

async function api<T>(path: string, key: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack!.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The ids of the tenant's records that hold `word`, once exactly `count` are found. */
async function idsOf(key: string, word: string, count: number): Promise<string[]> {
  const { logs } = await eventually(
    `exactly ${count} records holding ${word}`,
    () => api<{ logs: { id: string }[] }>(`/v1/logs?q=${word}&from=now-1h&limit=1000`, key),
    {
      until: (found) => found.logs.length === count,
      timeoutMs: 20_000,
      intervalMs: 200,
      describe: (found) => `${found.logs.length} found`,
    },
  );
  return logs.map((l) => l.id);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-restore-'));
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('restore from the R2 archive', () => {
  it('reloads what ClickHouse lost, each record once, skips what it kept, and keeps tenants and keys through a D1 export and import', async () => {
    const firstDay = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10); // (a run across midnight)
    stack = await start();
    const other = `restore-${Date.now().toString(36)}`;
    await api('/v1/admin/tenants', stack.platformAdminToken, { method: 'POST', body: JSON.stringify({ id: other, name: 'Other', plan: 'professional' }) });
    const { key: otherKey } = await api<{ key: string }>(`/v1/admin/tenants/${other}/keys`, stack.platformAdminToken, {
      method: 'POST',
      body: JSON.stringify({ name: 'restore', scopes: ['logs:write', 'logs:read'] }),
    });
    const marker = `lost${Date.now()}`;
    const survivor = `kept${Date.now()}`;
    const keys = { dev: stack.devApiKey, [other]: otherKey };
    // Three batches per tenant (the flush closes a batch after 300 ms).
    for (const [tenant, key] of Object.entries(keys)) {
      for (let b = 0; b < 3; b++) {
        const records = Array.from({ length: 40 }, (_, i) => ({ level: 'info', service: `svc-${b}`, message: `order ${b}-${i} ${marker} ${tenant}` }));
        await api('/v1/logs', key, { method: 'POST', body: JSON.stringify(records) });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await api('/v1/logs', stack.devApiKey, { method: 'POST', body: JSON.stringify([{ message: `still here ${survivor}` }]) });
    const before = { dev: await idsOf(keys.dev, marker, 120), other: await idsOf(otherKey, marker, 120) };
    expect(before.dev).toHaveLength(120);
    expect(before.other).toHaveLength(120);
    expect(await idsOf(keys.dev, survivor, 1)).toHaveLength(1);

    // The loss: every marked row of both tenants gone from ClickHouse, the survivor's batch kept.
    const clickhouse = createClient({ url: stack.clickhouseUrl, database: 'neurallog' });
    await clickhouse.command({
      query: 'DELETE FROM logs WHERE TenantId IN ({tenants:Array(String)}) AND position(Body, {marker:String}) > 0',
      query_params: { tenants: ['dev', other], marker },
      clickhouse_settings: { lightweight_deletes_sync: '2' },
    });
    await clickhouse.close();
    expect(await idsOf(keys.dev, marker, 0)).toEqual([]);
    expect(await idsOf(otherKey, marker, 0)).toEqual([]);
    await stack.stop();
    stack = null;

    // The control plane out to SQL, its local state gone, and back from the dump alone.
    const dump = join(dataDir, 'control-plane.sql');
    expect(await exportControlPlane(dataDir, dump)).toBeGreaterThan(10);
    await rm(join(dataDir, 'state', 'v3', 'd1'), { recursive: true });
    await importControlPlane(dataDir, dump);

    const today = new Date().toISOString().slice(0, 10);
    const first = await restoreLocalArchive({ dataDir, tenant: null, from: firstDay, to: today });
    expect(first.problems).toEqual([]);
    expect(first.rowsRestored).toBe(240);
    expect(first.batchesRestored).toBeGreaterThanOrEqual(2);
    // The survivor's batch (and any other that was not lost) was found and left alone.
    expect(first.batchesAlreadyStored).toBeGreaterThanOrEqual(1);
    expect(first.tenants).toBeGreaterThanOrEqual(2);
    const again = await restoreLocalArchive({ dataDir, tenant: null, from: firstDay, to: today });
    expect(again).toMatchObject({ batchesRestored: 0, rowsRestored: 0, problems: [], batches: first.batches });

    stack = await start();
    const after = { dev: await idsOf(keys.dev, marker, 120), other: await idsOf(otherKey, marker, 120) };
    // Every record once: the same ids as before the loss, none twice.
    expect(after.dev.toSorted()).toEqual(before.dev.toSorted());
    expect(after.other.toSorted()).toEqual(before.other.toSorted());
    expect(await idsOf(keys.dev, survivor, 1)).toHaveLength(1);
  }, 150_000);
});
