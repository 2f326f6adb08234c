import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import type { Connection } from '../connections.js';
import { SamlFailure } from '../saml/failure.js';
import { createUser, type UserStatus } from '../users.js';
import type { MappedClaims } from './claims.js';

export interface ResolvedAccount {
  userId: string;
  email: string;
  status: UserStatus;
  how: 'known' | 'linked' | 'created';
}

/**
 * One account per person, whichever way they arrive: by the connection's stable subject if seen
 * before; else the account an admin or SCIM created, matched by email (case-insensitive) and linked
 * now; else, with just-in-time accounts on, a new one (in the waiting room if the connection has
 * one, else a requester).
 */
export async function resolveAccount(ctx: Ctx, tx: Queryable, conn: Connection, claims: MappedClaims): Promise<ResolvedAccount> {
  if (!claims.subject) throw new SamlFailure('no_subject', 'The assertion carries neither an objectidentifier claim nor a NameID.');
  const known = await tx.query<{ id: string; email: string; status: UserStatus; display_name: string }>(
    `SELECT u.id, u.email, u.status, u.display_name FROM external_identities x JOIN users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.tenant_id = $1 AND x.connection_id = $2 AND x.subject = $3`,
    [ctx.tenant.id, conn.id, claims.subject],
  );
  if (known[0]) {
    const u = known[0];
    await tx.query('UPDATE external_identities SET last_signin_at = now() WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3', [
      ctx.tenant.id,
      conn.id,
      claims.subject,
    ]);
    if (claims.displayName !== u.display_name && claims.displayName !== 'Unknown user') {
      await tx.query('UPDATE users SET display_name = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, u.id, claims.displayName]);
    }
    return guard({ userId: u.id, email: u.email, status: u.status, how: 'known' });
  }
  if (!claims.email) throw new SamlFailure('no_email', 'No email claim arrived and the NameID is not an email address.');
  const existing = await tx.query<{ id: string; email: string; status: UserStatus }>(
    'SELECT id, email, status FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)',
    [ctx.tenant.id, claims.email],
  );
  let account: ResolvedAccount;
  if (existing[0]) {
    account = { userId: existing[0].id, email: existing[0].email, status: existing[0].status, how: 'linked' };
  } else {
    if (!conn.jit) throw new SamlFailure('user_not_permitted', `${claims.email} has no Keydesk account, and just-in-time accounts are off.`);
    const status: UserStatus = conn.waitingRoom ? 'waiting' : 'active';
    const user = await createUser(ctx, tx, {
      email: claims.email,
      displayName: claims.displayName,
      roles: conn.waitingRoom ? [] : ['requester'],
      source: 'jit',
      status,
      grantOrigin: 'system',
    });
    account = { userId: user.id, email: user.email, status, how: 'created' };
  }
  await tx.query(
    'INSERT INTO external_identities (tenant_id, connection_id, subject, user_id, last_signin_at) VALUES ($1, $2, $3, $4, now())',
    [ctx.tenant.id, conn.id, claims.subject, account.userId],
  );
  await audit(ctx, tx, {
    action: 'user.identity_linked',
    targetType: 'user',
    targetId: account.userId,
    details: { connection: conn.slug, subject: claims.subject, subjectSource: claims.subjectSource, how: account.how },
  });
  return guard(account);
}

function guard(a: ResolvedAccount): ResolvedAccount {
  if (a.status === 'disabled') throw new SamlFailure('user_disabled', `${a.email} is disabled in Keydesk.`);
  return a;
}

/** A waiting user becomes active as soon as any role is theirs, from a person or from a rule. */
export async function admitIfGranted(tx: Queryable, tenantId: string, userId: string): Promise<UserStatus> {
  // Only a waiting row is rewritten: a bulk SCIM change touches many people, few of them waiting.
  const rows = await tx.query<{ status: UserStatus }>(
    `WITH admitted AS (
       UPDATE users SET status = 'active'
       WHERE tenant_id = $1 AND id = $2 AND status = 'waiting'
         AND EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = users.tenant_id AND g.user_id = users.id)
       RETURNING status)
     SELECT coalesce((SELECT status FROM admitted), (SELECT status FROM users WHERE tenant_id = $1 AND id = $2)) AS status`,
    [tenantId, userId],
  );
  return rows[0]!.status;
}
