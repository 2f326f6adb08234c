import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { emitIdentityEvents } from '../events.js';
import type { Role } from '../roles.js';
import { revokeUserSessions } from '../sessions/sessions.js';

export interface RuleChange {
  added: { role: Role; groupRef: string }[];
  removed: { role: Role; groupRef: string | null }[];
  /** The user left every role-granting group: their sessions and tokens were revoked. */
  revoked: boolean;
}

/**
 * The one engine behind group-driven roles, for SAML and OIDC sign-ins and SCIM group changes:
 * given the groups a user is in now, grant each role whose rule matches (the rule with the lowest
 * precedence number is credited) and remove rule grants whose rule no longer matches. Grants given
 * by a person are never touched. Matching ignores case (Okta sends names, Entra object ids).
 */
export async function syncRuleGrants(ctx: Ctx, tx: Queryable, userId: string, groups: DirectoryGroups): Promise<RuleChange> {
  const rules = await tx.query<MatchedRule>(`SELECT r.id, r.group_ref, r.role FROM role_rules r WHERE ${rulesMatching('$1', '$2', '$3', '$4')} ORDER BY ${RULE_ORDER}`, [
    ctx.tenant.id,
    groups.all,
    groups.signinConnectionId,
    groups.signin,
  ]);
  const current = await tx.query<RuleGrant>(`SELECT role, rule_id, group_ref FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin = 'rule'`, [ctx.tenant.id, userId]);
  return applyRules(ctx, tx, userId, rules, current);
}

/**
 * The rules (`role_rules r`) that match a person's groups, as SQL over four parameters: the tenant,
 * every group reference (text[]), the connection of the latest sign-in and that sign-in's groups
 * (text[]). A rule naming a connection matches only what that connection's latest sign-in carried;
 * case is ignored (Okta sends names, Entra object ids).
 */
const rulesMatching = (tenant: string, all: string, connection: string, signin: string) =>
  `r.tenant_id = ${tenant} AND ((r.connection_id IS NULL AND lower(r.group_ref) IN (SELECT lower(x) FROM unnest(${all}::text[]) x))
     OR (r.connection_id = ${connection} AND lower(r.group_ref) IN (SELECT lower(x) FROM unnest(${signin}::text[]) x)))`;
/** The order rules are credited in: the lowest precedence number first. */
const RULE_ORDER = 'r.precedence, r.created_at, r.id';

interface MatchedRule {
  id: string;
  group_ref: string;
  role: Role;
}
interface RuleGrant {
  role: Role;
  rule_id: string;
  group_ref: string | null;
}

/**
 * A sign-in's groups claim recorded and the rules applied to the person, for runSignin: when
 * nothing changes, one statement (the claim kept, the matching rules and the rule grants read),
 * else the changes after it. The caller holds the person's row lock (resolveAccount takes it), so
 * the one statement reads what earlier transactions committed.
 */
export async function resyncAfterSignin(ctx: Ctx, tx: Queryable, userId: string, signin: { groups: string[]; connectionId: string }): Promise<RuleChange> {
  const [row] = (await tx.query<{ untouchable: boolean | null; rules: MatchedRule[]; current: RuleGrant[] }>(
    `WITH me AS (
       UPDATE users SET signin_groups = $3, signin_connection_id = $4 WHERE tenant_id = $1 AND id = $2
       RETURNING break_glass OR deleted_at IS NOT NULL AS untouchable),
     scim AS (
       SELECT coalesce(array_agg(r), '{}') AS refs
       FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id, LATERAL unnest(ARRAY[g.display_name, g.external_id]) AS r
       WHERE m.tenant_id = $1 AND m.user_id = $2 AND r IS NOT NULL)
     SELECT (SELECT untouchable FROM me) AS untouchable,
       coalesce((SELECT json_agg(json_build_object('id', r.id, 'group_ref', r.group_ref, 'role', r.role) ORDER BY ${RULE_ORDER})
                 FROM role_rules r WHERE ${rulesMatching('$1', '($3::text[] || (SELECT refs FROM scim))', '$4', '$3')}), '[]') AS rules,
       coalesce((SELECT json_agg(json_build_object('role', g.role, 'rule_id', g.rule_id, 'group_ref', g.group_ref))
                 FROM role_grants g WHERE g.tenant_id = $1 AND g.user_id = $2 AND g.origin = 'rule'), '[]') AS current`,
    [ctx.tenant.id, userId, signin.groups, signin.connectionId],
  )) as [{ untouchable: boolean | null; rules: MatchedRule[]; current: RuleGrant[] }];
  // Break-glass accounts and tombstones are never judged through a group: their grants stay as they are.
  if (row.untouchable !== false) return { added: [], removed: [], revoked: false };
  return applyRules(ctx, tx, userId, row.rules, row.current);
}

