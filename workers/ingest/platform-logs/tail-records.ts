/**
 * Tail events → the platform tenant's log records.
 *
 * A tail event (TraceItem) is one invocation of a producer — a worker's
 * request, a Durable Object's RPC call or alarm — with what it wrote to the
 * console, the exceptions it threw and how it ended. Each console call becomes
 * a record: a line of shared/logger.ts (one JSON object) gives its level,
 * message and fields; any other line is kept as text at the console's level.
 * Each exception becomes an error record, and an invocation that ended badly
 * without one (CPU or memory exceeded, cancelled) says so in a record of its own.
 *
 * Every record carries where it came from (`service`: the Durable Object class
 * or the worker; `worker`, `invocation`, the request's method and path or the
 * RPC method) and is bounded: so many records per event, so many characters
 * per message, field and value, so many fields. Field names that say they hold
 * a secret are masked as the logger masks them, and credential-shaped text is
 * redacted everywhere (redact.ts). The request's query string and headers are
 * never copied (a key can travel in either).
 *
 * The records are the JSON records any client could POST (shared/normalize.ts
 * turns them into rows), built with `setAttribute`, so a `__proto__` field of a
 * hostile line is an attribute like any other.
 */
import { setAttribute } from '../../../shared/attributes.ts';
import { isSecretName } from '../../../shared/logger.ts';
import { severityNumberFromText } from '../../../shared/severity.ts';
import { mayShip, type RecordOrigin } from './loop-guard.ts';
import { redactSecrets } from './redact.ts';

export interface SelfLogLimits {
  /** Records one tail call ships at most; past it one record says how many were left out. */
  maxRecords: number;
  /** Longest message (characters); longer ones are cut and marked. */
  maxMessageChars: number;
  /** Longest console line read as JSON; a longer one is kept as (cut) text. */
  maxJsonLineChars: number;
  /** Most attributes taken from one line's fields (nested ones count each). */
  maxFields: number;
  /** Longest attribute value and name (characters). */
  maxValueChars: number;
  /** Deepest nesting of a line's fields that is flattened; deeper is kept as JSON text. */
  maxDepth: number;
}

export const SELF_LOG_LIMITS: SelfLogLimits = {
  maxRecords: 200,
  maxMessageChars: 4_096,
  maxJsonLineChars: 32_768,
  maxFields: 64,
  maxValueChars: 1_024,
  maxDepth: 4,
};

/** A record as a client would POST it to /v1/logs. */
export interface SelfLogRecord {
  timestamp: string;
  level: string;
  service: string;
  message: string;
  attributes: Record<string, string>;
}

export interface TailContext {
  platformTenant: string;
  /** Ids (hex) of the platform tenant's TenantActors: what they do is the shipping's own echo. */
  platformActorIds: ReadonlySet<string>;
  /** The producing worker, when the runtime says it apart from the events (their `scriptName` wins). */
  producer?: string | null;
  limits?: SelfLogLimits;
}

const CUT_MARK = '…[cut]';

/** The records of a tail call's events that may be shipped, in order, bounded. */
export function tailRecords(items: readonly TraceItem[], context: TailContext): SelfLogRecord[] {
  const limits = context.limits ?? SELF_LOG_LIMITS;
  const records: SelfLogRecord[] = [];
  let left = 0;
  const keep = (origin: RecordOrigin, record: SelfLogRecord, tenant: string | null): void => {
    if (!mayShip(origin, { tenant, severityNumber: severityNumberFromText(record.level) }, context.platformTenant)) return;
    if (records.length < limits.maxRecords) records.push(record);
    else left++;
  };
  for (const item of items) {
    if (!mayHaveRecords(item)) continue;
    const invocation = describeInvocation(item, context);
    for (const log of item.logs ?? []) {
      const { record, tenant } = consoleRecord(log, invocation, limits);
      keep(invocation.origin, record, tenant);
    }
    for (const exception of item.exceptions ?? []) keep(invocation.origin, exceptionRecord(exception, invocation, limits), null);
    const ending = endingRecord(item, invocation, limits);
    if (ending) keep(invocation.origin, ending, null);
  }
  if (left > 0) {
    records.push({
      timestamp: new Date().toISOString(),
      level: 'warn',
      service: 'neurallog-platform-logs',
      message: `self_logs.truncated: ${left} records of this tail event were left out (at most ${limits.maxRecords})`,
      attributes: { left: String(left) },
    });
  }
  return records;
}

