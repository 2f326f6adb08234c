import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { writeHeldNow } from '../audit/recorded-transaction.js';
import { emitIdentityEvents } from '../identity/events.js';
import { admitAllIfGranted } from '../identity/provisioning/accounts.js';
import { groupsHaveRules, resyncRuleGrantsOf } from '../identity/provisioning/group-rules.js';
import { isUuid } from '../identity/users.js';
import { invalidValue, notFound, uniqueness } from './errors.js';
import { parseFilter } from './filter.js';
import { FilterSql, metaColumn, type Column, type SqlTarget } from './filter-sql.js';
import { applyPatch, type MemberChange } from './patch.js';
import { listPage, readResourceBody, type ScimCtx } from './resources.js';
import { GROUP, GROUP_SCHEMA, type ResolvedAttr } from './schema.js';
import { scimVisible } from './users.js';
import type { Doc } from './values.js';

/**
 * SCIM Groups: the directory's groups and their members. They are not Keydesk teams; they feed
 * the group → role rules, matched by externalId (Entra's object id) or displayName (Okta's name),
 * the same rules the SAML groups claim feeds.
 */
interface GroupRow {
  id: string;
  display_name: string;
  external_id: string | null;
  created_at: Date;
  updated_at: Date;
  members?: { value: string; display: string }[];
}

const scalar = (sql: string, type: 'string' | 'dateTime', caseExact = false): Column => ({ kind: 'scalar', sql, type, caseExact });

export const GROUPS_SQL: SqlTarget = {
  kind: GROUP,
  column(r: ResolvedAttr): Column {
    switch (r.attr.name) {
      case 'id':
        return scalar('g.id::text', 'string');
      case 'externalId':
        return scalar('g.external_id', 'string', true);
      case 'displayName':
        return scalar('g.display_name', 'string');
      case 'meta':
        return metaColumn(r, 'g', 'Group');
      default:
        return {
          kind: 'multi',
          attr: r.attr,
          from: `(SELECT m.user_id::text AS value, mu.display_name AS display FROM scim_group_members m JOIN users mu ON mu.tenant_id = m.tenant_id AND mu.id = m.user_id
                  WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id AND ${scimVisible('mu')}) AS e`,
          field: (sub) => ({ kind: 'scalar', sql: sub.name === 'display' ? 'e.display' : sub.name === 'value' ? 'e.value' : 'NULL::text', type: 'string', caseExact: sub.name === 'value' }),
        };
    }
  },
};

const MEMBERS = `(SELECT coalesce(jsonb_agg(jsonb_build_object('value', m.user_id, 'display', mu.display_name) ORDER BY m.user_id), '[]')
  FROM scim_group_members m JOIN users mu ON mu.tenant_id = m.tenant_id AND mu.id = m.user_id
  WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id AND ${scimVisible('mu')}) AS members`;

function selectGroups(withMembers: boolean): string {
  return `SELECT g.id, g.display_name, g.external_id, g.created_at, g.updated_at${withMembers ? `, ${MEMBERS}` : ''} FROM scim_groups g`;
}

function toResource(ctx: ScimCtx, row: GroupRow): Doc {
  return {
    schemas: [GROUP_SCHEMA],
    id: row.id,
    ...(row.external_id !== null ? { externalId: row.external_id } : {}),
    displayName: row.display_name,
    ...(row.members ? { members: row.members.map((m) => ({ value: m.value, display: m.display, $ref: `${ctx.base}/Users/${m.value}`, type: 'User' })) } : {}),
    meta: { resourceType: 'Group', created: row.created_at.toISOString(), lastModified: row.updated_at.toISOString(), location: `${ctx.base}/Groups/${row.id}` },
  };
}

async function loadRow(ctx: ScimCtx, q: Queryable, id: string, opts: { members: boolean; lock?: boolean }): Promise<GroupRow> {
  if (!isUuid(id)) throw notFound('Group', id);
  const rows = await q.query<GroupRow>(`${selectGroups(opts.members)} WHERE g.tenant_id = $1 AND g.id = $2${opts.lock ? ' FOR UPDATE OF g' : ''}`, [ctx.tenant.id, id]);
  if (!rows[0]) throw notFound('Group', id);
  return rows[0];
}

export async function getScimGroup(ctx: ScimCtx, id: string, opts: { members: boolean }): Promise<Doc> {
  return toResource(ctx, await loadRow(ctx, ctx.db, id, opts));
}

export async function listScimGroups(ctx: ScimCtx, q: { filter?: string; startIndex: number; count: number; members: boolean }): Promise<{ total: number; resources: Doc[] }> {
  const params: unknown[] = [ctx.tenant.id];
  const filter = q.filter ? ` AND ${new FilterSql(GROUPS_SQL, params).build(parseFilter(q.filter))}` : '';
  const { total, rows } = await listPage<GroupRow>(ctx, { select: selectGroups(q.members), table: 'scim_groups', alias: 'g', where: `g.tenant_id = $1${filter}`, params, startIndex: q.startIndex, count: q.count });
  return { total, resources: rows.map((r) => toResource(ctx, r)) };
}

