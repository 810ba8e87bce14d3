/**
 * The admin API from a script: the running stack's URL (NEURALLOG_URL,
 * default http://127.0.0.1:8787) and a credential — a tenant-admin one in
 * NEURALLOG_ADMIN_CREDENTIAL, the platform-admin token in
 * NEURALLOG_PLATFORM_ADMIN_TOKEN, or the one `npm start` keeps in
 * .neurallog/platform-admin-token. Used by `npm run admin` and
 * `npm run encryption-key`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './stack.ts';

export function adminCredential(): string {
  const given = process.env.NEURALLOG_ADMIN_CREDENTIAL ?? process.env.NEURALLOG_PLATFORM_ADMIN_TOKEN;
  if (given) return given;
  const dir = process.env.NEURALLOG_DATA_DIR ?? join(PROJECT_ROOT, '.neurallog');
  try {
    return readFileSync(join(dir, 'platform-admin-token'), 'utf8').trim();
  } catch {
    throw new Error('no credential: set NEURALLOG_PLATFORM_ADMIN_TOKEN (or NEURALLOG_ADMIN_CREDENTIAL), or run `npm start` first');
  }
}

/** `method /v1/admin<path>`; the API's JSON, or an Error carrying its error JSON. */
export async function callAdmin(method: string, path: string, body?: unknown): Promise<unknown> {
  const base = process.env.NEURALLOG_URL ?? 'http://127.0.0.1:8787';
  const res = await fetch(`${base}/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminCredential()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({ error: 'bad_response', message: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(JSON.stringify(json));
  return json;
}
