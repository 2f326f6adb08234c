/**
 * Workflows (issue 11): identity events raise service-desk work by themselves. Onboarding and
 * offboarding templates, conditions, the manager from SCIM, checklists agents tick off, once per
 * event whatever the queue retries, and `keydesk workflow enable`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { TestApp, TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';
import { eventually, startReceiver } from './helpers/receiver.js';
import { ENTERPRISE, newUser, patch, type ScimClient } from './helpers/scim.js';
import { startScimTenant } from './helpers/scim-tenant.js';

let t: TestApp;
let tt: TestTenant;
let admin: Client;
let scim: ScimClient;
let teamId: string;

before(async () => {
  ({ t, tt, admin, scim } = await startScimTenant());
  teamId = (await admin.post('/api/v1/teams', { name: 'Service Desk' })).body.id;
});
after(() => t.close());

/** The ticket a workflow raised for a person, once the queue has run it. */
const ticketFor = (email: string, title: RegExp) =>
  eventually(async () => {
    const rows = await t.db.query<{ id: string; title: string; team_id: string | null; description: string; number: number }>(
      `SELECT t.id, t.title, t.team_id, t.description, t.number FROM tickets t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.requester_id WHERE t.tenant_id = $1 AND u.email = $2`,
      [tt.tenant.id, email],
    );
    return rows.find((r) => title.test(r.title));
  }, 10_000, `the workflow ticket for ${email}`);

