import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { canonicalName } from '../http/text.js';
import { isUuid } from '../identity/users.js';
import { resolveManager } from '../identity/manager.js';
import type { TicketType } from './lifecycle.js';
import { applyStatus, recordEvent } from './tickets.js';

/**
 * Request categories: what a requester may ask for, which team fulfils it, and whether the
 * requester's manager approves it first. Categories name requests only; incidents and changes keep
 * their free-text category.
 */
export interface RequestCategory {
  id: string;
  name: string;
  description: string;
  /** The team that fulfils it; null only if the team was deleted. */
  team: { id: string; name: string } | null;
  requiresManagerApproval: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const SELECT = `SELECT c.id, c.name, c.description, c.requires_manager_approval AS "requiresManagerApproval",
    c.created_at AS "createdAt", c.updated_at AS "updatedAt",
    CASE WHEN tm.id IS NULL THEN NULL ELSE json_build_object('id', tm.id, 'name', tm.name) END AS team
  FROM request_categories c LEFT JOIN teams tm ON tm.tenant_id = c.tenant_id AND tm.id = c.team_id`;

/** Every category of the tenant, by name. */
export async function listCategories(q: Queryable, tenantId: string): Promise<RequestCategory[]> {
  return q.query<RequestCategory>(`${SELECT} WHERE c.tenant_id = $1 ORDER BY lower(c.name), c.id`, [tenantId]);
}

/** @throws NotFound for an unknown id, or one of another tenant */
export async function getCategory(q: Queryable, tenantId: string, id: string): Promise<RequestCategory> {
  if (!isUuid(id)) throw new NotFound('Request category');
  const rows = await q.query<RequestCategory>(`${SELECT} WHERE c.tenant_id = $1 AND c.id = $2`, [tenantId, id]);
  if (!rows[0]) throw new NotFound('Request category');
  return rows[0];
}

export interface CategoryInput {
  name: string;
  description?: string;
  teamId: string;
  requiresManagerApproval?: boolean;
}

/**
 * Creates a category (admins; the route checks the role). Audited as `request_category.created`.
 * @throws ValidationFailed `teamId` names no team of the tenant
 * @throws Conflict `category_exists` when another category has the name (case-insensitive)
 */
export async function createCategory(ctx: Ctx, input: CategoryInput): Promise<RequestCategory> {
  return ctx.db.transaction(async (tx) => {
    await checkTeam(tx, ctx.tenant.id, input.teamId);
    const name = canonicalName(input.name);
    let id: string;
    try {
      id = (
        await tx.query<{ id: string }>(
          'INSERT INTO request_categories (tenant_id, name, description, team_id, requires_manager_approval) VALUES ($1, $2, $3, $4, $5) RETURNING id',
          [ctx.tenant.id, name, input.description ?? '', input.teamId, input.requiresManagerApproval ?? false],
        )
      )[0]!.id;
    } catch (err) {
      if (isUniqueViolation(err, 'request_categories_name_key')) throw exists(name);
      throw err;
    }
    const created = await getCategory(tx, ctx.tenant.id, id);
    await audit(ctx, tx, {
      action: 'request_category.created',
      targetType: 'request_category',
      targetId: id,
      details: { name, teamId: input.teamId, requiresManagerApproval: created.requiresManagerApproval },
    });
    return created;
  });
}

/**
 * Changes a category (admins). Requests already raised keep their team and their approval state;
 * the change applies to requests raised from now on. Audited as `request_category.updated` with
 * what changed.
 * @throws NotFound | ValidationFailed (`teamId`) | Conflict `category_exists`
 */
export async function updateCategory(ctx: Ctx, id: string, patch: Partial<CategoryInput>): Promise<RequestCategory> {
  return ctx.db.transaction(async (tx) => {
    const before = await getCategory(tx, ctx.tenant.id, id);
    if (patch.teamId !== undefined) await checkTeam(tx, ctx.tenant.id, patch.teamId);
    const name = patch.name === undefined ? undefined : canonicalName(patch.name);
    try {
      await tx.query(
        `UPDATE request_categories SET name = coalesce($3, name), description = coalesce($4, description), team_id = coalesce($5, team_id),
           requires_manager_approval = coalesce($6, requires_manager_approval), updated_at = now()
         WHERE tenant_id = $1 AND id = $2`,
        [ctx.tenant.id, id, name ?? null, patch.description ?? null, patch.teamId ?? null, patch.requiresManagerApproval ?? null],
      );
    } catch (err) {
      if (isUniqueViolation(err, 'request_categories_name_key')) throw exists(name ?? before.name);
      throw err;
    }
    const after = await getCategory(tx, ctx.tenant.id, id);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (after.name !== before.name) changes.name = { from: before.name, to: after.name };
    if (after.description !== before.description) changes.description = { from: before.description, to: after.description };
    if (after.team?.id !== before.team?.id) changes.teamId = { from: before.team?.id ?? null, to: after.team?.id ?? null };
    if (after.requiresManagerApproval !== before.requiresManagerApproval) {
      changes.requiresManagerApproval = { from: before.requiresManagerApproval, to: after.requiresManagerApproval };
    }
    if (Object.keys(changes).length) await audit(ctx, tx, { action: 'request_category.updated', targetType: 'request_category', targetId: id, details: changes });
    return after;
  });
}

/**
 * Deletes a category (admins). Requests raised in it keep its name as their category text, their
 * team and any approval still pending. Audited as `request_category.deleted`.
 * @throws NotFound
 */
export async function deleteCategory(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const before = await getCategory(tx, ctx.tenant.id, id);
    await tx.query('DELETE FROM request_categories WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    await audit(ctx, tx, { action: 'request_category.deleted', targetType: 'request_category', targetId: id, details: { name: before.name } });
  });
}

