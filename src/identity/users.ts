import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { emitIdentityEvents } from './events.js';
import { returnTicketsToQueue } from '../itsm/reassign.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { hashPassword, MAX_PASSWORD_LENGTH, randomToken } from './secrets.js';
import { ROLES, type Role } from './roles.js';
import { revokeIdpSessions, revokePasswordSessions, revokeUserSessions } from './sessions/sessions.js';

export type UserStatus = 'active' | 'waiting' | 'disabled';
export type UserSource = 'local' | 'jit' | 'scim';

export interface User {
  id: string;
  email: string;
  displayName: string;
  status: UserStatus;
  source: UserSource;
  breakGlass: boolean;
  totpEnabled: boolean;
  roles: Role[];
  createdAt: Date;
}

export interface RoleGrant {
  role: Role;
  origin: 'person' | 'rule' | 'system';
  grantedBy: string | null;
  ruleId: string | null;
  groupRef: string | null;
}

const MIN_PASSWORD_LENGTH = 12;
const LOCAL_PART = /^[^\s@\p{C}]{1,64}$/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?$/u;

/**
 * The one email rule, for every address Keydesk stores (REST, SAML and OIDC claims, SCIM): a local
 * part without spaces, control or invisible format characters (a zero-width space would make a
 * look-alike of someone's address); a domain of letters, digits and inner hyphens per label
 * (internationalised names allowed), no trailing dot; never the reserved `.invalid`, which tombstones use.
 */
export function isEmailAddress(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at < 1 || !LOCAL_PART.test(s.slice(0, at))) return false;
  const domain = s.slice(at + 1);
  if (domain.length > 255) return false;
  const labels = domain.split('.');
  return labels.every((l) => DOMAIN_LABEL.test(l)) && labels[labels.length - 1]!.toLowerCase() !== 'invalid';
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new ValidationFailed('The password does not meet the policy.', [
      { field: 'password', message: `use between ${MIN_PASSWORD_LENGTH} and ${MAX_PASSWORD_LENGTH} characters` },
    ]);
  }
}

export function normaliseEmail(email: string): string {
  const e = email.trim();
  if (!isEmailAddress(e)) throw new ValidationFailed('The email address is invalid.', [{ field: 'email', message: 'is not an email address' }]);
  return e;
}

const USER_COLUMNS = `u.id, u.email, u.display_name AS "displayName", u.status, u.source, u.break_glass AS "breakGlass",
  u.totp_enabled AS "totpEnabled", u.created_at AS "createdAt",
  coalesce((SELECT array_agg(DISTINCT g.role ORDER BY g.role) FROM role_grants g
            WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id), '{}') AS roles`;

