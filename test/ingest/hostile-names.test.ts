/**
 * Names that are members of Object.prototype (`__proto__`, `constructor`,
 * `toString`…) sent in every position every protocol has — levels, field
 * names, attribute keys, resource keys, label names, structured-metadata
 * names, SD-IDs and SD-PARAM names, OTLP keys — are stored as the text they
 * are: acknowledged, flushed, and found in ClickHouse with exactly the keys
 * and values sent. (Before the fix, `{"level":"__proto__"}` was acknowledged
 * and then poisoned every flush of its tenant.)
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { exports } from 'cloudflare:workers';
import snappy from 'snappyjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { ExportLogsServiceRequestSchema } from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { HOSTILE_NAMES } from '../support/constants.ts';
import { provisionKey, provisionTenant } from '../support/control-plane.ts';
import { PLANS } from '../../shared/plans.ts';
import { clickhouse, flushTenant, uniqueTenant } from '../support/in-workerd.ts';

interface StoredRow {
  Body: string;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  LogAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
  ScopeAttributes: Record<string, string>;
}

const tenant = uniqueTenant('hostile');
let key = '';
beforeAll(async () => {
  await provisionTenant(tenant, { plan: 'enterprise' });
  key = await provisionKey(tenant, ['logs:write']);
});

function send(path: string, type: string, body: BodyInit): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://neurallog.test${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': type }, body }),
  );
}

/** Flushes the tenant's actor and reads back the rows whose body starts with `tag`. */
async function storedRows(tag: string): Promise<StoredRow[]> {
  await flushTenant(tenant, PLANS.enterprise.shardCount);
  const rs = await clickhouse.query({
    query:
      'SELECT Body, SeverityText, SeverityNumber, ServiceName, LogAttributes, ResourceAttributes, ScopeAttributes FROM logs ' +
      'WHERE TenantId = {t:String} AND startsWith(Body, {tag:String}) ORDER BY Body',
    query_params: { t: tenant, tag },
    format: 'JSONEachRow',
  });
  return rs.json<StoredRow>();
}

/** Own keys only: what a JSON answer or ClickHouse map actually holds. */
const own = (map: Record<string, string>, name: string) => (Object.hasOwn(map, name) ? map[name] : undefined);

