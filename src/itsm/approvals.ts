import type { ActorCtx } from '../context.js';
import { Conflict, Forbidden } from '../http/errors.js';
import { ticketPolicy } from './policy.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { formatNumber, type TicketType } from './lifecycle.js';
import { applyStatus, getTicket, recordEvent, type Ticket } from './tickets.js';

export interface Approval {
  id: string;
  decision: 'approved' | 'rejected';
  comment: string;
  approver: { id: string; displayName: string };
  decidedAt: Date;
}

/** A change manager approves or rejects a change that awaits approval; the decision sets its status. */
export async function decideChange(
  ctx: ActorCtx,
  idOrRef: string,
  input: { decision: 'approved' | 'rejected'; comment: string },
): Promise<Ticket> {
  return ctx.db.transaction(async (tx) => {
    const t = await getTicket(ctx, idOrRef, tx, true);
    if (t.type !== 'change') throw new Conflict('Only changes take approvals.', 'not_a_change');
    if (!ticketPolicy.canApprove(ctx.actor, t)) {
      throw new Forbidden(
        t.requester.id === ctx.actor.userId ? 'You cannot approve a change you raised.' : 'Only change managers can approve or reject changes.',
      );
    }
    if (t.status !== 'awaiting_approval') throw new Conflict(`The change is ${t.status}, not awaiting approval.`, 'invalid_transition');
    const [{ id }] = (await tx.query<{ id: string }>(
      'INSERT INTO change_approvals (tenant_id, ticket_id, approver_id, decision, comment) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [ctx.tenant.id, t.id, ctx.actor.userId, input.decision, input.comment],
    )) as [{ id: string }];
    await recordEvent(tx, ctx, t.id, 'approval', { approvalId: id, decision: input.decision, comment: input.comment });
    await applyStatus(tx, ctx, t, input.decision);
    return getTicket(ctx, t.id, tx);
  });
}

export async function listApprovals(ctx: ActorCtx, idOrRef: string): Promise<Approval[]> {
  const t = await getTicket(ctx, idOrRef);
  return ctx.db.query<Approval>(
    `SELECT a.id, a.decision, a.comment, a.decided_at AS "decidedAt", json_build_object('id', u.id, 'displayName', u.display_name) AS approver
     FROM change_approvals a JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.approver_id
     WHERE a.tenant_id = $1 AND a.ticket_id = $2 ORDER BY a.decided_at`,
    [ctx.tenant.id, t.id],
  );
}

export interface Decision extends Approval {
  change: { id: string; ref: string; title: string; status: string };
}

/**
 * Every approval decision of the tenant, newest first (the approvals inbox's history), for staff.
 * Keyset-paginated on (decidedAt, id).
 */
export async function listDecisions(ctx: ActorCtx, f: { limit: number; cursor?: string }): Promise<{ items: Decision[]; nextCursor: string | null }> {
  if (!ticketPolicy.canSeeInternal(ctx.actor)) throw new Forbidden('Only staff can see approval decisions.');
  const params: unknown[] = [ctx.tenant.id, f.limit + 1];
  let after = '';
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    params.push(c.ts, c.id);
    after = 'AND (a.decided_at, a.id) < ($3::timestamptz, $4::uuid)';
  }
  const rows = await ctx.db.query<Approval & { ticketId: string; type: TicketType; number: number; title: string; status: string; cursorTs: string }>(
    `SELECT a.id, a.decision, a.comment, a.decided_at AS "decidedAt", a.decided_at::text AS "cursorTs",
            json_build_object('id', u.id, 'displayName', u.display_name) AS approver,
            t.id AS "ticketId", t.type, t.number, t.title, t.status
     FROM change_approvals a
     JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.approver_id
     JOIN tickets t ON t.tenant_id = a.tenant_id AND t.id = a.ticket_id
     WHERE a.tenant_id = $1 ${after} ORDER BY a.decided_at DESC, a.id DESC LIMIT $2`,
    params,
  );
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(({ ticketId, type, number, title, status, cursorTs: _c, ...a }) => ({ ...a, change: { id: ticketId, ref: formatNumber(type, number), title, status } })),
    nextCursor: rows.length > f.limit && last ? encodeCursor({ ts: last.cursorTs, id: last.id }) : null,
  };
}
