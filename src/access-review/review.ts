import type { ActorCtx, Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { storable } from '../db/storable.js';
import { audit } from '../audit/audit.js';
import { BadRequest, Forbidden } from '../http/errors.js';
import { ROLE_NAMES, ROLES, type Role } from '../identity/roles.js';
import { escapeLike, type UserSource, type UserStatus } from '../identity/users.js';

/**
 * The access review (issue 11): every live account of a tenant with each role it holds and where
 * that role came from, for an administrator (or, where the tenant allows it, a change manager) to
 * review, export for an auditor, and correct. Reads only; revoking is in revoke.ts, the file in export.ts.
 */

export type GrantOrigin = 'person' | 'rule' | 'system';
export const GRANT_ORIGINS: readonly GrantOrigin[] = ['person', 'rule', 'system'];

/** Why the system granted a role: the tenant's first administrator, or the default of an account made by a sign-in or by SCIM. */
export type SystemBasis = 'tenant_created' | 'jit' | 'scim';

/** Where the group a rule matched was seen for this person: a SCIM group membership, or the groups claim of their latest sign-in. */
export type GroupVia =
  | { kind: 'scim'; groupId: string; displayName: string; externalId: string | null }
  | { kind: 'signin'; connection: string | null; connectionName: string | null };

export interface ReviewGrant {
  role: Role;
  origin: GrantOrigin;
  /** When the grant was made (ISO 8601, UTC). */
  grantedAt: string;
  /** `person` grants: the administrator who gave it; null when no person is recorded (the command line, the operator's recovery). */
  grantedBy: { id: string; displayName: string; email: string } | null;
  /** `system` grants: why. */
  system: SystemBasis | null;
  /** `rule` grants: the rule, with the connection it trusts alone (null: every sign-in and SCIM). */
  rule: { id: string; groupRef: string; precedence: number; connection: string | null; connectionName: string | null } | null;
  /** `rule` grants: where the person's membership of the rule's group is seen now (empty: nowhere any more). */
  via: GroupVia[];
  /** Only what a person granted can be revoked from the review. */
  revocable: boolean;
  /** The provenance in words, as the export writes it: "given by Ana <ana@…> on 2026-01-05". */
  provenance: string;
}

export interface ReviewPerson {
  id: string;
  email: string;
  displayName: string;
  status: UserStatus;
  source: UserSource;
  breakGlass: boolean;
  createdAt: Date;
  firstSigninAt: Date | null;
  /** The latest successful sign-in by any method (password or single sign-on); null: never. */
  lastSigninAt: Date | null;
  /** The latest change SCIM made to the account or its group memberships; null: none. */
  lastScimChangeAt: Date | null;
  /** The roles held, each once, in ROLES order. */
  roles: Role[];
  grants: ReviewGrant[];
}

export interface ReviewFilter {
  role?: Role;
  origin?: GrantOrigin;
  source?: UserSource;
  status?: UserStatus;
  /** Stale: no sign-in for this many days (an account that never signed in counts from its creation). */
  staleDays?: number;
  /** Part of the email or name, any case. */
  q?: string;
}

/** The largest page the review answers; the export reads people this many at a time. */
export const MAX_PAGE = 500;

const ROLE_ORDER = `array_position(ARRAY['requester', 'agent', 'change_manager', 'admin']::text[], g.role)`;
const ISO = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The people part of every review query: one row per account, its grants with their provenance as
 * one jsonb array. A page of people is one statement; each person's grants, SCIM groups and
 * latest SCIM change come from index lookups on (tenant, user), never a query per person.
 */
const PERSON_SELECT = `
  u.id, u.email, u.display_name AS "displayName", u.status, u.source, u.break_glass AS "breakGlass",
  u.created_at AS "createdAt", u.first_signin_at AS "firstSigninAt", u.last_signin_at AS "lastSigninAt",
  (SELECT max(e.created_at) FROM identity_events e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND e.source = 'scim') AS "lastScimChangeAt",
  lower(u.email) AS "sortKey",
  coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'role', g.role, 'origin', g.origin, 'grantedAt', ${ISO('g.created_at')},
      'grantedById', g.granted_by, 'grantedByName', a.display_name, 'grantedByEmail', a.email,
      'ruleId', g.rule_id, 'groupRef', coalesce(r.group_ref, g.group_ref), 'precedence', r.precedence,
      'ruleConnection', rc.slug, 'ruleConnectionName', rc.display_name,
      'scimGroups', CASE WHEN g.origin = 'rule' AND r.connection_id IS NULL THEN (
        SELECT jsonb_agg(jsonb_build_object('id', sg.id, 'displayName', sg.display_name, 'externalId', sg.external_id) ORDER BY lower(sg.display_name))
        FROM scim_group_members m JOIN scim_groups sg ON sg.tenant_id = m.tenant_id AND sg.id = m.group_id
        WHERE m.tenant_id = g.tenant_id AND m.user_id = g.user_id
          AND (lower(sg.display_name) = lower(g.group_ref) OR lower(sg.external_id) = lower(g.group_ref))) END,
      'signinClaim', g.origin = 'rule' AND (r.connection_id IS NULL OR r.connection_id = u.signin_connection_id)
        AND EXISTS (SELECT 1 FROM unnest(u.signin_groups) s WHERE lower(s) = lower(g.group_ref)),
      'signinConnection', sc.slug, 'signinConnectionName', sc.display_name
    ) ORDER BY ${ROLE_ORDER}, g.origin, g.created_at)
    FROM role_grants g
    LEFT JOIN users a ON a.tenant_id = g.tenant_id AND a.id = g.granted_by
    LEFT JOIN role_rules r ON r.tenant_id = g.tenant_id AND r.id = g.rule_id
    LEFT JOIN sso_connections rc ON rc.tenant_id = r.tenant_id AND rc.id = r.connection_id
    LEFT JOIN sso_connections sc ON sc.tenant_id = u.tenant_id AND sc.id = u.signin_connection_id
    WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id), '[]'::jsonb) AS grants`;

interface RawGrant {
  role: Role;
  origin: GrantOrigin;
  grantedAt: string;
  grantedById: string | null;
  grantedByName: string | null;
  grantedByEmail: string | null;
  ruleId: string | null;
  groupRef: string | null;
  precedence: number | null;
  ruleConnection: string | null;
  ruleConnectionName: string | null;
  scimGroups: { id: string; displayName: string; externalId: string | null }[] | null;
  signinClaim: boolean;
  signinConnection: string | null;
  signinConnectionName: string | null;
}

interface RawPerson extends Omit<ReviewPerson, 'roles' | 'grants'> {
  sortKey: string;
  grants: RawGrant[];
}

/** The WHERE clause for a filter; pushes its parameters after the tenant ($1). Live accounts only: never SCIM's tombstones. */
function whereOf(filter: ReviewFilter, params: unknown[]): string {
  const where = ['u.tenant_id = $1', 'u.deleted_at IS NULL'];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.role || filter.origin) {
    const on = [filter.role ? `g.role = ${p(filter.role)}` : null, filter.origin ? `g.origin = ${p(filter.origin)}` : null].filter(Boolean).join(' AND ');
    where.push(`EXISTS (SELECT 1 FROM role_grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id AND ${on})`);
  }
  if (filter.source) where.push(`u.source = ${p(filter.source)}`);
  if (filter.status) where.push(`u.status = ${p(filter.status)}`);
  if (filter.staleDays !== undefined) where.push(`coalesce(u.last_signin_at, u.created_at) < now() - ${p(filter.staleDays)}::int * interval '1 day'`);
  if (filter.q) {
    // Lower-cased by PostgreSQL on both sides, as the people list does.
    const like = p(`%${escapeLike(filter.q)}%`);
    where.push(`(lower(u.email) LIKE lower(${like}) OR lower(u.display_name) LIKE lower(${like}))`);
  }
  return where.join(' AND ');
}

