/**
 * Self-logging (workers/ingest/platform-logs/): tail events → the platform
 * tenant's records, with hostile content, the loop guard's table, and shipping
 * through the ingest pipeline into a real TenantActor.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { mayShip } from '../../workers/ingest/platform-logs/loop-guard.ts';
import { redactSecrets } from '../../workers/ingest/platform-logs/redact.ts';
import { SelfLogBatch } from '../../workers/ingest/platform-logs/batch.ts';
import { SELF_LOG_BATCH_LIMITS } from '../../workers/ingest/platform-logs/ship-decision.ts';
import { gatherTailEvents, type PlatformLogsEnv } from '../../workers/ingest/platform-logs/ship.ts';
import { SELF_LOG_LIMITS, tailRecords, type TailContext } from '../../workers/ingest/platform-logs/tail-records.ts';
import { shardName } from '../../shared/sharding.ts';
import { provisionTenant } from '../support/control-plane.ts';
import { backgroundWork } from '../support/background-work.ts';
import { actorOf, uniqueTenant } from '../support/in-workerd.ts';

const PLATFORM = 'platform-under-test';
const PLATFORM_ACTOR = 'a'.repeat(64);
const CONTEXT: TailContext = { platformTenant: PLATFORM, platformActorIds: new Set([PLATFORM_ACTOR]), producer: 'neurallog-ingest' };

/** A tail event as workerd hands it over (only the fields the mapping reads are required). */
function traceItem(parts: Partial<Omit<TraceItem, 'logs' | 'exceptions'>> & { logs?: Partial<TraceLog>[]; exceptions?: TraceException[] }): TraceItem {
  return {
    event: {
      request: { url: 'https://neurallog.test/v1/logs?api_key=nlk_abc_secret', method: 'POST', headers: { 'x-request-id': 'req-1' } },
      response: { status: 202 },
    },
    eventTimestamp: 1_796_000_000_000,
    scriptName: null,
    outcome: 'ok',
    executionModel: 'stateless',
    truncated: false,
    cpuTime: 0,
    wallTime: 0,
    diagnosticsChannelEvents: [],
    ...parts,
    logs: (parts.logs ?? []).map((l) => ({ timestamp: 1_796_000_000_000, level: 'log', message: [], ...l }) as TraceLog),
    exceptions: parts.exceptions ?? [],
  } as unknown as TraceItem;
}

const line = (fields: Record<string, unknown>) => JSON.stringify(fields);

