import type { Ctx } from '../context.js';
import { formatNumber } from '../itsm/lifecycle.js';

export interface WorkflowRun {
  ruleId: string;
  ruleName: string;
  eventId: string;
  eventType: string;
  /** The person's email. */
  person: string | null;
  outcome: 'done' | 'skipped';
  /** What it did, or which condition was not met. */
  note: string | null;
  ticket: { id: string; ref: string } | null;
  createdAt: Date;
}

/** The tenant's latest workflow runs, newest first (at most 200). */
export async function listRuns(ctx: Ctx, limit = 50): Promise<WorkflowRun[]> {
  const rows = await ctx.db.query<Omit<WorkflowRun, 'ticket'> & { ticketId: string | null; ticketNumber: number | null }>(
    `SELECT r.rule_id AS "ruleId", w.name AS "ruleName", r.event_id::text AS "eventId", e.type AS "eventType", u.email AS person, r.outcome, r.note,
            r.ticket_id AS "ticketId", t.number AS "ticketNumber", r.created_at AS "createdAt"
     FROM workflow_runs r JOIN workflow_rules w ON w.id = r.rule_id
     LEFT JOIN identity_events e ON e.tenant_id = r.tenant_id AND e.id = r.event_id
     LEFT JOIN users u ON u.tenant_id = r.tenant_id AND u.id = e.user_id
     LEFT JOIN tickets t ON t.tenant_id = r.tenant_id AND t.id = r.ticket_id
     WHERE r.tenant_id = $1 ORDER BY r.created_at DESC LIMIT $2`,
    [ctx.tenant.id, Math.min(limit, 200)],
  );
  return rows.map(({ ticketId, ticketNumber, ...r }) => ({ ...r, ticket: ticketId && ticketNumber !== null ? { id: ticketId, ref: formatNumber('request', ticketNumber) } : null }));
}
