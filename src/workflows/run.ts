import { randomBytes } from 'node:crypto';
import { audit } from '../audit/audit.js';
import type { Ctx } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { getIdentityEvent, type StoredIdentityEvent } from '../identity/events.js';
import { departmentOf, resolveManager } from '../identity/manager.js';
import { directoryGroups } from '../identity/provisioning/group-rules.js';
import { formatNumber } from '../itsm/lifecycle.js';
import { insertTicket, recordEvent } from '../itsm/tickets.js';
import { addTasks } from '../itsm/tasks.js';
import type { Handler, Job } from '../jobs/queue.js';
import { enqueue } from '../jobs/queue.js';
import { findTenantById } from '../tenancy/tenants.js';
import { publishWebhookMessages, WEBHOOK_MAX_ATTEMPTS } from '../webhooks/publish.js';
import type { WorkflowConditions, WorkflowRule } from './rules.js';

interface Person {
  id: string;
  email: string;
  display_name: string;
  source: 'scim' | 'jit' | 'local';
}

/**
 * `workflow.run`: one rule, one identity event. In one transaction: claims the (rule, event) pair
 * in workflow_runs (so a retried or duplicated job acts once), judges the conditions, and runs
 * the actions (a ticket with its checklist in the team's queue, the manager's notification, a
 * webhook call). A rule that no longer exists or is off does nothing.
 */
