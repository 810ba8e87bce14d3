/**
 * The syslog parser on real system logs: every line of Loghub's BSD-syslog
 * samples (Linux, OpenSSH, Mac) parses as RFC 3164 with a host, an app and a
 * message. The samples live outside the repository (../shared/data/loghub, or
 * NEURALLOG_LOGHUB_DIR); without them this test is skipped, saying so.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';
import { parseSyslogLine } from '../../workers/ingest/protocols/syslog.ts';

const LOGHUB_DIR = process.env.NEURALLOG_LOGHUB_DIR ?? resolve(PROJECT_ROOT, '../shared/data/loghub');
const present = existsSync(join(LOGHUB_DIR, 'Linux_2k.log'));
if (!present) console.warn(`syslog-loghub: skipped — no Loghub samples at ${LOGHUB_DIR} (set NEURALLOG_LOGHUB_DIR)`);

describe.skipIf(!present)('syslog parser on Loghub samples', () => {
  for (const [file, host] of [
    ['Linux_2k.log', 'combo'],
    ['OpenSSH_2k.log', 'LabSZ'],
    ['Mac_2k.log', null],
  ] as const) {
    it(`parses every line of ${file} as RFC 3164`, async () => {
      const lines = (await readFile(join(LOGHUB_DIR, file), 'utf8')).split('\n').filter((l) => l.trim() !== '');
      const now = new Date('2026-11-26T10:00:00Z');
      const parsed = lines.map((line) => parseSyslogLine(line, now));
      const unparsed = parsed.map((m, i) => [m, lines[i]] as const).filter(([m]) => m.format !== 'rfc3164' || !m.appName || !m.hostname);
      expect(unparsed.slice(0, 3).map(([, line]) => line)).toEqual([]);
      if (host) expect(new Set(parsed.map((m) => m.hostname))).toEqual(new Set([host]));
      // The message is what follows "TAG[PID]: ", never the header.
      for (const m of parsed) expect(m.message).not.toMatch(/^\w{3} [ \d]\d \d\d:\d\d:\d\d/);
    });
  }
});
