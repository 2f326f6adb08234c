import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp, TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { newUser, patch, USER_SCHEMA, type ScimClient } from './helpers/scim.js';
import { startScimDesk } from './helpers/scim-tenant.js';

/**
 * Issue 11: when an agent leaves (SCIM deactivates or deletes them, or an administrator disables
 * them), their open tickets go back to their team's queue with a note; what they resolved and what
 * they requested stays as it was; a refused change changes nothing.
 */

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let lead: { id: string; client: Client };
let requester: { id: string; client: Client };
let scim: ScimClient;
let network: { id: string; name: string };
let desk: { id: string; name: string };

before(async () => {
  ({ t, tt, admin, lead, requester, scim } = await startScimDesk());
  network = (await admin.client.post('/api/v1/teams', { name: 'Network' })).body;
  desk = (await admin.client.post('/api/v1/teams', { name: 'Service Desk' })).body;
});
after(() => t.close());

const raise = async (c: Client, body: Record<string, unknown>) => {
  const res = await c.post('/api/v1/tickets', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
};
const get = async (id: string, c: Client = lead.client) => (await c.get(`/api/v1/tickets/${id}`)).body;
const events = async (id: string, c: Client = lead.client) => (await c.get(`/api/v1/tickets/${id}/events`)).body.items as any[];

/** An agent in the Network team (their only team) with three open tickets, one resolved, and one they requested. */
async function agentWithWork(teams: string[] = [network.id]) {
  const agent = await t.user(tt.tenant, ['requester', 'agent']);
  const name = (await admin.client.get(`/api/v1/users/${agent.id}`)).body.displayName as string;
  for (const id of teams) {
    const team = (await admin.client.get(`/api/v1/teams/${id}`)).body;
    assert.equal((await admin.client.patch(`/api/v1/teams/${id}`, { memberIds: [...team.members.map((m: any) => m.id), agent.id] })).status, 200);
  }
  // On the Network team's ticket, on another team's, and on one with no team yet.
  const inTeam = await raise(requester.client, { type: 'incident', title: 'switch down' });
  const inOtherTeam = await raise(requester.client, { type: 'request', title: 'new phone' });
  const noTeam = await raise(requester.client, { type: 'incident', title: 'printer' });
  const resolved = await raise(requester.client, { type: 'incident', title: 'fixed already' });
  assert.equal((await lead.client.patch(`/api/v1/tickets/${inTeam.id}`, { assigneeId: agent.id, teamId: network.id })).status, 200);
  assert.equal((await lead.client.patch(`/api/v1/tickets/${inOtherTeam.id}`, { assigneeId: agent.id, teamId: desk.id })).status, 200);
  assert.equal((await lead.client.patch(`/api/v1/tickets/${noTeam.id}`, { assigneeId: agent.id })).status, 200);
  assert.equal((await lead.client.post(`/api/v1/tickets/${inOtherTeam.id}/status`, { status: 'in_fulfilment' })).status, 200);
  assert.equal((await lead.client.patch(`/api/v1/tickets/${resolved.id}`, { assigneeId: agent.id, teamId: network.id })).status, 200);
  assert.equal((await lead.client.post(`/api/v1/tickets/${resolved.id}/status`, { status: 'resolved', resolution: 'Replaced the fuse.' })).status, 200);
  // Something the agent asked for, worked by the lead: theirs as a requester, not as an agent.
  const requested = await raise(agent.client, { type: 'incident', title: 'my own laptop' });
  assert.equal((await lead.client.patch(`/api/v1/tickets/${requested.id}`, { assigneeId: lead.id })).status, 200);
  return { agent, name, inTeam, inOtherTeam, noTeam, resolved, requested };
}

/** The three open tickets are unassigned, in their team's queue, with the note; the rest unchanged. */
async function assertReturned(w: Awaited<ReturnType<typeof agentWithWork>>, why: string, noTeamGoesTo: { id: string; name: string } | null) {
  const expected: [any, { id: string; name: string } | null, string][] = [
    [w.inTeam, network, 'new'],
    [w.inOtherTeam, desk, 'in_fulfilment'],
    [w.noTeam, noTeamGoesTo, 'new'],
  ];
  for (const [ticket, team, status] of expected) {
    const now = await get(ticket.id);
    assert.equal(now.assignee, null, `${ticket.ref} is unassigned`);
    assert.equal(now.team?.id ?? null, team?.id ?? null, `${ticket.ref} is in the ${team?.name ?? 'unassigned'} queue`);
    assert.equal(now.status, status, `${ticket.ref} keeps its status`);
    const returned = (await events(ticket.id)).filter((e) => e.kind === 'returned_to_queue');
    assert.equal(returned.length, 1, `${ticket.ref} has one note`);
    assert.equal(returned[0].actor, null, 'recorded as the system');
    assert.equal(returned[0].data.note, `Returned to the ${team?.name ?? 'unassigned'} queue: ${w.name} ${why}.`);
    assert.equal(returned[0].data.fromName, w.name);
    // A note for the desk: the requester sees the assignee go, not the note.
    const seen = await events(ticket.id, requester.client);
    assert.ok(!seen.some((e) => e.kind === 'returned_to_queue'), 'requesters do not see the internal note');
    const unassigned = seen.filter((e) => e.kind === 'assigned' && e.data.to === null);
    assert.equal(unassigned.length, 1, `${ticket.ref}: the unassignment is on the record`);
    assert.deepEqual([unassigned[0].actor, unassigned[0].data.from, unassigned[0].data.cause], [null, w.agent.id, 'returned_to_queue']);
    const teamSet = seen.filter((e) => e.kind === 'team_changed' && e.data.cause === 'returned_to_queue');
    assert.equal(teamSet.length, ticket === w.noTeam && team ? 1 : 0, `${ticket.ref}: a team change only where the team was set`);
  }
  const queue = (await lead.client.get('/api/v1/tickets?queue=unassigned&limit=100')).body.items.map((x: any) => x.id);
  for (const [ticket] of expected) assert.ok(queue.includes(ticket.id), `${ticket.ref} is in the unassigned queue`);
  const networkQueue = (await lead.client.get(`/api/v1/tickets?team=${network.id}&assignee=none&open=true&limit=100`)).body.items.map((x: any) => x.id);
  assert.ok(networkQueue.includes(w.inTeam.id));

  const resolved = await get(w.resolved.id);
  assert.equal(resolved.assignee?.id, w.agent.id, 'a resolved ticket keeps who resolved it');
  assert.equal(resolved.status, 'resolved');
  assert.ok(!(await events(w.resolved.id)).some((e) => e.kind === 'returned_to_queue'));
  const requested = await get(w.requested.id);
  assert.equal(requested.requester.id, w.agent.id, 'tickets they requested stay theirs');
  assert.equal(requested.assignee?.id, lead.id);
  assert.ok(!(await events(w.requested.id)).some((e) => e.kind === 'returned_to_queue'));

  const audit = (await admin.client.get(`/api/v1/audit?action=tickets.returned_to_queue&targetId=${w.agent.id}`)).body.items;
  assert.equal(audit.length, 1);
  assert.equal(audit[0].details.count, 3);
  assert.deepEqual([...audit[0].details.tickets].sort(), [w.inTeam.ref, w.inOtherTeam.ref, w.noTeam.ref].sort());
}

describe('an agent who leaves hands their open tickets back', () => {
  test('SCIM PATCH active=false: back to the team queue, with the note', async () => {
    const w = await agentWithWork();
    const res = await scim.call('PATCH', `/Users/${w.agent.id}`, patch({ op: 'replace', path: 'active', value: false }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.active, false);
    await assertReturned(w, 'was deactivated by SCIM', network);
    const audit = (await admin.client.get(`/api/v1/audit?action=tickets.returned_to_queue&targetId=${w.agent.id}`)).body.items;
    assert.match(audit[0].actorLabel, /^scim:/);
  });

  test('SCIM PUT with active false does the same', async () => {
    const w = await agentWithWork();
    const doc = (await scim.call('GET', `/Users/${w.agent.id}`)).body;
    const { id: _id, meta: _meta, ...rest } = doc;
    const res = await scim.call('PUT', `/Users/${w.agent.id}`, { ...rest, schemas: [USER_SCHEMA], active: false });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await assertReturned(w, 'was deactivated by SCIM', network);
  });

  test('an administrator disabling them: the note says so', async () => {
    const w = await agentWithWork();
    const res = await admin.client.patch(`/api/v1/users/${w.agent.id}`, { status: 'disabled' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await assertReturned(w, 'was deactivated by an administrator', network);
    const audit = (await admin.client.get(`/api/v1/audit?action=tickets.returned_to_queue&targetId=${w.agent.id}`)).body.items;
    assert.equal(audit[0].actorId, admin.id);
    // Enabling them again gives nothing back by itself: the queue has the work now.
    assert.equal((await admin.client.patch(`/api/v1/users/${w.agent.id}`, { status: 'active' })).status, 200);
    assert.equal((await get(w.inTeam.id)).assignee, null);
  });

  test('SCIM DELETE: deleted by SCIM; an agent of two teams leaves a teamless ticket unassigned', async () => {
    const w = await agentWithWork([network.id, desk.id]);
    const res = await scim.call('DELETE', `/Users/${w.agent.id}`);
    assert.equal(res.status, 204);
    await assertReturned(w, 'was deleted by SCIM', null);
  });

  test('an agent provisioned by SCIM, deactivated later: the same', async () => {
    const made = await scim.call('POST', '/Users', newUser(`leaver-${Date.now()}@${tt.tenant.slug}.test`, { displayName: 'Lee Leaver' }));
    assert.equal(made.status, 201);
    assert.equal((await admin.client.put(`/api/v1/users/${made.body.id}/roles`, { roles: ['requester', 'agent'] })).status, 200);
    const tk = await raise(requester.client, { type: 'incident', title: 'vpn' });
    assert.equal((await lead.client.patch(`/api/v1/tickets/${tk.id}`, { assigneeId: made.body.id, teamId: desk.id })).status, 200);
    assert.equal((await scim.call('PATCH', `/Users/${made.body.id}`, patch({ op: 'replace', value: { active: false } }))).status, 200);
    const now = await get(tk.id);
    assert.equal(now.assignee, null);
    assert.equal(now.team.id, desk.id);
    assert.equal((await events(tk.id)).find((e) => e.kind === 'returned_to_queue').data.note, 'Returned to the Service Desk queue: Lee Leaver was deactivated by SCIM.');
  });

  test('SCIM linking an existing agent account with active=false: the same', async () => {
    const w = await agentWithWork();
    const email = (await admin.client.get(`/api/v1/users/${w.agent.id}`)).body.email;
    const res = await scim.call('POST', '/Users', newUser(email, { active: false, displayName: w.name }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.id, w.agent.id, 'the account was adopted, not duplicated');
    await assertReturned(w, 'was deactivated by SCIM', network);
  });

  test('a refused change changes nothing: the last administrator cannot disable themselves', async () => {
    const other = await t.tenant();
    const boss = await t.user(other.tenant, ['requester', 'agent', 'admin']);
    const req = await t.user(other.tenant, ['requester']);
    // The boss becomes the only active administrator.
    assert.equal((await boss.client.patch(`/api/v1/users/${other.adminId}`, { status: 'disabled' })).status, 200);
    const tk = await raise(req.client, { type: 'incident', title: 'keep me' });
    assert.equal((await boss.client.patch(`/api/v1/tickets/${tk.id}`, { assigneeId: boss.id })).status, 200);
    const before = await get(tk.id, boss.client);
    const beforeEvents = await events(tk.id, boss.client);

    const res = await boss.client.patch(`/api/v1/users/${boss.id}`, { status: 'disabled' });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'last_admin');
    assert.match(res.headers.get('content-type')!, /problem\+json/);
    const { allowedTransitions: _a, canApprove: _b, ...was } = before;
    const { allowedTransitions: _c, canApprove: _d, ...now } = await get(tk.id, boss.client);
    assert.deepEqual(now, was, 'the ticket is as it was');
    assert.deepEqual(await events(tk.id, boss.client), beforeEvents, 'no note');
    assert.equal((await boss.client.get(`/api/v1/audit?action=tickets.returned_to_queue`)).body.items.length, 0, 'no audit event');
  });
});
