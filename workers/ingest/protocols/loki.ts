/**
 * Grafana Loki's push API → LogRows.
 *
 * Two encodings, as Promtail, Grafana Alloy, the Docker driver and the npm
 * clients send them: snappy-compressed protobuf PushRequest (Loki's own
 * push.proto, vendored in ./proto and decoded by @bufbuild/protobuf), and JSON (`{"streams":[{"stream":{…},"values":[[ns, line,
 * {metadata}]]}]}`, plus the older `labels`/`entries` form). Snappy is
 * ./snappy.ts (why not a library: see there).
 *
 * Mapping: the stream's labels → ResourceAttributes (they describe where the
 * lines come from, as OTel resources do); structured metadata →
 * LogAttributes; the line → Body. The service name and level come from the
 * labels or metadata Loki itself looks at (service_name, app, job…;
 * level, detected_level, severity…). X-Scope-OrgID is never read: the tenant
 * is the credential's.
 *
 * Like Loki's distributor, an invalid stream or entry is dropped on its own,
 * the valid rest is stored, and the answer is a 400 naming what was dropped.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { ownAttribute, setAttribute } from '../../../shared/attributes.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import { severityNumberFromText } from '../../../shared/severity.ts';
import { formatClickHouseTime, MAX_STORABLE_SECONDS, parseTimestamp, STORABLE_RANGE, TimestampError, type Instant } from '../../../shared/timestamp.ts';
import { PushRequestSchema, type PushRequest } from './generated/loki/push_pb.ts';
import { snappyUncompress, SnappyTooLargeError } from './snappy.ts';
import type { RowContext } from './otlp.ts';

export class LokiDecodeError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
}

export interface LokiEntry {
  /** null: the entry had no usable time (reason in `timeError`). */
  time: Instant | null;
  timeError?: string;
  line: string;
  metadata: Record<string, string>;
}

export interface LokiStream {
  /** Prometheus text form (`{job="api"}`) from protobuf, or an object from JSON. */
  labels: string | Record<string, string>;
  entries: LokiEntry[];
}

export interface LokiRejection {
  stream: number;
  /** null: the whole stream. */
  entry: number | null;
  reason: string;
}

export interface LokiRows {
  rows: LogRow[];
  /** Where each row came from, for rejections found later (size). */
  origin: { stream: number; entry: number }[];
  rejected: LokiRejection[];
  total: number;
}

/** Snappy block format, as Loki's clients compress; the inflated size is checked against the limit before inflating. */
export function decodeLokiProtobuf(body: Uint8Array, maxBytes: number): { streams: LokiStream[]; bytes: number } {
  let raw: Uint8Array;
  try {
    raw = snappyUncompress(body, maxBytes);
  } catch (err) {
    if (err instanceof SnappyTooLargeError) throw new LokiDecodeError(`the body exceeds ${maxBytes} bytes once snappy-decompressed`, 413);
    throw new LokiDecodeError(`the body is not snappy-compressed protobuf (Content-Type application/x-protobuf): ${(err as Error).message}`);
  }
  let request: PushRequest;
  try {
    request = fromBinary(PushRequestSchema, raw);
  } catch (err) {
    throw new LokiDecodeError(`the body is not a valid Loki PushRequest protobuf message: ${(err as Error).message}`);
  }
  const streams = request.streams.map((stream) => ({
    labels: stream.labels,
    entries: stream.entries.map((entry) => {
      const ts = entry.timestamp;
      const metadata: Record<string, string> = {};
      for (const pair of entry.structuredMetadata) setAttribute(metadata, pair.name, pair.value);
      const time = ts && (ts.seconds !== 0n || ts.nanos !== 0) ? instantOf(ts.seconds, ts.nanos) : null;
      return {
        time,
        timeError: ts && time === null && (ts.seconds !== 0n || ts.nanos !== 0) ? `timestamp is outside ${STORABLE_RANGE}` : undefined,
        line: entry.line,
        metadata,
      };
    }),
  }));
  return { streams, bytes: raw.byteLength };
}

