import type { Ctx } from '../../context.js';
import { isUniqueViolation, type Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import type { Connection } from '../connections.js';
import { AccountFailure, ClaimFailure } from '../signin/failure.js';
import { createUser, type UserStatus } from '../users.js';
import type { MappedClaims } from './claims.js';

export interface ResolvedAccount {
  userId: string;
  email: string;
  status: UserStatus;
  how: 'known' | 'linked' | 'created';
}

/** Where a sign-in writes what it decided about the account; the SAML trace (and OIDC's) fits. */
export interface AccountReport {
  /** A test sign-in: everything is rolled back, so the report says what would happen. */
  readonly dryRun?: boolean;
  pass(check: string, detail?: string): void;
  fail(check: string, detail: string): void;
}

/** Why an existing account may be linked to an identity by its email address. */
type LinkBasis = 'scim' | 'verified_domain' | 'owner_verified_email';

const BASIS_TEXT: Record<LinkBasis, string> = {
  scim: 'the account is provisioned by this tenant’s SCIM',
  verified_domain: 'the address’s domain is verified for this tenant',
  owner_verified_email: 'the identity provider says the domain’s owner verified the address',
};

interface AccountRow {
  id: string;
  email: string;
  display_name: string;
  status: UserStatus;
  break_glass: boolean;
  deleted: boolean;
  /** Provisioned (or adopted) by this tenant's SCIM and not deleted since. */
  managed: boolean;
}

const ACCOUNT = `u.id, u.email, u.display_name, u.status, u.break_glass, u.deleted_at IS NOT NULL AS deleted,
  (u.user_name IS NOT NULL AND u.deleted_at IS NULL) AS managed`;

/**
 * The account-linking rule: which Keydesk account a sign-in (SAML now, OIDC later) lands in. One
 * rule for every protocol, consistent with SCIM's rule for recycled addresses:
 *
 * 1. A known subject (connection + subject, of the same kind: an object id is not a NameID) is its
 *    account, whatever its email says now. A changed email or name is taken over onto the account
 *    (unless SCIM manages it: then the directory's values stand) when no other live account holds
 *    the address; a conflict is reported, not hidden.
 * 2. An unknown subject never enters an account bound to another subject of the same connection,
 *    an account bound to an identity of another enabled connection, nor a break-glass account. It is
 *    linked to an unbound account with its address only when the address's domain is verified for
 *    the tenant, SCIM provisioned the account, or the identity provider says the domain's owner
 *    verified the address. A tombstone (an account SCIM deleted) lets go of its address, as in SCIM.
 * 3. Otherwise, with just-in-time accounts on, a new account (in the waiting room if the
 *    connection has one, else a requester).
 *
 * @throws ClaimFailure | AccountFailure no_subject | bad_subject | no_email | subject_conflict | bound_elsewhere |
 *   link_unverified | break_glass | user_deleted | user_disabled | user_not_permitted, each with the admin's fix.
 */
export async function resolveAccount(ctx: Ctx, tx: Queryable, conn: Connection, claims: MappedClaims, report: AccountReport): Promise<ResolvedAccount> {
  if (!claims.subject) throw new ClaimFailure('no_subject', conn.protocol, conn.protocol === 'saml' ? `The assertion carries no objectidentifier claim and ${claims.subjectSource === 'transient NameID' ? 'only a transient NameID' : 'no NameID'}.` : 'The ID token carries no subject.');
  if (claims.subject.length > MAX_SUBJECT) throw new ClaimFailure('bad_subject', conn.protocol, `The ${claims.subjectSource} is ${claims.subject.length} characters long.`);
  // A known identity is found and marked signed-in in one statement: the mark reads the row as it
  // was (subject_source before this sign-in), and any refusal below rolls it back with the rest.
  const known = await tx.query<AccountRow & { subject_source: string | null }>(
    `WITH x AS (SELECT user_id, subject_source FROM external_identities WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3),
     touched AS (UPDATE external_identities SET last_signin_at = now(), subject_source = $4
       WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3 RETURNING 1)
     SELECT ${ACCOUNT}, x.subject_source, (SELECT count(*) FROM touched) AS touched
     FROM x JOIN users u ON u.tenant_id = $1 AND u.id = x.user_id FOR NO KEY UPDATE OF u`,
    [ctx.tenant.id, conn.id, claims.subject, claims.subjectSource],
  );
  if (known[0]) {
    const u = known[0];
    if (u.subject_source !== null && u.subject_source !== claims.subjectSource) {
      throw new AccountFailure(
        'subject_conflict',
        `The ${claims.subjectSource} ${claims.subject} equals the ${u.subject_source} of ${u.email}'s identity: a value of one kind never stands for the other.`,
        { subject: claims.subject, subjectSource: claims.subjectSource, boundAs: u.subject_source, account: u.email },
      );
    }
    refuseUnusable(u);
    report.pass('Account', `known identity: ${u.email}`);
    const email = await takeOverProfile(ctx, tx, conn, u, claims, report);
    return { userId: u.id, email, status: u.status, how: 'known' };
  }

  if (!claims.email) throw new ClaimFailure('no_email', conn.protocol, conn.protocol === 'saml' ? 'No email claim arrived and the NameID is not an email address.' : 'The ID token carries no usable email (email, or preferred_username when it is an address).');
  const holder = await addressHolder(tx, ctx.tenant.id, claims.email, conn.id);
  if (holder?.deleted) {
    // SCIM deleted that person; a sign-in never revives them. The address is free for whoever holds it now.
    await releaseAddress(tx, ctx.tenant.id, holder.id);
  } else if (holder) {
    refuseUnusable(holder);
    if (holder.bound_here !== null) {
      throw new AccountFailure(
        'subject_conflict',
        `${holder.email} belongs to an account already bound to another identity of this connection (subject ${holder.bound_here}); this sign-in is subject ${claims.subject}. The address may have been given to someone new.`,
        { boundSubject: holder.bound_here, subject: claims.subject, account: holder.email },
      );
    }
    if (holder.bound_elsewhere !== null) {
      throw new AccountFailure(
        'bound_elsewhere',
        `${holder.email} belongs to an account that signs in through ${holder.bound_elsewhere}. Another identity provider asserting the same address does not make it the same person.`,
        { account: holder.email, boundTo: holder.bound_elsewhere },
        `If this person now signs in through this connection instead, remove their ${holder.bound_elsewhere} identity under Users (or disable that connection while you move everyone over): the next sign-in then links by the usual rule. If the address belongs to someone else, change the old account's email under Users.`,
      );
    }
    const basis = await linkBasis(tx, ctx.tenant.id, holder, claims);
    if (!basis) {
      const domain = domainOf(claims.email);
      throw new AccountFailure(
        'link_unverified',
        `${holder.email} already has a Keydesk account, and nothing proves that this identity provider speaks for ${domain}: the domain is not verified for this tenant and SCIM did not provision the account. The sign-in was not linked to it.`,
        { account: holder.email, domain },
        `Verify ${domain} under Single sign-on › Domains (the person is then linked at their next sign-in), or provision the person with SCIM. If the account is not this person's, change its email under Users.`,
      );
    }
    await bind(ctx, tx, conn, claims, holder.id, basis);
    report.pass('Account', `${report.dryRun ? 'existing account would be linked' : 'existing account linked'}: ${holder.email} (${BASIS_TEXT[basis]})`);
    return { userId: holder.id, email: holder.email, status: holder.status, how: 'linked' };
  }

  if (!conn.jit) throw new AccountFailure('user_not_permitted', `${claims.email} has no Keydesk account, and just-in-time accounts are off.`);
  // A guest directory taking an address of the workspace's own verified domain would squat it: the
  // real person's account (or SCIM's) would later find it taken.
  if (!claims.domainAuthority && !claims.emailOwnerVerified && (await domainVerified(tx, ctx.tenant.id, claims.email))) {
    throw new AccountFailure(
      'link_unverified',
      `${claims.email} is in ${domainOf(claims.email)}, a domain verified for this workspace, but the sign-in comes from a guest directory of a multi-tenant connection that does not prove the address.`,
      { domain: domainOf(claims.email) },
      'Only the home directory (the first allowed tenant) speaks for the workspace’s verified domains. If the person belongs to the home directory, they should sign in there; otherwise give them an address outside the verified domains.',
    );
  }
  const status: UserStatus = conn.waitingRoom ? 'waiting' : 'active';
  const user = await createUser(ctx, tx, {
    email: claims.email,
    displayName: claims.displayName,
    roles: conn.waitingRoom ? [] : ['requester'],
    source: 'jit',
    status,
    grantOrigin: 'system',
    identity: { connectionId: conn.id, subject: claims.subject, subjectSource: claims.subjectSource },
  });
  await auditBinding(ctx, tx, conn, claims, user.id, 'created', null);
  report.pass('Account', report.dryRun ? `would be created just in time at the first real sign-in: ${user.email}` : `created just in time: ${user.email}`);
  return { userId: user.id, email: user.email, status, how: 'created' };
}

/** external_identities.subject's column limit. */
const MAX_SUBJECT = 512;

interface HolderRow extends AccountRow {
  /** The subject bound to the account on the connection signing in, if any. */
  bound_here: string | null;
  /** The name of another enabled connection the account is bound on, if any. */
  bound_elsewhere: string | null;
}

/**
 * The account holding an address, as its email or (a live account) as its SCIM userName, which must
 * both stay unique; a live account before a tombstone. Locked for the rest of the transaction.
 */
async function addressHolder(tx: Queryable, tenantId: string, address: string, connectionId: string, except: string | null = null): Promise<HolderRow | undefined> {
  const rows = await tx.query<HolderRow>(
    `SELECT ${ACCOUNT},
       (SELECT x.subject FROM external_identities x WHERE x.tenant_id = u.tenant_id AND x.user_id = u.id AND x.connection_id = $3) AS bound_here,
       (SELECT c.display_name FROM external_identities x JOIN sso_connections c ON c.tenant_id = x.tenant_id AND c.id = x.connection_id
        WHERE x.tenant_id = u.tenant_id AND x.user_id = u.id AND x.connection_id <> $3 AND c.enabled ORDER BY c.slug LIMIT 1) AS bound_elsewhere
     FROM users u
     WHERE u.tenant_id = $1 AND u.id IS DISTINCT FROM $4::uuid
       AND (lower(u.email) = lower($2) OR (u.deleted_at IS NULL AND lower(coalesce(u.user_name, u.email)) = lower($2)))
     ORDER BY u.deleted_at IS NULL DESC LIMIT 1 FOR NO KEY UPDATE OF u`,
    [tenantId, address, connectionId, except],
  );
  return rows[0];
}

/** Accounts a sign-in may never enter. */
function refuseUnusable(u: AccountRow): void {
  if (u.deleted) throw new AccountFailure('user_deleted', `${u.email}'s account was deleted by provisioning (SCIM).`);
  if (u.break_glass) throw new AccountFailure('break_glass', `${u.email} is a break-glass account, which signs in with its password only and is never linked to an identity provider.`);
  if (u.status === 'disabled') throw new AccountFailure('user_disabled', `${u.email} is disabled in Keydesk.`);
}

async function linkBasis(tx: Queryable, tenantId: string, holder: AccountRow, claims: MappedClaims): Promise<LinkBasis | null> {
  // A guest directory of a multi-tenant connection can assert any address: only the domain owner's
  // own proof lets its word link an account, SCIM's or not.
  if (!claims.domainAuthority) return claims.emailOwnerVerified ? 'owner_verified_email' : null;
  if (holder.managed) return 'scim';
  if (await domainVerified(tx, tenantId, claims.email!)) return 'verified_domain';
  if (claims.emailOwnerVerified) return 'owner_verified_email';
  return null;
}

async function domainVerified(tx: Queryable, tenantId: string, email: string): Promise<boolean> {
  const rows = await tx.query('SELECT 1 FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 AND verified_at IS NOT NULL', [tenantId, domainOf(email)]);
  return rows.length > 0;
}

/** Binds the subject to an existing account (linking), audited. A new account is bound as it is created (createUser's `identity`). */
async function bind(ctx: Ctx, tx: Queryable, conn: Connection, claims: MappedClaims, userId: string, basis: LinkBasis): Promise<void> {
  try {
    await tx.query(
      'INSERT INTO external_identities (tenant_id, connection_id, subject, subject_source, user_id, last_signin_at) VALUES ($1, $2, $3, $4, $5, now())',
      [ctx.tenant.id, conn.id, claims.subject, claims.subjectSource, userId],
    );
  } catch (err) {
    // Another subject bound the account in a concurrent sign-in; the database holds the rule too.
    if (isUniqueViolation(err, 'external_identities_one_per_connection')) {
      throw new AccountFailure('subject_conflict', `${claims.email} belongs to an account that another identity of this connection was bound to at the same moment.`, { subject: claims.subject });
    }
    throw err;
  }
  await auditBinding(ctx, tx, conn, claims, userId, 'linked', basis);
}

function auditBinding(ctx: Ctx, tx: Queryable, conn: Connection, claims: MappedClaims, userId: string, how: 'linked' | 'created', basis: LinkBasis | null): Promise<void> {
  return audit(ctx, tx, {
    action: 'user.identity_linked',
    targetType: 'user',
    targetId: userId,
    details: { connection: conn.slug, subject: claims.subject, subjectSource: claims.subjectSource, how, ...(basis ? { basis } : {}) },
  });
}

/**
 * A known subject's email and name follow the identity provider, recorded in the audit log and the
 * trace. An address held by another live account is not taken (the holder keeps it, the trace says
 * so); one held by a tombstone is released. Accounts SCIM manages keep the directory's values.
 * @returns the account's email after the sign-in
 */
async function takeOverProfile(ctx: Ctx, tx: Queryable, conn: Connection, u: AccountRow, claims: MappedClaims, report: AccountReport): Promise<string> {
  const emailChanged = claims.email !== null && claims.email.toLowerCase() !== u.email.toLowerCase();
  const nameChanged = claims.displayName !== u.display_name && claims.displayName !== 'Unknown user';
  if (!emailChanged && !nameChanged) return u.email;
  if (u.managed) {
    report.pass('Profile', `SCIM provisioning manages ${u.email}: the directory's email and name are kept (the sign-in sent ${[emailChanged && claims.email, nameChanged && `"${claims.displayName}"`].filter(Boolean).join(' and ')}).`);
    return u.email;
  }
  const changes: Record<string, { from: string; to: string }> = {};
  let email = u.email;
  if (emailChanged && !claims.domainAuthority && !claims.emailOwnerVerified && (await domainVerified(tx, ctx.tenant.id, claims.email!))) {
    // A guest directory moving its person onto the workspace's own verified domain: not taken.
    report.fail('Email', `The identity provider now says ${claims.email}, in a domain verified for this workspace, but this identity comes from a guest directory that does not prove the address; this account keeps ${u.email}.`);
    await audit(ctx, tx, { action: 'user.email_conflict', outcome: 'failure', reason: 'unproven_address', targetType: 'user', targetId: u.id, details: { connection: conn.slug, kept: u.email, asserted: claims.email } });
  } else if (emailChanged) {
    const holder = await addressHolder(tx, ctx.tenant.id, claims.email!, conn.id, u.id);
    if (holder && !holder.deleted) {
      report.fail('Email', `The identity provider now says ${claims.email}, but another Keydesk account holds that address; this account keeps ${u.email}. Change or remove the other account under Users, and the next sign-in takes the address over.`);
      await audit(ctx, tx, {
        action: 'user.email_conflict',
        outcome: 'failure',
        reason: 'address_taken',
        targetType: 'user',
        targetId: u.id,
        details: { connection: conn.slug, kept: u.email, asserted: claims.email, heldBy: holder.id },
      });
    } else {
      if (holder) await releaseAddress(tx, ctx.tenant.id, holder.id);
      changes.email = { from: u.email, to: claims.email! };
      email = claims.email!;
    }
  }
  if (nameChanged) changes.displayName = { from: u.display_name, to: claims.displayName };
  if (!Object.keys(changes).length) return email;
  await tx.query('UPDATE users SET email = $3, display_name = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, u.id, email, claims.displayName]);
  await audit(ctx, tx, { action: 'user.updated', targetType: 'user', targetId: u.id, details: { via: `${conn.protocol}:${conn.slug}`, ...changes } });
  for (const [field, c] of Object.entries(changes)) report.pass(`${field === 'email' ? 'Email' : 'Name'} ${report.dryRun ? 'would be updated' : 'updated'}`, `${c.from} → ${c.to}`);
  return email;
}

/** A tombstone lets go of its address (and so of its userName) for whoever holds it now. */
export async function releaseAddress(tx: Queryable, tenantId: string, userId: string): Promise<void> {
  await tx.query(`UPDATE users SET email = 'deleted-' || id || '@invalid' WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NOT NULL`, [tenantId, userId]);
}

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/**
 * The admission rule: a waiting user becomes active as soon as any role is theirs, from a person or
 * from a rule. SQL over $1 (tenant) and `user` (a SQL expression), for the statements that apply it.
 */
const holdsARole = (user: string) => `EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = $1 AND g.user_id = ${user})`;

/** Applies the admission rule to many people at once (a SCIM group change, a new rule): one statement. */
export async function admitAllIfGranted(tx: Queryable, tenantId: string, userIds: readonly string[]): Promise<void> {
  if (!userIds.length) return;
  await tx.query(
    `UPDATE users u SET status = 'active'
     WHERE u.tenant_id = $1 AND u.id = ANY($2::uuid[]) AND u.status = 'waiting' AND ${holdsARole('u.id')}`,
    [tenantId, [...userIds]],
  );
}

/**
 * A sign-in's last word on the account, in one statement: the admission rule applied, and, when
 * the person is then active (a session follows), the sign-in marked (last_signin_at, and
 * first_signin_at the first time).
 * @returns the status, the roles held (sorted), and whether this is the person's first sign-in
 */
export async function admitAtSignin(tx: Queryable, tenantId: string, userId: string): Promise<{ status: UserStatus; roles: string[]; first: boolean }> {
  const [row] = (await tx.query<{ status: UserStatus; roles: string[]; first: boolean }>(
    `WITH before AS (
       SELECT status, first_signin_at, (status = 'active' OR (status = 'waiting' AND ${holdsARole('$2')})) AS active
       FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE),
     after AS (
       UPDATE users u SET status = CASE WHEN before.active THEN 'active' ELSE u.status END,
         last_signin_at = CASE WHEN before.active THEN now() ELSE u.last_signin_at END,
         first_signin_at = CASE WHEN before.active THEN coalesce(u.first_signin_at, now()) ELSE u.first_signin_at END
       FROM before WHERE u.tenant_id = $1 AND u.id = $2
       RETURNING u.status, before.active AND before.first_signin_at IS NULL AS first)
     SELECT after.status, after.first,
       coalesce((SELECT array_agg(DISTINCT role ORDER BY role) FROM role_grants WHERE tenant_id = $1 AND user_id = $2), '{}') AS roles
     FROM after`,
    [tenantId, userId],
  )) as [{ status: UserStatus; roles: string[]; first: boolean }];
  return row;
}
