import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { makeKeyPair } from './helpers/saml-forge.js';
import { newUser, scimClient, patch } from './helpers/scim.js';

/**
 * With single sign-on enforced, no change may leave the tenant without an active break-glass
 * administrator who has a password. Each attempt is refused with the way out, and changes nothing.
 */
let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
  const keys = makeKeyPair();
  const conn = await admin.client.post('/api/v1/sso/connections', { slug: 'entra', publish: true, entityId: 'https://sts.windows.net/x/', ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert] });
  assert.equal(conn.status, 201, JSON.stringify(conn.body));
  // A passed test sign-in is what enforcement needs; sso-admin.test.ts drives a real one.
  await t.db.query('UPDATE sso_connections SET test_passed_at = now() WHERE tenant_id = $1', [tt.tenant.id]);
  const on = await admin.client.put('/api/v1/sso/enforcement', { enforced: true });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.deepEqual(on.body.breakGlass.map((b: any) => b.email), [tt.adminEmail]);
});
after(() => t.close());

const userOf = async (id: string) => (await admin.client.get(`/api/v1/users/${id}`)).body;

/** The request is refused as a lock-out, with the way out, and the person is as before. */
async function refusedUnchanged(userId: string, send: () => Promise<{ status: number; body: any }>) {
  const before = await userOf(userId);
  const r = await send();
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.code, 'break_glass_required');
  assert.match(r.body.detail, /Mark another administrator as break-glass first, or lift enforcement/);
  assert.deepEqual(await userOf(userId), before, 'nothing changed');
}

describe('the only break-glass administrator of an enforced tenant', () => {
  test('cannot be unticked as break-glass, disabled, or lose the admin role', async () => {
    await refusedUnchanged(tt.adminId, () => admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: false }));
    await refusedUnchanged(tt.adminId, () => admin.client.patch(`/api/v1/users/${tt.adminId}`, { status: 'disabled' }));
    await refusedUnchanged(tt.adminId, () => admin.client.put(`/api/v1/users/${tt.adminId}/roles`, { roles: ['requester'] }));
  });

  test('cannot lose an admin role that came from a rule, by deleting the rule', async () => {
    // The first admin's own grant is `system`; here a second break-glass admin holds admin only by a rule.
    const rule = await admin.client.post('/api/v1/sso/role-rules', { groupRef: 'Keydesk Admins', role: 'admin' });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const made = await admin.client.post('/api/v1/users', { email: 'glass2@example.test', displayName: 'Glass Two', password: 'a-long-enough-password', roles: ['requester'], breakGlass: true });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await t.db.query(`INSERT INTO role_grants (tenant_id, user_id, role, origin, rule_id, group_ref) VALUES ($1, $2, 'admin', 'rule', $3, 'Keydesk Admins')`, [tt.tenant.id, made.body.id, rule.body.id]);
    // Now the first admin may step down as break-glass: the second one remains.
    assert.equal((await admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: false })).status, 200);
    const del = await admin.client.delete(`/api/v1/sso/role-rules/${rule.body.id}`);
    assert.equal(del.status, 409);
    assert.equal(del.body.code, 'break_glass_required');
    assert.equal((await admin.client.get('/api/v1/sso/role-rules')).body.items.length, 1, 'the rule is still there');
    assert.ok((await admin.client.get(`/api/v1/users/${made.body.id}`)).body.roles.includes('admin'));
    // Back to the first admin as the break-glass account.
    assert.equal((await admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: true })).status, 200);
    assert.equal((await admin.client.delete(`/api/v1/sso/role-rules/${rule.body.id}`)).status, 204);
  });

  test('is never judged through a group: a new rule matching a stale sign-in claim leaves their rule-given admin role alone', async () => {
    const rule = await admin.client.post('/api/v1/sso/role-rules', { groupRef: 'KD Admins', role: 'admin' });
    const bob = await admin.client.post('/api/v1/users', { email: 'bob@example.test', displayName: 'Bob', password: 'bobs-long-password', roles: ['requester'] });
    await t.db.query(`INSERT INTO role_grants (tenant_id, user_id, role, origin, rule_id, group_ref) VALUES ($1, $2, 'admin', 'rule', $3, 'KD Admins')`, [tt.tenant.id, bob.body.id, rule.body.id]);
    await t.db.query(`UPDATE users SET signin_groups = '{All Staff}' WHERE tenant_id = $1 AND id = $2`, [tt.tenant.id, bob.body.id]);
    assert.equal((await admin.client.patch(`/api/v1/users/${bob.body.id}`, { breakGlass: true })).status, 200);
    assert.equal((await admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: false })).status, 200, 'Bob is the break-glass admin now');
    assert.equal((await admin.client.post('/api/v1/sso/role-rules', { groupRef: 'All Staff', role: 'agent' })).status, 201);
    assert.deepEqual((await userOf(bob.body.id)).roles, ['admin', 'requester']);
    // Back as it was for the other tests.
    assert.equal((await admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: true })).status, 200);
    assert.equal((await admin.client.patch(`/api/v1/users/${bob.body.id}`, { breakGlass: false })).status, 200);
    await t.db.query('DELETE FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin = $3', [tt.tenant.id, bob.body.id, 'rule']);
  });

  test('an enforced tenant keeps a live connection: the last one cannot be unpublished, disabled or deleted', async () => {
    for (const [send, what] of [
      [() => admin.client.patch('/api/v1/sso/connections/entra', { published: false }), 'unpublish'],
      [() => admin.client.patch('/api/v1/sso/connections/entra', { enabled: false }), 'disable'],
      [() => admin.client.delete('/api/v1/sso/connections/entra'), 'delete'],
      // Another identity provider would send everyone to an untested one: it goes back to testing, which is refused here.
      [() => admin.client.patch('/api/v1/sso/connections/entra', { entityId: 'https://sts.windows.net/other/', ssoUrl: 'https://login.microsoftonline.com/other/saml2', certificates: [makeKeyPair().cert] }), 'replace the IdP'],
    ] as const) {
      const before = (await admin.client.get('/api/v1/sso/connections/entra')).body;
      const r = await send();
      assert.equal(r.status, 409, what);
      assert.equal(r.body.code, 'connection_required', what);
      assert.match(r.body.detail, /add it as a second connection and test it .* or lift enforcement/);
      assert.deepEqual((await admin.client.get('/api/v1/sso/connections/entra')).body, before, `${what}: nothing changed`);
    }
    const c = (await admin.client.get('/api/v1/sso/connections/entra')).body;
    assert.deepEqual([c.enabled, c.live], [true, true]);
  });

  test('cannot be deactivated or deleted through SCIM: break-glass accounts are outside its reach', async () => {
    const scim = await scimClient(t, tt.tenant);
    for (const r of [await scim.call('PATCH', `Users/${tt.adminId}`, patch({ op: 'replace', path: 'active', value: false })), await scim.call('DELETE', `Users/${tt.adminId}`)]) {
      assert.equal(r.status, 404);
      // The provisioning log in Entra or Okta says why, and what to do instead.
      assert.match(r.body.detail, /is a break-glass account, which SCIM does not manage.*clears "Break-glass account"/);
    }
    assert.equal((await scim.call('POST', 'Users', newUser(tt.adminEmail))).status, 409);
    assert.equal((await userOf(tt.adminId)).status, 'active');
  });

  test('can step down once another break-glass administrator with a password exists, or enforcement is lifted', async () => {
    const other = await admin.client.post('/api/v1/users', { email: 'glass3@example.test', displayName: 'Glass Three', password: 'another-long-password', roles: ['requester', 'admin'], breakGlass: true });
    assert.equal(other.status, 201);
    assert.equal((await admin.client.patch(`/api/v1/users/${tt.adminId}`, { breakGlass: false })).status, 200);
    await refusedUnchanged(other.body.id, () => admin.client.patch(`/api/v1/users/${other.body.id}`, { status: 'disabled' }));
    assert.equal((await admin.client.put('/api/v1/sso/enforcement', { enforced: false })).status, 200);
    assert.equal((await admin.client.patch(`/api/v1/users/${other.body.id}`, { status: 'disabled' })).status, 200);
  });
});