export async function getUser(q: Queryable, tenantId: string, userId: string): Promise<User> {
  if (!isUuid(userId)) throw new NotFound('User');
  const rows = await q.query<User>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2`, [tenantId, userId]);
  if (!rows[0]) throw new NotFound('User');
  return rows[0];
}

export async function listUsers(
  q: Queryable,
  tenantId: string,
  filter: { role?: Role; status?: UserStatus; q?: string; limit: number; after?: string },
): Promise<User[]> {
  const params: unknown[] = [tenantId];
  const where = ['u.tenant_id = $1'];
  if (filter.role) {
    params.push(filter.role);
    where.push(`EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id AND g.role = $${params.length})`);
  }
  if (filter.status) {
    params.push(filter.status);
    where.push(`u.status = $${params.length}`);
  }
  if (filter.q) {
    // Lower-cased by PostgreSQL on both sides: JavaScript and PostgreSQL disagree on some letters (İ).
    params.push(`%${escapeLike(filter.q)}%`);
    where.push(`(lower(u.email) LIKE lower($${params.length}) OR lower(u.display_name) LIKE lower($${params.length}))`);
  }
  if (filter.after) {
    params.push(filter.after);
    where.push(`lower(u.email) > lower($${params.length})`);
  }
  params.push(filter.limit);
  return q.query<User>(
    `SELECT ${USER_COLUMNS} FROM users u WHERE ${where.join(' AND ')} ORDER BY lower(u.email) LIMIT $${params.length}`,
    params,
  );
}

export interface NewUser {
  email: string;
  displayName: string;
  password?: string;
  roles: Role[];
  breakGlass?: boolean;
  source?: UserSource;
  status?: UserStatus;
  /** `system` for the tenant's first admin; `person` when an admin creates the user. */
  grantOrigin?: 'person' | 'system';
  passwordChangeRequired?: boolean;
  /** What a directory (SCIM) says about the account beyond email and name. */
  directory?: { userName: string; externalId: string | null; data: Record<string, unknown> };
  /** The sign-in identity the account is made for (just in time), bound to it in the same statement; the caller audits the binding. */
  identity?: { connectionId: string; subject: string; subjectSource: string };
}

export async function createUser(ctx: Ctx, tx: Queryable, input: NewUser): Promise<User> {
  const email = normaliseEmail(input.email);
  if (input.password !== undefined) checkPassword(input.password);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const roles = [...new Set(input.roles)].sort();
  const status = input.status ?? 'active';
  const source = input.source ?? 'local';
  let created: { id: string; created_at: Date };
  try {
    // The account, its roles and (just in time) its identity in one statement.
    const rows = await tx.query<{ id: string; created_at: Date }>(
      `WITH u AS (
         INSERT INTO users (tenant_id, email, display_name, status, source, password_hash, break_glass, password_change_required, user_name, external_id, scim_data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id, created_at
       ), g AS (
         INSERT INTO role_grants (tenant_id, user_id, role, origin, granted_by)
         SELECT $1, u.id, r.role, $12, $13 FROM u, unnest($14::text[]) AS r(role)
         ON CONFLICT DO NOTHING
       ), x AS (
         INSERT INTO external_identities (tenant_id, connection_id, subject, subject_source, user_id, last_signin_at)
         SELECT $1, $15::uuid, $16, $17, u.id, now() FROM u WHERE $15::uuid IS NOT NULL
       )
       SELECT id, created_at FROM u`,
      [
        ctx.tenant.id,
        email,
        input.displayName,
        status,
        source,
        passwordHash,
        input.breakGlass ?? false,
        input.passwordChangeRequired ?? passwordHash !== null,
        input.directory?.userName ?? null,
        input.directory?.externalId ?? null,
        input.directory ? JSON.stringify(input.directory.data) : null,
        input.grantOrigin ?? 'person',
        ctx.actor?.userId ?? null,
        roles,
        input.identity?.connectionId ?? null,
        input.identity?.subject ?? null,
        input.identity?.subjectSource ?? null,
      ],
    );
    created = rows[0]!;
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw new Conflict(`A user with email ${email} already exists.`, 'user_exists');
    if (isUniqueViolation(err, 'users_user_name_key')) throw new Conflict(`A user with user name ${input.directory?.userName ?? email} already exists.`, 'user_exists');
    throw err;
  }
  const id = created.id;
  await audit(ctx, tx, {
    action: 'user.created',
    targetType: 'user',
    targetId: id,
    details: { email, roles: [...new Set(input.roles)], source },
  });
  // SCIM says more about the person it provisions, and says it itself (scim/users.ts).
  if (source !== 'scim') {
    await emitIdentityEvents(ctx, tx, source === 'jit' ? 'signin' : ctx.actor ? 'admin' : 'system', [
      { type: 'user.provisioned', userId: id, data: { email, active: status !== 'disabled' } },
    ]);
  }
  // What was just written, as getUser would read it (no read back).
  return { id, email, displayName: input.displayName, status, source, breakGlass: input.breakGlass ?? false, totpEnabled: false, roles, createdAt: created.created_at };
}

async function insertGrant(tx: Queryable, ctx: Ctx, userId: string, role: Role, origin: 'person' | 'system'): Promise<void> {
  await tx.query(
    `INSERT INTO role_grants (tenant_id, user_id, role, origin, granted_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`,
    [ctx.tenant.id, userId, role, origin, ctx.actor?.userId ?? null],
  );
}

export async function listGrants(q: Queryable, tenantId: string, userId: string): Promise<RoleGrant[]> {
  return q.query<RoleGrant>(
    `SELECT role, origin, granted_by AS "grantedBy", rule_id AS "ruleId", group_ref AS "groupRef"
     FROM role_grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY role, origin`,
    [tenantId, userId],
  );
}

/**
 * Sets the roles a person granted. Grants that came from rules or the system stay as they are: a
 * person's edit never erases what a group rule gave, and the next sync owns those.
 */
export async function setPersonRoles(ctx: Ctx, userId: string, roles: Role[]): Promise<User> {
  const wanted = new Set(roles);
  return ctx.db.transaction(async (tx) => {
    const before = await getUser(tx, ctx.tenant.id, userId);
    await lockAdminChanges(tx, ctx.tenant.id);
    const current = await tx.query<{ role: Role }>(
      `SELECT role FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin IN ('person', 'system')`,
      [ctx.tenant.id, userId],
    );
    const have = new Set(current.map((r) => r.role));
    const added = [...wanted].filter((r) => !have.has(r));
    const removed = [...have].filter((r) => !wanted.has(r));
    for (const role of added) await insertGrant(tx, ctx, userId, role, 'person');
    if (removed.length) {
      await tx.query(
        `DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin IN ('person', 'system') AND role = ANY($3)`,
        [ctx.tenant.id, userId, removed],
      );
    }
    // Granting any role to someone in the waiting room lets them in.
    if (before.status === 'waiting' && wanted.size > 0) {
      await tx.query(`UPDATE users SET status = 'active', updated_at = now() WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, userId]);
    }
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    if (added.length || removed.length) {
      await audit(ctx, tx, { action: 'user.roles_changed', targetType: 'user', targetId: userId, details: { added, removed } });
      await emitIdentityEvents(ctx, tx, 'admin', [{ type: 'user.role_changed', userId, data: { by: 'person', added, removed } }]);
    }
    return getUser(tx, ctx.tenant.id, userId);
  });
}

