import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { emitIdentityEvents } from '../identity/events.js';
import { revokeUserSessions } from '../identity/sessions/sessions.js';
import { releaseAddress } from '../identity/provisioning/accounts.js';
import { createUser, isEmailAddress, isUuid } from '../identity/users.js';
import { returnTicketsToQueue } from '../itsm/reassign.js';
import { invalidValue, notFound, ScimError, uniqueness } from './errors.js';
import { parseFilter } from './filter.js';
import { FilterSql, jsonMulti, jsonPath, jsonScalar, metaColumn, type Column, type SqlTarget } from './filter-sql.js';
import { applyPatch } from './patch.js';
import { listPage, readResourceBody, type ScimCtx } from './resources.js';
import { ENTERPRISE_SCHEMA, USER, USER_SCHEMA, type ResolvedAttr } from './schema.js';
import type { Doc, Json } from './values.js';

/**
 * SCIM Users over Keydesk's accounts. Every account of the tenant is visible (its userName is the
 * email unless SCIM set one), so Entra's look-up by userName finds and links an account made by an
 * admin or by a sign-in instead of creating a second one. Break-glass accounts are outside SCIM's
 * reach: they exist for the day the identity provider is wrong.
 */
/** Who SCIM may see and touch: not a tombstone, not a break-glass account. The one statement of that rule. */
export const scimVisible = (alias: string) => `(${alias}.deleted_at IS NULL AND NOT ${alias}.break_glass)`;
const VISIBLE = `u.tenant_id = $1 AND ${scimVisible('u')}`;

const SELECT = `SELECT u.id, u.email, u.display_name, u.status, u.user_name, u.external_id, u.scim_data, u.created_at, u.updated_at,
  ${scimVisible('u')} AS visible, u.break_glass AND u.deleted_at IS NULL AS break_glass,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('value', g.id, 'display', g.display_name) ORDER BY lower(g.display_name)), '[]')
   FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
   WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id) AS groups
  FROM users u`;

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  status: 'active' | 'waiting' | 'disabled';
  user_name: string | null;
  external_id: string | null;
  scim_data: Doc | null;
  created_at: Date;
  updated_at: Date;
  visible: boolean;
  break_glass: boolean;
  groups: { value: string; display: string }[];
}

const EMAILS_SQL = `coalesce(u.scim_data -> 'emails', jsonb_build_array(jsonb_build_object('value', u.email, 'type', 'work', 'primary', true)))`;

const scalar = (sql: string, type: 'string' | 'boolean' | 'dateTime', caseExact = false): Column => ({ kind: 'scalar', sql, type, caseExact });

export const USERS_SQL: SqlTarget = {
  kind: USER,
  column(r: ResolvedAttr): Column {
    const name = r.attr.name;
    if (!r.urn) {
      if (name === 'id') return scalar('u.id::text', 'string');
      // Written exactly as the users_user_name_key index, so `userName eq` is an index look-up.
      if (name === 'userName') return scalar('coalesce(u.user_name, u.email)', 'string');
      if (name === 'externalId') return scalar('u.external_id', 'string', true);
      if (name === 'displayName') return scalar('u.display_name', 'string');
      if (name === 'active') return scalar(`(u.status <> 'disabled')`, 'boolean');
      if (name === 'meta') return metaColumn(r, 'u', 'User');
      if (name === 'emails') return jsonMulti(EMAILS_SQL, r.attr);
      if (name === 'groups') {
        return {
          kind: 'multi',
          attr: r.attr,
          from: `(SELECT g.id::text AS value, g.display_name AS display FROM scim_group_members m JOIN scim_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                  WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id) AS e`,
          field: (sub) => ({ kind: 'scalar', sql: sub.name === 'display' ? 'e.display' : sub.name === 'type' ? `'direct'` : sub.name === 'value' ? 'e.value' : 'NULL::text', type: 'string', caseExact: false }),
        };
      }
    }
    const path = r.urn ? [r.urn, name] : [name];
    if (r.attr.multiValued) return jsonMulti(`(u.scim_data #> ${jsonPath(path)})`, r.attr);
    const sub = r.sub ?? (r.attr.type === 'complex' ? r.attr.subAttributes?.find((a) => a.name === 'value') : undefined);
    return sub ? jsonScalar('u.scim_data', [...path, sub.name], sub) : jsonScalar('u.scim_data', path, r.attr);
  },
};

