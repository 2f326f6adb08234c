/**
 * Governed identity configuration (issue 11): with four eyes on, an admin's change to role rules,
 * enforcement or connections becomes a change ticket and takes effect only when another person,
 * a change manager, approves it; break-glass stays possible and audited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { eventually } from './helpers/receiver.js';
import { makeKeyPair } from './helpers/saml-forge.js';

const CERT = makeKeyPair('Governance test IdP').cert;

let t: TestApp;
let tt: TestTenant;
let asker: Awaited<ReturnType<TestApp['user']>>;
let approver: Awaited<ReturnType<TestApp['user']>>;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  // The admin who asks is also a change manager: four eyes still means someone else.
  asker = await t.user(tt.tenant, ['admin', 'change_manager']);
  approver = await t.user(tt.tenant, ['change_manager']);
});
after(() => t.close());

const rules = async () => (await asker.client.get('/api/v1/sso/role-rules')).body.items as { id: string; groupRef: string }[];
const change = async (id: string) => ((await asker.client.get('/api/v1/governance')).body.changes as { id: string; status: string; error: string | null; ticket: { ref: string; status: string } }[]).find((c) => c.id === id)!;

describe('four eyes on identity configuration', () => {
  test('turning it on takes effect at once; a rule then waits for another change manager', async () => {
    const on = await asker.client.put('/api/v1/governance', { enabled: true });
    assert.equal(on.status, 200);
    assert.equal(on.body.enabled, true);

    const asked = await asker.client.post('/api/v1/sso/role-rules', { groupRef: 'IT Admins', role: 'admin' });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const pending = asked.body.pendingChange;
    assert.equal(pending.status, 'pending');
    assert.match(pending.ticket.ref, /^CHG\d+$/);
    assert.equal(pending.ticket.status, 'awaiting_approval');
    assert.match(pending.summary, /members of "IT Admins" get the admin role/);
    assert.deepEqual(await rules(), [], 'nothing changed yet');

    const own = await asker.client.post(`/api/v1/tickets/${pending.ticket.ref}/approvals`, { decision: 'approved', comment: 'fine by me' });
    assert.equal(own.status, 403, 'the admin who asked cannot approve');
    assert.equal((await change(pending.id)).status, 'pending');

    const ok = await approver.client.post(`/api/v1/tickets/${pending.ticket.ref}/approvals`, { decision: 'approved', comment: 'Reviewed with IT' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const applied = await eventually(async () => {
      const c = await change(pending.id);
      return c.status === 'applied' ? c : null;
    }, 10_000, 'the change to be applied');
    assert.equal(applied.ticket.status, 'closed');
    assert.deepEqual((await rules()).map((r) => r.groupRef), ['IT Admins']);
    const actions = (await asker.client.get('/api/v1/audit?action=governance')).body.items.map((a: { action: string }) => a.action);
    assert.deepEqual(actions.slice(0, 3), ['governance.change_applied', 'governance.change_approved', 'governance.change_requested']);
  });

  test('what could not apply is refused at once and files nothing', async () => {
    const before = (await asker.client.get('/api/v1/governance')).body.changes.length;
    const dup = await asker.client.post('/api/v1/sso/role-rules', { groupRef: 'it admins', role: 'admin' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.type, 'urn:keydesk:problem:rule_exists');
    const noBreakGlass = await asker.client.put('/api/v1/sso/enforcement', { enforced: true });
    assert.equal(noBreakGlass.status, 409, 'enforcement without a tested connection and break-glass admin is refused as before');
    assert.equal((await asker.client.get('/api/v1/governance')).body.changes.length, before);
  });

  test('a rejection discards the change; withdrawing closes it; turning governance off is itself governed', async () => {
    const [rule] = await rules();
    const asked = (await asker.client.delete(`/api/v1/sso/role-rules/${rule!.id}`)).body.pendingChange;
    const no = await approver.client.post(`/api/v1/tickets/${asked.ticket.ref}/approvals`, { decision: 'rejected', comment: 'Not during the audit' });
    assert.equal(no.status, 200);
    assert.equal((await change(asked.id)).status, 'rejected');
    assert.equal((await rules()).length, 1, 'the rule stays');

    const off = await asker.client.put('/api/v1/governance', { enabled: false });
    assert.equal(off.status, 202);
    assert.equal((await asker.client.get('/api/v1/governance')).body.enabled, true);
    const withdrawn = await asker.client.post(`/api/v1/governance/changes/${off.body.pendingChange.id}/withdraw`, {});
    assert.equal(withdrawn.status, 200);
    assert.equal(withdrawn.body.status, 'rejected');
    assert.equal(withdrawn.body.ticket.status, 'closed');
    assert.equal((await asker.client.post(`/api/v1/governance/changes/${off.body.pendingChange.id}/withdraw`, {})).status, 409);
  });

  test('a break-glass administrator acts at once, audited; an approved change that no longer applies fails with its reason', async () => {
    const [rule] = await rules();
    const asked = (await asker.client.delete(`/api/v1/sso/role-rules/${rule!.id}`)).body.pendingChange;
    const glass = await t.user(tt.tenant, ['admin']);
    await t.db.query('UPDATE users SET break_glass = true WHERE id = $1', [glass.id]);
    const now = await glass.client.delete(`/api/v1/sso/role-rules/${rule!.id}`);
    assert.equal(now.status, 204);
    assert.deepEqual(await rules(), []);
    const bypass = (await asker.client.get('/api/v1/audit?action=governance.bypassed')).body.items[0];
    assert.equal(bypass.actorId, glass.id);
    assert.match(bypass.details.summary, /remove the rule/);

    assert.equal((await approver.client.post(`/api/v1/tickets/${asked.ticket.ref}/approvals`, { decision: 'approved', comment: 'ok' })).status, 200);
    const failed = await eventually(async () => {
      const c = await change(asked.id);
      return c.status === 'failed' ? c : null;
    }, 10_000, 'the change to fail');
    assert.match(failed.error!, /Rule not found|not found/i);
    const events = (await asker.client.get(`/api/v1/tickets/${asked.ticket.ref}/events`)).body.items.map((e: { kind: string }) => e.kind);
    assert.ok(events.includes('governed_change_failed'), events.join(','));
  });

  test('the ways round four eyes are governed too: making an approver, a bypass, a SCIM token, a published connection, a rewritten ticket', async () => {
    const sock = await asker.client.post('/api/v1/users', { email: 'sock@example.com', displayName: 'Sock', roles: ['change_manager'], password: 'a-long-sock-password-1' });
    assert.equal(sock.status, 202, 'a new change manager is an approver: governed');
    assert.equal((await t.db.query(`SELECT 1 FROM users WHERE email = 'sock@example.com'`)).length, 0);
    const plain = await asker.client.post('/api/v1/users', { email: 'plain@example.com', displayName: 'Plain', roles: ['requester'] });
    assert.equal(plain.status, 201, 'a requester is not');
    const promote = await asker.client.put(`/api/v1/users/${plain.body.id}/roles`, { roles: ['requester', 'admin'] });
    assert.equal(promote.status, 202);
    assert.match(promote.body.pendingChange.summary, /give admin to plain@example\.com/);
    const self = await asker.client.patch(`/api/v1/users/${asker.id}`, { breakGlass: true });
    assert.equal(self.status, 202, 'becoming break-glass (the bypass) is governed');
    assert.equal((await t.db.query<{ break_glass: boolean }>('SELECT break_glass FROM users WHERE id = $1', [asker.id]))[0]!.break_glass, false);
    const rename = await asker.client.patch(`/api/v1/users/${plain.body.id}`, { displayName: 'Plainer' });
    assert.equal(rename.status, 200, 'a rename is not');

    const token = await asker.client.post('/api/v1/provisioning/credentials', { kind: 'token' });
    assert.equal(token.status, 409);
    assert.equal(token.body.code, 'governed');
    assert.match(token.body.detail, /keydesk scim token create/);
    const conn = await asker.client.post('/api/v1/sso/connections', { slug: 'evil', entityId: 'https://evil.example/idp', ssoUrl: 'https://evil.example/sso', certificates: [CERT], publish: true });
    assert.equal(conn.status, 409);
    assert.match(conn.body.detail, /Create it without publishing/);
    assert.equal((await t.db.query(`SELECT 1 FROM sso_connections WHERE slug = 'evil'`)).length, 0);

    const ref = sock.body.pendingChange.ticket.ref;
    const rewrite = await asker.client.patch(`/api/v1/tickets/${ref}`, { title: 'Identity configuration: nothing to see' });
    assert.equal(rewrite.status, 409);
    assert.equal(rewrite.body.code, 'governed_change');
    for (const c of [sock, promote, self]) await asker.client.post(`/api/v1/governance/changes/${c.body.pendingChange.id}/withdraw`, {});
  });

  test('four eyes cannot be turned on without someone else to approve', async () => {
    const lone = await t.tenant();
    const c = t.client();
    await c.signIn(lone.tenant.slug, lone.adminEmail, lone.adminPassword);
    const r = await c.put('/api/v1/governance', { enabled: true });
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'no_approver');
    assert.equal((await c.get('/api/v1/governance')).body.enabled, false);
  });

  test('a requester or agent cannot see or change governance', async () => {
    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.get('/api/v1/governance')).status, 403);
    assert.equal((await approver.client.get('/api/v1/governance')).status, 200, 'change managers read what they approve');
    assert.equal((await approver.client.put('/api/v1/governance', { enabled: false })).status, 403);
    assert.equal((await agent.client.put('/api/v1/governance', { enabled: false })).status, 403);
    assert.equal((await asker.client.put('/api/v1/governance', { enabled: 'no' })).status, 400);
  });
});