/**
 * An administrator's change to a person. A new email is refused for accounts SCIM manages (the
 * directory owns it) and when another account holds the address (409 `user_exists`).
 */
export async function updateUser(
  ctx: Ctx,
  userId: string,
  patch: { email?: string; displayName?: string; status?: 'active' | 'disabled'; breakGlass?: boolean },
): Promise<User> {
  const email = patch.email === undefined ? null : normaliseEmail(patch.email);
  return ctx.db.transaction(async (tx) => {
    const before = await getUser(tx, ctx.tenant.id, userId);
    await lockAdminChanges(tx, ctx.tenant.id);
    if (email !== null && email !== before.email) {
      const managed = await tx.query('SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND user_name IS NOT NULL AND deleted_at IS NULL', [ctx.tenant.id, userId]);
      if (managed.length) throw new Conflict(`SCIM provisioning manages ${before.email}: change the address in the identity provider's directory.`, 'managed_by_scim');
    }
    try {
      await tx.query(
        `UPDATE users SET email = coalesce($6, email), display_name = coalesce($3, display_name), status = coalesce($4, status),
           break_glass = coalesce($5, break_glass), updated_at = now()
         WHERE tenant_id = $1 AND id = $2`,
        [ctx.tenant.id, userId, patch.displayName ?? null, patch.status ?? null, patch.breakGlass ?? null, email],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`Another account already has the address ${email}.`, 'user_exists');
      throw err;
    }
    if (patch.status === 'disabled' && before.status !== 'disabled') {
      await revokeUserSessions(tx, ctx.tenant.id, userId);
      await returnTicketsToQueue(ctx, tx, userId, 'deactivated', 'admin');
      await emitIdentityEvents(ctx, tx, 'admin', [{ type: 'user.deactivated', userId }]);
    } else if (patch.status === 'active' && before.status === 'disabled') {
      await emitIdentityEvents(ctx, tx, 'admin', [{ type: 'user.reactivated', userId }]);
    }
    if (patch.breakGlass && !before.breakGlass) await separateFromIdp(tx, ctx.tenant.id, userId);
    if (patch.breakGlass === false && before.breakGlass) {
      // No longer break-glass while SSO is enforced: the password that kept them in no longer does.
      const [{ enforced }] = (await tx.query<{ enforced: boolean }>('SELECT enforce_sso AS enforced FROM tenants WHERE id = $1', [ctx.tenant.id])) as [{ enforced: boolean }];
      if (enforced) await revokePasswordSessions(tx, ctx.tenant.id, userId);
    }
    await assertTenantKeepsAccess(tx, ctx.tenant.id);
    const changes = Object.fromEntries(
      Object.entries({ ...patch, ...(email !== null ? { email } : {}) }).filter(([k, v]) => v !== undefined && v !== (before as unknown as Record<string, unknown>)[k]),
    );
    if (Object.keys(changes).length) {
      await audit(ctx, tx, { action: 'user.updated', targetType: 'user', targetId: userId, details: changes });
    }
    return getUser(tx, ctx.tenant.id, userId);
  });
}