function toResource(ctx: ScimCtx, row: UserRow): Doc {
  const data = row.scim_data ?? {};
  const { [ENTERPRISE_SCHEMA]: enterprise, ...core } = data;
  const location = `${ctx.base}/Users/${row.id}`;
  return {
    schemas: enterprise ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA],
    id: row.id,
    ...(row.external_id !== null ? { externalId: row.external_id } : {}),
    userName: row.user_name ?? row.email,
    ...core,
    displayName: row.display_name,
    emails: (core.emails as Json) ?? [{ value: row.email, type: 'work', primary: true }],
    active: row.status !== 'disabled',
    ...(row.groups.length ? { groups: row.groups.map((g) => ({ value: g.value, display: g.display, $ref: `${ctx.base}/Groups/${g.value}`, type: 'direct' })) } : {}),
    ...(enterprise ? { [ENTERPRISE_SCHEMA]: enterprise } : {}),
    meta: { resourceType: 'User', created: row.created_at.toISOString(), lastModified: row.updated_at.toISOString(), location },
  };
}

/** The writable part of a representation: what PATCH starts from. */
function toDoc(ctx: ScimCtx, row: UserRow): Doc {
  const { schemas: _s, id: _i, meta: _m, groups: _g, ...doc } = toResource(ctx, row);
  return doc;
}

interface Derived {
  userName: string;
  externalId: string | null;
  /** null: the document does not say (PATCH remove, a PUT without it): the status stays as it is. */
  active: boolean | null;
  email: string;
  displayName: string;
  data: Doc;
}


/** The Keydesk account a document describes: which email signs in, what name is shown. */
function derive(doc: Doc): Derived {
  const userName = typeof doc.userName === 'string' ? doc.userName.trim() : '';
  if (!userName) throw invalidValue('"userName" is required.');
  if (userName.length > 320) throw invalidValue('"userName" is longer than 320 characters.');
  const emails = (Array.isArray(doc.emails) ? doc.emails : []) as Doc[];
  const chosen = emails.find((e) => e.primary === true) ?? emails.find((e) => typeof e.type === 'string' && e.type.toLowerCase() === 'work') ?? emails[0];
  const email = typeof chosen?.value === 'string' ? chosen.value.trim() : isEmailAddress(userName) ? userName : '';
  if (!isEmailAddress(email)) {
    throw invalidValue(email ? `"${email}" is not an email address.` : 'Keydesk needs an email: send "emails", or a userName that is an email address.');
  }
  const name = (doc.name ?? {}) as Doc;
  const fromParts = [name.givenName, name.familyName].filter((p) => typeof p === 'string' && p.trim()).join(' ');
  const shown = [doc.displayName, name.formatted, fromParts, userName].find((v): v is string => typeof v === 'string' && v.trim() !== '')!;
  const externalId = typeof doc.externalId === 'string' && doc.externalId !== '' ? doc.externalId : null;
  if (externalId && externalId.length > 512) throw invalidValue('"externalId" is longer than 512 characters.');
  const { userName: _u, externalId: _e, active: _a, displayName: _d, password: _p, ...data } = doc;
  return { userName, externalId, active: typeof doc.active === 'boolean' ? doc.active : null, email, displayName: shown.trim().slice(0, 200), data };
}

async function loadRow(ctx: ScimCtx, q: Queryable, id: string, lock = false): Promise<UserRow> {
  if (!isUuid(id)) throw notFound('User', id);
  // By primary key only, visibility checked on the row: with the visibility test in the WHERE, a
  // planner without statistics may pick the partial userName index and read the whole tenant.
  const rows = await q.query<UserRow>(`${SELECT} WHERE u.tenant_id = $1 AND u.id = $2${lock ? ' FOR NO KEY UPDATE OF u' : ''}`, [ctx.tenant.id, id]);
  if (rows[0]?.break_glass) {
    // Still a 404 (the directory must not manage it), but one that says why and what to do: the
    // admin reading Entra's or Okta's provisioning log otherwise sees a person "vanish".
    throw new ScimError(
      404,
      `User ${JSON.stringify(id)} is a break-glass account, which SCIM does not manage, so that someone can still sign in when single sign-on fails. ` +
        'To let the directory manage this person, an admin of this Keydesk workspace first clears "Break-glass account" on them under Admin › People (another break-glass admin must remain while SSO is enforced).',
    );
  }
  if (!rows[0]?.visible) throw notFound('User', id);
  return rows[0];
}

