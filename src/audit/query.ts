import type { Ctx } from '../context.js';
import { NUMBER_PREFIX } from '../itsm/lifecycle.js';
import { REDACTED_URL_SQL } from '../webhooks/redact.js';

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
  /** The event's position in the tenant's hash chain (1, 2, 3…), or null until it is sealed (seconds). */
  chainSeq?: number | null;
  /** The hash at the position before (64 zeros before position 1), and this event's: hex SHA-256 (see audit/chain.ts). */
  prevHash?: string | null;
  hash?: string | null;
}

/** What an auditor narrows the log by; every field is optional and they combine with AND. */
export interface AuditFilter {
  /** An exact action (`user.created`) or a family (`signin` matches `signin.password`, `signin.saml`…). */
  action?: string;
  outcome?: 'success' | 'failure';
  /** Part of the actor's label (email, `cli`, `scim:<token name>`), case-insensitive. */
  actor?: string;
  /** An exact reason code, e.g. `bad_password`. */
  reason?: string;
  targetType?: string;
  targetId?: string;
  /** Free text, case-insensitive, anywhere in the actor label, action, target label or reason. */
  q?: string;
  /** ISO 8601 instants in UTC: `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
}

/** One page: newest first below `before` (the list), or oldest first above `after` (export, streaming). */
export interface AuditPageQuery extends AuditFilter {
  limit: number;
  before?: number;
  after?: number;
  /** Only ids up to this one (an export's snapshot). */
  upTo?: number;
  order?: 'desc' | 'asc';
}

/** The longest free-text query, in characters: a LIKE over four columns stays cheap. */
export const MAX_QUERY_LENGTH = 200;

const TARGET_UUID = `(CASE WHEN a.target_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN a.target_id::uuid END)`;
/** A readable name for each kind of target, looked up by primary key (a ticket as its reference and title, formatNumber's shape). */
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
    WHEN 'webhook' THEN (SELECT ${REDACTED_URL_SQL('x.url')} FROM webhook_endpoints x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'workflow' THEN (SELECT x.name FROM workflow_rules x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'ticket' THEN (SELECT (CASE x.type ${Object.entries(NUMBER_PREFIX).map(([type, prefix]) => `WHEN '${type}' THEN '${prefix}'`).join(' ')} END) || lpad(x.number::text, greatest(6, length(x.number::text)), '0') || ' ' || x.title
                        FROM tickets x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'request_category' THEN (SELECT x.name FROM request_categories x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'job' THEN (SELECT x.kind FROM jobs x WHERE x.tenant_id = a.tenant_id AND x.id = ${TARGET_UUID})
    WHEN 'session' THEN (SELECT 'session of ' || x.display_name || ' <' || x.email || '>' FROM users x WHERE x.tenant_id = a.tenant_id AND x.id = a.actor_id)
  END, a.details ->> 'ref', a.details ->> 'displayName', ${REDACTED_URL_SQL("a.details ->> 'url'")}, a.details ->> 'name', a.details ->> 'slug', a.details ->> 'email', a.details ->> 'userName',
    (a.details ->> 'groupRef') || ' → ' || (a.details ->> 'role'))`;

const likeEscape = (v: string) => v.replace(/[\\%_]/g, '\\$&');

/**
 * A page of the tenant's audit log. Newest first (`order: 'desc'`, the default) with `before` the
 * id of the last entry seen, or oldest first (`'asc'`) with `after`: keyset pagination on the id,
 * so a page costs the same however deep it is. Filters are bound parameters; LIKE patterns are escaped.
 */
export async function queryAudit(ctx: Ctx, f: AuditPageQuery): Promise<AuditEntry[]> {
  const params: unknown[] = [ctx.tenant.id];
  const where = ['a.tenant_id = $1'];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  // `signin` matches signin.password, signin.saml…: filters name a family or an exact action.
  if (f.action) where.push(`(a.action = ${p(f.action)} OR a.action LIKE ${p(likeEscape(f.action) + '.%')})`);
  if (f.outcome) where.push(`a.outcome = ${p(f.outcome)}`);
  if (f.actor) where.push(`a.actor_label ILIKE ${p('%' + likeEscape(f.actor) + '%')}`);
  if (f.reason) where.push(`a.reason = ${p(f.reason)}`);
  if (f.targetType) where.push(`a.target_type = ${p(f.targetType)}`);
  if (f.targetId) where.push(`a.target_id = ${p(f.targetId)}`);
  if (f.q) {
    const like = p('%' + likeEscape(f.q.slice(0, MAX_QUERY_LENGTH)) + '%');
    where.push(`(a.actor_label ILIKE ${like} OR a.action ILIKE ${like} OR a.reason ILIKE ${like} OR t.label ILIKE ${like})`);
  }
  if (f.since) where.push(`a.occurred_at >= ${p(f.since)}::timestamptz`);
  if (f.until) where.push(`a.occurred_at < ${p(f.until)}::timestamptz`);
  if (f.before !== undefined) where.push(`a.id < ${p(f.before)}`);
  if (f.after !== undefined) where.push(`a.id > ${p(f.after)}`);
  if (f.upTo !== undefined) where.push(`a.id <= ${p(f.upTo)}`);
  return ctx.db.query<AuditEntry>(
    `SELECT a.id, a.occurred_at AS "occurredAt", a.actor_id AS "actorId", a.actor_label AS "actorLabel", a.action, a.outcome, a.reason,
            a.target_type AS "targetType", a.target_id AS "targetId", t.label AS "targetLabel", a.ip, a.details,
            a.chain_seq AS "chainSeq", a.prev_hash AS "prevHash", a.hash
     FROM audit_events a CROSS JOIN LATERAL (SELECT ${TARGET_LABEL} AS label) t
     WHERE ${where.join(' AND ')} ORDER BY a.id ${f.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${p(f.limit)}`,
    params,
  );
}