export interface SigninIdentity {
  connection: string;
  connectionName: string;
  protocol: string;
  subject: string;
  createdAt: Date;
  lastSigninAt: Date | null;
}

/** The identity-provider subjects bound to an account, one at most per connection. */
export async function listIdentities(q: Queryable, tenantId: string, userId: string): Promise<SigninIdentity[]> {
  return q.query<SigninIdentity>(
    `SELECT c.slug AS connection, c.display_name AS "connectionName", c.protocol, x.subject, x.created_at AS "createdAt", x.last_signin_at AS "lastSigninAt"
     FROM external_identities x JOIN sso_connections c ON c.tenant_id = x.tenant_id AND c.id = x.connection_id
     WHERE x.tenant_id = $1 AND x.user_id = $2 ORDER BY lower(c.display_name)`,
    [tenantId, userId],
  );
}

/**
 * Unbinds a person's identity on a connection and ends the sessions it opened: the next sign-in of
 * that subject is judged as a new one by the account-linking rule. Audited as `user.identity_unlinked`.
 * @throws NotFound when the account holds no identity on that connection
 */
export async function unlinkIdentity(ctx: Ctx, userId: string, connectionSlug: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await getUser(tx, ctx.tenant.id, userId);
    const gone = await tx.query<{ subject: string; connection_id: string }>(
      `DELETE FROM external_identities x USING sso_connections c
       WHERE x.tenant_id = $1 AND x.user_id = $2 AND c.tenant_id = x.tenant_id AND c.id = x.connection_id AND c.slug = $3 RETURNING x.subject, x.connection_id`,
      [ctx.tenant.id, userId, connectionSlug],
    );
    if (!gone.length) throw new NotFound('Sign-in identity');
    await revokeIdpSessions(tx, ctx.tenant.id, userId, gone[0]!.connection_id);
    await audit(ctx, tx, { action: 'user.identity_unlinked', targetType: 'user', targetId: userId, details: { connection: connectionSlug, subject: gone[0]!.subject } });
  });
}

/**
 * A break-glass account stands apart from the identity provider: SCIM no longer sees it, so it must
 * hold nothing SCIM could change, and no sign-in identity leads into it any more.
 */