describe.each(HOSTILE_NAMES)('the name %s', (name) => {
  it('POST /v1/logs: as a level, a field name, a nested key, an attributes key and a resource key — stored as sent', async () => {
    const tag = `json-${name}-${crypto.randomUUID().slice(0, 6)}`;
    const n = JSON.stringify(name);
    // Written as text: only JSON.parse makes `__proto__` an own key, as a client's body does.
    const body = `[{"message": "${tag} a", "level": ${n}, "service": ${n}, ${n}: "top", "nested": {${n}: "deep"}, "resource": {${n}: "r"}, "attributes": {"inner": {${n}: "a"}}}]`;
    const res = await send('/v1/logs', 'application/json', body);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 1 });
    const [row] = await storedRows(tag);
    expect(row).toBeDefined();
    expect(row!.SeverityText).toBe(name);
    expect(row!.SeverityNumber).toBe(0);
    expect(row!.ServiceName).toBe(name);
    expect(own(row!.LogAttributes, name)).toBe('top');
    expect(own(row!.LogAttributes, `inner.${name}`)).toBe('a');
    expect(own(row!.LogAttributes, `nested.${name}`)).toBe('deep');
    expect(own(row!.ResourceAttributes, name)).toBe('r');
  });

  it('POST /otlp/v1/logs: as severity text, attribute, resource, scope and kvlist keys', async () => {
    const tag = `otlp-${name}-${crypto.randomUUID().slice(0, 6)}`;
    const str = (value: string) => ({ value: { case: 'stringValue' as const, value } });
    const body = toBinary(
      ExportLogsServiceRequestSchema,
      create(ExportLogsServiceRequestSchema, {
        resourceLogs: [
          {
            resource: {
              attributes: [
                { key: name, value: str('r') },
                { key: 'service.name', value: str(name) },
              ],
            },
            scopeLogs: [
              {
                scope: { name: 's', attributes: [{ key: name, value: str('s') }] },
                logRecords: [
                  {
                    severityText: name,
                    body: str(`${tag} a`),
                    attributes: [
                      { key: name, value: str('a') },
                      { key: 'kv', value: { value: { case: 'kvlistValue', value: { values: [{ key: name, value: str('inner') }] } } } },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const res = await send('/otlp/v1/logs', 'application/x-protobuf', body);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const [row] = await storedRows(tag);
    expect(row).toBeDefined();
    expect(row!.SeverityText).toBe(name);
    expect(row!.ServiceName).toBe(name);
    expect(own(row!.LogAttributes, name)).toBe('a');
    expect(JSON.parse(own(row!.LogAttributes, 'kv')!)).toEqual(JSON.parse(`{${JSON.stringify(name)}: "inner"}`));
    expect(own(row!.ResourceAttributes, name)).toBe('r');
    expect(own(row!.ScopeAttributes, name)).toBe('s');
  });

  it('POST /loki/api/v1/push: as label names and values, structured-metadata names, and a level (protobuf and JSON)', async () => {
    const tag = `loki-${name}-${crypto.randomUUID().slice(0, 6)}`;
    const labelName = name.replace(/[^a-zA-Z0-9_]/g, '_'); // Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*
    const protobuf = snappy.compress(
      toBinary(
        PushRequestSchema,
        create(PushRequestSchema, {
          streams: [
            {
              labels: `{${labelName}="l", level=${JSON.stringify(name)}, service_name=${JSON.stringify(name)}}`,
              entries: [{ line: `${tag} a`, structuredMetadata: [{ name, value: 'm' }] }],
            },
          ],
        }),
      ),
    );
    const pb = await send('/loki/api/v1/push', 'application/x-protobuf', protobuf);
    expect(pb.status).toBe(204);
    const json = `{"streams": [{"stream": {${JSON.stringify(name)}: "l"}, "values": [["0", "${tag} b", {${JSON.stringify(name)}: "m", "level": ${JSON.stringify(name)}}]]}]}`;
    const js = await send('/loki/api/v1/push', 'application/json', json);
    expect(js.status).toBe(204);
    const [a, b] = await storedRows(tag);
    expect(a).toMatchObject({ Body: `${tag} a`, SeverityText: name, SeverityNumber: 0, ServiceName: name });
    expect(own(a!.ResourceAttributes, labelName)).toBe('l');
    expect(own(a!.LogAttributes, name)).toBe('m');
    expect(b).toMatchObject({ Body: `${tag} b`, SeverityText: name, SeverityNumber: 0 });
    expect(own(b!.ResourceAttributes, name)).toBe('l');
    expect(own(b!.LogAttributes, name)).toBe('m');
  });

  it('POST /v1/syslog: as an SD-ID, an SD-PARAM name and an app name', async () => {
    const tag = `syslog-${name}-${crypto.randomUUID().slice(0, 6)}`;
    const line = `<14>1 ${new Date().toISOString()} host ${name} 1 ID1 [${name} ${name}="v"] ${tag} a`;
    const res = await send('/v1/syslog', 'text/plain', line);
    expect(res.status).toBe(202);
    const [row] = await storedRows(tag);
    expect(row).toBeDefined();
    expect(row!.ServiceName).toBe(name);
    expect(own(row!.LogAttributes, `${name}.${name}`)).toBe('v');
  });

  it('POST /es/_bulk: as document keys, log.level and service fields', async () => {
    const tag = `es-${name}-${crypto.randomUUID().slice(0, 6)}`;
    const doc = `{"message": "${tag} a", ${JSON.stringify(name)}: "top", "log": {"level": ${JSON.stringify(name)}}, "service": {"name": ${JSON.stringify(name)}, ${JSON.stringify(name)}: "s"}}`;
    const res = await send('/es/_bulk', 'application/x-ndjson', `{"index":{}}\n${doc}\n`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ errors: false });
    const [row] = await storedRows(tag);
    expect(row).toBeDefined();
    expect(row!.SeverityText).toBe(name);
    expect(row!.ServiceName).toBe(name);
    expect(own(row!.LogAttributes, name)).toBe('top');
    expect(own(row!.LogAttributes, `service.${name}`)).toBe('s');
  });
});
