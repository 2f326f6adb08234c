import type { ActorCtx } from '../context.js';

export interface AuditEntry {
  id: number;
  occurredAt: Date;
  actorId: string | null;
  actorLabel: string;
  action: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  action?: string;
  outcome?: 'success' | 'failure';
  actor?: string;
  since?: string;
  until?: string;
  limit: number;
  before?: number;
}

/** Newest first; `before` is the id of the last entry seen (ids only grow). */
export async function queryAudit(ctx: ActorCtx, f: AuditFilter): Promise<AuditEntry[]> {
  const params: unknown[] = [ctx.tenant.id];
  const where = ['tenant_id = $1'];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  // `signin` matches signin.password, signin.saml…: filters name a family or an exact action.
  if (f.action) where.push(`(action = ${p(f.action)} OR action LIKE ${p(f.action.replace(/[\\%_]/g, '\\$&') + '.%')})`);
  if (f.outcome) where.push(`outcome = ${p(f.outcome)}`);
  if (f.actor) where.push(`lower(actor_label) LIKE ${p('%' + f.actor.toLowerCase().replace(/[\\%_]/g, '\\$&') + '%')}`);
  if (f.since) where.push(`occurred_at >= ${p(f.since)}::timestamptz`);
  if (f.until) where.push(`occurred_at < ${p(f.until)}::timestamptz`);
  if (f.before !== undefined) where.push(`id < ${p(f.before)}`);
  return ctx.db.query<AuditEntry>(
    `SELECT id, occurred_at AS "occurredAt", actor_id AS "actorId", actor_label AS "actorLabel", action, outcome, reason,
            target_type AS "targetType", target_id AS "targetId", ip, details
     FROM audit_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${p(f.limit)}`,
    params,
  );
}