async function separateFromIdp(tx: Queryable, tenantId: string, userId: string): Promise<void> {
  await tx.query('DELETE FROM scim_group_members WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
  await tx.query('UPDATE users SET signin_groups = NULL WHERE tenant_id = $1 AND id = $2', [tenantId, userId]);
  await tx.query('DELETE FROM external_identities WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
  await revokeIdpSessions(tx, tenantId, userId);
}

/**
 * The operator's way back in (`keydesk user recover`), for a tenant that lost its administrators
 * or its break-glass password: the person becomes an active break-glass administrator with a new
 * one-time password (changed at first sign-in), their other sessions end, password lockouts are
 * lifted, and it is audited. Server access is the proof of authority; no tenant admin is needed.
 * @returns the account and the one-time password, shown once
 * @throws NotFound when the tenant has no live account with that email
 */
export async function recoverAdmin(ctx: Ctx, email: string): Promise<{ user: User; oneTimePassword: string }> {
  const oneTimePassword = randomToken(15);
  const passwordHash = await hashPassword(oneTimePassword);
  return ctx.db.transaction(async (tx) => {
    await lockAdminChanges(tx, ctx.tenant.id);
    const [found] = await tx.query<{ id: string }>(
      'SELECT id FROM users WHERE tenant_id = $1 AND lower(email) = lower($2) AND deleted_at IS NULL FOR NO KEY UPDATE',
      [ctx.tenant.id, email.trim()],
    );
    if (!found) throw new NotFound('User');
    await tx.query(
      `UPDATE users SET status = 'active', break_glass = true, password_hash = $3, password_change_required = true, updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [ctx.tenant.id, found.id, passwordHash],
    );
    await separateFromIdp(tx, ctx.tenant.id, found.id);
    await tx.query(
      `INSERT INTO role_grants (tenant_id, user_id, role, origin) SELECT $1, $2, r, 'person' FROM unnest(ARRAY['requester', 'admin']) AS r
       WHERE NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = $1 AND g.user_id = $2 AND g.role = r AND g.origin = 'person')`,
      [ctx.tenant.id, found.id],
    );
    await tx.query('DELETE FROM signin_lockouts WHERE tenant_id = $1 AND user_id = $2', [ctx.tenant.id, found.id]);
    await revokeUserSessions(tx, ctx.tenant.id, found.id);
    await audit(ctx, tx, { action: 'user.recovered', actorId: null, actorLabel: 'operator (keydesk user recover)', targetType: 'user', targetId: found.id, details: { breakGlass: true, roles: ['admin'] } });
    return { user: await getUser(tx, ctx.tenant.id, found.id), oneTimePassword };
  });
}

/**
 * Serialises changes that could take access away, so two concurrent ones cannot both pass the
 * check. NO KEY UPDATE, not UPDATE: it must not conflict with the KEY SHARE locks every insert
 * referencing the tenant takes (audit events, SCIM activity), or a rule change waiting here would
 * deadlock with a SCIM request that holds its people and then writes its audit event.
 */
export async function lockAdminChanges(tx: Queryable, tenantId: string): Promise<void> {
  await tx.query('SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [tenantId]);
}

/**
 * The tenant can still be run and entered after a change, checked inside its transaction (after
 * `lockAdminChanges`): an active administrator remains, and while single sign-on is enforced, an
 * active break-glass administrator with a password (the way in on the day the identity provider
 * fails) and a live connection (everyone else's way in).
 * @throws Conflict `last_admin` | `break_glass_required` | `connection_required`, each saying the way out
 */
export async function assertTenantKeepsAccess(tx: Queryable, tenantId: string): Promise<void> {
  const [r] = await tx.query<{ admins: number; enforced: boolean; breakGlass: number; live: boolean }>(
    `SELECT
       (SELECT count(DISTINCT u.id)::int FROM users u JOIN role_grants g ON g.tenant_id = u.tenant_id AND g.user_id = u.id
        WHERE u.tenant_id = t.id AND u.status = 'active' AND g.role = 'admin') AS admins,
       t.enforce_sso AS enforced,
       (SELECT count(DISTINCT u.id)::int FROM users u JOIN role_grants g ON g.tenant_id = u.tenant_id AND g.user_id = u.id
        WHERE u.tenant_id = t.id AND u.status = 'active' AND g.role = 'admin' AND u.break_glass AND u.password_hash IS NOT NULL AND u.deleted_at IS NULL) AS "breakGlass",
       EXISTS (SELECT 1 FROM sso_connections c WHERE c.tenant_id = t.id AND c.enabled AND c.published_at IS NOT NULL) AS live
     FROM tenants t WHERE t.id = $1`,
    [tenantId],
  );
  if (!r?.admins) {
    throw new Conflict('This would remove the last active administrator of the tenant. Make another person an administrator first.', 'last_admin');
  }
  if (r.enforced && !r.breakGlass) {
    throw new Conflict(
      'Single sign-on is enforced, and this would leave no active break-glass administrator with a password, the way in when the identity provider fails. Mark another administrator as break-glass first, or lift enforcement under Single sign-on.',
      'break_glass_required',
    );
  }
  if (r.enforced && !r.live) {
    throw new Conflict(
      'Single sign-on is enforced, and this would leave no live connection for anyone to sign in with. To move to another identity provider, add it as a second connection and test it (a passed test publishes it), then change or remove this one; or lift enforcement (Single sign-on › Enforce single sign-on) first.',
      'connection_required',
    );
  }
}

export function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

export { ROLES };
