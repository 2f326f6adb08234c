import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client, Res } from './helpers/client.js';
import { ENTERPRISE, patch, scimClient, type ScimClient } from './helpers/scim.js';

/**
 * Issue 11: request categories per tenant, and service requests that need the requester's manager's
 * approval, the manager coming from SCIM's enterprise extension.
 */

type Person = { id: string; email: string; client: Client };
let t: TestApp;
let tt: TestTenant;
let admin: Person;
let agent: Person;
let cm: Person;
let stranger: Person;
let scim: ScimClient;
let workplace: { id: string; name: string };
let laptop: any;
let software: any;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
  agent = await t.user(tt.tenant, ['requester', 'agent']);
  cm = await t.user(tt.tenant, ['requester', 'change_manager']);
  stranger = await t.user(tt.tenant, ['requester']);
  scim = await scimClient(t, tt.tenant);
  workplace = (await admin.client.post('/api/v1/teams', { name: 'Workplace', memberIds: [agent.id] })).body;
  laptop = (await admin.client.post('/api/v1/request-categories', { name: 'New laptop', description: 'A replacement or a first laptop', teamId: workplace.id, requiresManagerApproval: true })).body;
  software = (await admin.client.post('/api/v1/request-categories', { name: 'Software', teamId: workplace.id })).body;
});
after(() => t.close());

