import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { createSession } from '../src/identity/sessions/sessions.js';
import { createApiToken } from '../src/identity/tokens/api-tokens.js';
import { loadActor } from '../src/identity/actor.js';
import { listIdentityEvents } from '../src/identity/events.js';
import { GROUP_SCHEMA, newUser, patch, scimClient, type ScimClient } from './helpers/scim.js';
import { ensureSimpleSamlPhp, startSimpleSamlIdp, ENTRA_CLAIMS, type RunningIdp } from './idp/simplesamlphp.js';
import { browse, CookieJar, type SamlPostForm } from './idp/browserless-login.js';

/**
 * What provisioning does to Keydesk: accounts before first sign-in, roles from SCIM groups through
 * the same rules engine as the SAML claim, and deprovisioning that ends access in the same transaction.
 */
let t: TestApp;
let tt: TestTenant;
let scim: ScimClient;
let admin: { id: string; client: Client };

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  scim = await scimClient(t, tt.tenant);
  admin = await t.user(tt.tenant, ['requester', 'admin']);
});
after(() => t?.close());

/** A browser session and a personal API token for a user, as if they had signed in and made one. */
async function openAccess(userId: string) {
  const s = await t.db.transaction((tx) => createSession(tx, t.config.session, { tenantId: tt.tenant.id, userId, method: 'test' }));
  const session = new Client(t.url);
  session.setSession(s.cookieValue, s.session.csrfToken);
  const actor = await loadActor(t.db, tt.tenant, userId);
  const { secret } = await createApiToken(actor!.ctx, { name: 'laptop' });
  return { session, token: new Client(t.url).withToken(secret) };
}

async function rolesOf(userId: string) {
  return (await t.db.query<{ role: string; origin: string; group_ref: string | null }>('SELECT role, origin, group_ref FROM role_grants WHERE user_id = $1 ORDER BY role, origin', [userId])).map((r) => `${r.role}:${r.origin}`);
}

describe('SCIM groups and the group → role rules', () => {
  test('a member of the group mapped to agents is an agent before any sign-in; removal takes the role and, with it, access', async () => {
    const objectId = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'agent' }).then((r) => assert.equal(r.status, 201, JSON.stringify(r.body)));
    const user = (await scim.call('POST', 'Users', newUser('new.agent@corp.test'))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Service Desk Agents', externalId: objectId })).body;
    assert.deepEqual(await rolesOf(user.id), ['requester:system']);

    assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }] }))).status, 204);
    assert.deepEqual(await rolesOf(user.id), ['agent:rule', 'requester:system']);
    const access = await openAccess(user.id);
    assert.deepEqual((await access.session.get('/api/v1/session')).body.roles, ['agent', 'requester']);

    // Entra's old dialect: Remove with the member in a value list (only that member goes).
    const other = (await scim.call('POST', 'Users', newUser('stays@corp.test'))).body;
    await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Add', path: 'members', value: [{ value: other.id }] }));
    assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Remove', path: 'members', value: [{ $ref: null, value: user.id }] }))).status, 204);
    assert.deepEqual(await rolesOf(user.id), ['requester:system']);
    assert.deepEqual(await rolesOf(other.id), ['agent:rule', 'requester:system']);
    // They left every role-granting group: what they had open is closed in the same transaction.
    assert.equal((await access.session.get('/api/v1/session')).status, 401);
    assert.equal((await access.token.get('/api/v1/session')).status, 401);
    const events = await listIdentityEvents(t.db, tt.tenant.id);
    assert.ok(events.some((e) => e.type === 'group.member_added' && e.userId === user.id && e.groupId === group.id));
    assert.ok(events.some((e) => e.type === 'group.member_removed' && e.userId === user.id && e.groupId === group.id));
    const audit = (await admin.client.get('/api/v1/audit?action=user.roles_changed')).body.items;
    assert.ok(audit.some((e: any) => e.targetId === user.id && e.details.removed.includes('agent')));
  });

  test('Okta names groups: a rule on the display name works, a rename re-judges the members, and a new rule applies at once', async () => {
    const user = (await scim.call('POST', 'Users', newUser('okta.person@corp.test'))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Change Board', members: [{ value: user.id }] })).body;
    assert.deepEqual(await rolesOf(user.id), ['requester:system']);
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: 'change board', role: 'change_manager' });
    assert.deepEqual(await rolesOf(user.id), ['change_manager:rule', 'requester:system'], 'a rule added later applies to current members');
    await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'replace', value: { id: group.id, displayName: 'Former Change Board' } }));
    assert.deepEqual(await rolesOf(user.id), ['requester:system'], 'renamed away from the rule');
    await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'replace', value: { id: group.id, displayName: 'CHANGE BOARD' } }));
    assert.deepEqual(await rolesOf(user.id), ['change_manager:rule', 'requester:system']);
    assert.equal((await scim.call('DELETE', `Groups/${group.id}`)).status, 204);
    assert.deepEqual(await rolesOf(user.id), ['requester:system'], 'deleting the group takes the role');
  });

  test('a person in the waiting room is let in when SCIM puts them in a group a rule names, and not before', async () => {
    const waiting = await t.user(tt.tenant, [], 'waiting.person@corp.test');
    await t.db.query(`UPDATE users SET status = 'waiting', source = 'jit' WHERE id = $1`, [waiting.id]);
    const adopted = await scim.call('POST', 'Users', newUser('waiting.person@corp.test'));
    assert.equal(adopted.body.id, waiting.id);
    const status = async () => (await t.db.query<{ status: string }>('SELECT status FROM users WHERE id = $1', [waiting.id]))[0]!.status;
    assert.equal(await status(), 'waiting', 'SCIM says the person exists, not what they may do');
    const objectId = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'agent' });
    await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `Waiting room exit ${objectId}`, externalId: objectId, members: [{ value: waiting.id }] });
    assert.equal(await status(), 'active');
    assert.deepEqual(await rolesOf(waiting.id), ['agent:rule']);
  });

  test('grants given by a person are never touched by SCIM', async () => {
    const user = (await scim.call('POST', 'Users', newUser('kept.admin@corp.test'))).body;
    await admin.client.put(`/api/v1/users/${user.id}/roles`, { roles: ['requester', 'admin'] });
    const objectId = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'admin' });
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `Admins ${objectId}`, externalId: objectId, members: [{ value: user.id }] })).body;
    await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'remove', path: `members[value eq "${user.id}"]` }));
    assert.ok((await rolesOf(user.id)).includes('admin:person'));
  });
});