/** Reads people matching `filter` in email order after `after` (a lower-cased email), at most `limit`. */
async function readPeople(q: Queryable, tenantId: string, filter: ReviewFilter & { ids?: string[] }, limit: number, after?: string): Promise<RawPerson[]> {
  const params: unknown[] = [tenantId];
  let where = whereOf(filter, params);
  if (filter.ids) {
    params.push(filter.ids);
    where += ` AND u.id = ANY($${params.length}::uuid[])`;
  }
  if (after !== undefined) {
    params.push(after);
    where += ` AND lower(u.email) > $${params.length}`;
  }
  params.push(limit);
  return q.query<RawPerson>(`SELECT ${PERSON_SELECT} FROM users u WHERE ${where} ORDER BY lower(u.email) LIMIT $${params.length}`, params);
}

const SYSTEM_WORDS: Record<SystemBasis, string> = {
  tenant_created: "given by the system to the tenant's first administrator when the tenant was created",
  jit: 'given by the system: the default role of an account created at its first single sign-on (just in time)',
  scim: 'given by the system: the default role of an account SCIM provisioned',
};

function viaWords(v: GroupVia): string {
  return v.kind === 'scim' ? `member of the SCIM group ${v.displayName}` : `in the groups claim of the latest sign-in${v.connectionName ? ` through ${v.connectionName}` : ''}`;
}