describe('turning enforcement on', () => {
  test('ends the password sessions of everyone but break-glass accounts, and says how many first', async () => {
    const other = await t.tenant();
    const glass = t.client();
    assert.equal((await glass.signIn(other.tenant.slug, other.adminEmail, other.adminPassword)).status, 200);
    const withPassword = async (email: string, roles: string[]) => {
      const made = await glass.post('/api/v1/users', { email, displayName: email, password: 'a-long-enough-password', roles });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      await t.db.query('UPDATE users SET password_change_required = false WHERE tenant_id = $1 AND id = $2', [other.tenant.id, made.body.id]);
      const c = t.client();
      assert.equal((await c.signIn(other.tenant.slug, email, 'a-long-enough-password')).status, 200);
      return c;
    };
    const agent = await withPassword('agent@lock.test', ['requester', 'agent']);
    const secondAdmin = await withPassword('admin2@lock.test', ['requester', 'admin']);
    await glass.post('/api/v1/sso/connections', { slug: 'entra', publish: true, entityId: 'https://sts.windows.net/y/', ssoUrl: 'https://login.microsoftonline.com/y/saml2', certificates: [makeKeyPair().cert] });
    await t.db.query('UPDATE sso_connections SET test_passed_at = now() WHERE tenant_id = $1', [other.tenant.id]);
    const state = (await secondAdmin.get('/api/v1/sso/enforcement')).body;
    assert.equal(state.passwordSessions, 2, 'the confirmation can say how many end');
    const on = await secondAdmin.put('/api/v1/sso/enforcement', { enforced: true });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    // The people who signed in with a password are out, the admin who enforced included; the break-glass admin is not.
    assert.equal((await agent.get('/api/v1/session')).status, 401);
    assert.equal((await secondAdmin.get('/api/v1/session')).status, 401);
    assert.equal((await glass.get('/api/v1/session')).status, 200);
    const [event] = await t.db.query<{ details: { passwordSessionsEnded: number } }>(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'sso.enforced'`, [other.tenant.id]);
    assert.equal(event!.details.passwordSessionsEnded, 2);
  });
});
