/**
 * Whether a key id is an active encryption key of a tenant (the registry in
 * D1, shared/control-plane/schema.ts `encryption_keys`), cached in the
 * isolate for NEURALLOG_KEY_CACHE_TTL_MS like API keys: a revoked key id is
 * refused at the latest that long after its revocation (docs/encryption.md).
 */
import { and, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { encryptionKeys } from '../../shared/control-plane/schema.ts';

const MAX_CACHED = 10_000;
/** `<tenant>\u0000<kid>` → the answer and when it was read. A Map: the kid is request text. */
const cache = new Map<string, { active: boolean; fetchedAt: number }>();

export async function isActiveEncryptionKey(db: D1Database, tenantId: string, kid: string, ttlMs: number, now = Date.now()): Promise<boolean> {
  const key = `${tenantId}\u0000${kid}`;
  const hit = cache.get(key);
  if (hit && now - hit.fetchedAt < ttlMs) return hit.active;
  const rows = await drizzle(db)
    .select({ kid: encryptionKeys.kid })
    .from(encryptionKeys)
    .where(and(eq(encryptionKeys.tenantId, tenantId), eq(encryptionKeys.kid, kid), isNull(encryptionKeys.revokedAt)))
    .limit(1);
  const active = rows.length > 0;
  cache.delete(key);
  cache.set(key, { active, fetchedAt: now });
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return active;
}
