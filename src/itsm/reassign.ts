import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { formatNumber, RESOLVED_STATUSES, type TicketType } from './lifecycle.js';
import { applyStatus, recordEvent } from './tickets.js';

/** Why a person's work is handed back, and who said so. */
export type LeaveReason = 'deactivated' | 'deleted';
export type LeaveSource = 'scim' | 'admin';

const BY: Record<LeaveSource, string> = { scim: 'SCIM', admin: 'an administrator' };

/**
 * What happens to the work of someone who leaves (deactivated or deleted, by SCIM or an
 * administrator), in the transaction that makes them leave, so a rollback takes it back too:
 *
 * - Their open tickets (not resolved, fulfilled or closed; see lifecycle.ts) lose their assignee
 *   and go back to their team's queue. A ticket with no team takes the person's team when they
 *   belong to exactly one, else it waits in the unassigned queue. Each gets the `assigned` (and
 *   `team_changed`) events any such change gets, marked `cause: 'returned_to_queue'`, and an
 *   internal `returned_to_queue` event, all recorded as the system; its `note` reads "Returned to
 *   the <team> queue: <name> was deactivated by <SCIM|an administrator>". Audited once as
 *   `tickets.returned_to_queue` with the count and the references.
 * - Requests waiting for their approval as a manager go on without it: back to `submitted` for
 *   their team, with an internal `approval_skipped` note ("No manager approval: …"). Audited as
 *   `tickets.approvals_skipped`.
 *
 * Tickets they requested stay as they are. Resolved tickets keep their assignee (the record of who
 * resolved them). Call it after the person's status has changed.
 * @returns how many tickets went back to a queue, and how many requests went on without approval
 */
export async function returnTicketsToQueue(
  ctx: Ctx,
  tx: Queryable,
  userId: string,
  reason: LeaveReason,
  by: LeaveSource,
): Promise<{ returned: number; approvalsSkipped: number }> {
  const system: Ctx = { ...ctx, actor: null };
  const [person] = await tx.query<{ name: string }>('SELECT display_name AS name FROM users WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, userId]);
  const name = person?.name ?? 'A former agent';
  const why = `${name} was ${reason} by ${BY[by]}`;

  const open = await tx.query<{ id: string; type: TicketType; number: number; teamId: string | null; teamName: string | null }>(
    `SELECT t.id, t.type, t.number, t.team_id AS "teamId", tm.name AS "teamName"
     FROM tickets t LEFT JOIN teams tm ON tm.tenant_id = t.tenant_id AND tm.id = t.team_id
     WHERE t.tenant_id = $1 AND t.assignee_id = $2 AND t.status <> ALL($3)
     ORDER BY t.created_at, t.id FOR UPDATE OF t`,
    [ctx.tenant.id, userId, [...RESOLVED_STATUSES]],
  );
  if (open.length) {
    const teams = await tx.query<{ id: string; name: string }>(
      'SELECT tm.id, tm.name FROM team_members m JOIN teams tm ON tm.tenant_id = m.tenant_id AND tm.id = m.team_id WHERE m.tenant_id = $1 AND m.user_id = $2',
      [ctx.tenant.id, userId],
    );
    const own = teams.length === 1 ? teams[0]! : null;
    for (const t of open) {
      const team = t.teamId ? { id: t.teamId, name: t.teamName! } : own;
      await tx.query('UPDATE tickets SET assignee_id = NULL, team_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, t.id, team?.id ?? null]);
      // The changes themselves, as any assignment change is recorded (the requester sees them, and
      // webhook subscribers hear ticket.assigned); the note below says why, to the desk only.
      await recordEvent(tx, system, t.id, 'assigned', { from: userId, fromName: name, to: null, toName: null, cause: 'returned_to_queue' });
      if (!t.teamId && team) await recordEvent(tx, system, t.id, 'team_changed', { from: null, fromName: null, to: team.id, toName: team.name, cause: 'returned_to_queue' });
      await recordEvent(
        tx,
        system,
        t.id,
        'returned_to_queue',
        {
          from: userId,
          fromName: name,
          reason,
          by,
          teamId: team?.id ?? null,
          teamName: team?.name ?? null,
          teamSet: !t.teamId && team !== null,
          note: `Returned to the ${team ? team.name : 'unassigned'} queue: ${why}.`,
        },
        true,
      );
    }
    await audit(ctx, tx, {
      action: 'tickets.returned_to_queue',
      targetType: 'user',
      targetId: userId,
      details: { count: open.length, reason, by, tickets: open.map((t) => formatNumber(t.type, t.number)) },
    });
  }

  const waiting = await tx.query<{ id: string; number: number }>(
    `SELECT id, number FROM tickets WHERE tenant_id = $1 AND approver_id = $2 AND type = 'request' AND status = 'awaiting_approval'
     ORDER BY created_at, id FOR UPDATE`,
    [ctx.tenant.id, userId],
  );
  for (const t of waiting) {
    const skipped = `${name}, the requester's manager, was ${reason} by ${BY[by]} before deciding`;
    await tx.query('UPDATE tickets SET approver_id = NULL WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, t.id]);
    await recordEvent(tx, system, t.id, 'approval_skipped', { reason: skipped, note: `No manager approval: ${skipped}.`, approverId: userId, approverName: name }, true);
    await applyStatus(tx, system, { id: t.id, type: 'request', status: 'awaiting_approval' }, 'submitted');
  }
  if (waiting.length) {
    await audit(ctx, tx, {
      action: 'tickets.approvals_skipped',
      targetType: 'user',
      targetId: userId,
      details: { count: waiting.length, reason, by, tickets: waiting.map((t) => formatNumber('request', t.number)) },
    });
  }
  return { returned: open.length, approvalsSkipped: waiting.length };
}
