import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { noteSignin } from '../events.js';
import { AppError, TooManyRequests } from '../../http/errors.js';
import { hit } from '../../http/rate-limit.js';
import { checkPassword } from '../users.js';
import { hashPassword, MAX_PASSWORD_LENGTH, type SecretBox, verifyPassword } from '../secrets.js';
import { createSession, revokeOtherSessions, type SessionPolicy } from '../sessions/sessions.js';
import { matchTotp } from './totp.js';

/**
 * After this many consecutive failures from one source address, that address is locked out of the
 * account for LOCK_MINUTES. Other addresses are not: a stranger must not be able to keep the
 * owner (above all a break-glass admin) out.
 */
export const MAX_FAILURES = 5;
export const LOCK_MINUTES = 15;

export type SigninFailure = 'unknown_user' | 'bad_password' | 'locked' | 'disabled' | 'waiting' | 'no_password' | 'totp_required' | 'bad_totp' | 'sso_enforced';

/** What the person is told. Unknown user and wrong password read the same, so emails cannot be probed. */
const MESSAGES: Record<SigninFailure, string> = {
  unknown_user: 'The email or password is incorrect.',
  bad_password: 'The email or password is incorrect.',
  no_password: 'The email or password is incorrect.',
  locked: `Too many failed attempts from this network. Sign-in to this account from here is paused for ${LOCK_MINUTES} minutes.`,
  disabled: 'This account is disabled. Contact your administrator.',
  waiting: 'Your access is pending. An administrator has to grant it first.',
  totp_required: 'Enter the 6-digit code from your authenticator app.',
  bad_totp: 'The verification code is incorrect.',
  sso_enforced: 'This workspace signs in with single sign-on only. Use your company sign-in button.',
};

const HIDDEN: ReadonlySet<SigninFailure> = new Set(['unknown_user', 'bad_password', 'no_password']);

export class SigninFailed extends AppError {
  constructor(readonly reason: SigninFailure) {
    super(401, HIDDEN.has(reason) ? 'invalid_credentials' : reason, MESSAGES[reason]);
  }
}

interface Row {
  id: string;
  email: string;
  status: string;
  password_hash: string | null;
  totp_enabled: boolean;
  totp_secret: string | null;
  totp_last_step: number | null;
  locked: boolean;
  password_change_required: boolean;
  break_glass: boolean;
  enforce_sso: boolean;
}

export interface SigninInput {
  email: string;
  password: string;
  otp?: string;
  userAgent?: string;
}

/**
 * Password sign-in for local accounts. Rate-limited per IP and per account (counters in the
 * database, shared by every node), with lock-out after repeated failures; every attempt is audited.
 */