describe('deprovisioning', () => {
  test('active=false (Entra\'s "False") ends sessions and API tokens at once; reactivation lets them sign in again', async () => {
    const user = (await scim.call('POST', 'Users', newUser('leaver@corp.test'))).body;
    const access = await openAccess(user.id);
    assert.equal((await access.session.get('/api/v1/session')).status, 200);
    assert.equal((await access.token.get('/api/v1/session')).status, 200);
    const res = await scim.call('PATCH', `Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    assert.equal(res.status, 200);
    assert.equal(res.body.active, false);
    assert.equal((await access.session.get('/api/v1/session')).status, 401);
    assert.equal((await access.token.get('/api/v1/session')).status, 401);
    const revoked = await t.db.query<{ open: number }>(`SELECT count(*)::int AS open FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [user.id]);
    assert.equal(revoked[0]!.open, 0);
    // The same request again changes nothing again.
    await scim.call('PATCH', `Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    const events = (await listIdentityEvents(t.db, tt.tenant.id, 0, 1000)).filter((e) => e.userId === user.id);
    assert.deepEqual(events.map((e) => e.type), ['user.provisioned', 'user.deactivated']);
    const audit = (await admin.client.get('/api/v1/audit?action=scim.user_deactivated')).body.items;
    assert.ok(audit.some((e: any) => e.targetId === user.id && e.actorLabel === 'scim:Entra'));

    await scim.call('PATCH', `Users/${user.id}`, patch({ op: 'replace', value: { active: true } }));
    assert.equal((await access.session.get('/api/v1/session')).status, 401, 'old sessions stay ended');
    const again = await openAccess(user.id);
    assert.equal((await again.session.get('/api/v1/session')).status, 200);
  });

  test('DELETE removes access, roles and memberships in one go, keeps the name on tickets, and a later POST revives the account', async () => {
    const user = (await scim.call('POST', 'Users', newUser('gone@corp.test', { displayName: 'Gone Person' }))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `Leavers ${user.id}`, members: [{ value: user.id }] })).body;
    const access = await openAccess(user.id);
    const ticket = await access.session.post('/api/v1/tickets', { type: 'incident', title: 'My laptop is broken', description: 'It does not start.' });
    assert.equal(ticket.status, 201, JSON.stringify(ticket.body));
    assert.equal((await scim.call('DELETE', `Users/${user.id}`)).status, 204);
    assert.equal((await access.session.get('/api/v1/session')).status, 401);
    assert.equal((await access.token.get('/api/v1/session')).status, 401);
    assert.equal((await scim.call('GET', `Users/${user.id}`)).status, 404);
    assert.equal((await scim.call('DELETE', `Users/${user.id}`)).status, 404, 'a retried DELETE changes nothing');
    assert.equal((await scim.call('GET', `Users?filter=userName+eq+%22gone%40corp.test%22`)).body.totalResults, 0);
    assert.deepEqual(await rolesOf(user.id), []);
    assert.deepEqual((await scim.call('GET', `Groups/${group.id}`)).body.members, []);
    const shown = await admin.client.get(`/api/v1/tickets/${ticket.body.id}`);
    assert.equal(shown.body.requester.displayName, 'Gone Person');
    const revived = await scim.call('POST', 'Users', newUser('gone@corp.test', { displayName: 'Back Again' }));
    assert.equal(revived.status, 201);
    assert.equal(revived.body.id, user.id);
    assert.deepEqual(await rolesOf(user.id), ['requester:system']);
    const types = (await listIdentityEvents(t.db, tt.tenant.id, 0, 1000)).filter((e) => e.userId === user.id).map((e) => e.type);
    assert.deepEqual(types, ['user.provisioned', 'group.member_added', 'group.member_removed', 'user.deleted', 'user.provisioned']);
  });
});

describe('what SCIM may not do', () => {
  test('an account made break-glass leaves its SCIM groups; SCIM can neither list, remove nor disarm it', async () => {
    const objectId = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'admin' });
    const keeper = (await scim.call('POST', 'Users', newUser('keeper@corp.test'))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: `KD-Admins ${objectId}`, externalId: objectId, members: [{ value: keeper.id }] })).body;
    assert.deepEqual(await rolesOf(keeper.id), ['admin:rule', 'requester:system']);
    await admin.client.put(`/api/v1/users/${keeper.id}/roles`, { roles: ['requester', 'admin'] });
    assert.equal((await admin.client.patch(`/api/v1/users/${keeper.id}`, { breakGlass: true })).status, 200);
    const access = await openAccess(keeper.id);
    assert.deepEqual((await scim.call('GET', `Groups/${group.id}`)).body.members, []);
    assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'remove', path: `members[value eq "${keeper.id}"]` }))).status, 204);
    assert.equal((await scim.call('PUT', `Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName: `KD-Admins ${objectId}`, externalId: objectId, members: [] })).status, 200);
    assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'add', path: 'members', value: [{ value: keeper.id }] }))).status, 400);
    assert.equal((await access.session.get('/api/v1/session')).status, 200, 'their sessions were not touched');
    assert.ok((await rolesOf(keeper.id)).includes('admin:person'));
  });

  test('an account an administrator disabled is not re-enabled by a POST; a missing "active" changes nothing', async () => {
    const fired = await t.user(tt.tenant, ['requester', 'admin'], 'fired@corp.test');
    await admin.client.patch(`/api/v1/users/${fired.id}`, { status: 'disabled' });
    const res = await scim.call('POST', 'Users', newUser('fired@corp.test'));
    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.match(res.body.detail, /administrator disabled/);
    const status = await t.db.query<{ status: string }>('SELECT status FROM users WHERE id = $1', [fired.id]);
    assert.equal(status[0]!.status, 'disabled');

    const u = (await scim.call('POST', 'Users', newUser('quiet@corp.test'))).body;
    await scim.call('PATCH', `Users/${u.id}`, patch({ op: 'replace', path: 'active', value: false }));
    for (const body of [patch({ op: 'remove', path: 'active' }), patch({ op: 'replace', path: 'active', value: null })]) {
      assert.equal((await scim.call('PATCH', `Users/${u.id}`, body)).body.active, false);
    }
    const { active: _a, ...withoutActive } = newUser('quiet@corp.test', { title: 'Still away' });
    const put = await scim.call('PUT', `Users/${u.id}`, withoutActive);
    assert.equal(put.body.active, false);
    assert.equal(put.body.title, 'Still away');
  });

  test('a recycled address given to someone new (another externalId) is a new account, not the old one revived', async () => {
    const first = (await scim.call('POST', 'Users', newUser('j.smith@corp.test', { externalId: 'jsmith-1', displayName: 'John Smith' }))).body;
    await scim.call('DELETE', `Users/${first.id}`);
    const second = await scim.call('POST', 'Users', newUser('j.smith@corp.test', { externalId: 'jsmith-2', displayName: 'Jane Smith' }));
    assert.equal(second.status, 201);
    assert.notEqual(second.body.id, first.id);
    const old = await t.db.query<{ display_name: string; deleted_at: Date | null }>('SELECT display_name, deleted_at FROM users WHERE id = $1', [first.id]);
    assert.equal(old[0]!.display_name, 'John Smith');
    assert.ok(old[0]!.deleted_at);
  });
});

