/**
 * Structured JSON logs, one object per line on stdout, which is what Workers
 * Logs, Logpush and `wrangler tail` index. Fields are the caller's; keys that
 * name secrets are masked whatever the caller passes, so a careless field
 * cannot leak a key.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const SECRET_KEY_RE = /authorization|password|secret|api[-_]?key|token$/i;
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let minimum: LogLevel = 'debug';

/** Whether a field's name says it holds a secret (its value is then never logged). */
export function isSecretName(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

/** Drops events below `level` in this isolate (the tests keep warnings and errors only). */
export function setMinimumLogLevel(level: LogLevel): void {
  minimum = level;
}

export function logEvent(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (RANK[level] < RANK[minimum]) return;
  const entry: Record<string, unknown> = { level, msg, time: new Date().toISOString() };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    entry[key] = isSecretName(key) ? '[redacted]' : value;
  }
  const line = JSON.stringify(entry);
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