export async function getScimUser(ctx: ScimCtx, id: string): Promise<Doc> {
  return toResource(ctx, await loadRow(ctx, ctx.db, id));
}

export async function listScimUsers(ctx: ScimCtx, q: { filter?: string; startIndex: number; count: number }): Promise<{ total: number; resources: Doc[] }> {
  const params: unknown[] = [ctx.tenant.id];
  const filter = q.filter ? ` AND ${new FilterSql(USERS_SQL, params).build(parseFilter(q.filter))}` : '';
  const { total, rows } = await listPage<UserRow>(ctx, { select: SELECT, table: 'users', alias: 'u', where: `${VISIBLE}${filter}`, params, startIndex: q.startIndex, count: q.count });
  return { total, resources: rows.map((r) => toResource(ctx, r)) };
}

/**
 * POST /Users. An account no directory manages yet (made by an admin or a sign-in) with the same
 * email is adopted rather than duplicated, unless an administrator disabled it. A tombstone left by
 * an earlier DELETE is revived when it is the same person (same externalId, or none recorded);
 * otherwise the address was given to someone new, and the tombstone lets go of it.
 */
export async function createScimUser(ctx: ScimCtx, body: unknown): Promise<Doc> {
  const d = derive(readResourceBody(USER, body));
  const active = d.active ?? true;
  return ctx.db.transaction(async (tx) => {
    const existing = await tx.query<{ id: string; deleted: boolean; managed: boolean; break_glass: boolean; status: string; external_id: string | null }>(
      `SELECT id, deleted_at IS NOT NULL AS deleted, user_name IS NOT NULL AS managed, break_glass, status, external_id
       FROM users WHERE tenant_id = $1 AND lower(email) = lower($2) FOR NO KEY UPDATE`,
      [ctx.tenant.id, d.email],
    );
    let prior = existing[0];
    if (prior?.deleted && prior.external_id !== null && prior.external_id !== d.externalId) {
      await releaseAddress(tx, ctx.tenant.id, prior.id);
      prior = undefined;
    }
    if (prior?.break_glass) throw uniqueness(`A user with email ${d.email} already exists (a break-glass account, which SCIM does not manage).`);
    if (prior && !prior.deleted && prior.managed) throw uniqueness(`A user with email ${d.email} already exists.`);
    if (prior && !prior.deleted && prior.status === 'disabled') {
      throw uniqueness(`An administrator disabled the Keydesk account ${d.email}; enable it in Keydesk (or remove it) before provisioning it.`);
    }
    let id: string;
    if (prior) {
      id = prior.id;
      // A sign-in still in the waiting room stays there: SCIM says the person exists, not what they may do.
      const status = !active ? 'disabled' : prior.status === 'waiting' && !prior.deleted ? 'waiting' : 'active';
      await write(ctx, tx, id, d, { status, revive: true });
      if (!active) await revokeUserSessions(tx, ctx.tenant.id, id);
      if (!active && !prior.deleted) await returnTicketsToQueue(ctx, tx, id, 'deactivated', 'scim');
      if (prior.deleted) await tx.query(`INSERT INTO role_grants (tenant_id, user_id, role, origin) VALUES ($1, $2, 'requester', 'system') ON CONFLICT DO NOTHING`, [ctx.tenant.id, id]);
      await audit(ctx, tx, { action: 'scim.user_linked', targetType: 'user', targetId: id, details: { userName: d.userName, revived: prior.deleted } });
    } else {
      try {
        id = (
          await createUser(ctx, tx, {
            email: d.email,
            displayName: d.displayName,
            roles: ['requester'],
            source: 'scim',
            status: active ? 'active' : 'disabled',
            grantOrigin: 'system',
            directory: { userName: d.userName, externalId: d.externalId, data: d.data },
          })
        ).id;
      } catch (err) {
        if (isUniqueViolation(err)) throw uniqueness(`A user with userName ${d.userName} already exists.`);
        throw err;
      }
    }
    await emitIdentityEvents(ctx, tx, 'scim', [{ type: 'user.provisioned', userId: id, data: { userName: d.userName, email: d.email, active } }]);
    return toResource(ctx, await loadRow(ctx, tx, id));
  });
}

export async function replaceScimUser(ctx: ScimCtx, id: string, body: unknown): Promise<Doc> {
  const doc = readResourceBody(USER, body);
  return update(ctx, id, () => doc);
}