describe('onboarding and offboarding', () => {
  test('a provisioned person gets an onboarding ticket with a checklist in the team queue; the manager is notified', async () => {
    const rx = await startReceiver();
    const { secret } = (await admin.post('/api/v1/webhooks', { url: rx.url, events: ['workflow.manager_notification', 'workflow.ticket_created'] })).body;
    const enabled = await admin.post('/api/v1/workflows/templates/onboarding/enable', { team: 'service desk' });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.equal(enabled.body.trigger, 'user.provisioned');

    const boss = await scim.call('POST', 'Users', newUser('boss@example.com', { displayName: 'Bea Boss' }));
    const hire = await scim.call('POST', 'Users', newUser('hire@example.com', { displayName: 'Hal Hire', [ENTERPRISE]: { department: 'Engineering', manager: { value: boss.body.id } }, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE] }));
    assert.equal(hire.status, 201, JSON.stringify(hire.body));

    const ticket = await ticketFor('hire@example.com', /^Onboarding: Hal Hire$/);
    assert.equal(ticket.team_id, teamId, 'in the team queue');
    assert.match(ticket.description, /Hal Hire \(hire@example\.com\) joined \(Engineering\)/);
    assert.match(ticket.description, /Manager: Bea Boss <boss@example\.com>/);

    const agent = await t.user(tt.tenant, ['agent']);
    const ref = `REQ${String(ticket.number).padStart(6, '0')}`;
    const tasks = (await agent.client.get(`/api/v1/tickets/${ref}/tasks`)).body.items;
    assert.deepEqual(tasks.map((x: { title: string }) => x.title), ['Prepare and ship a laptop', 'Create accounts in the business applications', 'Schedule security and tools training', 'Confirm with the manager that everything is ready']);
    const ticked = await agent.client.patch(`/api/v1/tickets/${ref}/tasks/${tasks[0].id}`, { done: true });
    assert.equal(ticked.status, 200);
    assert.ok(ticked.body.doneAt);
    assert.equal(ticked.body.doneBy.id, agent.id);
    const events = (await agent.client.get(`/api/v1/tickets/${ref}/events`)).body.items.map((e: { kind: string }) => e.kind);
    assert.ok(events.includes('task_done') && events.includes('manager_notified'), events.join(','));

    // Messages arrive in no set order: the boss's and the hire's onboarding tickets, the hire's manager notification.
    const note = await eventually(async () => {
      const bodies = rx.received.map((m) => new Webhook(secret).verify(m.body, m.headers as Record<string, string>) as { type: string; data: Record<string, any> });
      return bodies.find((b) => b.type === 'workflow.manager_notification');
    }, 10_000, 'the manager notification');
    assert.equal(note.data.manager.email, 'boss@example.com');
    assert.equal(note.data.person.email, 'hire@example.com');
    assert.match(note.data.ticket.ref, /^REQ\d+$/);
    // The boss's own provisioning had no manager: a ticket, and a note saying so.
    const bossTicket = await ticketFor('boss@example.com', /^Onboarding: Bea Boss$/);
    assert.match(bossTicket.description, /Manager: none \(the directory names no manager for this person\)/);
    await rx.close();
  });

  test('a deactivated person gets an offboarding ticket; an agent leaving hands their tickets back', async () => {
    const out = await admin.post('/api/v1/workflows/templates/offboarding/enable', {});
    assert.equal(out.status, 200);
    const leaver = await scim.call('POST', 'Users', newUser('leaver@example.com', { displayName: 'Lee Leaver' }));
    assert.equal((await scim.call('PATCH', `Users/${leaver.body.id}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
    const ticket = await ticketFor('leaver@example.com', /^Offboarding: Lee Leaver$/);
    assert.equal(ticket.team_id, null, 'no team given: the unassigned queue');
    const tasks = await t.db.query<{ title: string }>('SELECT title FROM ticket_tasks WHERE ticket_id = $1 ORDER BY position', [ticket.id]);
    assert.equal(tasks[0]!.title, 'Recover the laptop and equipment');
    const runs = (await admin.get('/api/v1/workflows/runs')).body.items;
    assert.ok(runs.some((r: { ruleName: string; outcome: string; person: string }) => r.ruleName === 'Offboarding' && r.outcome === 'done' && r.person === 'leaver@example.com'));
  });

  test('conditions: a rule for one department skips everyone else, and says why', async () => {
    const rule = await admin.post('/api/v1/workflows', {
      name: 'Sales laptops',
      trigger: 'user.provisioned',
      conditions: { department: 'sales' },
      actions: [{ type: 'ticket', title: 'Sales kit for {{name}}', description: 'CRM seat', checklist: ['CRM licence'], teamId }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await scim.call('POST', 'Users', newUser('seller@example.com', { displayName: 'Sam Seller', [ENTERPRISE]: { department: 'Sales' } }));
    await scim.call('POST', 'Users', newUser('coder@example.com', { displayName: 'Cody Coder', [ENTERPRISE]: { department: 'Engineering' } }));
    await ticketFor('seller@example.com', /^Sales kit for Sam Seller$/);
    const skipped = await eventually(async () => (await admin.get('/api/v1/workflows/runs')).body.items.find((r: { ruleName: string; person: string }) => r.ruleName === 'Sales laptops' && r.person === 'coder@example.com'), 10_000, 'the skipped run');
    assert.equal(skipped.outcome, 'skipped');
    assert.match(skipped.note, /department is Engineering, not sales/);
    const coderTickets = await t.db.query(`SELECT 1 FROM tickets t JOIN users u ON u.id = t.requester_id WHERE u.email = 'coder@example.com' AND t.title LIKE 'Sales kit%'`);
    assert.equal(coderTickets.length, 0);
  });

  test('a run happens once per rule and event, even when the queue runs the job again', async () => {
    await scim.call('POST', 'Users', newUser('twice@example.com', { displayName: 'Tess Twice' }));
    await ticketFor('twice@example.com', /^Onboarding: Tess Twice$/);
    // As if the node died after the effect and before marking the job done: the job runs again.
    await t.db.query(`UPDATE jobs SET status = 'pending', run_at = now(), attempts = 0 WHERE kind = 'workflow.run' AND tenant_id = $1`, [tt.tenant.id]);
    await eventually(async () => (await t.db.query(`SELECT 1 FROM jobs WHERE kind = 'workflow.run' AND tenant_id = $1 AND status <> 'done'`, [tt.tenant.id])).length === 0, 10_000, 'the jobs to run again');
    const tickets = await t.db.query(`SELECT 1 FROM tickets t JOIN users u ON u.id = t.requester_id WHERE u.email = 'twice@example.com'`);
    assert.equal(tickets.length, 1);
  });

  test('first sign-in: a rule fires on a person’s first sign-in, and only on the first', async () => {
    const rule = await admin.post('/api/v1/workflows', {
      name: 'Welcome',
      trigger: 'user.first_signin',
      conditions: { source: 'local' },
      actions: [{ type: 'ticket', title: 'Welcome call for {{name}}', description: 'Show {{email}} around.', checklist: ['Book the call'] }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const made = await admin.post('/api/v1/users', { email: 'first@example.com', displayName: 'Fay First', password: 'a-long-first-password-1', roles: ['requester'] });
    assert.equal(made.status, 201);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await t.db.query(`SELECT 1 FROM tickets WHERE title = 'Welcome call for Fay First'`)).length, 0, 'being created is not signing in');
    for (let i = 0; i < 2; i++) {
      const c = t.client();
      const signin = await c.signIn(tt.tenant.slug, 'first@example.com', 'a-long-first-password-1');
      assert.ok(signin.status === 200 || signin.status === 201, String(signin.status));
    }
    await ticketFor('first@example.com', /^Welcome call for Fay First$/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await t.db.query(`SELECT 1 FROM tickets WHERE title = 'Welcome call for Fay First'`)).length, 1, 'the second sign-in raises nothing');
    await admin.patch(`/api/v1/workflows/${rule.body.id}`, { enabled: false });
  });

  test('requesters cannot tick tasks; bad rules are refused and stored nowhere', async () => {
    const ticket = await ticketFor('hire@example.com', /^Onboarding/);
    const task = (await t.db.query<{ id: string }>('SELECT id FROM ticket_tasks WHERE ticket_id = $1 ORDER BY position LIMIT 1 OFFSET 1', [ticket.id]))[0]!;
    const requester = await t.user(tt.tenant, ['requester']);
    const ref = `REQ${String(ticket.number).padStart(6, '0')}`;
    const r = await requester.client.patch(`/api/v1/tickets/${ref}/tasks/${task.id}`, { done: true });
    assert.ok(r.status === 403 || r.status === 404, String(r.status));
    assert.equal((await t.db.query('SELECT done_at FROM ticket_tasks WHERE id = $1', [task.id]))[0]!.done_at, null);
    const before = (await admin.get('/api/v1/workflows')).body.items.length;
    for (const body of [
      { name: 'x', trigger: 'user.exploded', actions: [{ type: 'notify_manager' }] },
      { name: 'x', trigger: 'user.provisioned', actions: [] },
      { name: 'x', trigger: 'user.provisioned', actions: [{ type: 'ticket', title: 'T', description: '', checklist: [], teamId: '00000000-0000-4000-8000-000000000000' }] },
      { name: 'x', trigger: 'user.provisioned', actions: [{ type: 'webhook', endpointId: '00000000-0000-4000-8000-000000000000' }] },
      { name: 'x', trigger: 'user.provisioned', conditions: { colour: 'blue' }, actions: [{ type: 'notify_manager' }] },
    ]) {
      const res = await admin.post('/api/v1/workflows', body);
      assert.ok(res.status === 400 || res.status === 422, `${res.status} for ${JSON.stringify(body)}`);
    }
    assert.equal((await admin.get('/api/v1/workflows')).body.items.length, before);
    assert.equal((await (await t.user(tt.tenant, ['agent'])).client.get('/api/v1/workflows')).status, 403);
  });
});

describe('keydesk workflow enable', () => {
  test('turns a template on with a team, again idempotently, and refuses an unknown team', async (tc) => {
    const cdb = await cliDatabase();
    tc.after(cdb.drop);
    const run = (args: string[]) => keydesk(args, cdb.env);
    await run(['tenant', 'create', 'wf', '--name', 'WF', '--admin-email', 'it@wf.test']);
    const noTeam = await run(['workflow', 'enable', 'wf', 'onboarding', '--team', 'Nobody']).catch((e) => e);
    assert.equal(noTeam.code, 2);
    assert.match(noTeam.stderr, /no team "Nobody"/);
    const on = JSON.parse((await run(['workflow', 'enable', 'wf', 'offboarding', '--json'])).stdout);
    assert.equal(on.template, 'offboarding');
    assert.equal(on.trigger, 'user.deactivated');
    assert.equal(on.enabled, true);
    const again = JSON.parse((await run(['workflow', 'enable', 'wf', 'offboarding', '--json'])).stdout);
    assert.equal(again.id, on.id, 'one offboarding workflow per tenant');
    const text = (await run(['workflow', 'enable', 'wf', 'onboarding'])).stdout;
    assert.match(text, /The Onboarding workflow is on/);
    const bad = await run(['workflow', 'enable', 'wf', 'teleporting']).catch((e) => e);
    assert.equal(bad.code, 2);
  });
});