function toGrant(g: RawGrant, source: UserSource): ReviewGrant {
  const day = g.grantedAt.slice(0, 10);
  const grantedBy = g.origin === 'person' && g.grantedById ? { id: g.grantedById, displayName: g.grantedByName ?? 'a deleted account', email: g.grantedByEmail ?? '' } : null;
  const system: SystemBasis | null = g.origin !== 'system' ? null : source === 'local' ? 'tenant_created' : source;
  const rule =
    g.origin === 'rule' && g.ruleId
      ? { id: g.ruleId, groupRef: g.groupRef ?? '', precedence: g.precedence ?? 100, connection: g.ruleConnection, connectionName: g.ruleConnectionName }
      : null;
  const via: GroupVia[] = [
    ...(g.scimGroups ?? []).map((s) => ({ kind: 'scim' as const, groupId: s.id, displayName: s.displayName, externalId: s.externalId })),
    ...(g.signinClaim ? [{ kind: 'signin' as const, connection: g.signinConnection, connectionName: g.signinConnectionName }] : []),
  ];
  let provenance: string;
  if (g.origin === 'person') {
    provenance = grantedBy ? `given by ${grantedBy.displayName}${grantedBy.email ? ` <${grantedBy.email}>` : ''} on ${day}` : `given on ${day} with no administrator recorded (the command line or the operator's recovery)`;
  } else if (g.origin === 'system') {
    provenance = `${SYSTEM_WORDS[system!]}, on ${day}`;
  } else {
    const where = rule?.connectionName ? ` through ${rule.connectionName}` : '';
    provenance = `rule for group ${rule?.groupRef ?? g.groupRef ?? '?'}${where}: ${via.length ? via.map(viaWords).join(' and ') : 'the membership is no longer seen'}; since ${day}`;
  }
  return { role: g.role, origin: g.origin, grantedAt: g.grantedAt, grantedBy, system, rule, via, revocable: g.origin === 'person', provenance };
}

function toPerson(r: RawPerson): ReviewPerson {
  const { sortKey: _sortKey, grants, ...rest } = r;
  const held = new Set(grants.map((g) => g.role));
  return { ...rest, roles: ROLES.filter((x) => held.has(x)), grants: grants.map((g) => toGrant(g, r.source)) };
}

