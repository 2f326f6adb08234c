import type { ActorCtx } from '../context.js';
import { audit } from '../audit/audit.js';
import { Conflict, Forbidden } from '../http/errors.js';
import { ticketPolicy } from './policy.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { formatNumber, type TicketType } from './lifecycle.js';
import { applyStatus, getTicket, recordEvent, type Ticket } from './tickets.js';
import { governedChangeDecided } from '../governance/changes.js';

export interface Approval {
  id: string;
  decision: 'approved' | 'rejected';
  comment: string;
  approver: { id: string; displayName: string };
  decidedAt: Date;
}

/**
 * Approves or rejects a ticket that awaits approval, with a comment; the decision sets its status.
 * A change is decided by a change manager who did not raise it: `approved` or `rejected`. A request
 * is decided by the requester's manager it was sent to (and nobody else): approved, it goes on to
 * its team for fulfilment (`approved`, taking the category's team if it has none); rejected, it is
 * closed. Either way the decision is kept (listApprovals), shown on the ticket's timeline (an
 * `approval` event the requester sees too) and audited (`change.approved`, `request.rejected`, …).
 * @throws NotFound the ticket is not one the actor can see
 * @throws Conflict `no_approval` an incident, or a request that needs no approval;
 *   `invalid_transition` not awaiting approval (already decided)
 * @throws Forbidden the actor may not decide on it (the requester, anyone but the manager asked)
 */
export async function decideApproval(
  ctx: ActorCtx,
  idOrRef: string,
  input: { decision: 'approved' | 'rejected'; comment: string },
): Promise<Ticket> {
  return ctx.db.transaction(async (tx) => {
    const t = await getTicket(ctx, idOrRef, tx, true);
    if (t.type === 'incident') throw new Conflict('Incidents take no approvals.', 'no_approval');
    if (t.type === 'request' && !t.approver) throw new Conflict('This request needs no approval.', 'no_approval');
    if (!ticketPolicy.canApprove(ctx.actor, t)) {
      const own = t.requester.id === ctx.actor.userId;
      throw new Forbidden(
        t.type === 'change'
          ? own ? 'You cannot approve a change you raised.' : 'Only change managers can approve or reject changes.'
          : own ? 'You cannot approve your own request: your manager decides.' : `Only ${t.approver!.displayName}, the requester's manager, can approve or reject this request.`,
      );
    }
    if (t.status !== 'awaiting_approval') throw new Conflict(`The ${t.type} is ${t.status}, not awaiting approval.`, 'invalid_transition');
    const [{ id }] = (await tx.query<{ id: string }>(
      'INSERT INTO change_approvals (tenant_id, ticket_id, approver_id, decision, comment) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [ctx.tenant.id, t.id, ctx.actor.userId, input.decision, input.comment],
    )) as [{ id: string }];
    await recordEvent(tx, ctx, t.id, 'approval', { approvalId: id, decision: input.decision, comment: input.comment, ticketType: t.type });
    if (t.type === 'request' && input.decision === 'approved' && !t.team) {
      // The category's team fulfils it (it was set at submission unless the team went since).
      const [team] = await tx.query<{ id: string; name: string }>(
        `SELECT tm.id, tm.name FROM tickets k JOIN request_categories c ON c.tenant_id = k.tenant_id AND c.id = k.category_id
         JOIN teams tm ON tm.tenant_id = c.tenant_id AND tm.id = c.team_id WHERE k.tenant_id = $1 AND k.id = $2`,
        [ctx.tenant.id, t.id],
      );
      if (team) {
        await tx.query('UPDATE tickets SET team_id = $3 WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, t.id, team.id]);
        await recordEvent(tx, { ...ctx, actor: null }, t.id, 'team_changed', { from: null, fromName: null, to: team.id, toName: team.name });
      }
    }
    await applyStatus(tx, ctx, t, t.type === 'request' && input.decision === 'rejected' ? 'closed' : input.decision);
    // A governed identity change behind the ticket is applied (or discarded) by this decision.
    if (t.type === 'change') await governedChangeDecided(tx, ctx, t.id, input.decision);
    await audit(ctx, tx, { action: `${t.type}.${input.decision}`, targetType: 'ticket', targetId: t.id, details: { ref: t.ref, comment: input.comment } });
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
  /** The ticket decided on: a change, or a request its requester's manager decided. */
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
