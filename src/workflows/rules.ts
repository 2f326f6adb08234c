import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { NotFound, ValidationFailed } from '../http/errors.js';
import { canonicalName } from '../http/text.js';
import { isUuid } from '../identity/users.js';
import { storableJson } from '../db/storable.js';

/**
 * Workflow rules: when an identity event happens (trigger) to a person who fits (conditions), do
 * things in the service desk (actions). Two templates ship ready to enable.
 */
export const WORKFLOW_TRIGGERS = ['user.provisioned', 'user.first_signin', 'group.member_added', 'group.member_removed', 'user.role_changed', 'user.deactivated', 'user.deleted'] as const;
export type WorkflowTrigger = (typeof WORKFLOW_TRIGGERS)[number];

export interface WorkflowConditions {
  /** The group (display name or external id, any case): the event's group for group triggers, else one the person is in. */
  group?: string;
  /** The person's department, as the directory says (SCIM enterprise `department`), any case. */
  department?: string;
  /** A sign-in connection (its slug) the person is bound to; for `user.first_signin`, the one they came through. */
  connection?: string;
  /** How the account came to be: SCIM, just in time at a sign-in, or made by an admin. */
  source?: 'scim' | 'jit' | 'local';
}

export type WorkflowAction =
  | {
      type: 'ticket';
      /** `{{name}}`, `{{email}}` and `{{department}}` stand for the person. */
      title: string;
      description: string;
      category?: string | null;
      /** The team whose queue it lands in (id); none: the unassigned queue. */
      teamId?: string | null;
      /** Tasks agents tick off, in order. */
      checklist: string[];
    }
  | { type: 'notify_manager' }
  | { type: 'webhook'; endpointId: string };

export interface WorkflowRule {
  id: string;
  name: string;
  template: 'onboarding' | 'offboarding' | null;
  trigger: WorkflowTrigger;
  conditions: WorkflowConditions;
  actions: WorkflowAction[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewWorkflowRule {
  name: string;
  trigger: WorkflowTrigger;
  conditions?: WorkflowConditions;
  actions: WorkflowAction[];
  enabled?: boolean;
}

const COLUMNS = `id, name, template, trigger, conditions, actions, enabled, created_at AS "createdAt", updated_at AS "updatedAt"`;

/** The ready-made rules `keydesk workflow enable` and the Workflows page turn on. */
export const TEMPLATES: Record<'onboarding' | 'offboarding', Omit<NewWorkflowRule, 'actions'> & { actions: WorkflowAction[] }> = {
  onboarding: {
    name: 'Onboarding',
    trigger: 'user.provisioned',
    actions: [
      {
        type: 'ticket',
        title: 'Onboarding: {{name}}',
        description: '{{name}} ({{email}}) joined{{department}}. Prepare their equipment and accounts before their first day.',
        category: 'Onboarding',
        checklist: ['Prepare and ship a laptop', 'Create accounts in the business applications', 'Schedule security and tools training', 'Confirm with the manager that everything is ready'],
      },
      { type: 'notify_manager' },
    ],
  },
  offboarding: {
    name: 'Offboarding',
    trigger: 'user.deactivated',
    actions: [
      {
        type: 'ticket',
        title: 'Offboarding: {{name}}',
        description: '{{name}} ({{email}}){{department}} was deactivated in the directory. Their Keydesk access ended with it; recover what they had elsewhere.',
        category: 'Offboarding',
        checklist: ['Recover the laptop and equipment', 'Transfer their files and mailbox to the manager', 'Revoke access in systems outside single sign-on', 'Confirm with the manager that nothing is left'],
      },
      { type: 'notify_manager' },
    ],
  },
};

export async function listRules(ctx: Ctx): Promise<WorkflowRule[]> {
  return ctx.db.query<WorkflowRule>(`SELECT ${COLUMNS} FROM workflow_rules WHERE tenant_id = $1 ORDER BY created_at`, [ctx.tenant.id]);
}

export async function getRule(ctx: Ctx, id: string, q: Queryable = ctx.db): Promise<WorkflowRule> {
  const rows = isUuid(id) ? await q.query<WorkflowRule>(`SELECT ${COLUMNS} FROM workflow_rules WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, id]) : [];
  if (!rows[0]) throw new NotFound('Workflow');
  return rows[0];
}

/** Checks that an action's team and webhook endpoint are the tenant's. */
async function checkActions(q: Queryable, ctx: Ctx, actions: WorkflowAction[]): Promise<void> {
  for (const [i, a] of actions.entries()) {
    if (a.type === 'ticket' && a.teamId) {
      const ok = isUuid(a.teamId) && (await q.query('SELECT 1 FROM teams WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, a.teamId])).length > 0;
      if (!ok) throw new ValidationFailed('The ticket action names a team this workspace does not have.', [{ field: `actions/${i}/teamId`, message: 'unknown team' }]);
    }
    if (a.type === 'webhook') {
      const ok = isUuid(a.endpointId) && (await q.query('SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, a.endpointId])).length > 0;
      if (!ok) throw new ValidationFailed('The webhook action names an endpoint this workspace does not have.', [{ field: `actions/${i}/endpointId`, message: 'unknown webhook endpoint' }]);
    }
  }
}

/** Adds a custom rule (audited `workflow.created`). @throws ValidationFailed for an unknown team or endpoint */
export async function createRule(ctx: Ctx, input: NewWorkflowRule): Promise<WorkflowRule> {
  return ctx.db.transaction(async (tx) => {
    await checkActions(tx, ctx, input.actions);
    const [{ id }] = (await tx.query<{ id: string }>(
      `INSERT INTO workflow_rules (tenant_id, name, trigger, conditions, actions, enabled, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [ctx.tenant.id, input.name, input.trigger, storableJson(input.conditions ?? {}), storableJson(input.actions), input.enabled ?? true, ctx.actor?.userId ?? null],
    )) as [{ id: string }];
    await audit(ctx, tx, { action: 'workflow.created', targetType: 'workflow', targetId: id, details: { name: input.name, trigger: input.trigger } });
    return getRule(ctx, id, tx);
  });
}