interface Invocation {
  origin: RecordOrigin;
  service: string;
  /** Attributes every record of the invocation carries. */
  attributes: Record<string, string>;
}

function describeInvocation(item: TraceItem, context: TailContext): Invocation {
  const worker = typeof item.scriptName === 'string' && item.scriptName !== '' ? item.scriptName : (context.producer ?? 'unknown');
  const entrypoint = typeof item.entrypoint === 'string' && item.entrypoint !== '' ? item.entrypoint : null;
  const durableObjectId = typeof item.durableObjectId === 'string' ? item.durableObjectId : null;
  const event = item.event as Record<string, unknown> | null;
  const kind = invocationKind(event);
  const attributes: Record<string, string> = { worker, invocation: kind, outcome: String(item.outcome) };
  if (entrypoint !== null) attributes.entrypoint = entrypoint;
  if (durableObjectId !== null) attributes['durable_object.id'] = durableObjectId;
  if (kind === 'fetch') {
    const request = (event as { request?: { method?: unknown; url?: unknown; headers?: unknown } }).request;
    if (typeof request?.method === 'string') attributes['request.method'] = request.method.slice(0, 16);
    // The path only: a query string may carry a credential (?api_key=…), and is the caller's.
    if (typeof request?.url === 'string') attributes['request.path'] = bounded(redactSecrets(pathOf(request.url)), 512);
    const headers = request?.headers;
    if (headers !== null && typeof headers === 'object') {
      for (const name of ['cf-ray', 'x-request-id']) {
        const value = Object.hasOwn(headers, name) ? (headers as Record<string, unknown>)[name] : undefined;
        if (typeof value === 'string') attributes[name === 'cf-ray' ? 'request.ray' : 'request.id'] = bounded(redactSecrets(value), 128);
      }
    }
    const status = (event as { response?: { status?: unknown } }).response?.status;
    if (typeof status === 'number') attributes['response.status'] = String(status);
  } else if (kind === 'rpc') {
    const method = (event as { rpcMethod?: unknown }).rpcMethod;
    if (typeof method === 'string') attributes['rpc.method'] = method.slice(0, 128);
  }
  return {
    origin: { platformActor: durableObjectId !== null && context.platformActorIds.has(durableObjectId), alarm: kind === 'alarm' },
    // A Durable Object's records are its class's (TenantActor, TailHub…); a worker's, the worker's.
    service: durableObjectId !== null && entrypoint !== null ? entrypoint : worker,
    attributes,
  };
}

/** What started the invocation, from the shape of its event (the runtime's event classes have no tag). */
function invocationKind(event: Record<string, unknown> | null): string {
  if (event === null || typeof event !== 'object') return 'unknown';
  if ('request' in event) return 'fetch';
  if ('rpcMethod' in event) return 'rpc';
  if ('cron' in event) return 'scheduled';
  if ('scheduledTime' in event) return 'alarm';
  if ('queue' in event) return 'queue';
  if ('getWebSocketEvent' in event || 'webSocketEventType' in event) return 'websocket';
  return 'other';
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split('?')[0]!.split('#')[0]!;
  }
}

function consoleRecord(log: TraceLog, invocation: Invocation, limits: SelfLogLimits): { record: SelfLogRecord; tenant: string | null } {
  const consoleLevel = consoleLevelName(log.level);
  const text = consoleText(log.message, limits);
  const attributes = { ...invocation.attributes };
  const fields = text.length <= limits.maxJsonLineChars ? jsonObject(text) : null;
  if (fields === null) {
    return {
      record: {
        timestamp: isoTime(log.timestamp),
        level: consoleLevel,
        service: invocation.service,
        message: bounded(redactSecrets(text), limits.maxMessageChars),
        attributes,
      },
      tenant: null,
    };
  }
  // A shared/logger.ts line: {level, msg, time, ...fields}. `time` is the runtime's timestamp again;
  // the fields become attributes, `tenant` among them (which tenant a line is about).
  const level = typeof fields.level === 'string' && Object.hasOwn(fields, 'level') ? fields.level.slice(0, 16) : consoleLevel;
  const msg = Object.hasOwn(fields, 'msg') ? fields.msg : undefined;
  const message = typeof msg === 'string' ? msg : text;
  let budget = limits.maxFields;
  for (const key of Object.keys(fields)) {
    if (key === 'level' || key === 'msg' || key === 'time') continue;
    budget = flattenField(attributes, key, fields[key], 1, budget, limits);
    if (budget <= 0) break;
  }
  const tenantValue = Object.hasOwn(fields, 'tenant') ? fields.tenant : undefined;
  return {
    record: {
      timestamp: isoTime(log.timestamp),
      level,
      service: invocation.service,
      message: bounded(redactSecrets(message), limits.maxMessageChars),
      attributes,
    },
    tenant: typeof tenantValue === 'string' ? tenantValue : null,
  };
}