export const runWorkflow: Handler = async (job: Job, db: Db) => {
  const { ruleId, eventId } = job.payload as { ruleId: string; eventId: string };
  const tenant = job.tenantId ? await findTenantById(db, job.tenantId) : null;
  if (!tenant) return;
  const ctx: Ctx = { db, tenant, actor: null, actorLabel: 'workflow' };
  await db.transaction(async (tx) => {
    const rules = await tx.query<WorkflowRule>(
      `SELECT id, name, template, trigger, conditions, actions, enabled FROM workflow_rules WHERE tenant_id = $1 AND id = $2`,
      [tenant.id, ruleId],
    );
    const rule = rules[0];
    const event = await getIdentityEvent(tx, tenant.id, eventId);
    if (!rule?.enabled || !event) return;
    const claimed = await tx.query(`INSERT INTO workflow_runs (tenant_id, rule_id, event_id, outcome) VALUES ($1, $2, $3, 'skipped') ON CONFLICT DO NOTHING RETURNING 1`, [tenant.id, rule.id, eventId]);
    if (!claimed.length) return;
    const person = event.userId
      ? (await tx.query<Person>('SELECT id, email, display_name, source FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, event.userId]))[0]
      : undefined;
    if (!person) return note(tx, rule.id, eventId, 'the event names no person');
    const miss = await unmetCondition(tx, tenant.id, rule.conditions, event, person);
    if (miss) return note(tx, rule.id, eventId, miss);
    await act(ctx, tx, rule, event, person);
  });
};

async function note(tx: Queryable, ruleId: string, eventId: string, why: string): Promise<void> {
  await tx.query(`UPDATE workflow_runs SET note = $3 WHERE rule_id = $1 AND event_id = $2`, [ruleId, eventId, why.slice(0, 500)]);
}

/** The first condition the event or the person does not meet, in words; null when all are met. */
async function unmetCondition(tx: Queryable, tenantId: string, c: WorkflowConditions, event: StoredIdentityEvent, person: Person): Promise<string | null> {
  if (c.source && person.source !== c.source) return `the account came from ${person.source}, not ${c.source}`;
  if (c.group) {
    const want = c.group.toLowerCase();
    if (event.type === 'group.member_added' || event.type === 'group.member_removed') {
      const g = (await tx.query<{ display_name: string; external_id: string | null }>('SELECT display_name, external_id FROM scim_groups WHERE tenant_id = $1 AND id = $2', [tenantId, event.groupId]))[0];
      if (![g?.display_name, g?.external_id].some((x) => x?.toLowerCase() === want)) return `the group is not ${c.group}`;
    } else if (!(await directoryGroups(tx, tenantId, person.id)).all.some((g) => g.toLowerCase() === want)) {
      return `the person is not in ${c.group}`;
    }
  }
  if (c.department) {
    const d = await departmentOf(tx, tenantId, person.id);
    if (d?.toLowerCase() !== c.department.toLowerCase()) return `the person's department is ${d ?? 'not known'}, not ${c.department}`;
  }
  if (c.connection) {
    const via = event.type === 'user.first_signin' ? [event.data.connection] : (await tx.query<{ slug: string }>(
      'SELECT c.slug FROM external_identities x JOIN sso_connections c ON c.tenant_id = x.tenant_id AND c.id = x.connection_id WHERE x.tenant_id = $1 AND x.user_id = $2',
      [tenantId, person.id],
    )).map((r) => r.slug);
    if (!via.some((s) => typeof s === 'string' && s.toLowerCase() === c.connection!.toLowerCase())) return `the person does not sign in through ${c.connection}`;
  }
  return null;
}

function fill(template: string, person: Person, department: string | null): string {
  return template
    .replaceAll('{{name}}', person.display_name)
    .replaceAll('{{email}}', person.email)
    .replaceAll('{{department}}', department ? ` (${department})` : '');
}

async function act(ctx: Ctx, tx: Queryable, rule: WorkflowRule, event: StoredIdentityEvent, person: Person): Promise<void> {
  const department = await departmentOf(tx, ctx.tenant.id, person.id);
  const boss = await resolveManager(tx, ctx.tenant.id, person.id);
  let ticket: { id: string; ref: string } | null = null;
  const done: string[] = [];
  for (const a of rule.actions) {
    if (a.type === 'ticket') {
      const team = a.teamId ? (await tx.query<{ id: string }>('SELECT id FROM teams WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, a.teamId]))[0]?.id ?? null : null;
      const description = [fill(a.description, person, department), '', `Manager: ${boss.manager ? `${boss.manager.displayName} <${boss.manager.email}>` : `none (${boss.reason})`}`, `Raised by the workflow "${rule.name}" on ${event.type}.`].join('\n');
      const id = await insertTicket(
        tx,
        ctx,
        { type: 'request', title: fill(a.title, person, department).slice(0, 200), description: description.slice(0, 20000), category: a.category ?? null, teamId: team, requesterId: person.id },
        { workflow: rule.name, event: event.type },
      );
      await addTasks(tx, ctx, id, a.checklist);
      const [{ number }] = (await tx.query<{ number: number }>('SELECT number FROM tickets WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id])) as [{ number: number }];
      const ref = formatNumber('request', number);
      ticket = { id, ref };
      await tx.query('UPDATE workflow_runs SET ticket_id = $3 WHERE rule_id = $1 AND event_id = $2', [rule.id, String(event.id), id]);
      await publishWebhookMessages(tx, ctx.tenant.id, [
        { messageId: `wf_${rule.id}_${event.id}`, type: 'workflow.ticket_created', timestamp: new Date().toISOString(), data: { workflow: rule.name, event: event.type, ticket, person: personData(person) } },
      ]);
      done.push(`ticket ${ref}`);
    } else if (a.type === 'notify_manager') {
      if (boss.manager) {
        await publishWebhookMessages(tx, ctx.tenant.id, [
          {
            messageId: `wfm_${rule.id}_${event.id}`,
            type: 'workflow.manager_notification',
            timestamp: new Date().toISOString(),
            data: { workflow: rule.name, event: event.type, manager: boss.manager, person: personData(person), ticket },
          },
        ]);
        done.push(`manager ${boss.manager.email} notified`);
      } else {
        done.push(`no manager notified: ${boss.reason}`);
      }
      if (ticket) await recordEvent(tx, ctx, ticket.id, 'manager_notified', boss.manager ? { manager: boss.manager.displayName, email: boss.manager.email } : { reason: boss.reason });
    } else if (a.type === 'webhook') {
      await enqueue(tx, {
        tenantId: ctx.tenant.id,
        kind: 'webhook.deliver',
        payload: {
          endpointId: a.endpointId,
          messageId: `wfh_${randomBytes(8).toString('hex')}`,
          type: `workflow.${event.type}`,
          timestamp: new Date().toISOString(),
          data: { workflow: rule.name, event: { id: String(event.id), type: event.type, ...event.data }, person: personData(person), ticket },
        },
        key: `workflow-webhook:${rule.id}:${event.id}:${a.endpointId}`,
        maxAttempts: WEBHOOK_MAX_ATTEMPTS,
      });
      done.push('webhook called');
    }
  }
  await tx.query(`UPDATE workflow_runs SET outcome = 'done', note = $3 WHERE rule_id = $1 AND event_id = $2`, [rule.id, String(event.id), done.join('; ').slice(0, 500)]);
  await audit(ctx, tx, { action: 'workflow.ran', targetType: 'workflow', targetId: rule.id, details: { name: rule.name, event: event.type, person: person.email, did: done, ...(ticket ? { ticket: ticket.ref } : {}) } });
}

function personData(p: Person) {
  return { id: p.id, email: p.email, displayName: p.display_name };
}
