/**
 * The webhook signature verification code of docs/alerts.md, run as a reader
 * would run it. Each fenced block whose info string carries
 * `title=verify-webhook.mjs`, `title=verify_webhook.py` or
 * `title=verify-webhook.sh` is written to a file of that name in a temporary
 * directory and run (node, python3, bash with openssl) with the input the doc
 * documents: NEURALLOG_WEBHOOK_SECRET, NEURALLOG_SIGNATURE, and the raw body's
 * file as the first argument. The body is a version-1 webhook payload signed by
 * the platform's own signWebhookPayload (shared/alerts/targets/webhook.ts).
 *
 * Each must accept a good signature (exit 0, `valid`) and a header whose second
 * `v1=` is the good one (a rotation), and refuse a changed body, a wrong secret,
 * and a timestamp 10 minutes old or 10 minutes ahead (exit 1, `invalid`); the
 * reference verifyWebhookSignature agrees on every case.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertNotification } from '../../shared/alerts/targets/notification.ts';
import { signWebhookPayload, verifyWebhookSignature, webhookPayload } from '../../shared/alerts/targets/webhook.ts';

const DOC = fileURLToPath(new URL('../../docs/alerts.md', import.meta.url));
const SECRET = 'whsec_docs-test-0123456789abcdef';

/** Whether `command args` runs and exits 0 (the tool is installed). */
function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

const PYTHON = ['python3', '/usr/bin/python3'].find((command) => runs(command, ['--version'])) ?? null;
const HAVE_BASH = runs('bash', ['-c', 'exit 0']);
const HAVE_OPENSSL = runs('openssl', ['version']);

interface Verifier {
  /** The `title=` of the doc's block, and the file it is written to. */
  title: string;
  language: string;
  command: string | null;
  /** Why this one cannot run on this machine; null when it can. */
  missing: string | null;
}

const VERIFIERS: Verifier[] = [
  { title: 'verify-webhook.mjs', language: 'js', command: process.execPath, missing: null },
  { title: 'verify_webhook.py', language: 'python', command: PYTHON, missing: PYTHON === null ? 'python3 is not installed' : null },
  {
    title: 'verify-webhook.sh',
    language: 'bash',
    command: 'bash',
    missing: !HAVE_BASH ? 'bash is not installed' : !HAVE_OPENSSL ? 'openssl is not installed' : null,
  },
];
for (const v of VERIFIERS) if (v.missing !== null) console.warn(`alerts docs: ${v.title} skipped — ${v.missing}`);

/** The fenced blocks of a Markdown text that carry `title=<name>` in their info string, by name. */
function titledBlocks(markdown: string): Map<string, { language: string; code: string }[]> {
  const blocks = new Map<string, { language: string; code: string }[]>();
  for (const m of markdown.matchAll(/^```(\S+)[ \t]+title=(\S+)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)) {
    const list = blocks.get(m[2]!) ?? [];
    list.push({ language: m[1]!, code: m[3]! });
    blocks.set(m[2]!, list);
  }
  return blocks;
}

const notification: AlertNotification = {
  tenantId: 'acme',
  ruleId: '91e07d22-15f6-47d9-a0fd-a128533b466c',
  ruleName: 'Zahlungsfehler — café ☕',
  severity: 'critical',
  status: 'firing',
  group: { service: 'checkout' },
  labels: { team: 'payments' },
  value: 153,
  threshold: 100,
  message: 'checkout errors: 153 matching records (> 100 in 5m) service=checkout\n"quoted" & <escaped>',
  startsAt: '2026-11-30T09:14:03.512Z',
  explorerUrl: 'https://logs.example.com/?q=level%3Aerror&from=now-900s',
  dedupKey: '91e07d22-15f6-47d9-a0fd-a128533b466c:95f2560a28ae3f4d:1796030043512',
};

let dir: string;
const files = new Map<string, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'neurallog-alerts-docs-'));
  const blocks = titledBlocks(await readFile(DOC, 'utf8'));
  for (const v of VERIFIERS) {
    const found = blocks.get(v.title) ?? [];
    if (found.length !== 1) continue; // the first test says which is missing
    const file = join(dir, v.title);
    await writeFile(file, found[0]!.code);
    files.set(v.title, file);
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('docs/alerts.md', () => {
  it('holds each verification snippet once, in its language', async () => {
    const blocks = titledBlocks(await readFile(DOC, 'utf8'));
    for (const v of VERIFIERS) {
      expect(
        blocks.get(v.title)?.map((b) => b.language),
        v.title,
      ).toEqual([v.language]);
    }
  });
});

interface Case {
  name: string;
  secret: string;
  header: (body: string, now: number) => Promise<string>;
  /** The body the receiver got (default: the one that was signed). */
  received?: (body: string) => string;
  valid: boolean;
}

const CASES: Case[] = [
  { name: 'a good signature', secret: SECRET, header: (body, now) => signWebhookPayload(SECRET, body, now), valid: true },
  {
    name: 'a header whose second v1 is the good one (a secret being rotated)',
    secret: SECRET,
    header: async (body, now) => {
      const old = await signWebhookPayload('whsec_the-previous-secret-000', body, now);
      const current = await signWebhookPayload(SECRET, body, now);
      return `${old},${current.split(',')[1]}`;
    },
    valid: true,
  },
  {
    name: 'a changed body',
    secret: SECRET,
    header: (body, now) => signWebhookPayload(SECRET, body, now),
    received: (body) => body.replace('"value":153', '"value":154'),
    valid: false,
  },
  { name: 'a wrong secret', secret: 'whsec_not-the-right-secret-00', header: (body, now) => signWebhookPayload(SECRET, body, now), valid: false },
  { name: 'a timestamp 10 minutes old', secret: SECRET, header: (body, now) => signWebhookPayload(SECRET, body, now - 600), valid: false },
  { name: 'a timestamp 10 minutes ahead', secret: SECRET, header: (body, now) => signWebhookPayload(SECRET, body, now + 600), valid: false },
];

describe.each(VERIFIERS)('$title', (v) => {
  const title = (what: string) => (v.missing === null ? what : `${what} (skipped: ${v.missing})`);

  it.skipIf(v.missing !== null).each(CASES)(title('$name'), async (c) => {
    const file = files.get(v.title);
    expect(file, `docs/alerts.md has no block titled ${v.title}`).toBeDefined();
    const body = JSON.stringify(webhookPayload(notification));
    expect(body).toContain('☕'); // multi-byte UTF-8: the snippets must sign bytes, not characters
    const now = Math.floor(Date.now() / 1000);
    const header = await c.header(body, now);
    const received = c.received ? c.received(body) : body;
    expect(received === body).toBe(c.received === undefined);
    const bodyFile = join(dir, `body-${v.title}-${CASES.indexOf(c)}.json`);
    await writeFile(bodyFile, received);

    // The platform's reference check agrees with what is expected of the snippet.
    expect(await verifyWebhookSignature(c.secret, header, received, now)).toBe(c.valid);

    const result = spawnSync(v.command!, [file!, bodyFile], {
      env: { ...process.env, NEURALLOG_WEBHOOK_SECRET: c.secret, NEURALLOG_SIGNATURE: header },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const output = `exit ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
    expect(result.error, output).toBeUndefined();
    expect(result.stdout.trim(), output).toBe(c.valid ? 'valid' : 'invalid');
    expect(result.status, output).toBe(c.valid ? 0 : 1);
  });
});
