import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { ValidationFailed } from '../http/errors.js';

export type Priority = 1 | 2 | 3 | 4 | 5;

/** Default targets per priority, in minutes, on a 24×7 clock. Tenants can change them. */
export const DEFAULT_SLA_TARGETS: Record<Priority, { responseMinutes: number; resolutionMinutes: number }> = {
  1: { responseMinutes: 15, resolutionMinutes: 4 * 60 },
  2: { responseMinutes: 30, resolutionMinutes: 8 * 60 },
  3: { responseMinutes: 4 * 60, resolutionMinutes: 3 * 24 * 60 },
  4: { responseMinutes: 8 * 60, resolutionMinutes: 5 * 24 * 60 },
  5: { responseMinutes: 24 * 60, resolutionMinutes: 10 * 24 * 60 },
};

/**
 * The ITIL matrix: impact and urgency each 1 (high) to 3 (low).
 *   impact\urgency  1  2  3
 *   1               P1 P2 P3
 *   2               P2 P3 P4
 *   3               P3 P4 P5
 */
export function priorityOf(impact: number, urgency: number): Priority {
  return (impact + urgency - 1) as Priority;
}

/**
 * Breach is computed, never stored, so it is right at every moment. While a ticket is on hold its
 * clock stands at `sla_paused_at`; resuming moves the due times forward by the time held.
 * These expressions are the one place the rule lives (used in SELECTs and in the breached filter).
 */
export const SLA_SQL = {
  responseBreached: `(t.response_due_at IS NOT NULL AND coalesce(t.first_response_at, t.sla_paused_at, now()) > t.response_due_at)`,
  resolutionBreached: `(t.resolution_due_at IS NOT NULL AND coalesce(t.resolved_at, t.sla_paused_at, now()) > t.resolution_due_at)`,
};

export async function slaTargets(q: Queryable, tenantId: string, priority: number) {
  const rows = await q.query<{ response_minutes: number; resolution_minutes: number }>(
    'SELECT response_minutes, resolution_minutes FROM sla_policies WHERE tenant_id = $1 AND priority = $2',
    [tenantId, priority],
  );
  return rows[0] ?? null;
}

export async function listSlaPolicies(q: Queryable, tenantId: string): Promise<SlaPolicy[]> {
  return q.query<SlaPolicy>(
    `SELECT priority, response_minutes AS "responseMinutes", resolution_minutes AS "resolutionMinutes"
     FROM sla_policies WHERE tenant_id = $1 ORDER BY priority`,
    [tenantId],
  );
}

export interface SlaPolicy {
  priority: number;
  responseMinutes: number;
  resolutionMinutes: number;
}

/**
 * Replaces the tenant's targets (admins). New targets apply to tickets raised from now on; open
 * tickets keep the due times they were promised.
 */
export async function setSlaPolicies(ctx: Ctx, policies: SlaPolicy[]): Promise<SlaPolicy[]> {
  const priorities = policies.map((p) => p.priority).sort();
  if (priorities.join() !== '1,2,3,4,5') {
    throw new ValidationFailed('Give exactly one policy for each priority 1 to 5.', [{ field: 'policies', message: 'one per priority 1..5' }]);
  }
  const bad = policies.find((p) => p.resolutionMinutes < p.responseMinutes);
  if (bad) {
    throw new ValidationFailed(`P${bad.priority}: the resolution target cannot be shorter than the response target.`, [
      { field: `policies.${bad.priority}`, message: 'resolution must be at least the response target' },
    ]);
  }
  return ctx.db.transaction(async (tx) => {
    const before = await listSlaPolicies(tx, ctx.tenant.id);
    for (const p of policies) {
      await tx.query(
        `INSERT INTO sla_policies (tenant_id, priority, response_minutes, resolution_minutes) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, priority) DO UPDATE SET response_minutes = $3, resolution_minutes = $4`,
        [ctx.tenant.id, p.priority, p.responseMinutes, p.resolutionMinutes],
      );
    }
    const after = await listSlaPolicies(tx, ctx.tenant.id);
    await audit(ctx, tx, { action: 'sla.policies_changed', targetType: 'sla_policies', details: { before, after } });
    return after;
  });
}
