/**
 * Syslog lines → LogRows: RFC 5424 exactly as its ABNF reads, RFC 3164 (BSD)
 * as daemons actually write it, and anything else kept as it is.
 *
 * Hand-written, not a library, and on purpose (docs/adr/0007): the npm
 * parsers we evaluated read RFC 5424 heuristically — timestamps through
 * `Date` (milliseconds, so RFC 5424's microseconds are lost), SD-PARAM
 * escapes (`\"`, `\\`, `\]`) not honoured, NILVALUE `-` kept as text. The
 * grammar is small and fully specified; this follows it field by field and
 * is fuzzed (test/ingest/fuzz.test.ts).
 *
 * Mapping, as the OpenTelemetry Collector's syslog parser does it:
 * PRI → severity (number and keyword) and facility; HOSTNAME → resource
 * `host.name`; APP-NAME (or the 3164 TAG) → service name; PROCID, MSGID,
 * facility and version → `syslog.*` attributes; each SD-PARAM →
 * `<SD-ID>.<name>` attribute; MSG → body.
 */
import { setAttribute } from '../../../shared/attributes.ts';
import type { LogRow } from '../../../shared/log-record.ts';
import { formatClickHouseTime, parseTimestamp, TimestampError, type Instant } from '../../../shared/timestamp.ts';
import type { RowContext } from './otlp.ts';

/** Syslog severity 0–7 → OpenTelemetry SeverityNumber (the Collector's syslog parser mapping). */
const SEVERITY_NUMBER = [21, 19, 18, 17, 13, 10, 9, 5] as const;
const SEVERITY_TEXT = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
// biome-ignore format: the facility codes 0–23 in order
const FACILITY = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console',
  'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164' | 'unparsed';
  facility?: number;
  severity?: number;
  version?: number;
  time?: Instant;
  hostname?: string;
  appName?: string;
  procId?: string;
  msgId?: string;
  structuredData: Record<string, string>;
  message: string;
}

const PRI_RE = /^<(\d{1,3})>/;
const NIL = '-';

/** Parses one line; never throws — a line that is not syslog comes back `unparsed` with the text as its message. */
export function parseSyslogLine(line: string, now: Date): SyslogMessage {
  const pri = PRI_RE.exec(line);
  let facility: number | undefined;
  let severity: number | undefined;
  let rest = line;
  if (pri) {
    const value = Number(pri[1]);
    if (value <= 191) {
      facility = value >> 3;
      severity = value & 7;
      rest = line.slice(pri[0].length);
    }
  }
  if (facility !== undefined && /^[1-9]\d{0,2} /.test(rest)) {
    const parsed = parse5424(rest);
    if (parsed) return { ...parsed, facility, severity };
  }
  const bsd = parse3164(rest, now);
  if (bsd) return { ...bsd, facility, severity };
  return { format: 'unparsed', facility, severity, structuredData: {}, message: facility === undefined ? line : rest };
}

/** VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG] */
function parse5424(text: string): SyslogMessage | null {
  let pos = 0;
  const field = (max: number): string | null => {
    const end = text.indexOf(' ', pos);
    if (end === -1 || end === pos || end - pos > max) return null;
    const value = text.slice(pos, end);
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < 33 || code > 126) return null; // PRINTUSASCII
    }
    pos = end + 1;
    return value;
  };
  const version = field(3);
  const timestamp = field(64);
  const hostname = field(255);
  const appName = field(48);
  const procId = field(128);
  const msgId = field(32);
  if (version === null || timestamp === null || hostname === null || appName === null || procId === null || msgId === null) return null;
  let time: Instant | undefined;
  if (timestamp !== NIL) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$/.test(timestamp)) return null;
    try {
      time = parseTimestamp(timestamp);
    } catch (err) {
      if (err instanceof TimestampError) return null;
      throw err;
    }
  }
  const structuredData: Record<string, string> = {};
  if (text.startsWith(NIL, pos) && (pos + 1 === text.length || text[pos + 1] === ' ')) {
    pos += 1;
  } else {
    const end = parseStructuredData(text, pos, structuredData);
    if (end === null) return null;
    pos = end;
  }
  let message = '';
  if (pos < text.length) {
    if (text[pos] !== ' ') return null;
    message = text.slice(pos + 1);
    if (message.startsWith('\uFEFF')) message = message.slice(1); // MSG-UTF8's BOM
  }
  return {
    format: 'rfc5424',
    version: Number(version),
    time,
    hostname: nilToUndefined(hostname),
    appName: nilToUndefined(appName),
    procId: nilToUndefined(procId),
    msgId: nilToUndefined(msgId),
    structuredData,
    message,
  };
}

