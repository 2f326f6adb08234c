import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { WEBHOOK_MAX_ATTEMPTS } from '../webhooks/publish.js';
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
  // One statement: the event, and (streaming the trail) a delivery job for each endpoint
  // subscribed to audit.event. Webhook outcomes are not streamed to webhooks: a failing endpoint
  // would feed itself.
  await q.query(
    `WITH e AS (
       INSERT INTO audit_events (tenant_id, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       RETURNING id, occurred_at, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details)
     INSERT INTO jobs (tenant_id, kind, max_attempts, payload, idempotency_key)
     SELECT $1, 'webhook.deliver', ${WEBHOOK_MAX_ATTEMPTS},
       jsonb_build_object('endpointId', w.id, 'messageId', 'aud_' || e.id, 'type', 'audit.event',
         'timestamp', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'data', jsonb_build_object('id', e.id, 'occurredAt', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'actorId', e.actor_id,
           'actorLabel', e.actor_label, 'action', e.action, 'outcome', e.outcome, 'reason', e.reason, 'targetType', e.target_type, 'targetId', e.target_id,
           'ip', e.ip, 'details', e.details)),
       'webhook:' || w.id || ':aud_' || e.id
     FROM e JOIN webhook_endpoints w ON w.tenant_id = $1 AND w.enabled AND ('audit.event' = ANY (w.events) OR '*' = ANY (w.events))
     WHERE e.action NOT LIKE 'webhook.%'`,
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
