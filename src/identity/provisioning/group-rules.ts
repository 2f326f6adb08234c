import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { emitIdentityEvents } from '../events.js';
import type { Role } from '../roles.js';
import { revokeSessionsOf } from '../sessions/sessions.js';

export interface RuleChange {
  added: { role: Role; groupRef: string }[];
  removed: { role: Role; groupRef: string | null }[];
  /** The user left every role-granting group: their sessions and tokens were revoked. */
  revoked: boolean;
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
/**
 * Every SCIM group reference of the person `user` (a SQL expression) as a text[]: each group they
 * are a member of, by its externalId (Entra's object id, what Entra's claim carries) and its
 * displayName (what Okta's claim carries).
 */
const scimGroupRefs = (tenant: string, user: string) =>
  `coalesce((SELECT array_agg(r) FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id,
                    LATERAL unnest(ARRAY[g.display_name, g.external_id]) AS r
             WHERE m.tenant_id = ${tenant} AND m.user_id = ${user} AND r IS NOT NULL), '{}')`;

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
     scim AS (SELECT ${scimGroupRefs('$1', '$2')} AS refs)
     SELECT (SELECT untouchable FROM me) AS untouchable,
       coalesce((SELECT json_agg(json_build_object('id', r.id, 'group_ref', r.group_ref, 'role', r.role) ORDER BY ${RULE_ORDER})
                 FROM role_rules r WHERE ${rulesMatching('$1', '($3::text[] || (SELECT refs FROM scim))', '$4', '$3')}), '[]') AS rules,
       coalesce((SELECT json_agg(json_build_object('role', g.role, 'rule_id', g.rule_id, 'group_ref', g.group_ref))
                 FROM role_grants g WHERE g.tenant_id = $1 AND g.user_id = $2 AND g.origin = 'rule'), '[]') AS current`,
    [ctx.tenant.id, userId, signin.groups, signin.connectionId],
  )) as [{ untouchable: boolean | null; rules: MatchedRule[]; current: RuleGrant[] }];
  // Break-glass accounts and tombstones are never judged through a group: their grants stay as they are.
  if (row.untouchable !== false) return { added: [], removed: [], revoked: false };
  const [change] = await applyVerdicts(ctx, tx, [judge(userId, row.rules, row.current)]);
  return change!;
}

/** What the rules decide for one person: the rule grants to remove and to add, and whether any rule still matches. */
interface Verdict {
  userId: string;
  remove: RuleGrant[];
  add: { role: Role; rule: MatchedRule }[];
  matchesAny: boolean;
}

/**
 * The one engine behind group-driven roles, for SAML and OIDC sign-ins, SCIM group changes and new
 * rules: given the rules a person's groups match now (`rules`, in precedence order), grant each
 * role whose rule matches (the rule with the lowest precedence number is credited) and remove rule
 * grants whose rule no longer matches. Grants given by a person are never touched. Matching ignores
 * case (Okta sends names, Entra object ids). Decides only: applyVerdicts writes.
 */
function judge(userId: string, rules: MatchedRule[], current: RuleGrant[]): Verdict {
  const wanted = new Map<Role, MatchedRule>();
  for (const r of rules) if (!wanted.has(r.role)) wanted.set(r.role, r);
  const remove = current.filter((g) => wanted.get(g.role)?.id !== g.rule_id);
  const add = [...wanted].filter(([role, rule]) => !current.some((g) => g.role === role && g.rule_id === rule.id)).map(([role, rule]) => ({ role, rule }));
  return { userId, remove, add, matchesAny: wanted.size > 0 };
}

/**
 * Writes verdicts, for one person or many: their removals in one statement, then their additions in
 * one (a role moving to another rule is removed first), then per person the audit line and
 * `user.role_changed` event when what they may do changed, and the revocation of what they hold
 * open when they left every role-granting group (deprovisioning, DESIGN.md).
 * @returns each person's change, in the order of `verdicts`
 */
async function applyVerdicts(ctx: Ctx, tx: Queryable, verdicts: Verdict[]): Promise<RuleChange[]> {
  const removals = verdicts.flatMap((v) => v.remove.map((g) => ({ user: v.userId, role: g.role, rule: g.rule_id })));
  if (removals.length) {
    await tx.query(
      `DELETE FROM role_grants g USING unnest($2::uuid[], $3::text[], $4::uuid[]) AS x(user_id, role, rule_id)
       WHERE g.tenant_id = $1 AND g.origin = 'rule' AND g.user_id = x.user_id AND g.role = x.role AND g.rule_id = x.rule_id`,
      [ctx.tenant.id, removals.map((r) => r.user), removals.map((r) => r.role), removals.map((r) => r.rule)],
    );
  }
  const additions = verdicts.flatMap((v) => v.add.map((a) => ({ user: v.userId, role: a.role, rule: a.rule.id, ref: a.rule.group_ref })));
  if (additions.length) {
    await tx.query(
      `INSERT INTO role_grants (tenant_id, user_id, role, origin, rule_id, group_ref)
       SELECT $1, x.user_id, x.role, 'rule', x.rule_id, x.group_ref FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[]) AS x(user_id, role, rule_id, group_ref)
       ON CONFLICT DO NOTHING`,
      [ctx.tenant.id, additions.map((a) => a.user), additions.map((a) => a.role), additions.map((a) => a.rule), additions.map((a) => a.ref)],
    );
  }
  const changes = verdicts.map((v): RuleChange => ({
    added: v.add.map((a) => ({ role: a.role, groupRef: a.rule.group_ref })),
    removed: v.remove.map((g) => ({ role: g.role, groupRef: g.group_ref })),
    // Removal from every role-granting group is deprovisioning (DESIGN.md): what they hold open ends.
    revoked: v.remove.length > 0 && !v.matchesAny,
  }));
  for (const [i, v] of verdicts.entries()) {
    const change = changes[i]!;
    // Only the changes that alter what the user may do are worth an event: a re-credit is not.
    const addedRoles = change.added.filter((a) => !change.removed.some((r) => r.role === a.role));
    const removedRoles = change.removed.filter((r) => !change.added.some((a) => a.role === r.role));
    if (addedRoles.length || removedRoles.length) {
      await audit(ctx, tx, {
        action: 'user.roles_changed',
        targetType: 'user',
        targetId: v.userId,
        details: { by: 'group_rules', added: addedRoles.map((a) => a.role), removed: removedRoles.map((r) => r.role), groups: addedRoles.map((a) => a.groupRef) },
      });
      await emitIdentityEvents(ctx, tx, 'system', [
        { type: 'user.role_changed', userId: v.userId, data: { by: 'group_rules', added: addedRoles.map((a) => a.role), removed: removedRoles.map((r) => r.role) } },
      ]);
    }
  }
  await revokeSessionsOf(tx, ctx.tenant.id, verdicts.filter((_, i) => changes[i]!.revoked).map((v) => v.userId));
  return changes;
}

/**
 * Re-applies the rules to each of these people from everything the directory told us, in two reads
 * and at most two writes for all of them (plus a person's own audit line, event and revocation
 * where their access changed): a SCIM group change or a new rule may touch thousands. Break-glass
 * accounts and tombstones are not judged (their grants stay as they are).
 */
export async function resyncRuleGrantsOf(ctx: Ctx, tx: Queryable, userIds: readonly string[]): Promise<void> {
  if (!userIds.length) return;
  // Locked first, in id order as every rule-judging transaction locks, and in a statement of its
  // own: a statement that waits for a lock still reads other tables as they were when it began, so
  // the read of groups and grants must start once the locks are held (a sign-in or another group's
  // change that went first is then seen).
  const locked = await tx.query<{ id: string; untouchable: boolean }>(
    `SELECT id, break_glass OR deleted_at IS NOT NULL AS untouchable FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
    [ctx.tenant.id, [...new Set(userIds)]],
  );
  const judged = locked.filter((u) => !u.untouchable).map((u) => u.id);
  if (!judged.length) return;
  const refs = `(coalesce(u.signin_groups, '{}') || ${scimGroupRefs('$1', 'u.id')})`;
  const rows = await tx.query<{ id: string; rules: MatchedRule[]; current: RuleGrant[] }>(
    `SELECT u.id,
       coalesce((SELECT json_agg(json_build_object('id', r.id, 'group_ref', r.group_ref, 'role', r.role) ORDER BY ${RULE_ORDER})
                 FROM role_rules r WHERE ${rulesMatching('$1', refs, 'u.signin_connection_id', "coalesce(u.signin_groups, '{}')")}), '[]') AS rules,
       coalesce((SELECT json_agg(json_build_object('role', g.role, 'rule_id', g.rule_id, 'group_ref', g.group_ref))
                 FROM role_grants g WHERE g.tenant_id = $1 AND g.user_id = u.id AND g.origin = 'rule'), '[]') AS current
     FROM users u WHERE u.tenant_id = $1 AND u.id = ANY($2::uuid[]) ORDER BY u.id`,
    [ctx.tenant.id, judged],
  );
  await applyVerdicts(ctx, tx, rows.map((r) => judge(r.id, r.rules, r.current)));
}

export interface DirectoryGroups {
  /** Every group reference: the latest sign-in's claim and every SCIM group (externalId and displayName). */
  all: string[];
  /** The latest sign-in's groups and app roles alone, and the connection they came through. */
  signin: string[];
  signinConnectionId: string | null;
}

/** The groups rules see for a user: the groups claim of their latest sign-in, and their SCIM groups' references (scimGroupRefs). */
export async function directoryGroups(tx: Queryable, tenantId: string, userId: string): Promise<DirectoryGroups> {
  const [row] = await tx.query<{ signin: string[]; connection: string | null; scim: string[] }>(
    `SELECT coalesce(u.signin_groups, '{}') AS signin, u.signin_connection_id AS connection,
            ${scimGroupRefs('$1', '$2')} AS scim
     FROM users u WHERE u.tenant_id = $1 AND u.id = $2`,
    [tenantId, userId],
  );
  if (!row) return { all: [], signin: [], signinConnectionId: null };
  return { all: [...new Set([...row.signin, ...row.scim])], signin: row.signin, signinConnectionId: row.connection };
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