/** Sets a person's manager as Entra does: a PATCH adding the enterprise `manager` with the manager's SCIM id. */
async function setManager(userId: string, value: string) {
  const res = await scim.call('PATCH', `/Users/${userId}`, patch({ op: 'add', path: `${ENTERPRISE}:manager`, value }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body[ENTERPRISE].manager.value, value);
}

/** A requester whose directory manager is a new account. */
async function reportAndManager() {
  const manager = await t.user(tt.tenant, ['requester']);
  const report = await t.user(tt.tenant, ['requester']);
  await setManager(report.id, manager.id);
  return { manager, report };
}

const raise = async (c: Client, body: Record<string, unknown>) => {
  const res = await c.post('/api/v1/tickets', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
};
const events = async (id: string, c: Client = agent.client) => (await c.get(`/api/v1/tickets/${id}/events`)).body.items as any[];
const isProblem = (res: Res, status: number) => {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
};
/** What a ticket is, without the parts that depend on who asks. */
const state = async (id: string) => {
  const { allowedTransitions: _a, canApprove: _b, ...rest } = (await agent.client.get(`/api/v1/tickets/${id}`)).body;
  return { ticket: rest, events: await events(id), approvals: (await agent.client.get(`/api/v1/tickets/${id}/approvals`)).body.items };
};

describe('request categories', () => {
  test('admins create, change and delete them; everyone signed in reads them; names are unique in any case', async () => {
    const list = await stranger.client.get('/api/v1/request-categories');
    assert.equal(list.status, 200);
    const mine = list.body.items.find((c: any) => c.id === laptop.id);
    assert.deepEqual([mine.name, mine.description, mine.team, mine.requiresManagerApproval], ['New laptop', 'A replacement or a first laptop', { id: workplace.id, name: 'Workplace' }, true]);
    assert.equal(list.body.items.find((c: any) => c.id === software.id).requiresManagerApproval, false);

    const count = list.body.items.length;
    isProblem(await admin.client.post('/api/v1/request-categories', { name: 'NEW LAPTOP', teamId: workplace.id }), 409);
    isProblem(await admin.client.post('/api/v1/request-categories', { name: 'Phones', teamId: '00000000-0000-4000-8000-000000000000' }), 422);
    isProblem(await admin.client.post('/api/v1/request-categories', { name: 'Phones' }), 400);
    isProblem(await admin.client.post('/api/v1/request-categories', { name: '   ', teamId: workplace.id }), 400);
    isProblem(await agent.client.post('/api/v1/request-categories', { name: 'Phones', teamId: workplace.id }), 403);
    isProblem(await stranger.client.patch(`/api/v1/request-categories/${laptop.id}`, { requiresManagerApproval: false }), 403);
    isProblem(await stranger.client.delete(`/api/v1/request-categories/${laptop.id}`), 403);
    assert.equal((await admin.client.get('/api/v1/request-categories')).body.items.length, count, 'refusals created nothing');
    assert.equal((await admin.client.get(`/api/v1/request-categories/${laptop.id}`)).body.requiresManagerApproval, true, 'or changed anything');

    const phones = await admin.client.post('/api/v1/request-categories', { name: 'Phones', teamId: workplace.id });
    assert.equal(phones.status, 201);
    assert.equal(phones.headers.get('location'), `/api/v1/request-categories/${phones.body.id}`);
    isProblem(await admin.client.patch(`/api/v1/request-categories/${phones.body.id}`, { name: 'software' }), 409);
    const renamed = await admin.client.patch(`/api/v1/request-categories/${phones.body.id}`, { name: 'Mobile phones', requiresManagerApproval: true });
    assert.equal(renamed.status, 200);
    assert.deepEqual([renamed.body.name, renamed.body.requiresManagerApproval], ['Mobile phones', true]);
    assert.equal((await admin.client.delete(`/api/v1/request-categories/${phones.body.id}`)).status, 204);
    isProblem(await admin.client.get(`/api/v1/request-categories/${phones.body.id}`), 404);
    const audit = (await admin.client.get(`/api/v1/audit?targetId=${phones.body.id}`)).body.items.map((e: any) => e.action);
    assert.deepEqual(audit.sort(), ['request_category.created', 'request_category.deleted', 'request_category.updated']);
  });

  test('categories of another tenant are not there', async () => {
    const other = await t.tenant();
    const outsider = await t.user(other.tenant, ['requester', 'admin']);
    isProblem(await outsider.client.get(`/api/v1/request-categories/${laptop.id}`), 404);
    isProblem(await outsider.client.patch(`/api/v1/request-categories/${laptop.id}`, { name: 'Mine now' }), 404);
    assert.equal((await outsider.client.get('/api/v1/request-categories')).body.items.length, 0);
    isProblem(await outsider.client.post('/api/v1/tickets', { type: 'request', title: 'x', categoryId: laptop.id }), 422);
  });

  test('a request in a category without approval goes to its team; categories are for requests only', async () => {
    const r = await raise(stranger.client, { type: 'request', title: 'Visio licence', categoryId: software.id });
    assert.deepEqual([r.status, r.category, r.categoryId, r.team?.id, r.approver], ['submitted', 'Software', software.id, workplace.id, null]);
    isProblem(await stranger.client.post('/api/v1/tickets', { type: 'incident', title: 'x', categoryId: software.id }), 422);
    isProblem(await stranger.client.post('/api/v1/tickets', { type: 'request', title: 'x', categoryId: software.id, category: 'Hardware' }), 422);
    // An agent's other edits keep the link; editing the category text relinks it by name, and starts no approval.
    assert.equal((await agent.client.patch(`/api/v1/tickets/${r.id}`, { title: 'Visio licence, two seats' })).body.categoryId, software.id);
    const free = await raise(stranger.client, { type: 'request', title: 'A desk lamp', category: 'Furniture' });
    assert.equal(free.categoryId, null);
    const linked = (await agent.client.patch(`/api/v1/tickets/${free.id}`, { category: 'new laptop' })).body;
    assert.deepEqual([linked.categoryId, linked.status, linked.approver], [laptop.id, 'submitted', null]);
    assert.equal((await agent.client.patch(`/api/v1/tickets/${free.id}`, { category: 'Furniture' })).body.categoryId, null);
  });
});

describe("manager approvals", () => {
  test('the manager from SCIM approves; the request goes on to the category team, paused SLA resumes, all recorded', async () => {
    const { manager, report } = await reportAndManager();
    const r = await raise(report.client, { type: 'request', title: 'A laptop for my new role', categoryId: laptop.id });
    assert.equal(r.status, 'awaiting_approval');
    assert.equal(r.approver.id, manager.id);
    assert.equal(r.team.id, workplace.id, 'the team is set at once');
    assert.equal(r.category, 'New laptop');
    assert.equal(r.sla.paused, true, 'the desk cannot act yet: its clock stands still');
    assert.equal(r.canApprove, false, 'not for the requester');
    assert.deepEqual(r.allowedTransitions, []);
    const asked = (await events(r.id, report.client)).find((e) => e.kind === 'approval_requested');
    assert.equal(asked.data.approverId, manager.id, 'the requester sees who was asked');

    // The manager's inbox, and only theirs.
    const inbox = (await manager.client.get('/api/v1/tickets?approver=me&status=awaiting_approval')).body.items;
    assert.deepEqual(inbox.map((x: any) => x.id), [r.id]);
    assert.equal(inbox[0].canApprove, true);
    assert.equal((await stranger.client.get('/api/v1/tickets?approver=me&status=awaiting_approval')).body.items.length, 0);
    assert.equal((await agent.client.get(`/api/v1/tickets/${r.id}`)).body.canApprove, false, 'not for an agent');
    // A manager's own portal list is their own tickets.
    assert.ok(!(await manager.client.get('/api/v1/tickets?requester=me')).body.items.some((x: any) => x.id === r.id));

    const res = await manager.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'approved', comment: 'Yes, the old one is five years old.' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'approved');
    assert.equal(res.body.team.id, workplace.id);
    assert.equal(res.body.sla.paused, false);
    assert.equal(res.body.canApprove, false);
    isProblem(await manager.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'rejected', comment: 'Changed my mind' }), 409);

    const seen = await events(r.id, report.client);
    const decision = seen.find((e) => e.kind === 'approval');
    assert.deepEqual([decision.actor.id, decision.data.decision, decision.data.comment], [manager.id, 'approved', 'Yes, the old one is five years old.']);
    assert.ok(seen.some((e) => e.kind === 'status_changed' && e.data.from === 'awaiting_approval' && e.data.to === 'approved'));
    const approvals = (await agent.client.get(`/api/v1/tickets/${r.id}/approvals`)).body.items;
    assert.deepEqual(approvals.map((a: any) => [a.approver.id, a.decision]), [[manager.id, 'approved']]);
    const audit = (await admin.client.get(`/api/v1/audit?action=request.approved&targetId=${r.id}`)).body.items;
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actorId, manager.id);

    // Fulfilment follows as for any request; the team works it.
    assert.deepEqual((await agent.client.get(`/api/v1/tickets/${r.id}`)).body.allowedTransitions, ['in_fulfilment', 'on_hold', 'fulfilled']);
    assert.equal((await agent.client.post(`/api/v1/tickets/${r.id}/status`, { status: 'in_fulfilment' })).status, 200);
    assert.equal((await manager.client.get(`/api/v1/tickets/${r.id}`)).status, 200, 'the manager still sees what they decided');
  });

  test('nobody else decides: the requester, an agent, an administrator, a change manager get 403; someone unrelated 404; nothing changes', async () => {
    const { manager, report } = await reportAndManager();
    const r = await raise(report.client, { type: 'request', title: 'Laptop please', categoryId: laptop.id });
    const before = await state(r.id);
    for (const [who, client] of [['requester', report.client], ['agent', agent.client], ['admin', admin.client], ['change manager', cm.client]] as const) {
      for (const decision of ['approved', 'rejected']) {
        const res = await client.post(`/api/v1/tickets/${r.id}/approvals`, { decision, comment: 'on their behalf' });
        isProblem(res, 403);
        assert.equal(res.body.code, 'forbidden', who);
      }
    }
    // Someone who cannot see the request is not told it exists.
    isProblem(await stranger.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'approved', comment: 'me too' }), 404);
    isProblem(await stranger.client.get(`/api/v1/tickets/${r.id}`), 404);
    // A status change is no way round the decision, not even for the desk.
    isProblem(await agent.client.post(`/api/v1/tickets/${r.id}/status`, { status: 'in_fulfilment' }), 409);
    assert.deepEqual(await state(r.id), before, 'nothing changed');
    assert.equal((await admin.client.get(`/api/v1/audit?targetId=${r.id}`)).body.items.length, 0);
    // Bad input from the manager is refused too, and changes nothing.
    isProblem(await manager.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'maybe', comment: 'hmm' }), 400);
    isProblem(await manager.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'approved', comment: '  ' }), 400);
    assert.deepEqual(await state(r.id), before);
  });

  test('a manager named by externalId is found too', async () => {
    const manager = await t.user(tt.tenant, ['requester']);
    const report = await t.user(tt.tenant, ['requester']);
    assert.equal((await scim.call('PATCH', `/Users/${manager.id}`, patch({ op: 'replace', path: 'externalId', value: 'EMP-4242' }))).status, 200);
    await setManager(report.id, 'EMP-4242');
    const r = await raise(report.client, { type: 'request', title: 'laptop', categoryId: laptop.id });
    assert.equal(r.approver?.id, manager.id);
  });

  test('no manager: the request goes to the team with a note saying so', async () => {
    const loner = await t.user(tt.tenant, ['requester']);
    const r = await raise(loner.client, { type: 'request', title: 'A laptop', categoryId: laptop.id });
    assert.deepEqual([r.status, r.approver, r.team?.id, r.sla.paused], ['submitted', null, workplace.id, false]);
    const note = (await events(r.id)).find((e) => e.kind === 'approval_skipped');
    assert.ok(note, 'the desk gets the note');
    assert.equal(note.actor, null);
    assert.match(note.data.note, /^No manager approval: .*no manager/);
    assert.ok(!(await events(r.id, loner.client)).some((e) => e.kind === 'approval_skipped'), 'a note for the desk');
    assert.deepEqual((await agent.client.get(`/api/v1/tickets/${r.id}`)).body.allowedTransitions, ['in_fulfilment', 'on_hold', 'fulfilled']);
    isProblem(await admin.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'approved', comment: 'x' }), 409);
  });

  test('a directory naming the person as their own manager: nobody approves their own request', async () => {
    const selfish = await t.user(tt.tenant, ['requester']);
    await setManager(selfish.id, selfish.id);
    const r = await raise(selfish.client, { type: 'request', title: 'A laptop', categoryId: laptop.id });
    assert.deepEqual([r.status, r.approver, r.team?.id], ['submitted', null, workplace.id]);
    const note = (await events(r.id)).find((e) => e.kind === 'approval_skipped');
    assert.match(note.data.note, /names this person as their own manager/);
    isProblem(await selfish.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'approved', comment: 'me' }), 409); // nothing waits for approval
  });

  test('a manager without an active account: to the team, with a note', async () => {
    const { manager, report } = await reportAndManager();
    assert.equal((await admin.client.patch(`/api/v1/users/${manager.id}`, { status: 'disabled' })).status, 200);
    const r = await raise(report.client, { type: 'request', title: 'A laptop', categoryId: laptop.id });
    assert.deepEqual([r.status, r.approver, r.team?.id], ['submitted', null, workplace.id]);
    const note = (await events(r.id)).find((e) => e.kind === 'approval_skipped');
    assert.match(note.data.note, new RegExp(`^No manager approval: .*${manager.email.replace(/[.]/g, '\\.')}.*no active Keydesk account`));

    const ghost = await t.user(tt.tenant, ['requester']);
    await setManager(ghost.id, 'nobody-we-know@elsewhere.test');
    const g = await raise(ghost.client, { type: 'request', title: 'A laptop', categoryId: laptop.id });
    assert.equal(g.status, 'submitted');
    assert.match((await events(g.id)).find((e) => e.kind === 'approval_skipped').data.note, /nobody-we-know@elsewhere\.test.*no Keydesk account/);
  });

  test('typing the category name is no way round the approval', async () => {
    const { manager, report } = await reportAndManager();
    const r = await raise(report.client, { type: 'request', title: 'laptop', category: 'new LAPTOP' });
    assert.deepEqual([r.status, r.approver?.id, r.categoryId, r.category], ['awaiting_approval', manager.id, laptop.id, 'New laptop']);
    // Nor is a name that only looks the same: full-width letters, a zero-width space, a soft hyphen, doubled spaces.
    for (const look of ['Ｎew laptop', 'New\u200b laptop', 'New lap\u00adtop', ' New   laptop ', 'New lap\u200dtop', 'New\u034f laptop', 'New\u3164 laptop', 'New laptop\ufe0f']) {
      const again = await raise(report.client, { type: 'request', title: 'laptop', category: look });
      assert.deepEqual([again.status, again.categoryId, again.category], ['awaiting_approval', laptop.id, 'New laptop'], JSON.stringify(look));
    }
  });

  test('a category or team name that only looks like another is the same name; an invisible one is no name', async () => {
    for (const name of ['Ｓoftware', 'Soft\u200bware', 'soft\u00adware']) {
      isProblem(await admin.client.post('/api/v1/request-categories', { name, teamId: workplace.id }), 409);
    }
    isProblem(await admin.client.post('/api/v1/teams', { name: 'Work\u2060place' }), 409);
    for (const name of ['\u00ad', '\u200e\u200f', '\u202e', '\u3164', '\u115f\u1160']) {
      isProblem(await admin.client.post('/api/v1/request-categories', { name, teamId: workplace.id }), 400);
      isProblem(await admin.client.post('/api/v1/teams', { name }), 400);
    }
    const made = await admin.client.post('/api/v1/request-categories', { name: '  Ｍonitors\u200b  and   docks ', teamId: workplace.id });
    assert.equal(made.status, 201);
    assert.equal(made.body.name, 'Monitors and docks', 'stored as it is compared');
    assert.equal((await admin.client.delete(`/api/v1/request-categories/${made.body.id}`)).status, 204);
  });

  test('rejection closes the request with the reason, which the requester sees', async () => {
    const { manager, report } = await reportAndManager();
    const r = await raise(report.client, { type: 'request', title: 'A second laptop', categoryId: laptop.id });
    const res = await manager.client.post(`/api/v1/tickets/${r.id}/approvals`, { decision: 'rejected', comment: 'You got one last month.' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'closed');
    assert.ok(res.body.closedAt);
    assert.deepEqual(res.body.allowedTransitions, []);
    const seen = await events(r.id, report.client);
    const decision = seen.find((e) => e.kind === 'approval');
    assert.deepEqual([decision.data.decision, decision.data.comment], ['rejected', 'You got one last month.']);
    assert.ok(seen.some((e) => e.kind === 'status_changed' && e.data.to === 'closed'));
    const audit = (await admin.client.get(`/api/v1/audit?action=request.rejected&targetId=${r.id}`)).body.items;
    assert.equal(audit.length, 1);
    assert.equal(audit[0].details.comment, 'You got one last month.');
    isProblem(await report.client.post(`/api/v1/tickets/${r.id}/comments`, { body: 'but why' }), 409);
  });

  test('a manager who leaves before deciding: the request goes on to the team, with a note', async () => {
    const { manager, report } = await reportAndManager();
    const r = await raise(report.client, { type: 'request', title: 'laptop', categoryId: laptop.id });
    assert.equal((await scim.call('PATCH', `/Users/${manager.id}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
    const now = (await agent.client.get(`/api/v1/tickets/${r.id}`)).body;
    assert.deepEqual([now.status, now.approver, now.team.id, now.sla.paused], ['submitted', null, workplace.id, false]);
    const note = (await events(r.id)).find((e) => e.kind === 'approval_skipped');
    assert.match(note.data.note, /^No manager approval: .* was deactivated by SCIM before deciding\.$/);
    assert.equal((await admin.client.get(`/api/v1/audit?action=tickets.approvals_skipped&targetId=${manager.id}`)).body.items[0].details.count, 1);
  });
});
