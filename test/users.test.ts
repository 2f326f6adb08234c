import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeKeyPair } from './helpers/saml-forge.js';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';

let t: TestApp;
let tt: TestTenant;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
});
after(() => t.close());

describe('people and roles', () => {
  test('an admin creates a local user; email is unique case-insensitively', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const res = await admin.client.post('/api/v1/users', { email: 'Pat@Example.test', displayName: 'Pat', roles: ['requester', 'agent'] });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.roles.sort(), ['agent', 'requester']);
    assert.equal(res.body.source, 'local');
    const dup = await admin.client.post('/api/v1/users', { email: 'pat@example.TEST', displayName: 'Pat 2', roles: [] });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'user_exists');
  });

  test('only admins manage people; agents may look them up; requesters may not', async () => {
    const agent = await t.user(tt.tenant, ['agent']);
    const requester = await t.user(tt.tenant, ['requester']);
    assert.equal((await agent.client.post('/api/v1/users', { email: 'z@x.test', displayName: 'Z', roles: [] })).status, 403);
    assert.equal((await agent.client.put(`/api/v1/users/${requester.id}/roles`, { roles: ['admin'] })).status, 403);
    assert.equal((await agent.client.get('/api/v1/users?role=agent')).status, 200);
    assert.equal((await requester.client.get('/api/v1/users')).status, 403);
    assert.equal((await requester.client.put(`/api/v1/users/${requester.id}/roles`, { roles: ['admin'] })).status, 403);
    assert.deepEqual((await requester.client.get(`/api/v1/users/${requester.id}`)).body.roles, ['requester']);
  });

  test('each grant records who gave it; role changes are audited', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const u = await t.user(tt.tenant, ['requester']);
    const res = await admin.client.put(`/api/v1/users/${u.id}/roles`, { roles: ['requester', 'agent'] });
    assert.equal(res.status, 200);
    const detail = (await admin.client.get(`/api/v1/users/${u.id}`)).body;
    const agentGrant = detail.grants.find((g: any) => g.role === 'agent');
    assert.equal(agentGrant.origin, 'person');
    assert.equal(agentGrant.grantedBy, admin.id);
    const audit = (await admin.client.get('/api/v1/audit?action=user.roles_changed')).body.items;
    assert.ok(audit.some((e: any) => e.targetId === u.id && e.details.added.includes('agent') && e.actorId === admin.id));
  });

  test('rule grants survive a person editing roles', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const u = await t.user(tt.tenant, ['requester']);
    const [rule] = await t.db.query<{ id: string }>(
      `INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, 'grp-agents', 'agent') RETURNING id`,
      [tt.tenant.id],
    );
    const ruleId = rule!.id;
    await t.db.query(
      `INSERT INTO role_grants (tenant_id, user_id, role, origin, rule_id, group_ref) VALUES ($1, $2, 'agent', 'rule', $3, 'grp-agents')`,
      [tt.tenant.id, u.id, ruleId],
    );
    await admin.client.put(`/api/v1/users/${u.id}/roles`, { roles: [] });
    const detail = (await admin.client.get(`/api/v1/users/${u.id}`)).body;
    assert.deepEqual(detail.roles, ['agent']);
    assert.equal(detail.grants[0].origin, 'rule');
    assert.equal(detail.grants[0].groupRef, 'grp-agents');
  });

  test('granting a role lets a waiting user in', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const u = await t.user(tt.tenant, []);
    await t.db.query(`UPDATE users SET status = 'waiting' WHERE tenant_id = $1 AND id = $2`, [tt.tenant.id, u.id]);
    assert.equal((await u.client.get('/api/v1/session')).status, 401, 'waiting users act on nothing');
    const res = await admin.client.put(`/api/v1/users/${u.id}/roles`, { roles: ['requester'] });
    assert.equal(res.body.status, 'active');
  });

  test('the last active admin can be neither demoted nor disabled, and the refusal changes nothing', async () => {
    const solo = await t.tenant();
    const admins = (await t.db.query<{ id: string }>(
      `SELECT user_id AS id FROM role_grants WHERE tenant_id = $1 AND role = 'admin'`,
      [solo.tenant.id],
    ));
    assert.equal(admins.length, 1);
    const me = await t.user(solo.tenant, ['admin']);
    // Two admins: demoting the first is fine.
    assert.equal((await me.client.put(`/api/v1/users/${solo.adminId}/roles`, { roles: ['requester'] })).status, 200);
    // Now `me` is the last one.
    const demote = await me.client.put(`/api/v1/users/${me.id}/roles`, { roles: ['requester'] });
    assert.equal(demote.status, 409);
    assert.equal(demote.body.code, 'last_admin');
    const disable = await me.client.patch(`/api/v1/users/${me.id}`, { status: 'disabled' });
    assert.equal(disable.status, 409);
    const after = (await me.client.get(`/api/v1/users/${me.id}`)).body;
    assert.equal(after.status, 'active');
    assert.ok(after.roles.includes('admin'));
  });
});

