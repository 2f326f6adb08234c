/**
 * Issue 11 end to end: identity drives the service desk, and the record of it proves itself.
 *
 * An agent is provisioned by SCIM, gets the agent role from a SCIM group through a role rule, works
 * tickets and is signed in. The directory deactivates them (SCIM PATCH active=false). In that one
 * change: their sessions end, their open tickets go back to the team's queue; then, from the job
 * queue, the offboarding workflow raises its ticket with its checklist in the team's queue and the
 * subscribed webhook endpoint receives user.deactivated and workflow.ticket_created, signed as
 * Standard Webhooks (checked with the `standardwebhooks` package). All of it is in the tenant's
 * audit hash chain, which verifies; one altered audit row then makes verification fail, naming it.
 *
 * The chain is verified through `GET /api/v1/audit/verify` on both databases, and by
 * `keydesk audit verify` as a real process on PostgreSQL, against the test's own database (its URL
 * from startApp). On PGlite the test database lives in this process's memory, which another process
 * cannot open, so the CLI step runs on PostgreSQL only; the CLI on an embedded (file) database is
 * covered by test/audit-chain.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { TestApp, TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { keydeskExit } from './helpers/cli.js';
import { eventually, startReceiver } from './helpers/receiver.js';
import { GROUP_SCHEMA, newUser, patch, type ScimClient } from './helpers/scim.js';
import { startScimDesk } from './helpers/scim-tenant.js';
import { createSession } from '../src/identity/sessions/sessions.js';
import type { ChainVerification } from '../src/audit/verify.js';

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let lead: { id: string; client: Client };
let requester: { id: string; client: Client };
let scim: ScimClient;
let rx: Awaited<ReturnType<typeof startReceiver>>;

before(async () => {
  // The background worker runs: webhooks, workflows and the audit chain's sealer, as in production.
  ({ t, tt, admin, lead, requester, scim } = await startScimDesk());
  rx = await startReceiver();
});
after(async () => {
  await rx.close();
  await t.close();
});

/** `keydesk audit verify <tenant> --json` as its own process, on the test's PostgreSQL database. */
const cliVerify = async () => {
  const r = await keydeskExit(['audit', 'verify', tt.tenant.slug, '--json'], { DATABASE_URL: t.databaseUrl!, KEYDESK_SECRET: t.config.secret });
  return { code: r.code, result: r.stdout ? (JSON.parse(r.stdout) as ChainVerification) : null, stderr: r.stderr };
};