function instantOf(seconds: bigint, nanos: number): Instant | null {
  if (seconds < 0n || seconds > BigInt(MAX_STORABLE_SECONDS) || nanos < 0 || nanos > 999_999_999) return null;
  return { seconds: Number(seconds), nanos };
}

export function decodeLokiJson(text: string): LokiStream[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LokiDecodeError(`the body is not valid JSON: ${(err as Error).message}`);
  }
  const streams = (json as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams)) throw new LokiDecodeError('the body must be {"streams": [...]}');
  return streams.map((stream, s) => {
    if (stream === null || typeof stream !== 'object') throw new LokiDecodeError(`streams[${s}] must be an object`);
    const { stream: labelObject, labels, values, entries } = stream as Record<string, unknown>;
    if (values !== undefined) {
      if (!isStringMap(labelObject ?? {})) throw new LokiDecodeError(`streams[${s}].stream must be an object of string label values`);
      if (!Array.isArray(values)) throw new LokiDecodeError(`streams[${s}].values must be an array of [timestamp, line] pairs`);
      return { labels: (labelObject ?? {}) as Record<string, string>, entries: values.map((value, e) => jsonEntry(value, s, e)) };
    }
    // The older form: {"labels": "{job=\"x\"}", "entries": [{"ts": "<RFC 3339>", "line": "…"}]}
    if (typeof labels !== 'string' || !Array.isArray(entries)) {
      throw new LokiDecodeError(`streams[${s}] must have "stream" and "values" (or "labels" and "entries")`);
    }
    return {
      labels,
      entries: entries.map((entry, e) => {
        const { ts, line } = (entry ?? {}) as Record<string, unknown>;
        if (typeof line !== 'string') throw new LokiDecodeError(`streams[${s}].entries[${e}].line must be a string`);
        return { ...readTime(ts), line, metadata: {} };
      }),
    };
  });
}

function jsonEntry(value: unknown, s: number, e: number): LokiEntry {
  if (!Array.isArray(value) || value.length < 2 || value.length > 3 || typeof value[1] !== 'string') {
    throw new LokiDecodeError(`streams[${s}].values[${e}] must be ["<unix nanoseconds>", "<line>"] or with a third element of structured metadata`);
  }
  const metadata = value[2] ?? {};
  if (!isStringMap(metadata)) throw new LokiDecodeError(`streams[${s}].values[${e}][2] (structured metadata) must be an object of strings`);
  return { ...readTime(value[0]), line: value[1], metadata };
}

function readTime(value: unknown): { time: Instant | null; timeError?: string } {
  if (value === undefined || value === null || value === '' || value === '0' || value === 0) return { time: null };
  try {
    return { time: parseTimestamp(value) };
  } catch (err) {
    if (err instanceof TimestampError) return { time: null, timeError: `timestamp ${err.message}` };
    throw err;
  }
}

