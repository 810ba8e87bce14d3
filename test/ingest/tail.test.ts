/**
 * Live tail: GET /v1/tail?q=… as a WebSocket, served by the tenant's TailHub,
 * fed by its actors as they accept records (before any flush).
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HOSTILE_NAMES, TEST_API_KEY, TEST_TAIL_RECORDS_PER_S, TEST_TENANT } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { uniqueTenant } from '../support/in-workerd.ts';
import { eventually } from '../support/eventually.ts';

interface Message {
  type: string;
  logs?: { body: string; service: string; severityNumber: number; attributes: Record<string, string>; patternId: string; pattern: string }[];
  count?: number;
}

async function tail(
  q: string,
  key = TEST_API_KEY,
): Promise<{ socket: WebSocket; messages: Message[]; until: (done: (m: Message[]) => boolean) => Promise<Message[]> }> {
  const res = await exports.default.fetch(
    new Request(`https://neurallog.test/v1/tail?q=${encodeURIComponent(q)}`, { headers: { authorization: `Bearer ${key}`, upgrade: 'websocket' } }),
  );
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  const messages: Message[] = [];
  socket.addEventListener('message', (e) => {
    messages.push(JSON.parse(e.data as string));
  });
  socket.accept();
  const until = (done: (m: Message[]) => boolean) => eventually('the tail’s messages', () => messages, { until: done, timeoutMs: 5_000, intervalMs: 20 });
  await until((m) => m.some((x) => x.type === 'hello'));
  return { socket, messages, until };
}

function post(records: unknown[], key = TEST_API_KEY): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/logs', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    }),
  );
}

const logsIn = (messages: Message[]) => messages.flatMap((m) => m.logs ?? []);

describe('live tail', () => {
  it('streams the records that match, as they are accepted, before they are flushed', async () => {
    const tag = `tail${crypto.randomUUID().slice(0, 8)}`;
    const { socket, messages, until } = await tail(`${tag} level>=error -ignored`);
    expect(
      (
        await post([
          { message: `${tag} first`, level: 'error', service: 'api' },
          { message: `${tag} not an error`, level: 'info' },
          { message: `${tag} ignored`, level: 'error' },
          { message: 'other text', level: 'error' },
          { message: `${tag} second`, level: 'fatal', region: 'eu' },
        ])
      ).status,
    ).toBe(202);
    await until((m) => logsIn(m).length >= 2);
    expect(logsIn(messages).map((l) => l.body)).toEqual([`${tag} first`, `${tag} second`]);
    expect(logsIn(messages)[1]).toMatchObject({ severityNumber: 21, attributes: { region: 'eu' } });
    socket.close();
  });

  it("carries each record's pattern and template, and pattern:<id> tails one pattern", async () => {
    const tag = `tailp${crypto.randomUUID().slice(0, 8)}`;
    const { socket, messages, until } = await tail(tag);
    await post([
      { message: `${tag} disk sda1 is 91 percent full`, service: 'node' },
      { message: `${tag} user 7 logged in`, service: 'node' },
    ]);
    await until((m) => logsIn(m).length >= 2);
    const [disk, user] = logsIn(messages);
    // The tag is a variable by its shape when its random part holds a run of digits; the percentage always is.
    expect(disk).toMatchObject({ patternId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect([`${tag} disk sda1 is <*> percent full`, '<*> disk sda1 is <*> percent full']).toContain(disk!.pattern);
    expect(user!.patternId).not.toBe(disk!.patternId);
    socket.close();

    // Tailing the pattern: the next disk line comes, the login does not.
    const one = await tail(`pattern:${disk!.patternId}`);
    await post([
      { message: `${tag} user 8 logged in`, service: 'node' },
      { message: `${tag} disk sda1 is 97 percent full`, service: 'node' },
    ]);
    await one.until((m) => logsIn(m).length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(logsIn(one.messages).map((l) => l.body)).toEqual([`${tag} disk sda1 is 97 percent full`]);
    one.socket.close();
  });

  it("sees every shard of a sharded tenant, and never another tenant's records", async () => {
    const tenant = uniqueTenant('tailsh');
    await provisionTenant(tenant, { plan: 'professional' }); // two shards
    const key = await provisionKey(tenant, ['logs:write', 'logs:read']);
    const { socket, messages, until } = await tail('shardtail', key);
    const devTail = await tail('shardtail'); // the dev tenant tails the same words
    for (let i = 0; i < 12; i++) expect((await post([{ message: `shardtail batch ${i}` }], key)).status).toBe(202);
    await until((m) => logsIn(m).length >= 12);
    expect(
      logsIn(messages)
        .map((l) => l.body)
        .sort(),
    ).toEqual(Array.from({ length: 12 }, (_, i) => `shardtail batch ${i}`).sort());
    expect(logsIn(devTail.messages)).toEqual([]);
    socket.close();
    devTail.socket.close();
  });

  it('bounds what a flooded socket gets, and tells it how many records it missed', async () => {
    const tag = `flood${crypto.randomUUID().slice(0, 8)}`;
    const { socket, messages, until } = await tail(tag);
    const n = TEST_TAIL_RECORDS_PER_S * 2;
    expect((await post(Array.from({ length: n }, (_, i) => ({ message: `${tag} ${i}` })))).status).toBe(202);
    await until((m) => m.some((x) => x.type === 'dropped'));
    const delivered = logsIn(messages).length;
    const dropped = messages.filter((m) => m.type === 'dropped').reduce((s, m) => s + m.count!, 0);
    expect(delivered).toBeLessThanOrEqual(TEST_TAIL_RECORDS_PER_S);
    expect(delivered + dropped).toBe(n);
    socket.close();
  });

  it('checks the query and the upgrade before connecting', async () => {
    const bad = await exports.default.fetch(
      new Request('https://neurallog.test/v1/tail?q=level%3Aloud', { headers: { authorization: `Bearer ${TEST_API_KEY}`, upgrade: 'websocket' } }),
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'query_syntax', position: 6 });
    const plain = await exports.default.fetch(new Request('https://neurallog.test/v1/tail?q=x', { headers: { authorization: `Bearer ${TEST_API_KEY}` } }));
    expect(plain.status).toBe(426);
    const anonymous = await exports.default.fetch(new Request('https://neurallog.test/v1/tail?q=x', { headers: { upgrade: 'websocket' } }));
    expect(anonymous.status).toBe(401);
  });

  it('takes names of Object.prototype members as query fields, and a socket whose query fails costs the others nothing', async () => {
    const tag = `proto${crypto.randomUUID().slice(0, 8)}`;
    const sockets = await Promise.all(HOSTILE_NAMES.map((name) => tail(`${tag} ${name}:x`)));
    // A socket whose stored query no longer evaluates (as after a change of meaning): straight to the hub.
    const hub = env.TAIL_HUB.get(env.TAIL_HUB.idFromName(TEST_TENANT));
    const url = new URL('https://tail-hub.internal/');
    url.searchParams.set('tenant', TEST_TENANT);
    url.searchParams.set('shards', '1');
    url.searchParams.set('query', JSON.stringify({ type: 'field', field: 'level', op: ':', value: 'loud', phrase: false, prefix: false, start: 6 }));
    const broken = await hub.fetch(new Request(url, { headers: { Upgrade: 'websocket' } }));
    const brokenSocket = broken.webSocket!;
    const brokenMessages: Message[] = [];
    let closed: number | null = null;
    brokenSocket.addEventListener('message', (e) => brokenMessages.push(JSON.parse(e.data as string)));
    brokenSocket.addEventListener('close', (e) => (closed = e.code));
    brokenSocket.accept();

    const records = HOSTILE_NAMES.map((name) => JSON.parse(`{"message": "${tag} ${name}", ${JSON.stringify(name)}: "x"}`));
    expect((await post(records)).status).toBe(202);
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const got = await sockets[i]!.until((m) => logsIn(m).length >= 1);
      expect(
        logsIn(got).map((l) => l.body),
        name,
      ).toEqual([`${tag} ${name}`]);
      expect(Object.hasOwn(logsIn(got)[0]!.attributes, name)).toBe(true);
    }
    await eventually('the broken tail closed', () => closed !== null, { timeoutMs: 5_000, intervalMs: 20 });
    expect(brokenMessages).toContainEqual(expect.objectContaining({ type: 'error', error: 'query_failed' }));
    expect(closed).toBe(1011);
    for (const s of sockets) s.socket.close();
  });
});
