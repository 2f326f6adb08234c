import { lockUsersInGroup, resyncRuleGrantsOf } from './group-rules.js';
import { admitAllIfGranted } from './accounts.js';
import type { Ctx } from '../../context.js';
import { isUniqueViolation } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { Conflict, NotFound } from '../../http/errors.js';
import { assertTenantKeepsAccess, isUuid, lockAdminChanges } from '../users.js';
import { getConnection } from '../connections.js';
import { ROLE_NAMES } from '../roles.js';

export type RuleRole = 'agent' | 'change_manager' | 'admin';

export interface RoleRule {
  id: string;
  groupRef: string;
  role: RuleRole;
  precedence: number;
  /** The connection (slug) whose sign-ins alone the rule trusts; null: every sign-in and SCIM. */
  connection: string | null;
  createdAt: Date;
}

const COLUMNS = `r.id, r.group_ref AS "groupRef", r.role, r.precedence, c.slug AS connection, r.created_at AS "createdAt"`;
const FROM = 'role_rules r LEFT JOIN sso_connections c ON c.tenant_id = r.tenant_id AND c.id = r.connection_id';

export async function listRoleRules(ctx: Ctx): Promise<RoleRule[]> {
  return ctx.db.query<RoleRule>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.tenant_id = $1 ORDER BY r.precedence, r.created_at, r.id`, [ctx.tenant.id]);
}

/**
 * A new rule applies at once to everyone the directory has put in the group (SCIM or a sign-in
 * claim). `groupRef` is a group (Entra object id, Okta name) or an app role value; with
 * `connection`, only what that connection's sign-ins carry counts.
 * @throws Conflict `rule_exists`; NotFound when the connection does not exist
 */
export async function addRoleRule(ctx: Ctx, input: { groupRef: string; role: RuleRole; precedence?: number; connection?: string | null }): Promise<RoleRule> {
  return ctx.db.transaction(async (tx) => {
    // A new rule can re-credit or move rule grants, so it is checked like any change to access.
    await lockAdminChanges(tx, ctx.tenant.id);
    const connection = input.connection ? await getConnection(tx, ctx.tenant.id, input.connection) : null;
    let id: string;
    try {
      [{ id }] = (await tx.query<{ id: string }>(
        `INSERT INTO role_rules (tenant_id, group_ref, role, precedence, connection_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [ctx.tenant.id, input.groupRef.trim(), input.role, input.precedence ?? 100, connection?.id ?? null],
      )) as [{ id: string }];
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A rule already gives the ${ROLE_NAMES[input.role]} role to "${input.groupRef}"${connection ? ` through ${connection.slug}` : ''}.`, 'rule_exists');
      throw err;
    }
    const [rule] = (await tx.query<RoleRule>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.tenant_id = $1 AND r.id = $2`, [ctx.tenant.id, id])) as [RoleRule];
    await audit(ctx, tx, {
      action: 'sso.role_rule_added',
      targetType: 'role_rule',
      targetId: rule.id,
      details: { groupRef: rule.groupRef, role: rule.role, precedence: rule.precedence, ...(rule.connection ? { connection: rule.connection } : {}) },
    });
    const members = await lockUsersInGroup(tx, ctx.tenant.id, rule.groupRef, connection?.id ?? null);
    await resyncRuleGrantsOf(ctx, tx, members);
    await admitAllIfGranted(tx, ctx.tenant.id, members);
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    return rule;
  });
}

/** Removing a rule removes the grants it made at once (foreign key cascade), audited. */
export async function deleteRoleRule(ctx: Ctx, id: string): Promise<void> {
  if (!isUuid(id)) throw new NotFound('Rule');
  await ctx.db.transaction(async (tx) => {
    const rows = await tx.query<{ group_ref: string; role: string; users: number }>(
      `SELECT r.group_ref, r.role, (SELECT count(*)::int FROM role_grants g WHERE g.tenant_id = r.tenant_id AND g.rule_id = r.id) AS users
       FROM role_rules r WHERE r.tenant_id = $1 AND r.id = $2`,
      [ctx.tenant.id, id],
    );
    if (!rows[0]) throw new NotFound('Rule');
    await lockAdminChanges(tx, ctx.tenant.id);
    await tx.query('DELETE FROM role_rules WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    // The rule may have been what made someone an administrator.
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    await audit(ctx, tx, { action: 'sso.role_rule_deleted', targetType: 'role_rule', targetId: id, details: { groupRef: rows[0].group_ref, role: rows[0].role, grantsRemoved: rows[0].users } });
  });
}