export async function patchScimUser(ctx: ScimCtx, id: string, body: unknown): Promise<Doc> {
  return update(ctx, id, (current) => applyPatch(USER, id, current, body).doc);
}

async function update(ctx: ScimCtx, id: string, next: (current: Doc) => Doc): Promise<Doc> {
  return ctx.db.transaction(async (tx) => {
    const row = await loadRow(ctx, tx, id, true);
    const before = derive(toDoc(ctx, row));
    const proposed = derive(next(toDoc(ctx, row)));
    const after = { ...proposed, active: proposed.active ?? before.active };
    const changed = changedFields(before, after);
    if (!changed.length) return toResource(ctx, row);
    const status = after.active === before.active ? row.status : after.active ? 'active' : 'disabled';
    await write(ctx, tx, id, after, { status, revive: false });
    const events: Parameters<typeof emitIdentityEvents>[3] = [];
    if (changed.some((f) => f !== 'active')) events.push({ type: 'user.updated', userId: id, data: { fields: changed.filter((f) => f !== 'active') } });
    if (after.active !== before.active) {
      if (!after.active) {
        await revokeUserSessions(tx, ctx.tenant.id, id);
        await returnTicketsToQueue(ctx, tx, id, 'deactivated', 'scim');
      }
      events.push({ type: after.active ? 'user.reactivated' : 'user.deactivated', userId: id });
      await audit(ctx, tx, { action: after.active ? 'scim.user_reactivated' : 'scim.user_deactivated', targetType: 'user', targetId: id, details: { userName: after.userName } });
    }
    if (changed.some((f) => f !== 'active')) await audit(ctx, tx, { action: 'scim.user_updated', targetType: 'user', targetId: id, details: { fields: changed.filter((f) => f !== 'active') } });
    await emitIdentityEvents(ctx, tx, 'scim', events);
    return toResource(ctx, await loadRow(ctx, tx, id));
  });
}

function changedFields(a: Derived, b: Derived): string[] {
  const out: string[] = [];
  for (const k of ['userName', 'externalId', 'active', 'email', 'displayName'] as const) if (a[k] !== b[k]) out.push(k);
  const keys = new Set([...Object.keys(a.data), ...Object.keys(b.data)]);
  for (const k of keys) if (JSON.stringify(a.data[k]) !== JSON.stringify(b.data[k])) out.push(k);
  return out;
}

async function write(ctx: ScimCtx, tx: Queryable, id: string, d: Derived, opts: { status: string; revive: boolean }): Promise<void> {
  try {
    await tx.query(
      `UPDATE users SET user_name = $3, external_id = $4, email = $5, display_name = $6, scim_data = $7, status = $8, updated_at = now()
       ${opts.revive ? ', deleted_at = NULL' : ''} WHERE tenant_id = $1 AND id = $2`,
      [ctx.tenant.id, id, d.userName, d.externalId, d.email, d.displayName, JSON.stringify(d.data), opts.status],
    );
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) throw uniqueness(`Another user already has the email ${d.email}.`);
    if (isUniqueViolation(err)) throw uniqueness(`Another user already has the userName ${d.userName}.`);
    throw err;
  }
}

/**
 * DELETE /Users/{id}: the account stops existing for SCIM and sign-in, its access goes in this
 * transaction (sessions, API tokens, roles, group memberships), and a tombstone keeps the name on
 * the tickets it raised. A later POST with the same email revives it.
 */
export async function deleteScimUser(ctx: ScimCtx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const row = await loadRow(ctx, tx, id, true);
    await tx.query(`UPDATE users SET deleted_at = now(), status = 'disabled', signin_groups = NULL, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, id]);
    await revokeUserSessions(tx, ctx.tenant.id, id);
    await returnTicketsToQueue(ctx, tx, id, 'deleted', 'scim');
    await tx.query('DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2', [ctx.tenant.id, id]);
    const left = await tx.query<{ group_id: string }>('DELETE FROM scim_group_members WHERE tenant_id = $1 AND user_id = $2 RETURNING group_id', [ctx.tenant.id, id]);
    await emitIdentityEvents(ctx, tx, 'scim', [
      ...left.map((g) => ({ type: 'group.member_removed' as const, userId: id, groupId: g.group_id })),
      { type: 'user.deleted', userId: id, data: { userName: row.user_name ?? row.email } },
    ]);
    await audit(ctx, tx, { action: 'scim.user_deleted', targetType: 'user', targetId: id, details: { userName: row.user_name ?? row.email, email: row.email } });
  });
}
