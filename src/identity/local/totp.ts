import * as OTPAuth from 'otpauth';
import type { ActorCtx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { BadRequest, Conflict } from '../../http/errors.js';
import type { SecretBox } from '../secrets.js';

const PERIOD = 30;

function totpFor(secretBase32: string, label = 'keydesk', issuer = 'Keydesk'): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: OTPAuth.Secret.fromBase32(secretBase32) });
}

/**
 * Checks a code within ±1 step and returns the step it matched, or null. The caller stores the step
 * so each code is accepted only once.
 */
export function matchTotp(secretBase32: string, code: string, lastStep: number | null, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpFor(secretBase32).validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  const step = Math.floor(now / 1000 / PERIOD) + delta;
  return lastStep !== null && step <= lastStep ? null : step;
}

/** Starts enrolment: stores a new sealed secret, not yet enabled, and returns it for the authenticator app. */
export async function beginTotpEnrolment(ctx: ActorCtx, box: SecretBox): Promise<{ secret: string; otpauthUri: string }> {
  const rows = await ctx.db.query<{ totp_enabled: boolean; source: string }>(
    'SELECT totp_enabled, source FROM users WHERE tenant_id = $1 AND id = $2',
    [ctx.tenant.id, ctx.actor.userId],
  );
  if (rows[0]?.source !== 'local') throw new BadRequest('Two-step verification is for local accounts; your identity provider handles it for you.');
  if (rows[0]?.totp_enabled) throw new Conflict('Two-step verification is already on. Turn it off first to enrol again.');
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  await ctx.db.query('UPDATE users SET totp_secret = $3, totp_last_step = NULL WHERE tenant_id = $1 AND id = $2', [
    ctx.tenant.id,
    ctx.actor.userId,
    box.seal(secret),
  ]);
  return { secret, otpauthUri: totpFor(secret, ctx.actor.email, `Keydesk (${ctx.tenant.slug})`).toString() };
}

async function readSecret(q: Queryable, ctx: ActorCtx, box: SecretBox) {
  const rows = await q.query<{ totp_secret: string | null; totp_enabled: boolean; totp_last_step: number | null }>(
    'SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
    [ctx.tenant.id, ctx.actor.userId],
  );
  const row = rows[0];
  return row?.totp_secret ? { secret: box.open(row.totp_secret), enabled: row.totp_enabled, lastStep: row.totp_last_step } : null;
}

/** Enables TOTP once the user proves their app produces codes for the enrolled secret. */
export async function confirmTotp(ctx: ActorCtx, box: SecretBox, code: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const s = await readSecret(tx, ctx, box);
    if (!s) throw new BadRequest('Start enrolment first.');
    if (s.enabled) throw new Conflict('Two-step verification is already on.');
    const step = matchTotp(s.secret, code, s.lastStep);
    if (step === null) throw new BadRequest('That code is not valid. Check the time on your device and try the next code.');
    await tx.query('UPDATE users SET totp_enabled = true, totp_last_step = $3 WHERE tenant_id = $1 AND id = $2', [
      ctx.tenant.id,
      ctx.actor.userId,
      step,
    ]);
    await audit(ctx, tx, { action: 'user.totp_enabled', targetType: 'user', targetId: ctx.actor.userId });
  });
}

export async function disableTotp(ctx: ActorCtx, box: SecretBox, code: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const s = await readSecret(tx, ctx, box);
    if (!s?.enabled) throw new BadRequest('Two-step verification is not on.');
    if (matchTotp(s.secret, code, s.lastStep) === null) throw new BadRequest('That code is not valid.');
    await tx.query('UPDATE users SET totp_enabled = false, totp_secret = NULL, totp_last_step = NULL WHERE tenant_id = $1 AND id = $2', [
      ctx.tenant.id,
      ctx.actor.userId,
    ]);
    await audit(ctx, tx, { action: 'user.totp_disabled', targetType: 'user', targetId: ctx.actor.userId });
  });
}
