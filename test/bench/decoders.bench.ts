/**
 * What each ingest protocol costs the ingest worker per batch, inside workerd:
 * decode the body, map every record to a LogRow, serialise the rows once —
 * the same 1,000 records in each protocol's own encoding. (The end-to-end
 * per-protocol throughput is in `npm run bench`; this isolates the part that
 * differs between protocols.) `npm run bench:hot-path`; figures in
 * docs/benchmarks.md.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import snappy from 'snappyjs';
import { bench, describe } from 'vitest';
import { normalizeRecord } from '../../shared/normalize.ts';
import { serializeRows } from '../../shared/row-format.ts';
import { PushRequestSchema } from '../../workers/ingest/protocols/generated/loki/push_pb.ts';
import { ExportLogsServiceRequestSchema } from '../../workers/ingest/protocols/generated/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import { decodeLokiJson, decodeLokiProtobuf, lokiToRows } from '../../workers/ingest/protocols/loki.ts';
import { decodeOtlpJson, decodeOtlpProtobuf, otlpToRows } from '../../workers/ingest/protocols/otlp.ts';
import { parseSyslogLine, syslogToRow } from '../../workers/ingest/protocols/syslog.ts';
import { parseRecords } from '../../workers/ingest/parse-records.ts';

const N = 1000;
const ctx = { tenantId: 'bench', retentionDays: 30, receivedAt: '2026-11-26 10:00:00.000000000', batchId: 'B' };
const t0 = Date.UTC(2026, 10, 26, 10);
const records = Array.from({ length: N }, (_, i) => ({
  timestamp: new Date(t0 + i).toISOString(),
  level: i % 10 === 0 ? 'error' : 'info',
  service: `svc-${i % 4}`,
  host: `node-${i % 16}`,
  message: `Failed password for invalid user admin${i} from 10.0.${i % 255}.${i % 7} port ${2000 + i} ssh2 [preauth] session=${(i * 7919).toString(16)}`,
}));

const jsonBody = JSON.stringify(records);
const otlpRequest = create(ExportLogsServiceRequestSchema, {
  resourceLogs: [0, 1, 2, 3].map((s) => ({
    resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue' as const, value: `svc-${s}` } } }] },
    scopeLogs: [
      {
        scope: { name: 'bench' },
        logRecords: records
          .filter((_, i) => i % 4 === s)
          .map((r) => ({
            timeUnixNano: BigInt(Date.parse(r.timestamp)) * 1_000_000n,
            severityText: r.level,
            body: { value: { case: 'stringValue' as const, value: r.message } },
            attributes: [{ key: 'host', value: { value: { case: 'stringValue' as const, value: r.host } } }],
          })),
      },
    ],
  })),
});
const otlpProtobuf = toBinary(ExportLogsServiceRequestSchema, otlpRequest);
const otlpJson = JSON.stringify({
  resourceLogs: [0, 1, 2, 3].map((s) => ({
    resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${s}` } }] },
    scopeLogs: [
      {
        scope: { name: 'bench' },
        logRecords: records
          .filter((_, i) => i % 4 === s)
          .map((r) => ({
            timeUnixNano: `${Date.parse(r.timestamp)}000000`,
            severityText: r.level,
            body: { stringValue: r.message },
            attributes: [{ key: 'host', value: { stringValue: r.host } }],
          })),
      },
    ],
  })),
});
const lokiProtobuf = snappy.compress(
  toBinary(
    PushRequestSchema,
    create(PushRequestSchema, {
      streams: [0, 1, 2, 3].map((s) => ({
        labels: `{service_name="svc-${s}"}`,
        entries: records
          .filter((_, i) => i % 4 === s)
          .map((r) => ({ timestamp: timestampFromMs(Date.parse(r.timestamp)), line: r.message, structuredMetadata: [{ name: 'host', value: r.host }] })),
      })),
    }),
  ),
);
const lokiJson = JSON.stringify({
  streams: [0, 1, 2, 3].map((s) => ({
    stream: { service_name: `svc-${s}` },
    values: records.filter((_, i) => i % 4 === s).map((r) => [`${Date.parse(r.timestamp)}000000`, r.message, { host: r.host }]),
  })),
});
const syslogBody = records.map((r) => `<${r.level === 'error' ? 11 : 14}>1 ${r.timestamp} ${r.host} ${r.service} - - - ${r.message}`).join('\n');
const LIMIT = 1 << 20;

describe(`decode + map + serialise, ${N} records`, () => {
  bench('JSON array (POST /v1/logs)', () => {
    const rows = parseRecords(jsonBody, 'json', 10_000).map((r, i) => normalizeRecord(r, i, ctx));
    serializeRows(rows, { maxRecordBytes: LIMIT, now: Date.now() });
  });
  bench('OTLP protobuf', () => {
    serializeRows(otlpToRows(decodeOtlpProtobuf(otlpProtobuf), ctx).rows, { maxRecordBytes: LIMIT, now: Date.now() });
  });
  bench('OTLP JSON', () => {
    serializeRows(otlpToRows(decodeOtlpJson(otlpJson), ctx).rows, { maxRecordBytes: LIMIT, now: Date.now() });
  });
  bench('Loki protobuf + snappy', () => {
    serializeRows(lokiToRows(decodeLokiProtobuf(lokiProtobuf, 1 << 24).streams, ctx).rows, { maxRecordBytes: LIMIT, now: Date.now() });
  });
  bench('Loki JSON', () => {
    serializeRows(lokiToRows(decodeLokiJson(lokiJson), ctx).rows, { maxRecordBytes: LIMIT, now: Date.now() });
  });
  bench('syslog RFC 5424', () => {
    const now = new Date(t0);
    serializeRows(
      syslogBody.split('\n').map((line, i) => syslogToRow(parseSyslogLine(line, now), i, ctx)),
      { maxRecordBytes: LIMIT, now: Date.now() },
    );
  });
});
