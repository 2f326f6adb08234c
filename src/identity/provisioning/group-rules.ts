import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import type { Role } from '../roles.js';

export interface RuleChange {
  added: { role: Role; groupRef: string }[];
  removed: { role: Role; groupRef: string | null }[];
}

/**
 * The one engine behind group-driven roles, for SAML and OIDC sign-ins and SCIM group changes:
 * given the groups a user is in now, grant each role whose rule matches (the rule with the lowest
 * precedence number is credited) and remove rule grants whose rule no longer matches. Grants given
 * by a person are never touched. Matching ignores case (Okta sends names, Entra object ids).
 */
export async function syncRuleGrants(ctx: Ctx, tx: Queryable, userId: string, groups: string[]): Promise<RuleChange> {
  const rules = await tx.query<{ id: string; group_ref: string; role: Role }>(
    `SELECT id, group_ref, role FROM role_rules WHERE tenant_id = $1 AND lower(group_ref) = ANY($2) ORDER BY precedence, created_at, id`,
    [ctx.tenant.id, groups.map((g) => g.toLowerCase())],
  );
  const wanted = new Map<Role, { id: string; group_ref: string }>();
  for (const r of rules) if (!wanted.has(r.role)) wanted.set(r.role, r);

  const current = await tx.query<{ role: Role; rule_id: string; group_ref: string | null }>(
    `SELECT role, rule_id, group_ref FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin = 'rule'`,
    [ctx.tenant.id, userId],
  );
  const change: RuleChange = { added: [], removed: [] };
  for (const g of current) {
    if (wanted.get(g.role)?.id !== g.rule_id) {
      await tx.query(`DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin = 'rule' AND role = $3 AND rule_id = $4`, [
        ctx.tenant.id,
        userId,
        g.role,
        g.rule_id,
      ]);
      change.removed.push({ role: g.role, groupRef: g.group_ref });
    }
  }
  for (const [role, rule] of wanted) {
    if (current.some((g) => g.role === role && g.rule_id === rule.id)) continue;
    await tx.query(
      `INSERT INTO role_grants (tenant_id, user_id, role, origin, rule_id, group_ref) VALUES ($1, $2, $3, 'rule', $4, $5) ON CONFLICT DO NOTHING`,
      [ctx.tenant.id, userId, role, rule.id, rule.group_ref],
    );
    change.added.push({ role, groupRef: rule.group_ref });
  }
  // Only the changes that alter what the user may do are worth an event: a re-credit is not.
  const addedRoles = change.added.filter((a) => !change.removed.some((r) => r.role === a.role));
  const removedRoles = change.removed.filter((r) => !change.added.some((a) => a.role === r.role));
  if (addedRoles.length || removedRoles.length) {
    await audit(ctx, tx, {
      action: 'user.roles_changed',
      targetType: 'user',
      targetId: userId,
      details: { by: 'group_rules', added: addedRoles.map((a) => a.role), removed: removedRoles.map((r) => r.role), groups: addedRoles.map((a) => a.groupRef) },
    });
  }
  return change;
}