interface GroupFields {
  displayName: string;
  externalId: string | null;
}

function fields(doc: Doc): GroupFields {
  const displayName = typeof doc.displayName === 'string' ? doc.displayName.trim() : '';
  if (!displayName) throw invalidValue('"displayName" is required.');
  if (displayName.length > 256) throw invalidValue('"displayName" is longer than 256 characters.');
  const externalId = typeof doc.externalId === 'string' && doc.externalId !== '' ? doc.externalId : null;
  if (externalId && externalId.length > 512) throw invalidValue('"externalId" is longer than 512 characters.');
  return { displayName, externalId };
}

function memberIds(doc: Doc): string[] {
  const list = Array.isArray(doc.members) ? (doc.members as Doc[]) : [];
  return list.map((m) => {
    if (typeof m.value !== 'string') throw invalidValue('Each member needs a "value": the user\'s id.');
    return m.value;
  });
}

export async function createScimGroup(ctx: ScimCtx, body: unknown): Promise<Doc> {
  const doc = readResourceBody(GROUP, body);
  const f = fields(doc);
  const ids = memberIds(doc);
  return ctx.db.transaction(async (tx) => {
    let id: string;
    try {
      id = (await tx.query<{ id: string }>('INSERT INTO scim_groups (tenant_id, display_name, external_id) VALUES ($1, $2, $3) RETURNING id', [ctx.tenant.id, f.displayName, f.externalId]))[0]!.id;
    } catch (err) {
      if (isUniqueViolation(err)) throw uniqueness(`A group named "${f.displayName}" already exists.`);
      throw err;
    }
    await emitIdentityEvents(ctx, tx, 'scim', [{ type: 'group.created', groupId: id, data: { displayName: f.displayName, externalId: f.externalId } }]);
    const result = await changeMembers(ctx, tx, id, [{ op: 'add', ids }], { before: [], after: [f.displayName, f.externalId] });
    await audit(ctx, tx, { action: 'scim.group_created', targetType: 'scim_group', targetId: id, details: { displayName: f.displayName, externalId: f.externalId, members: result.added.length } });
    return toResource(ctx, await loadRow(ctx, tx, id, { members: true }));
  });
}

export async function replaceScimGroup(ctx: ScimCtx, id: string, body: unknown): Promise<Doc> {
  const doc = readResourceBody(GROUP, body);
  return (await update(ctx, id, () => ({ f: fields(doc), members: [{ op: 'replace', ids: memberIds(doc) }] }), true))!;
}

/** PATCH /Groups/{id}: Entra expects 204, so nothing is read back unless asked. */
export async function patchScimGroup(ctx: ScimCtx, id: string, body: unknown, readBack: boolean): Promise<Doc | null> {
  return update(
    ctx,
    id,
    (row) => {
      const current: Doc = { displayName: row.display_name, ...(row.external_id !== null ? { externalId: row.external_id } : {}) };
      const result = applyPatch(GROUP, id, current, body);
      return { f: fields(result.doc), members: result.members };
    },
    readBack,
  );
}

async function update(ctx: ScimCtx, id: string, next: (row: GroupRow) => { f: GroupFields; members: MemberChange[] }, readBack: boolean): Promise<Doc | null> {
  return ctx.db.transaction(async (tx) => {
    // One writer per group at a time: concurrent PATCHes queue here and each sees the last's members.
    const row = await loadRow(ctx, tx, id, { members: false, lock: true });
    const { f, members } = next(row);
    const renamed = f.displayName !== row.display_name || f.externalId !== row.external_id;
    if (renamed) {
      try {
        await tx.query('UPDATE scim_groups SET display_name = $3, external_id = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id, f.displayName, f.externalId]);
      } catch (err) {
        if (isUniqueViolation(err)) throw uniqueness(`A group named "${f.displayName}" already exists.`);
        throw err;
      }
      await emitIdentityEvents(ctx, tx, 'scim', [{ type: 'group.updated', groupId: id, data: { displayName: f.displayName, externalId: f.externalId } }]);
    }
    const result = await changeMembers(ctx, tx, id, members, { before: [row.display_name, row.external_id], after: [f.displayName, f.externalId], renamed });
    if (result.added.length || result.removed.length) await tx.query('UPDATE scim_groups SET updated_at = now() WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    if (renamed || result.added.length || result.removed.length) {
      await audit(ctx, tx, {
        action: 'scim.group_updated',
        targetType: 'scim_group',
        targetId: id,
        details: { displayName: f.displayName, ...(renamed ? { previousName: row.display_name } : {}), added: result.added, removed: result.removed },
      });
    }
    return readBack ? toResource(ctx, await loadRow(ctx, tx, id, { members: true })) : null;
  });
}

export async function deleteScimGroup(ctx: ScimCtx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const row = await loadRow(ctx, tx, id, { members: false, lock: true });
    const result = await changeMembers(ctx, tx, id, [{ op: 'replace', ids: [] }], { before: [row.display_name, row.external_id], after: [] });
    // The members' removal events name the group as it was: written while it still exists.
    await writeHeldNow(ctx, tx);
    await tx.query('DELETE FROM scim_groups WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    await emitIdentityEvents(ctx, tx, 'scim', [{ type: 'group.deleted', groupId: id, data: { displayName: row.display_name } }]);
    await audit(ctx, tx, { action: 'scim.group_deleted', targetType: 'scim_group', targetId: id, details: { displayName: row.display_name, members: result.removed.length } });
  });
}

