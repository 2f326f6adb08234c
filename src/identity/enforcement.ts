import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict } from '../http/errors.js';
import { lockAdminChanges } from './users.js';
import { revokePasswordSessions } from './sessions/sessions.js';

export interface EnforcementState {
  enforced: boolean;
  canEnforce: boolean;
  reason: string | null;
  breakGlass: { id: string; email: string; displayName: string }[];
  /** Password sessions that enforcing would end: everyone's but the break-glass accounts'. */
  passwordSessions: number;
}

/**
 * Enforced SSO: passwords are refused except for break-glass accounts, and switching it on ends
 * everyone else's password sessions (personal API tokens stay: they are revoked under Users). It can be switched on only
 * once a connection has passed a test sign-in, and only while an active break-glass administrator
 * exists, so a tenant can never lock itself out.
 */
export async function enforcementState(q: Queryable, tenantId: string): Promise<EnforcementState> {
  const [t] = (await q.query<{ enforce_sso: boolean; tested: boolean }>(
    `SELECT enforce_sso, EXISTS (SELECT 1 FROM sso_connections c WHERE c.tenant_id = t.id AND c.enabled AND c.published_at IS NOT NULL AND c.test_passed_at IS NOT NULL) AS tested
     FROM tenants t WHERE t.id = $1`,
    [tenantId],
  )) as [{ enforce_sso: boolean; tested: boolean }];
  const breakGlass = await q.query<{ id: string; email: string; displayName: string; admin: boolean }>(
    `SELECT u.id, u.email, u.display_name AS "displayName",
            EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id AND g.role = 'admin') AS admin
     FROM users u WHERE u.tenant_id = $1 AND u.break_glass AND u.status = 'active' AND u.password_hash IS NOT NULL AND u.deleted_at IS NULL ORDER BY lower(u.email)`,
    [tenantId],
  );
  const [{ n: passwordSessions }] = (await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
     WHERE s.tenant_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND s.method LIKE 'password%' AND NOT u.break_glass`,
    [tenantId],
  )) as [{ n: number }];
  const reason = !t.tested
    ? 'No live connection has passed a test sign-in yet. Run "Test sign-in" first (a passed test also publishes the connection).'
    : !breakGlass.some((b) => b.admin)
      ? 'There is no active break-glass administrator with a password: mark one first, so you can never be locked out.'
      : null;
  return { enforced: t.enforce_sso, canEnforce: reason === null, reason, breakGlass: breakGlass.map(({ admin: _a, ...b }) => b), passwordSessions };
}

export async function setEnforcement(ctx: Ctx, enforced: boolean): Promise<EnforcementState> {
  return ctx.db.transaction(async (tx) => {
    await lockAdminChanges(tx, ctx.tenant.id);
    const state = await enforcementState(tx, ctx.tenant.id);
    if (enforced && !state.canEnforce) throw new Conflict(state.reason!, 'cannot_enforce');
    if (state.enforced !== enforced) {
      await tx.query('UPDATE tenants SET enforce_sso = $2 WHERE id = $1', [ctx.tenant.id, enforced]);
      const ended = enforced ? await revokePasswordSessions(tx, ctx.tenant.id) : 0;
      await audit(ctx, tx, {
        action: enforced ? 'sso.enforced' : 'sso.enforcement_lifted',
        targetType: 'tenant',
        targetId: ctx.tenant.id,
        ...(enforced ? { details: { passwordSessionsEnded: ended } } : {}),
      });
    }
    return { ...state, enforced, passwordSessions: enforced ? 0 : state.passwordSessions };
  });
}
