import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound } from '../http/errors.js';
import { canonicalName } from '../http/text.js';
import { getUser, isUuid } from '../identity/users.js';

export interface Team {
  id: string;
  name: string;
  members: { id: string; displayName: string; email: string }[];
}

const TEAM_SELECT = `SELECT t.id, t.name,
  coalesce((SELECT json_agg(json_build_object('id', u.id, 'displayName', u.display_name, 'email', u.email) ORDER BY u.display_name)
            FROM team_members m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
            WHERE m.tenant_id = t.tenant_id AND m.team_id = t.id), '[]') AS members
  FROM teams t`;

export async function listTeams(q: Queryable, tenantId: string): Promise<Team[]> {
  return q.query<Team>(`${TEAM_SELECT} WHERE t.tenant_id = $1 ORDER BY lower(t.name)`, [tenantId]);
}

export async function getTeam(q: Queryable, tenantId: string, teamId: string): Promise<Team> {
  if (!isUuid(teamId)) throw new NotFound('Team');
  const rows = await q.query<Team>(`${TEAM_SELECT} WHERE t.tenant_id = $1 AND t.id = $2`, [tenantId, teamId]);
  if (!rows[0]) throw new NotFound('Team');
  return rows[0];
}

export async function teamIdsOf(q: Queryable, tenantId: string, userId: string): Promise<string[]> {
  const rows = await q.query<{ team_id: string }>('SELECT team_id FROM team_members WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
  return rows.map((r) => r.team_id);
}

export async function createTeam(ctx: Ctx, input: { name: string; memberIds?: string[] }): Promise<Team> {
  return ctx.db.transaction(async (tx) => {
    let id: string;
    try {
      id = (await tx.query<{ id: string }>('INSERT INTO teams (tenant_id, name) VALUES ($1, $2) RETURNING id', [ctx.tenant.id, canonicalName(input.name)]))[0]!.id;
    } catch (err) {
      if (isUniqueViolation(err, 'teams_name_key')) throw new Conflict(`A team named "${canonicalName(input.name)}" already exists.`, 'team_exists');
      throw err;
    }
    for (const userId of new Set(input.memberIds ?? [])) await addMember(tx, ctx.tenant.id, id, userId);
    await audit(ctx, tx, { action: 'team.created', targetType: 'team', targetId: id, details: { name: canonicalName(input.name), members: input.memberIds ?? [] } });
    return getTeam(tx, ctx.tenant.id, id);
  });
}

async function addMember(tx: Queryable, tenantId: string, teamId: string, userId: string) {
  await getUser(tx, tenantId, userId); // 404 for users of other tenants
  await tx.query('INSERT INTO team_members (tenant_id, team_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tenantId, teamId, userId]);
}

/** Renames a team and/or replaces its members, in one transaction, auditing what changed. */
export async function updateTeam(ctx: Ctx, teamId: string, patch: { name?: string; memberIds?: string[] }): Promise<Team> {
  return ctx.db.transaction(async (tx) => {
    const before = await getTeam(tx, ctx.tenant.id, teamId);
    const details: Record<string, unknown> = {};
    if (patch.name !== undefined && canonicalName(patch.name) !== before.name) {
      try {
        await tx.query('UPDATE teams SET name = $3 WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, teamId, canonicalName(patch.name)]);
      } catch (err) {
        if (isUniqueViolation(err, 'teams_name_key')) throw new Conflict(`A team named "${patch.name}" already exists.`, 'team_exists');
        throw err;
      }
      details.name = { from: before.name, to: canonicalName(patch.name) };
    }
    if (patch.memberIds !== undefined) {
      await tx.query('DELETE FROM team_members WHERE tenant_id = $1 AND team_id = $2', [ctx.tenant.id, teamId]);
      for (const userId of new Set(patch.memberIds)) await addMember(tx, ctx.tenant.id, teamId, userId);
      const beforeIds = new Set(before.members.map((m) => m.id));
      const afterIds = new Set(patch.memberIds);
      const added = [...afterIds].filter((i) => !beforeIds.has(i));
      const removed = [...beforeIds].filter((i) => !afterIds.has(i));
      if (added.length || removed.length) details.members = { added, removed };
    }
    if (Object.keys(details).length) await audit(ctx, tx, { action: 'team.updated', targetType: 'team', targetId: teamId, details });
    return getTeam(tx, ctx.tenant.id, teamId);
  });
}