/** Changes a rule (audited `workflow.updated`); runs already done stay done. */
export async function updateRule(ctx: Ctx, id: string, patch: Partial<NewWorkflowRule>): Promise<WorkflowRule> {
  return ctx.db.transaction(async (tx) => {
    await getRule(ctx, id, tx);
    if (patch.actions) await checkActions(tx, ctx, patch.actions);
    await tx.query(
      `UPDATE workflow_rules SET name = coalesce($3, name), trigger = coalesce($4, trigger), conditions = coalesce($5, conditions), actions = coalesce($6, actions),
         enabled = coalesce($7, enabled), updated_at = now() WHERE tenant_id = $1 AND id = $2`,
      [ctx.tenant.id, id, patch.name ?? null, patch.trigger ?? null, patch.conditions ? storableJson(patch.conditions) : null, patch.actions ? storableJson(patch.actions) : null, patch.enabled ?? null],
    );
    await audit(ctx, tx, { action: 'workflow.updated', targetType: 'workflow', targetId: id, details: { fields: Object.keys(patch) } });
    return getRule(ctx, id, tx);
  });
}

export async function deleteRule(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const r = await getRule(ctx, id, tx);
    await tx.query('DELETE FROM workflow_rules WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    await audit(ctx, tx, { action: 'workflow.deleted', targetType: 'workflow', targetId: id, details: { name: r.name } });
  });
}

/**
 * Turns on a ready-made workflow (`keydesk workflow enable`), optionally routed to a team (by name
 * or id). Enabling it again turns it back on and, with a team, re-routes it; the tenant's own edits
 * to its checklist stay. Audited `workflow.enabled`.
 * @throws ValidationFailed when the team does not exist
 */
export async function enableTemplate(ctx: Ctx, template: 'onboarding' | 'offboarding', opts: { team?: string } = {}): Promise<WorkflowRule> {
  return ctx.db.transaction(async (tx) => {
    let teamId: string | null = null;
    if (opts.team) {
      const teams = await tx.query<{ id: string }>(
        `SELECT id FROM teams WHERE tenant_id = $1 AND (lower(name) = lower($2) OR id::text = $2)`,
        [ctx.tenant.id, canonicalName(opts.team)],
      );
      if (!teams[0]) throw new ValidationFailed(`This workspace has no team "${canonicalName(opts.team)}". Create it under Administration › Teams (or POST /api/v1/teams), or leave the team out to use the unassigned queue.`, [{ field: 'team', message: 'unknown team' }]);
      teamId = teams[0].id;
    }
    const t = TEMPLATES[template];
    const existing = await tx.query<WorkflowRule>(`SELECT ${COLUMNS} FROM workflow_rules WHERE tenant_id = $1 AND template = $2 FOR UPDATE`, [ctx.tenant.id, template]);
    let id: string;
    if (existing[0]) {
      id = existing[0].id;
      const actions = opts.team ? existing[0].actions.map((a) => (a.type === 'ticket' ? { ...a, teamId } : a)) : existing[0].actions;
      await tx.query(`UPDATE workflow_rules SET enabled = true, actions = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, id, storableJson(actions)]);
    } else {
      const actions = t.actions.map((a) => (a.type === 'ticket' ? { ...a, teamId } : a));
      [{ id }] = (await tx.query<{ id: string }>(
        `INSERT INTO workflow_rules (tenant_id, name, template, trigger, conditions, actions, created_by) VALUES ($1, $2, $3, $4, '{}', $5, $6) RETURNING id`,
        [ctx.tenant.id, t.name, template, t.trigger, storableJson(actions), ctx.actor?.userId ?? null],
      )) as [{ id: string }];
    }
    await audit(ctx, tx, { action: 'workflow.enabled', targetType: 'workflow', targetId: id, details: { name: t.name, template, ...(opts.team ? { team: opts.team } : {}) } });
    return getRule(ctx, id, tx);
  });
}
