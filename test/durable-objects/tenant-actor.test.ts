import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TenantActor } from '../../durable-objects/tenant-actor.ts';
import { LOG_COLUMNS } from '../../shared/row-format.ts';
import { TEST_FLUSH } from '../support/constants.ts';
import { actorOf, clickhouse, countRows, flushActor, injectFault, makeBatch, proxyCounts, records, uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';
import { gunzipMembers } from '../../shared/gzip.ts';

const flushAll = flushActor;

describe('TenantActor', () => {
  it('stores a batch durably before it acknowledges it', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const receipt = await stub.ingest(makeBatch(tenant, records(7)));
    expect(receipt).toMatchObject({ ok: true, accepted: 7 });
    const stored = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec<{ rows: number; data: string }>('SELECT rows, data FROM buffered_chunks').toArray(),
    );
    expect(stored.reduce((n, c) => n + c.rows, 0)).toBe(7);
    expect(
      stored
        .map((c) => c.data)
        .join('')
        .trim()
        .split('\n'),
    ).toHaveLength(7);
  });

  it('below every threshold, schedules the flush for when the oldest row reaches the maximum age', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const receivedAt = Date.now();
    await stub.ingest(makeBatch(tenant, records(3), receivedAt));
    const stats = await stub.stats();
    expect(stats.alarmAt).toBe(receivedAt + TEST_FLUSH.maxAgeMs);
    expect(stats.buffered.rows).toBe(3);
  });

  it('flushes once the row threshold is passed: one ClickHouse insert, one R2 object, buffer emptied', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const before = Date.now();
    await stub.ingest(makeBatch(tenant, records(30)));
    expect((await stub.stats()).alarmAt).toBeGreaterThan(before + 1000); // not due yet
    await stub.ingest(makeBatch(tenant, records(30)));
    expect((await stub.stats()).alarmAt ?? 0).toBeLessThanOrEqual(Date.now()); // due now

    await flushAll(stub);
    expect(await countRows(tenant)).toBe(60);

    const listing = await env.ARCHIVE.list({ prefix: `logs/${tenant}/` });
    expect(listing.objects).toHaveLength(1);
    const key = listing.objects[0]!.key;
    expect(key).toMatch(new RegExp(`^logs/${tenant}/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[0-9A-Z]{26}\\.ndjson\\.gz$`));
    const object = await env.ARCHIVE.get(key);
    // gzip NDJSON: a header line naming the columns, then one array per row.
    const [header, ...lines] = (await gunzipMembers(await object!.arrayBuffer()))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toEqual([...LOG_COLUMNS]);
    const archived = lines.map((values: unknown[]) => Object.fromEntries(LOG_COLUMNS.map((c, i) => [c, values[i]])));
    expect(archived).toHaveLength(60);
    expect(archived.every((row) => row.TenantId === tenant)).toBe(true);
    expect(new Set(archived.map((row) => row.LogId)).size).toBe(60);
    expect(archived[59]).toMatchObject({ Body: 'event number 29', SeverityText: 'info', LogAttributes: { seq: '29' } });
  });

  it('flushes rows older than the maximum age even below the row threshold', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await stub.ingest(makeBatch(tenant, records(4), Date.now() - TEST_FLUSH.maxAgeMs - 1));
    await flushAll(stub);
    expect(await countRows(tenant)).toBe(4);
  });

  it('keeps the rows when ClickHouse is down, and retries until they are stored', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('fail-before', tenant, 1);
    await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.maxRows)));
    await runDurableObjectAlarm(stub);
    const failed = await eventually('the first flush attempt', () => stub.stats(), {
      until: (s) => (s.pendingFlushes[0]?.attempts ?? 0) === 1,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(failed.buffered.rows).toBe(TEST_FLUSH.maxRows);
    expect(failed.pendingFlushes[0]!.lastError).toMatch(/injected failure/);
    // The retry waits for the backoff: the alarm is set for then, not now.
    expect(failed.pendingFlushes[0]!.nextAttemptAt).toBeGreaterThan(Date.now() + TEST_FLUSH.retryBaseMs / 2);
    expect(failed.alarmAt).toBe(failed.pendingFlushes[0]!.nextAttemptAt);
    expect(await countRows(tenant)).toBe(0);

    await flushAll(stub);
    expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows);
  });

  it('does not duplicate rows when an insert reached ClickHouse but its answer was lost', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('fail-after', tenant, 1);
    await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.maxRows)));
    await runDurableObjectAlarm(stub);
    const failed = await eventually('the first flush attempt', () => stub.stats(), {
      until: (s) => (s.pendingFlushes[0]?.attempts ?? 0) === 1,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows); // the first attempt did insert

    await flushAll(stub);
    expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows); // the retry was deduplicated
    const ids = await (
      await clickhouse.query({
        query: 'SELECT uniqExact(LogId) AS n FROM logs WHERE TenantId = {t:String}',
        query_params: { t: tenant },
        format: 'JSONEachRow',
      })
    ).json<{ n: string | number }>();
    expect(Number(ids[0]!.n)).toBe(TEST_FLUSH.maxRows);
    expect(failed.pendingFlushes[0]!.batchId).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('refuses a batch of another tenant', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await stub.ingest(makeBatch(tenant, records(1)));
    // Called inside the object, so the rejection is observed here rather than across RPC.
    await runInDurableObject(stub, async (instance: TenantActor) => {
      await expect(instance.ingest(makeBatch('someone-else', records(1)))).rejects.toThrow(/was handed a batch/);
    });
    expect((await stub.stats()).buffered.rows).toBe(1);
  });

  it('drains a backlog in batch-sized flushes, at most `concurrency` in flight at once', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('delay', tenant, 100, 150); // slow inserts, so overlap shows
    // A backlog of 5 batches: every request below the threshold, then one that crosses it.
    for (let i = 0; i < 5; i++) await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.batchMaxRows - 10)));
    await flushAll(stub);
    expect(await countRows(tenant)).toBe(5 * (TEST_FLUSH.batchMaxRows - 10));
    const objects = (await env.ARCHIVE.list({ prefix: `logs/${tenant}/` })).objects;
    expect(objects.length).toBeGreaterThanOrEqual(5); // no flush exceeds the batch size
    const seen = await proxyCounts(tenant);
    expect(seen.requests).toBe(objects.length);
    expect(seen.maxInFlight).toBe(TEST_FLUSH.concurrency);
  });

  it('after a failed flush, starts no other until the retry is due', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await injectFault('fail-before', tenant, 100);
    // Crossing the row threshold sets the alarm for now; it fires by itself.
    for (let i = 0; i < 4; i++) await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.batchMaxRows - 10)));
    const stats = await eventually('a flush attempted', () => stub.stats(), {
      until: (s) => s.pendingFlushes.some((f) => f.attempts >= 1),
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    await new Promise((r) => setTimeout(r, 300));
    const after = await stub.stats();
    const tried = after.pendingFlushes.filter((f) => f.attempts > 0);
    expect(tried.length).toBeGreaterThanOrEqual(1);
    expect(tried.length).toBeLessThanOrEqual(TEST_FLUSH.concurrency);
    expect(tried.every((f) => f.attempts === 1)).toBe(true); // nobody retried early
    expect((await proxyCounts(tenant)).requests).toBe(tried.length);
    expect(stats.buffered.rows).toBe(4 * (TEST_FLUSH.batchMaxRows - 10));
    const retryAt = Math.min(...tried.map((f) => f.nextAttemptAt!));
    expect(retryAt).toBeGreaterThan(Date.now() + TEST_FLUSH.retryBaseMs / 2);
    expect(after.alarmAt).toBe(retryAt);
  });

  it('with nothing left to flush, wakes at the end of the hour to roll its usage up; a flush alarm rolls closed hours up too', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.maxRows)));
    const flushed = await flushAll(stub);
    const hourEnd = Date.now() - (Date.now() % 3_600_000) + 3_600_000;
    expect(flushed.alarmAt).toBe(hourEnd); // idle: the alarm waits for the hour to close
    // A closed hour's counters waiting (as after a roll-up that failed): the next flush's alarm rolls them up.
    const past = hourEnd - 3 * 3_600_000;
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("INSERT INTO usage_hours (hour, metric, reason, value) VALUES (?, 'records_accepted', '', 5)", past);
    });
    await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.maxRows)));
    await flushAll(stub);
    const rolled = await env.CONTROL_DB.prepare('SELECT value FROM usage_hourly WHERE tenant_id = ? AND hour = ?')
      .bind(tenant, past)
      .first<{ value: number }>();
    expect(rolled?.value).toBe(5);
    // The open hour stays with the actor until it closes.
    expect((await stub.stats()).usage.filter((c) => c.metric === 'records_accepted').reduce((n, c) => n + c.value, 0)).toBe(2 * TEST_FLUSH.maxRows);
  });

  it('flushes rows buffered before the scope columns were appended (14 values) with those columns at their defaults', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const batch = makeBatch(tenant, records(3), Date.now() - TEST_FLUSH.maxAgeMs - 1); // due at once
    // The row text an older release buffered: the first 14 columns only.
    const oldColumns = LOG_COLUMNS.indexOf('ScopeName');
    expect(oldColumns).toBe(14);
    for (const chunk of batch.chunks) {
      chunk.text = `${chunk.text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.stringify(JSON.parse(line).slice(0, oldColumns)))
        .join('\n')}\n`;
      chunk.bytes = new TextEncoder().encode(chunk.text).length;
    }
    expect(await stub.ingest(batch)).toMatchObject({ ok: true, accepted: 3 });
    await flushAll(stub);
    const rs = await clickhouse.query({
      query: 'SELECT Body, ScopeName, ScopeAttributes FROM logs WHERE TenantId = {t:String} ORDER BY Body',
      query_params: { t: tenant },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([0, 1, 2].map((i) => ({ Body: `event number ${i}`, ScopeName: '', ScopeAttributes: {} })));
  });

  it('sends the rows ClickHouse refuses to the dead letters, stores the others, counts them, and frees the flush slot', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const batch = makeBatch(tenant, records(20));
    // Two rows the API would have refused (an unpaired surrogate), as a gap between its checks and the table would let through.
    for (const chunk of batch.chunks) {
      chunk.text = chunk.text.replace('"event number 3"', '"event \\ud800 number 3"').replace('"event number 11"', '"event \\udbff number 11"');
      chunk.bytes = new TextEncoder().encode(chunk.text).length;
    }
    expect(await stub.ingest(batch)).toMatchObject({ ok: true, accepted: 20 });
    const stats = await flushAll(stub);
    expect(stats.pendingFlushes).toEqual([]);
    expect(await countRows(tenant)).toBe(18);
    expect(stats.usage).toContainEqual(expect.objectContaining({ metric: 'records_rejected', reason: 'store_refused', value: 2 }));
    const letters = await env.ARCHIVE.list({ prefix: `deadletter/${tenant}/` });
    expect(letters.objects).toHaveLength(1);
    const [, ...lines] = (await (await env.ARCHIVE.get(letters.objects[0]!.key))!.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l: { row: string[] }) => l.row[LOG_COLUMNS.indexOf('Body')])).toEqual(['event \ud800 number 3', 'event \udbff number 11']);
    expect(lines[0].reason).toMatch(/surrogate/);
    // The slot is free: the next batch flushes as usual.
    await stub.ingest(makeBatch(tenant, records(5)));
    await flushAll(stub);
    expect(await countRows(tenant)).toBe(23);
  });

  it('stores a retried flush once even when ClickHouse keeps no insert tokens (past its deduplication window)', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    await clickhouse.command({ query: 'ALTER TABLE logs MODIFY SETTING non_replicated_deduplication_window = 0' });
    try {
      await injectFault('fail-after', tenant, 1); // the insert lands, its answer is lost
      await stub.ingest(makeBatch(tenant, records(TEST_FLUSH.maxRows)));
      await runDurableObjectAlarm(stub);
      await eventually('the first flush attempt', () => stub.stats(), {
        until: (s) => (s.pendingFlushes[0]?.attempts ?? 0) === 1,
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows);
      await flushAll(stub);
      expect(await countRows(tenant)).toBe(TEST_FLUSH.maxRows);
    } finally {
      await clickhouse.command({ query: 'ALTER TABLE logs MODIFY SETTING non_replicated_deduplication_window = 10000' });
    }
  });

  it('upgrades the schema of an actor of the release before versioned migrations, with rows buffered and a key remembered, and flushes them', async () => {
    const tenant = uniqueTenant();
    const stub = actorOf(tenant);
    const buffered = makeBatch(tenant, records(6), Date.now() - 10 * TEST_FLUSH.maxAgeMs);
    const upgraded = await runInDurableObject(stub, async (_instance: TenantActor, state) => {
      const sql = state.storage.sql;
      // The object as the previous release left it: its tables, no record of migrations.
      for (const { name } of sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
        .toArray()) {
        sql.exec(`DROP TABLE "${name}"`);
      }
      sql.exec(PREVIOUS_RELEASE_SCHEMA);
      sql.exec("INSERT INTO actor_meta (key, value) VALUES ('tenant_id', ?)", tenant);
      for (const chunk of buffered.chunks) {
        sql.exec(
          'INSERT INTO buffered_chunks (batch_id, received_at, rows, bytes, data) VALUES (?, ?, ?, ?, ?)',
          buffered.batchId,
          buffered.receivedAt,
          chunk.rows,
          chunk.bytes,
          chunk.text,
        );
      }
      sql.exec('INSERT INTO accepted_batches (idempotency_key, accepted_at, rows, bytes) VALUES (?, ?, 6, 100)', 'old-key', Date.now());
      // A deploy: the new code constructs the object on the same storage.
      const actor = new TenantActor(state, env);
      const stats = await actor.stats();
      const replay = await actor.ingest({ ...makeBatch(tenant, records(6)), idempotencyKey: 'old-key' });
      await actor.alarm(); // the buffered rows are past the maximum age: flushed
      return { stats, replay, after: await actor.stats() };
    });
    expect(upgraded.stats.schemaVersion).toBe(3);
    expect(upgraded.stats.buffered.rows).toBe(6);
    expect(upgraded.replay).toMatchObject({ ok: true, replayed: true, accepted: 6 });
    expect(upgraded.after.buffered.rows).toBe(0);
    expect(await countRows(tenant)).toBe(6);
  });
});

/** What every TenantActor created before versioned migrations (release of 2026-11-28): the tables, as they were. */
const PREVIOUS_RELEASE_SCHEMA = `
  CREATE TABLE actor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE accepted_batches (idempotency_key TEXT PRIMARY KEY, accepted_at INTEGER NOT NULL, rows INTEGER NOT NULL, bytes INTEGER NOT NULL);
  CREATE INDEX accepted_batches_at ON accepted_batches (accepted_at);
  CREATE TABLE buffered_chunks (seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL, received_at INTEGER NOT NULL, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, data TEXT NOT NULL);
  CREATE TABLE pending_flushes (batch_id TEXT PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, last_error TEXT);
  CREATE TABLE rate_limiter (dimension TEXT PRIMARY KEY, tat REAL NOT NULL);
  CREATE TABLE usage_windows (period TEXT PRIMARY KEY, bytes INTEGER NOT NULL, records INTEGER NOT NULL);
  CREATE TABLE usage_hours (hour INTEGER NOT NULL, metric TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', value INTEGER NOT NULL, PRIMARY KEY (hour, metric, reason));
  CREATE TABLE usage_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;