describe('teams', () => {
  test('create, rename and set members in one change; names are unique', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const a = await t.user(tt.tenant, ['agent']);
    const team = await admin.client.post('/api/v1/teams', { name: 'Desk', memberIds: [a.id] });
    assert.equal(team.status, 201);
    assert.equal((await admin.client.post('/api/v1/teams', { name: 'desk' })).status, 409);
    const other = await admin.client.post('/api/v1/teams', { name: 'Other' });
    // Renaming into a taken name while also changing members fails whole: the members stay.
    const clash = await admin.client.patch(`/api/v1/teams/${team.body.id}`, { name: 'Other', memberIds: [] });
    assert.equal(clash.status, 409);
    assert.deepEqual((await admin.client.get(`/api/v1/teams/${team.body.id}`)).body.members.map((m: any) => m.id), [a.id]);
    const ok = await admin.client.patch(`/api/v1/teams/${team.body.id}`, { name: 'Service Desk', memberIds: [] });
    assert.equal(ok.body.name, 'Service Desk');
    assert.equal(ok.body.members.length, 0);
    assert.equal(other.status, 201);
  });
});

describe('audit log', () => {
  test('admins filter it by action family and outcome; others cannot read it', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const agent = await t.user(tt.tenant, ['agent']);
    await t.client().signIn(tt.tenant.slug, 'ghost@x.test', 'nope-nope');
    const fails = (await admin.client.get('/api/v1/audit?action=signin&outcome=failure')).body.items;
    assert.ok(fails.length >= 1);
    assert.ok(fails.every((e: any) => e.action.startsWith('signin.') && e.outcome === 'failure'));
    assert.equal(fails[0].reason, 'unknown_user');
    assert.equal((await agent.client.get('/api/v1/audit')).status, 403);
    const page1 = (await admin.client.get('/api/v1/audit?limit=2')).body;
    const page2 = (await admin.client.get(`/api/v1/audit?limit=2&cursor=${page1.nextCursor}`)).body;
    assert.ok(page2.items[0].id < page1.items[1].id);
  });

  test('targets are named: the person, the team, the connection; a deleted one as the event recorded it', async () => {
    const admin = await t.user(tt.tenant, ['requester', 'admin']);
    const person = await t.user(tt.tenant, ['requester']);
    await admin.client.put(`/api/v1/users/${person.id}/roles`, { roles: ['requester', 'agent'] });
    const team = (await admin.client.post('/api/v1/teams', { name: 'Field Service' })).body;
    const conn = (await admin.client.post('/api/v1/sso/connections', { slug: 'named', displayName: 'Contoso Entra', entityId: 'https://sts.windows.net/named/', ssoUrl: 'https://idp.example/sso', certificates: [makeKeyPair().cert] })).body;
    assert.equal((await admin.client.delete(`/api/v1/sso/connections/${conn.id}`)).status, 204);
    const items = (await admin.client.get('/api/v1/audit?limit=20')).body.items;
    const label = (action: string, id: string) => items.find((e: any) => e.action === action && e.targetId === id)?.targetLabel;
    const shown = (await admin.client.get(`/api/v1/users/${person.id}`)).body.displayName;
    assert.equal(label('user.roles_changed', person.id), `${shown} <${person.email}>`);
    assert.equal(label('team.created', team.id), 'Field Service');
    assert.equal(label('sso.connection_created', conn.id), 'named', 'gone: the slug the event recorded');
  });

  test('a request category, a signed-out session and a ticket are named too, never a bare id', async () => {
    const admin = await t.user(tt.tenant, ['requester', 'admin']);
    const team = (await admin.client.post('/api/v1/teams', { name: 'Workplace labels' })).body;
    const category = (await admin.client.post('/api/v1/request-categories', { name: 'Monitors', teamId: team.id })).body;
    assert.equal((await admin.client.patch(`/api/v1/request-categories/${category.id}`, { description: 'Second screens' })).status, 200);
    const leaver = await t.user(tt.tenant, ['requester']);
    assert.equal((await leaver.client.delete('/api/v1/session')).status < 300, true);
    const items = (await admin.client.get('/api/v1/audit?limit=50')).body.items;
    const label = (action: string, id?: string) => items.find((e: any) => e.action === action && (id === undefined || e.targetId === id))?.targetLabel;
    assert.equal(label('request_category.updated', category.id), 'Monitors', 'an update records only what changed, yet is named');
    const shown = (await admin.client.get(`/api/v1/users/${leaver.id}`)).body.displayName;
    assert.equal(items.find((e: any) => e.action === 'signout' && e.actorId === leaver.id)?.targetLabel, `session of ${shown} <${leaver.email}>`);
    // A ticket's events show its reference and title.
    const [ticket] = await t.db.query<{ id: string }>(
      `INSERT INTO tickets (tenant_id, type, number, title, status, requester_id, impact, urgency, priority)
       VALUES ($1, 'change', 4242, 'Rotate the VPN certificate', 'new', $2, 2, 2, 3) RETURNING id`,
      [tt.tenant.id, admin.id],
    );
    await t.db.query(`INSERT INTO audit_events (tenant_id, actor_label, action, outcome, target_type, target_id) VALUES ($1, 'test', 'change.approved', 'success', 'ticket', $2)`, [tt.tenant.id, ticket!.id]);
    const approved = (await admin.client.get('/api/v1/audit?action=change.approved')).body.items;
    assert.equal(approved[0].targetLabel, 'CHG004242 Rotate the VPN certificate');
  });
});