export async function passwordSignin(ctx: Ctx, policy: SessionPolicy, box: SecretBox, input: SigninInput) {
  const emailKey = input.email.trim().toLowerCase();
  const source = (ctx.ip ?? 'unknown').slice(0, 100);
  const fail = async (reason: SigninFailure, userId: string | null) => {
    await audit(ctx, ctx.db, { action: 'signin.password', outcome: 'failure', reason, actorId: userId, actorLabel: emailKey.slice(0, 320) });
    return new SigninFailed(reason);
  };
  try {
    await hit(ctx.db, { bucket: `signin:ip:${source}`, max: 300, windowSeconds: 300 });
    await hit(ctx.db, { bucket: `signin:acct:${ctx.tenant.id}:${emailKey}:${source}`, max: 20, windowSeconds: 300 });
  } catch (err) {
    if (err instanceof TooManyRequests) {
      await audit(ctx, ctx.db, { action: 'signin.password', outcome: 'failure', reason: 'rate_limited', actorId: null, actorLabel: emailKey.slice(0, 320) });
    }
    throw err;
  }
  if (input.password.length > MAX_PASSWORD_LENGTH) throw await fail('bad_password', null);

  const rows = await ctx.db.query<Row>(
    `SELECT id, email, status, password_hash, totp_enabled, totp_secret, totp_last_step,
            EXISTS (SELECT 1 FROM signin_lockouts l WHERE l.tenant_id = users.tenant_id AND l.user_id = users.id
                    AND l.source = $3 AND l.locked_until > now()) AS locked,
            password_change_required, break_glass,
            (SELECT enforce_sso FROM tenants WHERE id = users.tenant_id) AS enforce_sso
     FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)`,
    // As typed, lower-cased by PostgreSQL as the index is: JavaScript lower-cases some letters (İ) differently.
    [ctx.tenant.id, input.email.trim(), source],
  );
  const user = rows[0];
  // Always spend the hashing time, whether or not the account exists.
  const passwordOk = await verifyPassword(input.password, user?.password_hash ?? null);
  if (!user) throw await fail('unknown_user', null);
  if (user.locked) throw await fail('locked', user.id);
  if (!user.password_hash) throw await fail('no_password', user.id);
  if (!passwordOk) throw await fail(await countFailure(ctx, user.id, source), user.id);
  if (user.status === 'disabled') throw await fail('disabled', user.id);
  if (user.status === 'waiting') throw await fail('waiting', user.id);
  if (user.enforce_sso && !user.break_glass) throw await fail('sso_enforced', user.id);

  let totpStep: number | null = null;
  if (user.totp_enabled && user.totp_secret) {
    if (!input.otp) throw new SigninFailed('totp_required');
    totpStep = matchTotp(box.open(user.totp_secret), input.otp, user.totp_last_step);
    if (totpStep === null) throw await fail((await countFailure(ctx, user.id, source)) === 'locked' ? 'locked' : 'bad_totp', user.id);
  }

  return ctx.db.transaction(async (tx) => {
    if (totpStep !== null) await tx.query(`UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, user.id, totpStep]);
    await tx.query('DELETE FROM signin_lockouts WHERE tenant_id = $1 AND user_id = $2 AND source = $3', [ctx.tenant.id, user.id, source]);
    const created = await createSession(tx, policy, {
      tenantId: ctx.tenant.id,
      userId: user.id,
      method: user.totp_enabled ? 'password+totp' : 'password',
      ip: ctx.ip,
      userAgent: input.userAgent,
    });
    // Break-glass use while SSO is enforced is its own action, so it stands out in the log and in alerts.
    const breakGlass = user.enforce_sso && user.break_glass;
    await audit(ctx, tx, {
      action: breakGlass ? 'signin.break_glass' : 'signin.password',
      actorId: user.id,
      actorLabel: user.email,
      details: { method: created.session.method, ...(breakGlass ? { breakGlass: true } : {}) },
    });
    await noteSignin(ctx, tx, user.id, { method: 'password' });
    return { ...created, passwordChangeRequired: user.password_change_required };
  });
}

/** Counts a failure from `source`; the MAX_FAILURES-th locks that source out of the account and reports `locked`. */
async function countFailure(ctx: Ctx, userId: string, source: string): Promise<'bad_password' | 'locked'> {
  const rows = await ctx.db.query<{ failures: number }>(
    `INSERT INTO signin_lockouts AS l (tenant_id, user_id, source, failures) VALUES ($1, $2, $3, 1)
     ON CONFLICT (tenant_id, user_id, source) DO UPDATE SET
       failures = CASE WHEN l.failures + 1 >= $4 THEN 0 ELSE l.failures + 1 END,
       locked_until = CASE WHEN l.failures + 1 >= $4 THEN now() + make_interval(mins => $5) ELSE l.locked_until END,
       updated_at = now()
     RETURNING failures`,
    [ctx.tenant.id, userId, source, MAX_FAILURES, LOCK_MINUTES],
  );
  return rows[0]?.failures === 0 ? 'locked' : 'bad_password';
}

/** Forgets lockouts that ended a day ago; called from the periodic housekeeping job. */
export async function pruneLockouts(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM signin_lockouts WHERE updated_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())`);
}

/** Changes the signed-in user's own password; ends their other sessions. */
export async function changePassword(
  ctx: Ctx & { actor: { userId: string } },
  currentSessionId: string | undefined,
  input: { currentPassword: string; newPassword: string },
): Promise<void> {
  checkPassword(input.newPassword);
  const rows = await ctx.db.query<{ password_hash: string | null }>('SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2', [
    ctx.tenant.id,
    ctx.actor.userId,
  ]);
  if (!(await verifyPassword(input.currentPassword.slice(0, MAX_PASSWORD_LENGTH), rows[0]?.password_hash ?? null))) {
    await audit(ctx, ctx.db, { action: 'user.password_changed', outcome: 'failure', reason: 'bad_password', targetType: 'user', targetId: ctx.actor.userId });
    throw new AppError(400, 'bad_password', 'The current password is incorrect.');
  }
  const hash = await hashPassword(input.newPassword);
  await ctx.db.transaction(async (tx) => {
    await tx.query('UPDATE users SET password_hash = $3, password_change_required = false, updated_at = now() WHERE tenant_id = $1 AND id = $2', [
      ctx.tenant.id,
      ctx.actor.userId,
      hash,
    ]);
    await revokeOtherSessions(tx, ctx.tenant.id, ctx.actor.userId, currentSessionId);
    await audit(ctx, tx, { action: 'user.password_changed', targetType: 'user', targetId: ctx.actor.userId });
  });
}