/**
 * Applies membership changes as row deltas, then lets the rules engine judge everyone whose groups
 * changed: only when a rule names this group (before or after a rename), so the bulk of a first
 * provisioning cycle costs no rule work.
 *
 * Everyone the change may touch is locked first, in id order (the group row is already locked), so
 * a concurrent user DELETE, another group's PATCH or a sign-in queues instead of deadlocking, and a
 * person deleted meanwhile is seen as gone. Only people SCIM can see are ever touched: break-glass
 * accounts and tombstones keep whatever memberships they had.
 */
async function changeMembers(
  ctx: ScimCtx,
  tx: Queryable,
  groupId: string,
  changes: MemberChange[],
  refs: { before: (string | null)[]; after: (string | null)[]; renamed?: boolean },
): Promise<{ added: string[]; removed: string[] }> {
  const named = changes.map((c) => c.ids.map((i) => i.toLowerCase()));
  const adds = changes.flatMap((c, i) => (c.op === 'remove' ? [] : named[i]!));
  const needCurrent = changes.some((c) => c.op === 'replace') || refs.renamed;
  const current = needCurrent
    ? (await tx.query<{ user_id: string }>('SELECT user_id FROM scim_group_members WHERE tenant_id = $1 AND group_id = $2', [ctx.tenant.id, groupId])).map((r) => r.user_id)
    : [];
  const visible = await lockVisibleUsers(ctx, tx, [...new Set([...named.flat().filter(isUuid), ...current])]);
  // Read after the locks: a rule committed while we waited must be applied by us.
  const rulesApply = await groupsHaveRules(tx, ctx.tenant.id, [...refs.before, ...refs.after]);
  const missing = adds.find((id) => !visible.has(id));
  if (missing !== undefined) throw invalidValue(`Member ${JSON.stringify(missing.slice(0, 100))} is not a user of this tenant.`);

  const members = new Set(current.filter((id) => visible.has(id)));
  const added = new Set<string>();
  const removed = new Set<string>();
  const insert = async (ids: string[]) => {
    if (!ids.length) return;
    const rows = await tx.query<{ user_id: string }>(
      `INSERT INTO scim_group_members (tenant_id, group_id, user_id) SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING RETURNING user_id`,
      [ctx.tenant.id, groupId, ids],
    );
    for (const r of rows) removed.has(r.user_id) ? removed.delete(r.user_id) : added.add(r.user_id);
  };
  const remove = async (ids: string[]) => {
    if (!ids.length) return;
    const rows = await tx.query<{ user_id: string }>('DELETE FROM scim_group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = ANY($3::uuid[]) RETURNING user_id', [ctx.tenant.id, groupId, ids]);
    for (const r of rows) added.has(r.user_id) ? added.delete(r.user_id) : removed.add(r.user_id);
  };
  for (const [i, c] of changes.entries()) {
    const ids = [...new Set(named[i]!)].filter((id) => visible.has(id));
    if (c.op === 'add') await insert(ids);
    else if (c.op === 'remove') await remove(ids);
    else {
      const keep = new Set(ids);
      await remove([...members, ...added].filter((id) => !keep.has(id)));
      await insert(ids);
    }
    for (const id of added) members.add(id);
    for (const id of removed) members.delete(id);
  }
  await emitIdentityEvents(ctx, tx, 'scim', [
    ...[...added].map((u) => ({ type: 'group.member_added' as const, userId: u, groupId })),
    ...[...removed].map((u) => ({ type: 'group.member_removed' as const, userId: u, groupId })),
  ]);

  const oldRefs = refs.before.filter((r): r is string => !!r);
  if (removed.size && oldRefs.length) {
    // The directory's word is newer than the last sign-in's claim: forget the group there too.
    await tx.query(
      `UPDATE users SET signin_groups = ARRAY(SELECT x FROM unnest(signin_groups) x WHERE lower(x) <> ALL($3::text[]))
       WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND signin_groups IS NOT NULL`,
      [ctx.tenant.id, [...removed], oldRefs.map((r) => r.toLowerCase())],
    );
  }
  if (rulesApply) {
    const affected = [...(refs.renamed ? new Set([...members, ...removed]) : new Set([...added, ...removed]))];
    await resyncRuleGrantsOf(ctx, tx, affected);
    await admitAllIfGranted(tx, ctx.tenant.id, affected);
  }
  return { added: [...added], removed: [...removed] };
}

/** Locks these people in id order and returns those SCIM may touch (not deleted, not break-glass). */
async function lockVisibleUsers(ctx: ScimCtx, tx: Queryable, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await tx.query<{ id: string; visible: boolean }>(
    `SELECT id, ${scimVisible('users')} AS visible FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
    [ctx.tenant.id, ids],
  );
  return new Set(rows.filter((r) => r.visible).map((r) => r.id));
}
