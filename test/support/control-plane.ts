/** Tenants and API keys straight into D1, for tests inside workerd. */
import { env } from 'cloudflare:workers';
import { generateApiKey, hashApiKey, parseApiKey } from '../../shared/api-keys.ts';
import type { Scope } from '../../shared/scopes.ts';

export async function provisionTenant(id: string, options: { status?: 'active' | 'suspended'; plan?: string; retentionDays?: number } = {}) {
  await env.CONTROL_DB.prepare(
    `INSERT INTO tenants (id, name, plan_id, status, retention_days) VALUES (?1, ?1, ?2, ?3, ?4)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status`,
  )
    .bind(id, options.plan ?? 'starter', options.status ?? 'active', options.retentionDays ?? 7)
    .run();
}

/** Creates a key (a fresh one unless `key` is given) and returns it. */
export async function provisionKey(tenantId: string, scopes: Scope[], options: { key?: string; expiresAt?: number; revokedAt?: number } = {}): Promise<string> {
  const key = options.key ?? generateApiKey().key;
  const { keyId } = parseApiKey(key)!;
  await env.CONTROL_DB.prepare(
    `INSERT INTO api_keys (id, tenant_id, name, scopes, secret_hash, expires_at, revoked_at) VALUES (?1, ?2, 'test', ?3, ?4, ?5, ?6)
     ON CONFLICT (id) DO NOTHING`,
  )
    .bind(keyId, tenantId, JSON.stringify(scopes), await hashApiKey(key), options.expiresAt ?? null, options.revokedAt ?? null)
    .run();
  return key;
}

export async function revokeKey(key: string, at = Date.now()): Promise<void> {
  await env.CONTROL_DB.prepare('UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2').bind(at, parseApiKey(key)!.keyId).run();
}