function isStringMap(value: unknown): value is Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const v of Object.values(value)) if (typeof v !== 'string') return false;
  return true;
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_.]*$/;
const LABEL_PAIR_RE = /\s*([^\s=,{}"]+)\s*=\s*("(?:[^"\\]|\\.)*")\s*(,|})/y;

/** `{job="api", env="prod"}` → { job: 'api', env: 'prod' }, values with Go/JSON string escapes. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) throw new Error(`labels must look like {name="value", …}, got ${JSON.stringify(text.slice(0, 80))}`);
  if (/^\{\s*\}$/.test(trimmed)) return labels;
  LABEL_PAIR_RE.lastIndex = 1;
  for (;;) {
    const start = LABEL_PAIR_RE.lastIndex;
    const m = LABEL_PAIR_RE.exec(trimmed);
    if (!m) throw new Error(`labels ${JSON.stringify(text.slice(0, 80))}: expected name="value" at offset ${start}`);
    const [, name, quoted, end] = m;
    if (!LABEL_NAME_RE.test(name!)) throw new Error(`label name ${JSON.stringify(name)} is not valid`);
    try {
      setAttribute(labels, name!, JSON.parse(quoted!) as string);
    } catch {
      throw new Error(`label ${name} has an invalid escape in its value`);
    }
    if (end === '}') {
      if (LABEL_PAIR_RE.lastIndex !== trimmed.length) throw new Error(`labels ${JSON.stringify(text.slice(0, 80))}: text after the closing brace`);
      return labels;
    }
  }
}

/** Where Loki looks for a service name, in its order. */
const SERVICE_LABELS = ['service_name', 'service', 'app', 'application', 'app_kubernetes_io_name', 'container', 'job'];
const LEVEL_KEYS = ['level', 'detected_level', 'severity', 'lvl', 'loglevel'];
const HEX32_RE = /^[0-9a-fA-F]{32}$/;
const HEX16_RE = /^[0-9a-fA-F]{16}$/;

export function lokiToRows(streams: LokiStream[], ctx: RowContext): LokiRows {
  const rows: LogRow[] = [];
  const origin: LokiRows['origin'] = [];
  const rejected: LokiRejection[] = [];
  let total = 0;
  streams.forEach((stream, s) => {
    total += stream.entries.length;
    let labels: Record<string, string>;
    try {
      labels = typeof stream.labels === 'string' ? parseLabels(stream.labels) : stream.labels;
    } catch (err) {
      rejected.push({ stream: s, entry: null, reason: (err as Error).message });
      return;
    }
    const service = SERVICE_LABELS.map((k) => ownAttribute(labels, k)).find((v) => v !== undefined && v !== '');
    const labelLevel = LEVEL_KEYS.map((k) => ownAttribute(labels, k)).find((v) => v !== undefined && v !== '');
    stream.entries.forEach((entry, e) => {
      if (entry.timeError) {
        rejected.push({ stream: s, entry: e, reason: entry.timeError });
        return;
      }
      const row: LogRow = {
        TenantId: ctx.tenantId,
        Timestamp: entry.time ? formatClickHouseTime(entry.time) : ctx.receivedAt,
        ObservedTimestamp: ctx.receivedAt,
        LogId: `${ctx.batchId}-${rows.length}`,
        Body: entry.line,
        RetentionDays: ctx.retentionDays,
        ResourceAttributes: labels,
      };
      if (service !== undefined) row.ServiceName = service;
      const metadata = entry.metadata;
      const level = LEVEL_KEYS.map((k) => ownAttribute(metadata, k)).find((v) => v !== undefined && v !== '') ?? labelLevel;
      if (level !== undefined) {
        row.SeverityText = level;
        row.SeverityNumber = severityNumberFromText(level);
      }
      const traceId = ownAttribute(metadata, 'trace_id') ?? ownAttribute(metadata, 'traceID') ?? ownAttribute(metadata, 'traceId');
      if (traceId !== undefined && HEX32_RE.test(traceId)) row.TraceId = traceId.toLowerCase();
      const spanId = ownAttribute(metadata, 'span_id') ?? ownAttribute(metadata, 'spanID') ?? ownAttribute(metadata, 'spanId');
      if (spanId !== undefined && HEX16_RE.test(spanId)) row.SpanId = spanId.toLowerCase();
      for (const _ in metadata) {
        row.LogAttributes = metadata;
        break;
      }
      rows.push(row);
      origin.push({ stream: s, entry: e });
    });
  });
  return { rows, origin, rejected, total };
}

/** Loki's 400 text: what was dropped, the first few reasons. */
export function describeLokiRejections(rejected: LokiRejection[], streams: LokiStream[]): string {
  const lines = rejected.slice(0, 5).map((r) => {
    const labels = typeof streams[r.stream]?.labels === 'string' ? (streams[r.stream]!.labels as string) : JSON.stringify(streams[r.stream]?.labels ?? {});
    return r.entry === null ? `stream ${r.stream} ${labels}: ${r.reason}` : `stream ${r.stream} ${labels} entry ${r.entry}: ${r.reason}`;
  });
  const more = rejected.length > 5 ? `\n… and ${rejected.length - 5} more` : '';
  return `${rejected.length} entr${rejected.length === 1 ? 'y' : 'ies or streams'} rejected; the rest were stored\n${lines.join('\n')}${more}`;
}