describe('tail events → platform records', () => {
  it("maps a logger line to level, message, service and the line's fields, with the request it served", () => {
    const [record] = tailRecords(
      [
        traceItem({
          logs: [{ level: 'log', message: [line({ level: 'info', msg: 'ingest.accepted', time: 'x', tenant: 'dev', records: 3, timings: { readMs: 2 } })] }],
        }),
      ],
      CONTEXT,
    );
    expect(record).toMatchObject({
      level: 'info',
      message: 'ingest.accepted',
      service: 'neurallog-ingest',
      timestamp: new Date(1_796_000_000_000).toISOString(),
    });
    expect(record!.attributes).toMatchObject({
      tenant: 'dev',
      records: '3',
      'timings.readMs': '2',
      worker: 'neurallog-ingest',
      invocation: 'fetch',
      'request.method': 'POST',
      'request.path': '/v1/logs',
      'request.id': 'req-1',
      'response.status': '202',
    });
    // The query string (a key can travel in it) and the level/msg/time keys are not copied.
    expect(JSON.stringify(record)).not.toContain('secret');
    expect(Object.keys(record!.attributes)).not.toContain('msg');
  });

  it('keeps a `__proto__` field of a hostile line as an attribute, and the prototype untouched', () => {
    const [record] = tailRecords(
      [traceItem({ logs: [{ message: ['{"level":"warn","msg":"m","__proto__":{"polluted":"yes"},"constructor":"c"}'] }] })],
      CONTEXT,
    );
    expect(record!.level).toBe('warn');
    expect(Object.hasOwn(record!.attributes, '__proto__.polluted')).toBe(true);
    expect(record!.attributes.constructor).toBe('c');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(record!.attributes)).toBe(Object.prototype);
  });

  it('keeps a non-JSON line as text at the console level, and a huge one cut to the bound', () => {
    const huge = 'x'.repeat(5 * 1024 * 1024);
    const records = tailRecords(
      [
        traceItem({
          logs: [
            { level: 'error', message: ['plain text from a library', { n: 1 }] },
            { level: 'warn', message: [`{"level":"info","msg":"${huge}"}`] },
            { level: 'log', message: ['{not json'] },
          ],
        }),
      ],
      CONTEXT,
    );
    expect(records.map((r) => [r.level, r.message.slice(0, 30)])).toEqual([
      ['error', 'plain text from a library {"n"'],
      ['warn', '{"level":"info","msg":"xxxxxxx'],
      ['info', '{not json'],
    ]);
    expect(records[1]!.message.length).toBeLessThanOrEqual(SELF_LOG_LIMITS.maxMessageChars);
    expect(records[1]!.message.endsWith('…[cut]')).toBe(true);
  });

  it('bounds fields, values, nesting and records per event, and says how many were left out', () => {
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, 'v'.repeat(5_000)]));
    const deep = { a: { b: { c: { d: { e: { f: 'deep' } } } } } };
    const [wide] = tailRecords([traceItem({ logs: [{ message: [line({ level: 'info', msg: 'wide', ...many, deep })] }] })], CONTEXT);
    const own = Object.keys(wide!.attributes).filter((k) => /^f\d+$/.test(k));
    expect(own.length).toBeLessThanOrEqual(SELF_LOG_LIMITS.maxFields);
    for (const k of own) expect(wide!.attributes[k]!.length).toBeLessThanOrEqual(SELF_LOG_LIMITS.maxValueChars);

    const [nested] = tailRecords([traceItem({ logs: [{ message: [line({ msg: 'nested', deep })] }] })], CONTEXT);
    expect(nested!.attributes['deep.a.b.c']).toBe('{"d":{"e":{"f":"deep"}}}');

    const flood = traceItem({ logs: Array.from({ length: 1_000 }, (_, i) => ({ message: [`line ${i}`] })) });
    const records = tailRecords([flood], CONTEXT);
    expect(records.length).toBe(SELF_LOG_LIMITS.maxRecords + 1);
    expect(records.at(-1)!.message).toContain('800 records of this tail event were left out');
  });

  it('turns exceptions and bad outcomes into error records; a cancelled request into a warning', () => {
    const records = tailRecords(
      [
        traceItem({
          outcome: 'exception',
          exceptions: [{ name: 'TypeError', message: 'x is undefined, key nlk_abc_def', timestamp: 1, stack: 'at f (index.js:1:2)' }],
        }),
        traceItem({ outcome: 'exceededCpu' }),
        traceItem({ outcome: 'canceled' }),
        traceItem({ outcome: 'ok' }),
      ],
      CONTEXT,
    );
    expect(records.map((r) => [r.level, r.message])).toEqual([
      ['error', 'TypeError: x is undefined, key nlk_[redacted]'],
      ['error', 'invocation.exceededCpu'],
      ['warn', 'invocation.canceled'],
    ]);
    expect(records[0]!.attributes['exception.stack']).toBe('at f (index.js:1:2)');
  });

  it('never lets a key, token or Authorization value through, wherever it is', () => {
    const key = 'nlk_01abcdefgh_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA';
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const records = tailRecords(
      [
        traceItem({
          logs: [
            { message: [`raw line with ${key} and Authorization: Bearer ${jwt}`] },
            {
              message: [
                line({ level: 'info', msg: `m ${key}`, apiKey: 'plain-secret-1', nested: { password: 'plain-secret-2', note: `Basic ${btoa(`u:${key}`)}` } }),
              ],
            },
            { message: [`cookie nl_session=${jwt}; x-csrf-token: csrf-secret-3 and nlpa_platformadmintoken123`] },
          ],
          exceptions: [{ name: 'Error', message: `failed with ${key}`, timestamp: 1, stack: `Error: ${jwt}` }],
        }),
      ],
      CONTEXT,
    );
    const all = JSON.stringify(records);
    for (const secret of [key, key.split('_')[2]!, jwt, 'plain-secret-1', 'plain-secret-2', btoa(`u:${key}`), 'csrf-secret-3', 'platformadmintoken123']) {
      expect(all, secret).not.toContain(secret);
    }
    expect(records[1]!.attributes).toMatchObject({ apiKey: '[redacted]', 'nested.password': '[redacted]' });
    expect(redactSecrets('{"a":"Bearer abc"}')).toBe('{"a":"Bearer [redacted]"}');
  });

  it('names a Durable Object by its class, a worker by its name', () => {
    const [actor] = tailRecords(
      [traceItem({ event: { rpcMethod: 'ingest' } as never, durableObjectId: 'b'.repeat(64), entrypoint: 'TenantActor', logs: [{ message: ['x'] }] })],
      CONTEXT,
    );
    expect(actor).toMatchObject({ service: 'TenantActor', attributes: { 'rpc.method': 'ingest', invocation: 'rpc', 'durable_object.id': 'b'.repeat(64) } });
    const [named] = tailRecords([traceItem({ scriptName: 'neurallog-query', logs: [{ message: ['x'] }] })], CONTEXT);
    expect(named!.service).toBe('neurallog-query');
  });
});