/** Flattens one field into `target` (dotted names, as the normaliser would), secrets masked; returns the field budget left. */
function flattenField(target: Record<string, string>, name: string, value: unknown, depth: number, budget: number, limits: SelfLogLimits): number {
  if (budget <= 0) return 0;
  const key = bounded(redactSecrets(name), limits.maxValueChars);
  if (isSecretName(name.split('.').pop()!)) {
    setAttribute(target, key, '[redacted]');
    return budget - 1;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < limits.maxDepth) {
    let left = budget;
    for (const child of Object.keys(value)) {
      left = flattenField(target, `${name}.${child}`, (value as Record<string, unknown>)[child], depth + 1, left, limits);
      if (left <= 0) break;
    }
    return left;
  }
  setAttribute(target, key, bounded(redactSecrets(valueText(value)), limits.maxValueChars));
  return budget - 1;
}

function exceptionRecord(exception: TraceException, invocation: Invocation, limits: SelfLogLimits): SelfLogRecord {
  const name = typeof exception.name === 'string' ? exception.name.slice(0, 128) : 'Error';
  const attributes: Record<string, string> = { ...invocation.attributes, 'exception.name': name };
  if (typeof exception.stack === 'string') attributes['exception.stack'] = bounded(redactSecrets(exception.stack), limits.maxMessageChars);
  return {
    timestamp: isoTime(exception.timestamp),
    level: 'error',
    service: invocation.service,
    message: bounded(redactSecrets(`${name}: ${String(exception.message)}`), limits.maxMessageChars),
    attributes,
  };
}

/** Whether an event can give a record at all: it wrote to the console, threw, or ended badly (the rest is read only then). */
export function mayHaveRecords(item: TraceItem): boolean {
  return (item.logs?.length ?? 0) > 0 || (item.exceptions?.length ?? 0) > 0 || endedBadly(item);
}

/** Ended in a way worth a record of its own: not `ok`, nothing thrown that the runtime reported (exceeded CPU or memory, cancelled…). */
function endedBadly(item: TraceItem): boolean {
  const outcome = String(item.outcome);
  return outcome !== 'ok' && outcome !== 'unknown' && (item.exceptions?.length ?? 0) === 0;
}

/** An invocation that ended badly and threw nothing the runtime reported (exceeded CPU or memory, cancelled…). */
function endingRecord(item: TraceItem, invocation: Invocation, limits: SelfLogLimits): SelfLogRecord | null {
  if (!endedBadly(item)) return null;
  const outcome = String(item.outcome);
  return {
    timestamp: isoTime(item.eventTimestamp ?? Date.now()),
    // A client that goes away cancels its request: worth seeing, not an error of ours.
    level: outcome === 'canceled' ? 'warn' : 'error',
    service: invocation.service,
    message: bounded(`invocation.${outcome}`, limits.maxMessageChars),
    attributes: { ...invocation.attributes },
  };
}

/** console.log's arguments as one line: strings as they are, anything else as JSON. */
function consoleText(message: unknown, limits: SelfLogLimits): string {
  const parts = Array.isArray(message) ? message : [message];
  const texts: string[] = [];
  let length = 0;
  for (const part of parts) {
    const text = valueText(part).slice(0, limits.maxJsonLineChars + 1);
    texts.push(text);
    length += text.length + 1;
    // Enough to fill any bound that follows; the rest is never read.
    if (length > limits.maxJsonLineChars + 1) break;
  }
  return texts.join(' ');
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[unserialisable]';
  }
}

/** The line's fields when it is one JSON object, else null. */
function jsonObject(text: string): Record<string, unknown> | null {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function consoleLevelName(level: unknown): string {
  switch (level) {
    case 'error':
      return 'error';
    case 'warn':
      return 'warn';
    case 'debug':
      return 'debug';
    default:
      return 'info'; // log, info, and anything new
  }
}

function isoTime(ms: unknown): string {
  const date = new Date(typeof ms === 'number' && Number.isFinite(ms) ? ms : Date.now());
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - CUT_MARK.length))}${CUT_MARK}`;
}