/** The rules' verdict on a person's rule grants, applied: `rules` in precedence order, `current` their rule grants. */
async function applyRules(ctx: Ctx, tx: Queryable, userId: string, rules: MatchedRule[], current: RuleGrant[]): Promise<RuleChange> {
  const wanted = new Map<Role, { id: string; group_ref: string }>();
  for (const r of rules) if (!wanted.has(r.role)) wanted.set(r.role, r);

  const change: RuleChange = { added: [], removed: [], revoked: false };
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
    await emitIdentityEvents(ctx, tx, 'system', [
      { type: 'user.role_changed', userId, data: { by: 'group_rules', added: addedRoles.map((a) => a.role), removed: removedRoles.map((r) => r.role) } },
    ]);
  }
  // Removal from every role-granting group is deprovisioning (DESIGN.md): end what they hold open.
  if (change.removed.length > 0 && wanted.size === 0) {
    await revokeUserSessions(tx, ctx.tenant.id, userId);
    change.revoked = true;
  }
  return change;
}

export interface DirectoryGroups {
  /** Every group reference: the latest sign-in's claim and every SCIM group (externalId and displayName). */
  all: string[];
  /** The latest sign-in's groups and app roles alone, and the connection they came through. */
  signin: string[];
  signinConnectionId: string | null;
}

/**
 * The groups rules see for a user: the groups claim of their latest sign-in, and every SCIM group
 * they are a member of, by its externalId (Entra's object id, what Entra's claim carries) and by its
 * displayName (what Okta's claim carries).
 */
export async function directoryGroups(tx: Queryable, tenantId: string, userId: string): Promise<DirectoryGroups> {
  const [row] = await tx.query<{ signin: string[]; connection: string | null; scim: string[] }>(
    `SELECT coalesce(u.signin_groups, '{}') AS signin, u.signin_connection_id AS connection,
            coalesce((SELECT array_agg(r) FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id,
                             LATERAL unnest(ARRAY[g.display_name, g.external_id]) AS r
                      WHERE m.tenant_id = $1 AND m.user_id = $2 AND r IS NOT NULL), '{}') AS scim
     FROM users u WHERE u.tenant_id = $1 AND u.id = $2`,
    [tenantId, userId],
  );
  if (!row) return { all: [], signin: [], signinConnectionId: null };
  return { all: [...new Set([...row.signin, ...row.scim])], signin: row.signin, signinConnectionId: row.connection };
}

/** Re-applies the rules to a user from everything the directory told us. */
export async function resyncRuleGrants(ctx: Ctx, tx: Queryable, userId: string): Promise<RuleChange> {
  // Serialises the rule work per person (a sign-in and a SCIM change at once): the second one reads
  // what the first committed. NO KEY UPDATE does not conflict with the foreign-key locks of inserts.
  const [u] = await tx.query<{ untouchable: boolean }>(
    'SELECT break_glass OR deleted_at IS NOT NULL AS untouchable FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE',
    [ctx.tenant.id, userId],
  );
  // Break-glass accounts and tombstones are never judged through a group: their grants stay as they are.
  if (!u || u.untouchable) return { added: [], removed: [], revoked: false };
  return syncRuleGrants(ctx, tx, userId, await directoryGroups(tx, ctx.tenant.id, userId));
}

/** Does any rule name one of these group references? If not, membership changes cannot move a role. */
export async function groupsHaveRules(tx: Queryable, tenantId: string, refs: (string | null)[]): Promise<boolean> {
  const wanted = refs.filter((r): r is string => !!r).map((r) => r.toLowerCase());
  if (!wanted.length) return false;
  const rows = await tx.query('SELECT 1 FROM role_rules WHERE tenant_id = $1 AND lower(group_ref) = ANY($2) LIMIT 1', [tenantId, wanted]);
  return rows.length > 0;
}

/**
 * Everyone a group reference points at today, through a sign-in claim or a SCIM membership, locked
 * in id order (the order every rule-judging transaction locks people in). Deleted and break-glass
 * accounts are not judged.
 */
export async function lockUsersInGroup(tx: Queryable, tenantId: string, ref: string, connectionId: string | null = null): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    `SELECT u.id FROM users u WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND NOT u.break_glass AND u.id IN (
       SELECT x.id FROM users x WHERE x.tenant_id = $1 AND ($3::uuid IS NULL OR x.signin_connection_id = $3)
         AND EXISTS (SELECT 1 FROM unnest(x.signin_groups) s WHERE lower(s) = lower($2))
       UNION
       SELECT m.user_id FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
       WHERE m.tenant_id = $1 AND $3::uuid IS NULL AND (lower(g.display_name) = lower($2) OR lower(g.external_id) = lower($2)))
     ORDER BY u.id FOR NO KEY UPDATE OF u`,
    [tenantId, ref, connectionId],
  );
  return rows.map((r) => r.id);
}