describe('the loop guard', () => {
  // origin: [platform actor, alarm]; record: [tenant, severity] → shipped?
  const table: [string, boolean, boolean, string | null, number, boolean][] = [
    ['another tenant, info, from a request', false, false, 'dev', 9, true],
    ['no tenant, info, from a request', false, false, null, 9, true],
    ['another tenant, from an alarm', false, true, 'dev', 9, true],
    ['the platform tenant named, info, from a request', false, false, PLATFORM, 9, false],
    ['the platform tenant named, error, from a request', false, false, PLATFORM, 17, false],
    ["the platform actor's RPC (shipping's own echo), error", true, false, null, 17, false],
    ["the platform actor's alarm, info (flush.done)", true, true, PLATFORM, 9, false],
    ["the platform actor's alarm, warning (flush.failed)", true, true, PLATFORM, 13, true],
    ["the platform actor's alarm, error without a tenant field (an exception)", true, true, null, 17, true],
    ["another object's alarm about the platform tenant, error", false, true, PLATFORM, 17, true],
  ];
  it.each(table)('%s', (_, platformActor, alarm, tenant, severityNumber, shipped) => {
    expect(mayShip({ platformActor, alarm }, { tenant, severityNumber }, PLATFORM)).toBe(shipped);
  });
});

describe('shipping into the platform tenant', () => {
  async function platformEnv(): Promise<{ tenant: string; env: PlatformLogsEnv }> {
    const tenant = uniqueTenant('platform');
    await provisionTenant(tenant, { plan: 'starter' });
    return { tenant, env: { ...env, NEURALLOG_SELF_LOGS: '1', NEURALLOG_PLATFORM_TENANT: tenant } as PlatformLogsEnv };
  }
  /** A batch that ships each tail call's records at once: what one call gives is what the actor stores. */
  const unbatched = () => new SelfLogBatch({ ...SELF_LOG_BATCH_LIMITS, maxRecords: 1 });

  it("stores another tenant's flush log in the platform tenant's actor, through the ingest pipeline", async () => {
    const { tenant, env: shipEnv } = await platformEnv();
    const flushed = traceItem({
      event: { scheduledTime: new Date() } as never,
      durableObjectId: 'c'.repeat(64),
      entrypoint: 'TenantActor',
      logs: [{ message: [line({ level: 'info', msg: 'flush.done', tenant: 'dev', rows: 5 })] }],
    });
    const call = backgroundWork();
    expect(await gatherTailEvents([flushed], shipEnv, call.background, { batch: unbatched() })).toEqual({ gathered: 1, dropped: 0 });
    await call.settled();
    const stats = await actorOf(tenant).stats();
    expect(stats).toMatchObject({ tenantId: tenant, buffered: { rows: 1 } });
  });

  it('ships nothing while the switch is off, or when the platform tenant does not exist', async () => {
    const item = traceItem({ logs: [{ message: ['hello'] }] });
    const call = backgroundWork();
    const batch = unbatched();
    expect(await gatherTailEvents([item], { ...env, NEURALLOG_SELF_LOGS: '0' } as PlatformLogsEnv, call.background, { batch })).toMatchObject({
      gathered: 0,
      skipped: 'disabled',
    });
    const missing = uniqueTenant('absent');
    expect(
      await gatherTailEvents([item], { ...env, NEURALLOG_SELF_LOGS: '1', NEURALLOG_PLATFORM_TENANT: missing } as PlatformLogsEnv, call.background, { batch }),
    ).toMatchObject({ gathered: 0, skipped: 'no_platform_tenant' });
    await call.settled();
    expect(batch.state).toMatchObject({ records: 0, inFlight: 0 });
    expect((await actorOf(missing).stats()).buffered.rows).toBe(0);
  });

  it("adds nothing for the platform tenant's own flushes: 20 healthy flushes, 0 records; 20 failed ones, 1 each", async () => {
    const { tenant, env: shipEnv } = await platformEnv();
    const platformActor = env.TENANT_ACTOR.idFromName(shardName(tenant, 0)).toString();
    const ownAlarm = (level: string, msg: string) =>
      traceItem({
        event: { scheduledTime: new Date() } as never,
        durableObjectId: platformActor,
        entrypoint: 'TenantActor',
        logs: [{ message: [line({ level, msg, tenant })] }],
      });
    const ownIngest = traceItem({
      event: { rpcMethod: 'ingest' } as never,
      durableObjectId: platformActor,
      entrypoint: 'TenantActor',
      outcome: 'exception',
      exceptions: [{ name: 'Error', message: 'overloaded', timestamp: 1 }],
    });
    const call = backgroundWork();
    const batch = unbatched();
    for (let i = 0; i < 20; i++) {
      expect(await gatherTailEvents([ownAlarm('info', 'flush.done'), ownIngest], shipEnv, call.background, { batch })).toMatchObject({
        gathered: 0,
        skipped: 'nothing',
      });
    }
    await call.settled();
    expect((await actorOf(tenant).stats()).buffered.rows).toBe(0);
    for (let i = 0; i < 20; i++) {
      expect(await gatherTailEvents([ownAlarm('warn', 'flush.failed')], shipEnv, call.background, { batch })).toEqual({ gathered: 1, dropped: 0 });
      await call.settled();
    }
    expect((await actorOf(tenant).stats()).buffered.rows).toBe(20);
  });
});
