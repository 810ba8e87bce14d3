/**
 * The audit trail: every admin action, who did it (never their secret), to
 * which tenant, with which request id.
 */
import { drizzle } from 'drizzle-orm/d1';
import { auditLog } from './schema.ts';

export interface AuditEntry {
  actor: string;
  /** For a session actor (`session:<id>`), the credential it was opened with. */
  credential?: string | null;
  tenantId: string | null;
  action: string;
  details?: Record<string, unknown>;
  requestId?: string;
}

export function auditStatement(db: D1Database, entry: AuditEntry) {
  return drizzle(db)
    .insert(auditLog)
    .values({
      actor: entry.actor,
      credential: entry.credential ?? null,
      tenantId: entry.tenantId,
      action: entry.action,
      details: entry.details ?? null,
      requestId: entry.requestId ?? null,
    });
}