test('a SCIM deactivation: offboarding ticket with its checklist, tickets back to the queue, sessions revoked, a verified webhook, all in an audit chain that verifies until one row is altered', async () => {
  // The tenant's automation: offboarding for the Service Desk team, and an endpoint for the two events.
  const team = (await admin.client.post('/api/v1/teams', { name: 'Service Desk' })).body as { id: string; name: string };
  const enabled = await admin.client.post('/api/v1/workflows/templates/offboarding/enable', { team: 'Service Desk' });
  assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
  assert.equal(enabled.body.trigger, 'user.deactivated');
  const endpoint = await admin.client.post('/api/v1/webhooks', { url: rx.url, events: ['user.deactivated', 'workflow.ticket_created'] });
  assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
  const secret = endpoint.body.secret as string;

  // The agent comes from the directory; the directory's group makes them an agent.
  const groupId = randomUUID();
  assert.equal((await admin.client.post('/api/v1/sso/role-rules', { groupRef: groupId, role: 'agent' })).status, 201);
  const provisioned = await scim.call('POST', 'Users', newUser('ada.agent@example.com', { displayName: 'Ada Agent' }));
  assert.equal(provisioned.status, 201, JSON.stringify(provisioned.body));
  const agentId = provisioned.body.id as string;
  const group = await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Service Desk Agents', externalId: groupId, members: [{ value: agentId }] });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const roles = await t.db.query<{ role: string; origin: string }>('SELECT role, origin FROM role_grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY role', [tt.tenant.id, agentId]);
  assert.deepEqual(roles.map((r) => `${r.role}:${r.origin}`), ['agent:rule', 'requester:system']);
  assert.equal((await admin.client.patch(`/api/v1/teams/${team.id}`, { memberIds: [agentId] })).status, 200);

  // Signed in (as single sign-on would leave them), with work assigned.
  const s = await t.db.transaction((tx) => createSession(tx, t.config.session, { tenantId: tt.tenant.id, userId: agentId, method: 'test' }));
  const agent = new Client(t.url);
  agent.setSession(s.cookieValue, s.session.csrfToken);
  const me = await agent.get('/api/v1/session');
  assert.equal(me.status, 200);
  assert.ok(me.body.roles.includes('agent'));
  const open: { id: string; ref: string }[] = [];
  for (const title of ['VPN drops every hour', 'Shared mailbox access']) {
    const ticket = (await requester.client.post('/api/v1/tickets', { type: 'incident', title })).body;
    assert.equal((await lead.client.patch(`/api/v1/tickets/${ticket.id}`, { assigneeId: agentId, teamId: team.id })).status, 200);
    open.push(ticket);
  }
  const mine = (await agent.get(`/api/v1/tickets?assignee=${agentId}&limit=100`)).body.items.map((x: { id: string }) => x.id);
  assert.deepEqual(mine.sort(), open.map((x) => x.id).sort(), 'the agent sees their own work');

  // The directory deactivates them.
  const off = await scim.call('PATCH', `Users/${agentId}`, patch({ op: 'replace', path: 'active', value: false }));
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.body.active, false);

  // At once, in the same transaction: the old session is refused, their tickets are back in the team's queue.
  assert.equal((await agent.get('/api/v1/session')).status, 401, 'the session cookie no longer works');
  assert.equal((await agent.get('/api/v1/tickets')).status, 401);
  for (const ticket of open) {
    const now = (await lead.client.get(`/api/v1/tickets/${ticket.id}`)).body;
    assert.equal(now.assignee, null, `${ticket.ref} is unassigned`);
    assert.equal(now.team?.id, team.id, `${ticket.ref} is in the Service Desk queue`);
    const events = (await lead.client.get(`/api/v1/tickets/${ticket.id}/events`)).body.items as { kind: string; data: { note?: string } }[];
    assert.ok(events.some((e) => e.kind === 'returned_to_queue' && /Ada Agent was deactivated by SCIM/.test(e.data.note ?? '')), JSON.stringify(events));
  }
  const queue = (await lead.client.get(`/api/v1/tickets?team=${team.id}&assignee=none&open=true&limit=100`)).body.items.map((x: { id: string }) => x.id);
  for (const ticket of open) assert.ok(queue.includes(ticket.id));

  // From the queue: the offboarding ticket, for them, in the team's queue, with its checklist.
  const raised = await eventually(async () => {
    const [row] = await t.db.query<{ id: string; title: string; team_id: string | null; number: number }>(
      `SELECT id, title, team_id, number FROM tickets WHERE tenant_id = $1 AND requester_id = $2 AND title LIKE 'Offboarding:%'`,
      [tt.tenant.id, agentId],
    );
    return row;
  }, 15_000, 'the offboarding ticket');
  assert.equal(raised.title, 'Offboarding: Ada Agent');
  assert.equal(raised.team_id, team.id);
  const ref = `REQ${String(raised.number).padStart(6, '0')}`;
  const tasks = (await lead.client.get(`/api/v1/tickets/${ref}/tasks`)).body.items as { title: string; doneAt: string | null }[];
  assert.ok(tasks.length >= 3, JSON.stringify(tasks));
  assert.equal(tasks[0]!.title, 'Recover the laptop and equipment');
  assert.ok(tasks.every((x) => x.doneAt === null));

  // The webhooks, signed: each verifies with the endpoint's secret, and not with another.
  const messages = await rx.waitFor(2, 15_000);
  const bodies = messages.map((m) => new Webhook(secret).verify(m.body, m.headers as Record<string, string>) as { type: string; data: Record<string, any> });
  const deactivated = bodies.find((b) => b.type === 'user.deactivated');
  assert.ok(deactivated, JSON.stringify(bodies.map((b) => b.type)));
  assert.equal(deactivated.data.user.email, 'ada.agent@example.com');
  assert.equal(deactivated.data.source, 'scim');
  const created = bodies.find((b) => b.type === 'workflow.ticket_created');
  assert.ok(created);
  assert.equal(created.data.ticket.ref, ref);
  assert.equal(created.data.person.email, 'ada.agent@example.com');
  assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(messages[0]!.body, messages[0]!.headers as Record<string, string>));

  // The audit trail holds it, chained: verification seals what waits and checks everything.
  const actions = ['scim.user_deactivated', 'tickets.returned_to_queue', 'user.roles_changed'];
  const verified = await admin.client.get('/api/v1/audit/verify');
  assert.equal(verified.status, 200);
  const v = verified.body as ChainVerification;
  assert.equal(v.ok, true, JSON.stringify(v.firstBroken));
  assert.equal(v.firstBroken, null);
  assert.ok(v.checked >= 10, `checked ${v.checked}`);
  const entries = (await admin.client.get(`/api/v1/audit?targetId=${agentId}&limit=200`)).body.items as { id: number; action: string; chainSeq: number | null; details: Record<string, unknown> }[];
  for (const action of actions) {
    const e = entries.find((x) => x.action === action);
    assert.ok(e, `${action} is in the log`);
    assert.ok(e.chainSeq !== null && e.chainSeq <= v.lastPosition!, `${action} is in the verified chain`);
  }
  const returned = entries.find((x) => x.action === 'tickets.returned_to_queue')!;
  assert.equal(returned.details.count, 2);

  if (t.databaseUrl) {
    const cli = await cliVerify();
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.result!.ok, true);
    assert.ok(cli.result!.checked >= v.checked, 'the CLI checks the same chain (and what was sealed since)');
    assert.equal(cli.result!.key.keyId, v.key.keyId, 'the same key, from the same KEYDESK_SECRET');
  }

  // Someone with the database rewrites history: the leaver's tickets were never handed back.
  await t.db.query(`UPDATE audit_events SET details = jsonb_set(details, '{count}', '0') WHERE tenant_id = $1 AND id = $2`, [tt.tenant.id, returned.id]);
  const after = (await admin.client.get('/api/v1/audit/verify')).body as ChainVerification;
  assert.equal(after.ok, false);
  assert.deepEqual([after.firstBroken?.id, after.firstBroken?.chainSeq, after.firstBroken?.reason], [returned.id, returned.chainSeq, 'altered']);
  assert.equal(after.firstBroken?.message, `Event ${returned.id} (chain position ${returned.chainSeq}) was altered: its content no longer matches its hash.`);
  if (t.databaseUrl) {
    const cli = await cliVerify();
    assert.equal(cli.code, 1, cli.stderr);
    assert.deepEqual([cli.result!.ok, cli.result!.firstBroken?.id, cli.result!.firstBroken?.reason], [false, returned.id, 'altered']);
  }
});
