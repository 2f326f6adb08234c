import type { ActorCtx, Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { Forbidden, NotFound } from '../http/errors.js';
import { isUuid } from '../identity/users.js';
import { ticketPolicy } from './policy.js';
import { getTicket, recordEvent } from './tickets.js';

/** A step of a ticket's checklist (an onboarding ticket's "prepare a laptop"), ticked off by agents. */
export interface TicketTask {
  id: string;
  position: number;
  title: string;
  doneAt: Date | null;
  doneBy: { id: string; displayName: string } | null;
}

/** Appends tasks to a ticket's checklist, in the caller's transaction. */
export async function addTasks(tx: Queryable, ctx: Ctx, ticketId: string, titles: string[]): Promise<void> {
  const list = titles.map((t) => t.trim()).filter(Boolean);
  if (!list.length) return;
  await tx.query(
    `INSERT INTO ticket_tasks (tenant_id, ticket_id, position, title)
     SELECT $1, $2, coalesce((SELECT max(position) FROM ticket_tasks WHERE tenant_id = $1 AND ticket_id = $2), 0) + t.n, left(t.title, 200)
     FROM unnest($3::text[]) WITH ORDINALITY AS t(title, n)`,
    [ctx.tenant.id, ticketId, list],
  );
}

const COLUMNS = `t.id, t.position, t.title, t.done_at AS "doneAt",
  CASE WHEN u.id IS NOT NULL THEN json_build_object('id', u.id, 'displayName', u.display_name) END AS "doneBy"`;

/** The checklist, in order. Whoever may see the ticket may see it. */
export async function listTasks(ctx: ActorCtx, idOrRef: string): Promise<TicketTask[]> {
  const ticket = await getTicket(ctx, idOrRef);
  return ctx.db.query<TicketTask>(
    `SELECT ${COLUMNS} FROM ticket_tasks t LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.done_by
     WHERE t.tenant_id = $1 AND t.ticket_id = $2 ORDER BY t.position`,
    [ctx.tenant.id, ticket.id],
  );
}

/**
 * Ticks a task off (or back on), recorded on the ticket's timeline. Agents who may work the ticket only.
 * @throws Forbidden for requesters; NotFound for a task not on this ticket
 */
export async function setTaskDone(ctx: ActorCtx, idOrRef: string, taskId: string, done: boolean): Promise<TicketTask> {
  return ctx.db.transaction(async (tx) => {
    const ticket = await getTicket(ctx, idOrRef, tx, true);
    if (!ticketPolicy.canWork(ctx.actor, ticket)) throw new Forbidden('Only agents working the ticket tick off its tasks.');
    const rows = isUuid(taskId)
      ? await tx.query<{ title: string; was_done: boolean }>(
          `UPDATE ticket_tasks t SET done_at = CASE WHEN $4 THEN coalesce(t.done_at, now()) END, done_by = CASE WHEN $4 THEN coalesce(t.done_by, $5) END
           FROM ticket_tasks old WHERE t.tenant_id = $1 AND t.ticket_id = $2 AND t.id = $3 AND old.tenant_id = t.tenant_id AND old.id = t.id
           RETURNING t.title, old.done_at IS NOT NULL AS was_done`,
          [ctx.tenant.id, ticket.id, taskId, done, ctx.actor.userId],
        )
      : [];
    if (!rows[0]) throw new NotFound('Task');
    if (rows[0].was_done !== done) await recordEvent(tx, ctx, ticket.id, done ? 'task_done' : 'task_reopened', { task: rows[0].title }, true);
    const [task] = (await tx.query<TicketTask>(
      `SELECT ${COLUMNS} FROM ticket_tasks t LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.done_by WHERE t.tenant_id = $1 AND t.id = $2`,
      [ctx.tenant.id, taskId],
    )) as [TicketTask];
    return task;
  });
}