describe('a provisioned agent signs in through SAML', () => {
  let idp: RunningIdp;
  before(() => ensureSimpleSamlPhp());
  after(() => idp?.stop());

  test('the sign-in links to the SCIM account, keeps the SCIM-granted role, and deactivation stops the open session at once', async () => {
    const objectId = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'agent' });
    const user = (await scim.call('POST', 'Users', newUser('mo.agent@corp.test', { externalId: 'mo' }))).body;
    const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Desk', externalId: objectId })).body;
    await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Add', path: 'members', value: [{ value: user.id }] }));

    const base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
    idp = await startSimpleSamlIdp({
      shape: 'entra',
      sp: { entityId: `${base}/metadata`, acsUrl: `${base}/acs`, sloUrl: `${base}/slo` },
      users: [
        {
          username: 'mo',
          password: 'mo-pw',
          // The groups claim is configured but names no group: the role comes from SCIM.
          attributes: {
            [ENTRA_CLAIMS.emailaddress]: ['Mo.Agent@corp.test'],
            [ENTRA_CLAIMS.givenname]: ['Mo'],
            [ENTRA_CLAIMS.surname]: ['Agent'],
            [ENTRA_CLAIMS.name]: ['mo.agent@corp.onmicrosoft.test'],
            [ENTRA_CLAIMS.objectidentifier]: [randomUUID()],
            [ENTRA_CLAIMS.groups]: [],
          },
        },
      ],
    });
    assert.equal((await admin.client.post('/api/v1/sso/connections', { slug: 'entra', metadataXml: idp.metadataXml, publish: true })).status, 201);
    const start = await fetch(`${base}/login`, { redirect: 'manual' });
    const out = await browse(start.headers.get('location')!, { username: 'mo', password: 'mo-pw', jar: new CookieJar() });
    assert.equal(out.kind, 'post');
    const form = (out as { form: SamlPostForm }).form;
    const browser = new Client(t.url);
    const acs = await browser.request('POST', new URL(form.action).pathname, new URLSearchParams(form.fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(acs.status, 303, acs.body);
    const session = await browser.get('/api/v1/session');
    assert.equal(session.body.user.id, user.id, 'one account per person: the SCIM one');
    assert.deepEqual(session.body.roles, ['agent', 'requester']);
    assert.equal((await browser.get('/api/v1/tickets?assignee=none')).status, 200);

    assert.equal((await scim.call('PATCH', `Users/${user.id}`, patch({ op: 'replace', path: 'active', value: false }))).status, 200);
    assert.equal((await browser.get('/api/v1/session')).status, 401);
    assert.equal((await browser.get('/api/v1/tickets?assignee=none')).status, 401);
    // And signing in again is refused while they are deactivated.
    const retry = await browse((await fetch(`${base}/login`, { redirect: 'manual' })).headers.get('location')!, { username: 'mo', password: 'mo-pw', jar: new CookieJar() });
    const retryForm = (retry as { form: SamlPostForm }).form;
    const refused = await new Client(t.url).request('POST', new URL(retryForm.action).pathname, new URLSearchParams(retryForm.fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.notEqual(refused.status, 303);
  });
});