export interface ReviewPage {
  items: ReviewPerson[];
  /** Pass back as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/**
 * One page of the review: people matching `filter`, in email order, with their grants and provenance.
 * @param cursor a `nextCursor` of an earlier page
 * @throws BadRequest when the cursor was not made by this function
 */
export async function reviewPeople(ctx: Ctx, filter: ReviewFilter, page: { limit: number; cursor?: string }): Promise<ReviewPage> {
  const limit = Math.min(Math.max(1, page.limit), MAX_PAGE);
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const rows = await readPeople(ctx.db, ctx.tenant.id, filter, limit + 1, after);
  const items = rows.slice(0, limit);
  return { items: items.map(toPerson), nextCursor: rows.length > limit ? Buffer.from(items[items.length - 1]!.sortKey).toString('base64url') : null };
}

function decodeCursor(cursor: string): string {
  const after = /^[A-Za-z0-9_-]{1,600}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  // Any base64url decodes to something; "AA" decodes to a NUL, which the database refuses.
  if (!after || !storable(after)) throw new BadRequest('The cursor is invalid. Start again from the first page.');
  return after;
}

/** One live person of the review (or undefined), read in `q` (a transaction sees its own changes). */
export async function reviewPerson(q: Queryable, tenantId: string, userId: string): Promise<ReviewPerson | undefined> {
  const [row] = await readPeople(q, tenantId, { ids: [userId] }, 1);
  return row ? toPerson(row) : undefined;
}

/** Reads every person matching `filter`, MAX_PAGE at a time, in email order: for the export. */
export async function* allPeople(ctx: Ctx, filter: ReviewFilter): AsyncGenerator<ReviewPerson[]> {
  let after: string | undefined;
  for (;;) {
    const rows = await readPeople(ctx.db, ctx.tenant.id, filter, MAX_PAGE, after);
    if (rows.length) yield rows.map(toPerson);
    if (rows.length < MAX_PAGE) return;
    after = rows[rows.length - 1]!.sortKey;
  }
}

export interface RoleHolder extends Omit<ReviewPerson, 'grants' | 'roles'> {
  /** This role's grants alone. */
  grants: ReviewGrant[];
}

export interface RoleReview {
  role: Role;
  label: string;
  /** Live accounts holding the role, through anything. */
  holderCount: number;
  /** Holders through each origin (a person may count under several). */
  byOrigin: Record<GrantOrigin, number>;
  /** Every rule giving the role, with how many people it gives it to now (zero included) and the SCIM groups its reference names. */
  rules: { id: string; groupRef: string; precedence: number; connection: string | null; holders: number; scimGroups: string[] }[];
  /** Who gave the role by hand, and to how many (`id` null: no administrator recorded). */
  grantors: { id: string | null; displayName: string | null; email: string | null; holders: number }[];
  /** The first holders in email order, with this role's grants; the rest through the review filtered by role. */
  holders: RoleHolder[];
  more: boolean;
}

/**
 * Per role: who holds it and through what. Counts and breakdowns for all four roles are one
 * aggregate statement; the first `holderLimit` holders of each role are one page each.
 */
export async function reviewRoles(ctx: Ctx, holderLimit: number): Promise<RoleReview[]> {
  const limit = Math.min(Math.max(0, holderLimit), MAX_PAGE);
  const [summary] = await ctx.db.query<{ counts: { role: Role; holders: number; person: number; rule: number; system: number }[]; rules: (RoleReview['rules'][number] & { role: Role })[]; grantors: (RoleReview['grantors'][number] & { role: Role })[] }>(
    `WITH live AS (
       SELECT g.* FROM role_grants g JOIN users u ON u.tenant_id = g.tenant_id AND u.id = g.user_id
       WHERE g.tenant_id = $1 AND u.deleted_at IS NULL)
     SELECT
       coalesce((SELECT jsonb_agg(c) FROM (
         SELECT role, count(DISTINCT user_id)::int AS holders,
           count(DISTINCT user_id) FILTER (WHERE origin = 'person')::int AS person,
           count(DISTINCT user_id) FILTER (WHERE origin = 'rule')::int AS rule,
           count(DISTINCT user_id) FILTER (WHERE origin = 'system')::int AS system
         FROM live GROUP BY role) c), '[]') AS counts,
       coalesce((SELECT jsonb_agg(jsonb_build_object('role', r.role, 'id', r.id, 'groupRef', r.group_ref, 'precedence', r.precedence, 'connection', c.slug,
           'holders', coalesce(h.n, 0),
           'scimGroups', CASE WHEN r.connection_id IS NULL THEN coalesce((SELECT jsonb_agg(sg.display_name ORDER BY lower(sg.display_name)) FROM scim_groups sg
             WHERE sg.tenant_id = r.tenant_id AND (lower(sg.display_name) = lower(r.group_ref) OR lower(sg.external_id) = lower(r.group_ref))), '[]') ELSE '[]' END)
           ORDER BY r.precedence, r.created_at, r.id)
         FROM role_rules r LEFT JOIN sso_connections c ON c.tenant_id = r.tenant_id AND c.id = r.connection_id
         LEFT JOIN (SELECT rule_id, count(*)::int AS n FROM live WHERE origin = 'rule' GROUP BY rule_id) h ON h.rule_id = r.id
         WHERE r.tenant_id = $1), '[]') AS rules,
       coalesce((SELECT jsonb_agg(jsonb_build_object('role', x.role, 'id', x.granted_by, 'displayName', a.display_name, 'email', a.email, 'holders', x.n) ORDER BY x.n DESC, lower(a.email))
         FROM (SELECT role, granted_by, count(DISTINCT user_id)::int AS n FROM live WHERE origin = 'person' GROUP BY role, granted_by) x
         LEFT JOIN users a ON a.tenant_id = $1 AND a.id = x.granted_by), '[]') AS grantors`,
    [ctx.tenant.id],
  );
  const out: RoleReview[] = [];
  for (const role of ROLES) {
    const c = summary!.counts.find((x) => x.role === role);
    const rows = limit ? await readPeople(ctx.db, ctx.tenant.id, { role }, limit + 1) : [];
    out.push({
      role,
      label: ROLE_NAMES[role],
      holderCount: c?.holders ?? 0,
      byOrigin: { person: c?.person ?? 0, rule: c?.rule ?? 0, system: c?.system ?? 0 },
      rules: summary!.rules.filter((r) => r.role === role).map(({ role: _r, ...rest }) => rest),
      grantors: summary!.grantors.filter((g) => g.role === role).map(({ role: _r, ...rest }) => rest),
      holders: rows.slice(0, limit).map((r) => {
        const { roles: _roles, grants, ...p } = toPerson(r);
        return { ...p, grants: grants.filter((g) => g.role === role) };
      }),
      more: rows.length > limit,
    });
  }
  return out;
}

export interface ReviewSettings {
  /** Change managers may review, export and revoke too (administrators always may). */
  changeManagersMayReview: boolean;
}

export async function getReviewSettings(ctx: Ctx): Promise<ReviewSettings> {
  const [t] = await ctx.db.query<{ on: boolean }>('SELECT access_review_change_managers AS on FROM tenants WHERE id = $1', [ctx.tenant.id]);
  return { changeManagersMayReview: t?.on ?? false };
}

/** Changes who may review (administrators call it; the route checks). Audited as `access_review.settings_changed` when it changes. */
export async function setReviewSettings(ctx: ActorCtx, next: ReviewSettings): Promise<ReviewSettings> {
  return ctx.db.transaction(async (tx) => {
    const [t] = await tx.query<{ on: boolean }>('SELECT access_review_change_managers AS on FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [ctx.tenant.id]);
    if (t && t.on !== next.changeManagersMayReview) {
      await tx.query('UPDATE tenants SET access_review_change_managers = $2 WHERE id = $1', [ctx.tenant.id, next.changeManagersMayReview]);
      await audit(ctx, tx, { action: 'access_review.settings_changed', targetType: 'tenant', targetId: ctx.tenant.id, details: { changeManagersMayReview: next.changeManagersMayReview } });
    }
    return { changeManagersMayReview: next.changeManagersMayReview };
  });
}

/**
 * May the actor review access (read, export, revoke)? Administrators may; change managers may
 * when the tenant lets them.
 * @throws Forbidden saying who may
 */
export async function assertReviewer(ctx: ActorCtx): Promise<void> {
  if (ctx.actor.roles.has('admin')) return;
  if (ctx.actor.roles.has('change_manager')) {
    if ((await getReviewSettings(ctx)).changeManagersMayReview) return;
    throw new Forbidden('In this workspace only administrators review access. An administrator can let change managers review too (Administration › Access review).');
  }
  throw new Forbidden('Only administrators (and change managers, where the workspace allows it) review access.');
}
