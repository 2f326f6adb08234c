import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { WEBHOOK_MAX_ATTEMPTS } from '../webhooks/publish.js';
import { storableJson } from '../db/storable.js';
import { heldWritesOf, writeCtes, type Param } from '../db/held-writes.js';

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

/** An audit_events row as written. */
interface AuditRow {
  actor_id: string | null;
  actor_label: string;
  action: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

/**
 * The one writer of audit events. Pass the transaction that makes the change, so the event and the
 * change commit together; failures (which roll back) are written with `ctx.db` after the rollback.
 * A transaction that holds its writes (src/db/held-writes.ts) gets the event at its end instead.
 */
export async function audit(ctx: Ctx, q: Queryable, e: AuditEvent): Promise<void> {
  const row: AuditRow = {
    actor_id: e.actorId !== undefined ? e.actorId : (ctx.actor?.userId ?? null),
    actor_label: e.actorLabel ?? ctx.actor?.email ?? ctx.actorLabel ?? 'system',
    action: e.action,
    outcome: e.outcome ?? 'success',
    reason: e.reason ?? null,
    target_type: e.targetType ?? null,
    target_id: e.targetId ?? null,
    ip: ctx.ip ?? null,
    details: e.details ?? {},
  };
  const held = heldWritesOf(q);
  if (held) held.add('audit', row);
  else await writeCtes(q, (p) => auditCtes(ctx, [row], p));
}

/**
 * The CTEs that write audit rows, in order, and (streaming the trail) a delivery job for each
 * endpoint subscribed to audit.event. Webhook outcomes are not streamed to webhooks: a failing
 * endpoint would feed itself. '' when there is nothing to write.
 */
export function auditCtes(ctx: Ctx, rows: readonly unknown[], p: Param): string {
  if (!rows.length) return '';
  const tenant = p(ctx.tenant.id);
  return `audit_rows AS (
       INSERT INTO audit_events (tenant_id, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details)
       SELECT ${tenant}, r.actor_id, r.actor_label, r.action, r.outcome, r.reason, r.target_type, r.target_id, r.ip, coalesce(r.details, '{}')
       FROM ROWS FROM (jsonb_to_recordset(${p(storableJson(rows))}::jsonb)
         AS (actor_id uuid, actor_label text, action text, outcome text, reason text, target_type text, target_id text, ip text, details jsonb))
         WITH ORDINALITY AS r(actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details, n)
       ORDER BY r.n
       RETURNING id, occurred_at, actor_id, actor_label, action, outcome, reason, target_type, target_id, ip, details),
     audit_jobs AS (
       INSERT INTO jobs (tenant_id, kind, max_attempts, payload, idempotency_key)
       SELECT ${tenant}, 'webhook.deliver', ${WEBHOOK_MAX_ATTEMPTS},
         jsonb_build_object('endpointId', w.id, 'messageId', 'aud_' || e.id, 'type', 'audit.event',
           'timestamp', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'data', jsonb_build_object('id', e.id, 'occurredAt', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'actorId', e.actor_id,
             'actorLabel', e.actor_label, 'action', e.action, 'outcome', e.outcome, 'reason', e.reason, 'targetType', e.target_type, 'targetId', e.target_id,
             'ip', e.ip, 'details', e.details)),
         'webhook:' || w.id || ':aud_' || e.id
       FROM audit_rows e JOIN webhook_endpoints w ON w.tenant_id = ${tenant} AND w.enabled AND ('audit.event' = ANY (w.events) OR '*' = ANY (w.events))
       WHERE e.action NOT LIKE 'webhook.%')`;
}