function nilToUndefined(value: string): string | undefined {
  return value === NIL ? undefined : value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 5424's SD-NAME excludes control characters, so the class names them.
const SD_NAME_RE = /[^= \]"\x00-\x20\x7f-\uffff]{1,32}/y;

/** 1*SD-ELEMENT starting at `pos`; fills `into` with `<SD-ID>.<PARAM-NAME>` → value; returns the end, or null when malformed. */
function parseStructuredData(text: string, pos: number, into: Record<string, string>): number | null {
  if (text[pos] !== '[') return null;
  while (text[pos] === '[') {
    pos++;
    SD_NAME_RE.lastIndex = pos;
    const id = SD_NAME_RE.exec(text)?.[0];
    if (!id) return null;
    pos += id.length;
    while (text[pos] === ' ') {
      pos++;
      SD_NAME_RE.lastIndex = pos;
      const name = SD_NAME_RE.exec(text)?.[0];
      if (!name || text[pos + name.length] !== '=' || text[pos + name.length + 1] !== '"') return null;
      pos += name.length + 2;
      let value = '';
      for (;;) {
        const c = text[pos];
        if (c === undefined) return null;
        if (c === '\\' && (text[pos + 1] === '"' || text[pos + 1] === '\\' || text[pos + 1] === ']')) {
          value += text[pos + 1];
          pos += 2;
        } else if (c === '"') {
          pos++;
          break;
        } else {
          value += c;
          pos++;
        }
      }
      setAttribute(into, `${id}.${name}`, value);
    }
    if (text[pos] !== ']') return null;
    pos++;
  }
  return pos;
}

const MONTHS: ReadonlyMap<string, number> = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [m, i]));
const BSD_TIME_RE = /^([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) /;
/** TAG (with an optional [PID]) followed by a colon: `sshd[42]:`, `kernel:`, `sshd(pam_unix)[19939]:`. */
const TAG_RE = /^([^\s[\]:]{1,64})(?:\[([^\]\s]{1,128})\])?: ?/;
/** What daemons write instead, seen in Loghub: `syslogd 1.4.1: restart.`, `sandboxd[129] ([31211]): …`. */
const LOOSE_TAG_RE = /^([^\s[\]:]{1,64})(?:\[([^\]\s]{1,128})\])? +/;

/**
 * `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG` (also without HOSTNAME, as local
 * daemons write it). 3164 has no year or zone: the time is taken as UTC, in
 * the year that puts it nearest to now without being more than a day ahead.
 */
function parse3164(text: string, now: Date): SyslogMessage | null {
  const m = BSD_TIME_RE.exec(text);
  if (!m) return null;
  const month = MONTHS.get(m[1]!);
  if (month === undefined) return null;
  const day = Number(m[2]!.trim());
  const [hour, minute, second] = [Number(m[3]), Number(m[4]), Number(m[5])];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let year = now.getUTCFullYear();
  let ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  if (ms > now.getTime() + 86_400_000) ms = Date.UTC(--year, month, day, hour, minute, Math.min(second, 59));
  if (new Date(ms).getUTCDate() !== day) return null; // Feb 30
  let rest = text.slice(m[0].length);
  let hostname: string | undefined;
  if (!TAG_RE.test(rest)) {
    const space = rest.indexOf(' ');
    if (space > 0) {
      hostname = rest.slice(0, space);
      rest = rest.slice(space + 1).trimStart();
    }
  }
  const tag = TAG_RE.exec(rest) ?? LOOSE_TAG_RE.exec(rest);
  return {
    format: 'rfc3164',
    time: { seconds: Math.floor(ms / 1000), nanos: 0 },
    hostname,
    appName: tag?.[1],
    procId: tag?.[2],
    structuredData: {},
    message: tag ? rest.slice(tag[0].length) : rest,
  };
}

export function syslogToRow(message: SyslogMessage, index: number, ctx: RowContext): LogRow {
  const row: LogRow = {
    TenantId: ctx.tenantId,
    Timestamp: message.time ? formatClickHouseTime(message.time) : ctx.receivedAt,
    ObservedTimestamp: ctx.receivedAt,
    LogId: `${ctx.batchId}-${index}`,
    Body: message.message,
    RetentionDays: ctx.retentionDays,
  };
  if (message.severity !== undefined) {
    row.SeverityNumber = SEVERITY_NUMBER[message.severity];
    row.SeverityText = SEVERITY_TEXT[message.severity];
  }
  if (message.appName !== undefined) row.ServiceName = message.appName;
  if (message.hostname !== undefined) row.ResourceAttributes = { 'host.name': message.hostname };
  const attributes: Record<string, string> = { 'syslog.format': message.format };
  if (message.facility !== undefined) attributes['syslog.facility'] = FACILITY[message.facility] ?? String(message.facility);
  if (message.version !== undefined) attributes['syslog.version'] = String(message.version);
  if (message.procId !== undefined) attributes['syslog.procid'] = message.procId;
  if (message.msgId !== undefined) attributes['syslog.msgid'] = message.msgId;
  for (const [name, value] of Object.entries(message.structuredData)) setAttribute(attributes, name, value);
  row.LogAttributes = attributes;
  return row;
}
