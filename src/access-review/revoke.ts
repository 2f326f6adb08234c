import type { ActorCtx } from '../context.js';
import { audit } from '../audit/audit.js';
import { storable } from '../db/storable.js';
import { AppError, NotFound, ValidationFailed } from '../http/errors.js';
import { emitIdentityEvents } from '../identity/events.js';
import { ROLE_NAMES, type Role } from '../identity/roles.js';
import { assertTenantKeepsAccess, isUuid, lockAdminChanges } from '../identity/users.js';
import { reviewPerson, type ReviewGrant, type ReviewPerson } from './review.js';

export const MAX_REASON_LENGTH = 500;

export interface RevokeResult {
  /** The person as the review shows them after the change. */
  person: ReviewPerson;
  /** The person-made grant that was removed. */
  revoked: ReviewGrant;
  /** The person still holds the role through a rule or the system. */
  stillHeld: boolean;
}

/**
 * Removes the grant of `role` a person (an administrator) made to `userId`, from the access review,
 * with the reviewer's reason. Grants of rules and of the system are not touched: they are refused
 * with what to do instead (a rule's group is changed in the identity provider). The tenant's
 * access guard (`assertTenantKeepsAccess`: the last administrator, the break-glass administrator of
 * an enforced tenant) holds as for every other change. Audited as `access_review.role_revoked`
 * with the reason; `user.role_changed` is emitted when the role is gone.
 * @throws ValidationFailed (422) without a reason; NotFound (404) for no such live person, or
 *   `grant_not_found` when they do not hold the role; Conflict (409) `not_person_granted` saying where
 *   the role comes from and what to do, or `last_admin` | `break_glass_required` from the guard
 */
export async function revokePersonGrant(ctx: ActorCtx, input: { userId: string; role: Role; reason: string }): Promise<RevokeResult> {
  const reason = input.reason.trim();
  if (!reason || reason.length > MAX_REASON_LENGTH || !storable(reason)) {
    throw new ValidationFailed('Say why the role is revoked: the reason is recorded in the audit trail.', [
      { field: 'reason', message: `must have visible text, at most ${MAX_REASON_LENGTH} characters` },
    ]);
  }
  if (!isUuid(input.userId)) throw new NotFound('Person');
  return ctx.db.transaction(async (tx) => {
    await lockAdminChanges(tx, ctx.tenant.id);
    // Serialises with a rule sync or SCIM change of this person (they lock the person the same way).
    const locked = await tx.query('SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR NO KEY UPDATE', [ctx.tenant.id, input.userId]);
    const before = locked.length ? await reviewPerson(tx, ctx.tenant.id, input.userId) : undefined;
    if (!before) throw new NotFound('Person');
    const who = `${before.displayName} <${before.email}>`;
    const roleName = ROLE_NAMES[input.role];
    const grants = before.grants.filter((g) => g.role === input.role);
    if (!grants.length) throw new AppError(404, 'grant_not_found', `${who} does not hold the ${roleName} role.`);
    const personGrant = grants.find((g) => g.origin === 'person');
    if (!personGrant) {
      const g = grants.find((x) => x.origin === 'rule') ?? grants[0]!;
      throw new AppError(409, 'not_person_granted', refusal(who, roleName, g), { origin: g.origin, provenance: grants.map((x) => x.provenance), ...(g.rule ? { rule: { id: g.rule.id, groupRef: g.rule.groupRef } } : {}) });
    }
    await tx.query(`DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND role = $3 AND origin = 'person'`, [ctx.tenant.id, input.userId, input.role]);
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    const after = (await reviewPerson(tx, ctx.tenant.id, input.userId))!;
    const remaining = after.grants.filter((g) => g.role === input.role);
    await audit(ctx, tx, {
      action: 'access_review.role_revoked',
      targetType: 'user',
      targetId: input.userId,
      details: {
        role: input.role,
        reason,
        grantedBy: personGrant.grantedBy ? personGrant.grantedBy.email : null,
        grantedAt: personGrant.grantedAt,
        stillHeldThrough: remaining.map((g) => g.provenance),
      },
    });
    if (!remaining.length) {
      await emitIdentityEvents(ctx, tx, 'admin', [{ type: 'user.role_changed', userId: input.userId, data: { by: 'access_review', added: [], removed: [input.role] } }]);
    }
    return { person: after, revoked: personGrant, stillHeld: remaining.length > 0 };
  });
}

/** Where a role comes from when no person gave it, and what to do instead of revoking it here. */
function refusal(who: string, roleName: string, g: ReviewGrant): string {
  if (g.origin === 'rule' && g.rule) {
    const ref = g.rule.groupRef;
    const seen = g.via.length
      ? g.via.map((v) => (v.kind === 'scim' ? `a member of the SCIM group ${v.displayName}` : `in the groups claim of the latest sign-in${v.connectionName ? ` through ${v.connectionName}` : ''}`)).join(' and ')
      : 'no longer seen in the group (the next sync removes it)';
    return `${who} holds ${roleName} through the rule for group ${ref}${g.rule.connectionName ? ` (sign-ins through ${g.rule.connectionName})` : ''}: ${seen}. No person granted it, so it cannot be revoked here. Remove the person from the group ${ref} in the identity provider, or change the rule (Single sign-on › Role rules).`;
  }
  if (g.system === 'tenant_created') {
    return `${who} holds ${roleName} as the tenant's first administrator: the system gave it when the tenant was created, not a person. Change it under People › Manage person (another active administrator must remain).`;
  }
  const made = g.system === 'scim' ? 'an account SCIM provisioned' : 'an account created at its first single sign-on';
  return `${who} holds ${roleName} as the default role of ${made}: the system gave it, not a person. To take the access away, deactivate or unassign the person in the identity provider, or disable the account under People.`;
}
