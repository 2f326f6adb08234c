import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { storableJson, toStorable } from '../db/storable.js';

export interface AuditEvent {
  action: string;
  outcome?: 'success' | 'failure';
  /** Machine-readable reason code, e.g. `bad_password`, `locked`. */
  reason?: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
  /** Overrides the actor for events with no signed-in actor, e.g. a failed sign-in for an email. */
  actorLabel?: string;
  actorId?: string | null;
}

/**
 * The one writer of audit events. Pass the transaction that makes the change, so the event and the
 * change commit together; failures (which roll back) are written with `ctx.db` after the rollback.
 */
export async function audit(ctx: Ctx, q: Queryable, e: AuditEvent): Promise<void> {
  const actorId = e.actorId !== undefined ? e.actorId : (ctx.actor?.userId ?? null);
  const actorLabel = e.actorLabel ?? ctx.actor?.email ?? ctx.actorLabel ?? 'system';
  await q.query(
    `INSERT INTO audit_events (tenant_id, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      ctx.tenant.id,
      actorId,
      toStorable(actorLabel),
      e.action,
      e.outcome ?? 'success',
      e.reason ?? null,
      e.targetType ?? null,
      e.targetId ?? null,
      ctx.ip ?? null,
      storableJson(e.details ?? {}),
    ],
  );
}