async function checkTeam(tx: Queryable, tenantId: string, teamId: string): Promise<void> {
  const rows = isUuid(teamId) ? await tx.query('SELECT 1 FROM teams WHERE tenant_id = $1 AND id = $2', [tenantId, teamId]) : [];
  if (!rows.length) throw new ValidationFailed('The teamId does not name a team of this tenant.', [{ field: 'teamId', message: 'unknown team' }]);
}

const exists = (name: string) => new Conflict(`A request category named "${name}" already exists.`, 'category_exists');

/** What ticket creation needs of a category. */
export interface CategoryRoute {
  id: string;
  name: string;
  teamId: string | null;
  requiresManagerApproval: boolean;
}

/**
 * The request category a new ticket is raised in: the one `categoryId` names, or the one whose
 * name the free-text `category` is (case-insensitive, as `canonicalName` writes names), so that typing a category's name is no way
 * round its manager approval. Null when there is none.
 * @throws ValidationFailed `categoryId` unknown, given for anything but a request, or given with a
 *   different `category` text
 */
export async function categoryForRequest(
  q: Queryable,
  tenantId: string,
  input: { type: TicketType; category?: string | null; categoryId?: string | null },
): Promise<CategoryRoute | null> {
  const select = `SELECT id, name, team_id AS "teamId", requires_manager_approval AS "requiresManagerApproval" FROM request_categories WHERE tenant_id = $1`;
  if (input.categoryId) {
    if (input.type !== 'request') {
      throw new ValidationFailed('Request categories are for service requests.', [{ field: 'categoryId', message: `is not taken for a ${input.type}` }]);
    }
    const rows = isUuid(input.categoryId) ? await q.query<CategoryRoute>(`${select} AND id = $2`, [tenantId, input.categoryId]) : [];
    const found = rows[0];
    if (!found) throw new ValidationFailed('The categoryId does not name a request category of this tenant.', [{ field: 'categoryId', message: 'unknown request category' }]);
    if (input.category != null && canonicalName(input.category).toLowerCase() !== found.name.toLowerCase()) {
      throw new ValidationFailed('Give categoryId or a category name, not two different ones.', [{ field: 'category', message: `differs from the category "${found.name}"` }]);
    }
    return found;
  }
  const typed = input.category == null ? '' : canonicalName(input.category);
  if (input.type !== 'request' || !typed) return null;
  const rows = await q.query<CategoryRoute>(`${select} AND lower(name) = lower($2)`, [tenantId, typed]);
  return rows[0] ?? null;
}

/**
 * What a category does to a request just inserted in `tx`: when it needs the manager's approval,
 * the request waits for the requester's manager (identity/manager.ts: the directory's word, a live
 * and active account) in `awaiting_approval`, its SLA clock paused, with an `approval_requested`
 * event everyone on the ticket sees; or, with nobody to ask, it stays with the category's team and
 * gets an internal `approval_skipped` note ("No manager approval: <reason>"). Recorded as the system.
 */
export async function routeByCategory(tx: Queryable, ctx: Ctx, ticketId: string, requesterId: string, category: CategoryRoute): Promise<void> {
  if (!category.requiresManagerApproval) return;
  const system: Ctx = { ...ctx, actor: null };
  const found = await resolveManager(tx, ctx.tenant.id, requesterId);
  if (found.manager) {
    await tx.query('UPDATE tickets SET approver_id = $3 WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, ticketId, found.manager.id]);
    await recordEvent(tx, system, ticketId, 'approval_requested', { approverId: found.manager.id, approverName: found.manager.displayName, category: category.name });
    await applyStatus(tx, system, { id: ticketId, type: 'request', status: 'submitted' }, 'awaiting_approval');
  } else {
    await recordEvent(tx, system, ticketId, 'approval_skipped', { reason: found.reason, note: `No manager approval: ${found.reason}.`, category: category.name }, true);
  }
}
