/**
 * The actor's pattern book: every stored row carries the id of its message's
 * template, the templates and aliases reach ClickHouse before the rows that
 * use them, and ids are the same in another actor of the tenant and after
 * the miner is rebuilt from what the actor stored.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TEMPLATES, PatternMiner, templateToId } from '../../shared/patterns/miner.ts';
import type { TenantActor } from '../../durable-objects/tenant-actor.ts';
import { actorOf, clickhouse, flushActor, injectFault, makeBatch, makeDue, uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';

async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
  return (await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

const LINES = [
  'PacketResponder 1 for block blk_38865049064139660 terminating',
  'Received block blk_-6952295868487656571 of size 67108864 from /10.250.10.6',
  'PacketResponder 0 for block blk_-6952295868487656571 terminating',
  'Received block blk_3587508140051953248 of size 67108864 from /10.251.42.84',
  'user alice logged in',
  'user bob logged in',
  'user carol logged in',
  'user dave logged in',
  'user erin logged in',
];

describe('patterns mined by the tenant actor', () => {
  it('stores every row with its pattern id, and the templates those ids name', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await stub.ingest(
      makeBatch(tenant, [...LINES.map((message) => ({ message, service: 'hdfs' })), { message: '{"level":"__proto__"}', service: '__proto__' }]),
    );
    await flushActor(stub);
    const rows = await select<{ Body: string; PatternId: string }>('SELECT Body, PatternId FROM logs WHERE TenantId = {t:String} ORDER BY Timestamp, LogId', {
      t: tenant,
    });
    expect(rows).toHaveLength(LINES.length + 1);
    for (const row of rows) expect(row.PatternId, row.Body).toMatch(/^[0-9a-f]{16}$/);
    const idOf = (body: string) => rows.find((r) => r.Body === body)!.PatternId;
    expect(idOf(LINES[0]!)).toBe(idOf(LINES[2]!));
    expect(idOf(LINES[1]!)).toBe(idOf(LINES[3]!));
    expect(idOf(LINES[0]!)).not.toBe(idOf(LINES[1]!));

    // Every id a row carries has its template in ClickHouse (published before the rows).
    const templates = new Map(
      (await select<{ PatternId: string; Template: string }>('SELECT PatternId, Template FROM log_patterns WHERE TenantId = {t:String}', { t: tenant })).map(
        (r) => [r.PatternId, r.Template],
      ),
    );
    for (const row of rows) expect(templates.has(row.PatternId), row.Body).toBe(true);
    expect(templates.get(idOf(LINES[0]!))).toBe('PacketResponder <*> for block <*> terminating');

    // The users' lines ended in one template (a word takes four values before it is a variable); the earlier ones alias to it.
    const users = LINES.slice(4).map(idOf);
    const last = users[users.length - 1]!;
    expect(templates.get(last)).toBe('user <*> logged in');
    const aliases = await select<{ FromId: string; ToId: string }>('SELECT FromId, ToId FROM log_pattern_aliases WHERE TenantId = {t:String}', { t: tenant });
    for (const id of users) if (id !== last) expect(aliases).toContainEqual({ FromId: id, ToId: last });
  });

  it('gives the same template the same id in another actor of the tenant, and after the miner is rebuilt from storage', async () => {
    const tenant = uniqueTenant();
    const first = actorOf(tenant, 0);
    await first.ingest(
      makeBatch(
        tenant,
        LINES.map((message) => ({ message, service: 'hdfs' })),
      ),
    );
    await flushActor(first);
    const second = actorOf(tenant, 1);
    await second.ingest({
      ...makeBatch(
        tenant,
        LINES.slice(0, 2).map((message) => ({ message: message.replace('1 for', '7 for'), service: 'hdfs' })),
      ),
      shard: 1,
    });
    await flushActor(second);
    const ids = await select<{ Body: string; PatternId: string }>('SELECT Body, PatternId FROM logs WHERE TenantId = {t:String}', { t: tenant });
    const byBody = new Map(ids.map((r) => [r.Body, r.PatternId]));
    expect(byBody.get(LINES[0]!.replace('1 for', '7 for'))).toBe(byBody.get(LINES[0]!));

    // What the actor stored rebuilds a miner that names the next line of a known template the same way.
    const stored = await runInDurableObject(first, (_instance: TenantActor, state) =>
      state.storage.sql.exec<{ service: string; template: string }>('SELECT service, template FROM patterns WHERE current = 1').toArray(),
    );
    const rebuilt = PatternMiner.restore(stored);
    expect(rebuilt.assign('hdfs', 'user frank logged in').patternId).toBe(byBody.get('user erin logged in'));
    expect(rebuilt.assign('hdfs', 'PacketResponder 2 for block blk_1 terminating').patternId).toBe(byBody.get(LINES[0]!));
  });

  it('holds the cap: past it records get a stable id of their masked text, and the miner learns nothing more', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    // Words that share nothing: no two messages can merge into one template.
    const word = (n: number) =>
      n
        .toString(26)
        .replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!)
        .replace(/[a-p]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 1));
    const messages = Array.from({ length: DEFAULT_MAX_TEMPLATES + 300 }, (_, i) => `${word(3 * i)}x ${word(3 * i + 1)}y ${word(3 * i + 2)}z`);
    await stub.ingest(
      makeBatch(
        tenant,
        messages.map((message) => ({ message, service: 'flood' })),
      ),
    );
    const book = await runInDurableObject(stub, (_instance: TenantActor, state) =>
      state.storage.sql.exec<{ current: number; n: number }>('SELECT current, count(*) AS n FROM patterns GROUP BY current ORDER BY current').toArray(),
    );
    expect(book).toEqual([
      { current: 0, n: 300 },
      { current: 1, n: DEFAULT_MAX_TEMPLATES },
    ]);
    await flushActor(stub);
    const rows = await select<{ Body: string; PatternId: string }>('SELECT Body, PatternId FROM logs WHERE TenantId = {t:String}', { t: tenant });
    expect(rows).toHaveLength(messages.length);
    const last = rows.find((r) => r.Body === messages[messages.length - 1])!;
    expect(last.PatternId).toBe(templateToId('flood', messages[messages.length - 1]!));
  });

  it('keeps the rows buffered while the templates cannot be published, and stores both once ClickHouse takes them', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('fail-before', `log_pattern:${tenant}`, 2);
    await stub.ingest(
      makeBatch(
        tenant,
        LINES.slice(0, 2).map((message) => ({ message, service: `svc-${tenant}` })),
      ),
    );
    await makeDue(stub);
    await runDurableObjectAlarm(stub);
    const failed = await eventually('the flush attempted', () => stub.stats(), {
      until: (s) => (s.pendingFlushes[0]?.attempts ?? 0) >= 1,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(failed.buffered.rows).toBe(2); // not stored without its templates
    expect(await select('SELECT 1 FROM logs WHERE TenantId = {t:String}', { t: tenant })).toHaveLength(0);
    const stats = await flushActor(stub, 15_000);
    expect(stats.buffered.rows).toBe(0);
    const rows = await select<{ PatternId: string }>('SELECT PatternId FROM logs WHERE TenantId = {t:String}', { t: tenant });
    const templates = await select<{ PatternId: string }>('SELECT PatternId FROM log_patterns WHERE TenantId = {t:String}', { t: tenant });
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(templates.map((t) => t.PatternId)).toContain(row.PatternId);
  });
});
