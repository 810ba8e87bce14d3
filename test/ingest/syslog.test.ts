/**
 * Syslog over HTTP at /v1/syslog and the RFC 5424 / RFC 3164 parser.
 * (syslog-ng's http() destination drives it in test/node/shippers.e2e.test.ts;
 * every line of Loghub's syslog samples is parsed in test/node/syslog-loghub.test.ts.)
 */
import { exports } from 'cloudflare:workers';
import { formatClickHouseTime } from '../../shared/timestamp.ts';
import { describe, expect, it } from 'vitest';
import { parseSyslogLine } from '../../workers/ingest/protocols/syslog.ts';
import { TEST_API_KEY, TEST_LIMITS } from '../support/constants.ts';
import { storedRowsOfBatch } from '../support/in-workerd.ts';

const NOW = new Date('2026-11-26T10:00:00Z');

function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request('https://neurallog.test/v1/syslog', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'text/plain', ...headers },
      body,
    }),
  );
}

describe('syslog parsing', () => {
  it("reads RFC 5424's own examples field by field", () => {
    expect(parseSyslogLine("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8", NOW)).toEqual({
      format: 'rfc5424',
      facility: 4,
      severity: 2,
      version: 1,
      time: { seconds: 1065910455, nanos: 3_000_000 },
      hostname: 'mymachine.example.com',
      appName: 'su',
      procId: undefined,
      msgId: 'ID47',
      structuredData: {},
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(parseSyslogLine("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", NOW)).toMatchObject({
      severity: 5,
      facility: 20,
      time: { seconds: 1061727255, nanos: 3000 },
      hostname: '192.0.2.1',
      appName: 'myproc',
      procId: '8710',
      msgId: undefined,
      message: "%% It's time to make the do-nuts.",
    });
    expect(
      parseSyslogLine(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
        NOW,
      ),
    ).toMatchObject({
      structuredData: {
        'exampleSDID@32473.iut': '3',
        'exampleSDID@32473.eventSource': 'Application',
        'exampleSDID@32473.eventID': '1011',
        'examplePriority@32473.class': 'high',
      },
      message: '',
    });
  });

  it('honours SD-PARAM escapes and NILVALUEs', () => {
    const m = parseSyslogLine('<14>1 - - - - - [meta q="say \\"hi\\" \\\\ \\] done"] body here', NOW);
    expect(m).toMatchObject({
      format: 'rfc5424',
      time: undefined,
      hostname: undefined,
      appName: undefined,
      structuredData: { 'meta.q': 'say "hi" \\ ] done' },
      message: 'body here',
    });
  });

  it('reads RFC 3164 with and without a hostname, and picks the year nearest to now', () => {
    expect(parseSyslogLine('<38>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4', NOW)).toMatchObject({
      format: 'rfc3164',
      facility: 4,
      severity: 6,
      time: { seconds: Date.UTC(2026, 5, 14, 15, 16, 1) / 1000, nanos: 0 },
      hostname: 'combo',
      appName: 'sshd(pam_unix)',
      procId: '19939',
      message: 'authentication failure; rhost=218.188.2.4',
    });
    expect(parseSyslogLine('<13>Feb  5 17:32:18 kernel: eth0 up', NOW)).toMatchObject({ hostname: undefined, appName: 'kernel', message: 'eth0 up' });
    // A December line read in early January belongs to the year before.
    expect(parseSyslogLine('Dec 31 23:59:59 h app: x', new Date('2027-01-01T00:00:10Z')).time?.seconds).toBe(Date.UTC(2026, 11, 31, 23, 59, 59) / 1000);
  });

  it('keeps what is not syslog as it is, instead of dropping or mangling it', () => {
    expect(parseSyslogLine('just a line', NOW)).toEqual({
      format: 'unparsed',
      facility: undefined,
      severity: undefined,
      structuredData: {},
      message: 'just a line',
    });
    expect(parseSyslogLine('<999>1 bogus', NOW)).toMatchObject({ format: 'unparsed', message: '<999>1 bogus' });
    expect(parseSyslogLine('<13>1 2026-13-45T00:00:00Z h a - - - bad date', NOW)).toMatchObject({ format: 'unparsed', severity: 5 });
    expect(parseSyslogLine('<13>1 2026-11-26T00:00:00Z h a - - [unterminated x="1" msg', NOW)).toMatchObject({ format: 'unparsed' });
  });
});

describe('POST /v1/syslog', () => {
  it('stores each line with severity, service, host, structured data and body', async () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000); // an hour ago, inside any retention
    const inParis = new Date(at.getTime() + 3_600_000).toISOString().slice(0, 19); // the same instant written at +01:00
    const bsd = `${at.toUTCString().slice(8, 11)} ${String(at.getUTCDate()).padStart(2, ' ')} ${at.toISOString().slice(11, 19)}`;
    const res = await post(
      [
        `<11>1 ${inParis}.123456+01:00 web-1 nginx 4242 ACCESS [req@32473 path="/cart" status="500"] upstream timed out`,
        `<30>${bsd} web-2 systemd[1]: Started Session 7.`,
        'not syslog at all',
        '',
      ].join('\r\n'),
    );
    expect(res.status).toBe(202);
    const { accepted, batchId } = await res.json<{ accepted: number; batchId: string }>();
    expect(accepted).toBe(3);
    const rows = await storedRowsOfBatch(batchId);
    expect(rows[0]).toMatchObject({
      Timestamp: `${formatClickHouseTime({ seconds: at.getTime() / 1000, nanos: 0 }).slice(0, 19)}.123456000`,
      SeverityNumber: 17,
      SeverityText: 'err',
      ServiceName: 'nginx',
      Body: 'upstream timed out',
      ResourceAttributes: { 'host.name': 'web-1' },
      LogAttributes: {
        'syslog.format': 'rfc5424',
        'syslog.facility': 'user',
        'syslog.version': '1',
        'syslog.procid': '4242',
        'syslog.msgid': 'ACCESS',
        'req@32473.path': '/cart',
        'req@32473.status': '500',
      },
    });
    expect(rows[1]).toMatchObject({
      SeverityText: 'info',
      ServiceName: 'systemd',
      Body: 'Started Session 7.',
      ResourceAttributes: { 'host.name': 'web-2' },
      LogAttributes: { 'syslog.facility': 'daemon', 'syslog.procid': '1' },
    });
    expect(rows[2]).toMatchObject({ Body: 'not syslog at all', SeverityNumber: 0, LogAttributes: { 'syslog.format': 'unparsed' } });
  });

  it('refuses an empty body, too many lines and an oversized line with the JSON error envelope', async () => {
    expect(await (await post('\n\n')).json()).toMatchObject({ error: 'empty_body' });
    const many = await post(Array.from({ length: TEST_LIMITS.maxRecordsPerRequest + 1 }, () => '<13>1 - - - - - - x').join('\n'));
    expect(many.status).toBe(413);
    expect(await many.json()).toMatchObject({ error: 'too_many_records', limit: TEST_LIMITS.maxRecordsPerRequest });
    const big = await post(`<13>1 - - - - - - ok\n<13>1 - - - - - - ${'x'.repeat(TEST_LIMITS.maxRecordBytes)}`);
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'record_too_large', record: 1 });
  });
});
