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
  /** The target's name as it is now (a person, team, connection…), or as the event recorded it if it is gone. */
  targetLabel: string | null;
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

const TARGET_UUID = `(CASE WHEN a.target_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN a.target_id::uuid END)`;
/** A readable name for each kind of target, looked up by primary key. */
const TARGET_LABEL = `coalesce(CASE a.target_type
    WHEN 'user' THEN (SELECT x.display_name || ' <' || x.email || '>' FROM users x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'team' THEN (SELECT x.name FROM teams x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'connection' THEN (SELECT x.display_name || ' (' || x.slug || ')' FROM sso_connections x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'scim_group' THEN (SELECT x.display_name FROM scim_groups x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'scim_credential' THEN (SELECT x.name FROM scim_credentials x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'api_token' THEN (SELECT x.name FROM api_tokens x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'role_rule' THEN (SELECT x.group_ref || ' → ' || x.role FROM role_rules x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'tenant' THEN (SELECT x.name FROM tenants x WHERE x.id = a.tenant_id)
    WHEN 'domain' THEN a.target_id
  END, a.details ->> 'displayName', a.details ->> 'name', a.details ->> 'slug', a.details ->> 'email', a.details ->> 'userName',
    (a.details ->> 'groupRef') || ' → ' || (a.details ->> 'role'))`;

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
    `SELECT a.id, a.occurred_at AS "occurredAt", a.actor_id AS "actorId", a.actor_label AS "actorLabel", a.action, a.outcome, a.reason,
            a.target_type AS "targetType", a.target_id AS "targetId", ${TARGET_LABEL} AS "targetLabel", a.ip, a.details
     FROM audit_events a WHERE ${where.join(' AND ')} ORDER BY a.id DESC LIMIT ${p(f.limit)}`,
    params,
  );
}
