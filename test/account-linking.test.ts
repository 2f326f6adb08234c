import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openPglite } from '../src/db/db.js';
import { listMigrations, migrate } from '../src/db/migrate.js';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import type { Client } from './helpers/client.js';
import { forgedConnection } from './helpers/saml-acs.js';
import { makeKeyPair, type KeyPair } from './helpers/saml-forge.js';
import { newUser, scimClient } from './helpers/scim.js';

/**
 * Which account a sign-in lands in: one rule (src/identity/provisioning/accounts.ts), probed from
 * the attacker's side. Every refusal is checked to have changed nothing: no session, no identity
 * bound, no account created or altered.
 */
let t: TestApp;
let tt: TestTenant;
let admin: Client;
let keys: KeyPair;
let entra: Awaited<ReturnType<typeof forgedConnection>>;
let okta: Awaited<ReturnType<typeof forgedConnection>>;
let scim: Awaited<ReturnType<typeof scimClient>>;

const person = (email: string, name?: string) => ({ oid: randomUUID(), email, ...(name ? { name } : {}) });

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
  keys = makeKeyPair('Microsoft Azure Federated SSO Certificate');
  entra = await forgedConnection(t, tt.tenant, admin, 'entra', keys, 'Entra');
  okta = await forgedConnection(t, tt.tenant, admin, 'okta', keys, 'Okta');
  scim = await scimClient(t, tt.tenant);
});
after(() => t.close());

async function snapshot() {
  const q = async (sql: string) => (await t.db.query<Record<string, unknown>>(sql, [tt.tenant.id])).map((r) => JSON.stringify(r)).sort();
  return {
    users: await q('SELECT id, email, display_name, status, break_glass, deleted_at FROM users WHERE tenant_id = $1'),
    identities: await q('SELECT connection_id, subject, user_id FROM external_identities WHERE tenant_id = $1'),
    sessions: await q('SELECT id FROM sessions WHERE tenant_id = $1'),
    grants: await q('SELECT user_id, role, origin FROM role_grants WHERE tenant_id = $1'),
    linked: await q(`SELECT id FROM audit_events WHERE tenant_id = $1 AND action IN ('user.identity_linked', 'user.updated', 'signin.saml') AND outcome = 'success'`),
  };
}

/** Posts the response, asserts it is refused with `code`, and that nothing but the failure's record changed. */
async function refusedUnchanged(xml: string, code: string) {
  const before = await snapshot();
  const r = await (xml.includes(entra.issuer) ? entra : okta).post(xml);
  assert.equal(r.status, 403, typeof r.res.body === 'string' ? r.res.body.slice(0, 300) : '');
  assert.equal(r.code, code, JSON.stringify(r.trace?.error));
  assert.equal(r.res.headers.get('set-cookie'), null);
  assert.deepEqual(await snapshot(), before, 'a refused sign-in changes nothing');
  return r;
}

const userByEmail = async (email: string) => (await t.db.query<{ id: string; email: string; display_name: string }>('SELECT id, email, display_name FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)', [tt.tenant.id, email]))[0];

describe('an account is bound to one subject per connection', () => {
  test('a second subject with an admin’s address is refused, and the admin’s own subject still signs in', async () => {
    const lee = person('lee@example.test');
    const first = await entra.signIn(lee);
    const leeId = first.session.user.id;
    assert.equal((await admin.put(`/api/v1/users/${leeId}/roles`, { roles: ['requester', 'admin'] })).status, 200);

    const newcomer = { oid: randomUUID(), email: 'lee@example.test' };
    const r = await refusedUnchanged(await entra.response(newcomer), 'subject_conflict');
    assert.equal(r.trace.error.boundSubject, lee.oid);
    assert.equal(r.trace.error.subject, newcomer.oid);
    assert.match(r.trace.error.fix, /change the old account's email under Users/);
    const failure = (await admin.get(`/api/v1/audit?action=signin.saml&outcome=failure`)).body.items;
    assert.ok(failure.some((e: any) => e.reason === 'subject_conflict' && e.details.trace === r.ref));

    const again = await entra.signIn(lee);
    assert.equal(again.session.user.id, leeId);
    assert.ok(again.session.roles.includes('admin'));
  });

  test('a case-changed address does not make a new subject welcome either', async () => {
    const max = person('max@example.test');
    await entra.signIn(max);
    await refusedUnchanged(await entra.response({ oid: randomUUID(), email: 'MAX@Example.TEST' }), 'subject_conflict');
  });
});

describe('the ways out an admin is given', () => {
  test('the address went to someone new: the old account gets another email, then the newcomer signs in to an account of their own', async () => {
    const old = person('desk@example.test');
    const oldId = (await entra.signIn(old)).session.user.id;
    const newcomer = person('desk@example.test');
    await refusedUnchanged(await entra.response(newcomer), 'subject_conflict');

    const changed = await admin.patch(`/api/v1/users/${oldId}`, { email: 'desk.former@example.test' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.email, 'desk.former@example.test');
    const fresh = await entra.signIn(newcomer);
    assert.notEqual(fresh.session.user.id, oldId);
    assert.equal(fresh.session.user.email, 'desk@example.test');
    // The old subject still opens the old account, and its stale address does not come back.
    const back = await entra.signIn(old);
    assert.equal(back.session.user.id, oldId);
    assert.equal(back.session.user.email, 'desk.former@example.test');
  });

  test('the same person with a new identity: the admin removes the old one (audited); the new subject then links on the usual proof', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'moved.test', 'x', now())`, [tt.tenant.id]);
    const before = person('vic@moved.test');
    const vicId = (await entra.signIn(before)).session.user.id;
    const detail = await admin.get(`/api/v1/users/${vicId}`);
    assert.deepEqual(detail.body.identities.map((x: any) => [x.connection, x.subject]), [['entra', before.oid]]);

    const after = person('vic@moved.test');
    await refusedUnchanged(await entra.response(after), 'subject_conflict');
    assert.equal((await admin.delete(`/api/v1/users/${vicId}/identities/entra`)).status, 204);
    assert.equal((await admin.delete(`/api/v1/users/${vicId}/identities/entra`)).status, 404);
    const audit = (await admin.get('/api/v1/audit?action=user.identity_unlinked')).body.items[0];
    assert.equal(audit.targetId, vicId);
    assert.equal(audit.details.subject, before.oid);
    assert.equal((await entra.signIn(after)).session.user.id, vicId);
    await refusedUnchanged(await entra.response(before), 'subject_conflict');
  });

  test('an email change is refused for accounts SCIM manages and for an address another account holds; nothing changes', async () => {
    const created = await scim.call('POST', 'Users', newUser('dir@unverified.test'));
    const managed = await admin.patch(`/api/v1/users/${created.body.id}`, { email: 'x@unverified.test' });
    assert.equal(managed.status, 409);
    assert.equal(managed.body.code, 'managed_by_scim');
    const a = (await entra.signIn(person('one@example.test'))).session.user.id;
    await entra.signIn(person('two@example.test'));
    const taken = await admin.patch(`/api/v1/users/${a}`, { email: 'TWO@example.test' });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'user_exists');
    assert.equal((await userByEmail('one@example.test'))!.id, a);
  });
});

describe('a known subject is recognised by its subject alone', () => {
  test('a changed address is taken over, audited and traced; the next holder of the old address gets an account of their own', async () => {
    const kim = person('kim@example.test', 'Kim Old');
    const first = await entra.signIn(kim);
    const kimId = first.session.user.id;

    const moved = await entra.signIn({ ...kim, email: 'kim.new@example.test', name: 'Kim New' });
    assert.equal(moved.session.user.id, kimId);
    assert.equal(moved.session.user.email, 'kim.new@example.test');
    assert.equal(moved.session.user.displayName, 'Kim New');
    const steps = moved.trace.steps.map((s: any) => `${s.check}: ${s.detail ?? ''}`);
    assert.ok(steps.includes('Email updated: kim@example.test → kim.new@example.test'), steps.join('\n'));
    assert.ok(steps.includes('Name updated: Kim Old → Kim New'), steps.join('\n'));
    const updates = (await admin.get(`/api/v1/audit?action=user.updated`)).body.items.filter((e: any) => e.targetId === kimId);
    assert.deepEqual(updates[0].details.email, { from: 'kim@example.test', to: 'kim.new@example.test' });
    assert.equal(updates[0].details.via, 'saml:entra');

    const nextHolder = await entra.signIn(person('kim@example.test'));
    assert.notEqual(nextHolder.session.user.id, kimId, 'the next holder of kim@ does not walk into Kim’s account');
    assert.deepEqual(nextHolder.session.roles, ['requester']);
  });

  test('a new address held by another account is not taken: the account keeps its own, the conflict is traced and audited', async () => {
    const ann = person('ann@example.test');
    const annId = (await entra.signIn(ann)).session.user.id;
    const other = await entra.signIn(person('ann.other@example.test'));

    const r = await entra.signIn({ ...ann, email: 'ann.other@example.test' });
    assert.equal(r.session.user.id, annId);
    assert.equal(r.session.user.email, 'ann@example.test');
    const step = r.trace.steps.find((s: any) => s.check === 'Email');
    assert.equal(step.ok, false);
    assert.match(step.detail, /another Keydesk account holds that address; this account keeps ann@example.test/);
    const conflict = (await admin.get('/api/v1/audit?action=user.email_conflict')).body.items[0];
    assert.equal(conflict.targetId, annId);
    assert.equal(conflict.details.heldBy, other.session.user.id);
    assert.equal((await userByEmail('ann.other@example.test'))!.id, other.session.user.id);
  });

  test('accounts SCIM manages keep the directory’s email and name', async () => {
    const created = await scim.call('POST', 'Users', newUser('sam@unverified.test', { displayName: 'Sam Directory' }));
    assert.equal(created.status, 201);
    const sam = { oid: randomUUID(), email: 'sam@unverified.test' };
    const first = await entra.signIn(sam);
    assert.equal(first.session.user.id, created.body.id);
    const r = await entra.signIn({ ...sam, email: 'sam.other@unverified.test', name: 'Sam Sign-in' });
    assert.equal(r.session.user.email, 'sam@unverified.test');
    assert.equal(r.session.user.displayName, 'Sam Directory');
    assert.ok(r.trace.steps.some((s: any) => s.check === 'Profile' && /SCIM provisioning manages/.test(s.detail)));
  });
});

describe('an existing account is linked by email only when something proves the address', () => {
  test('an account an admin created, domain not verified: refused with the domain to verify; verified: linked', async () => {
    const made = await admin.post('/api/v1/users', { email: 'boss@acme.test', displayName: 'Boss', roles: ['requester', 'admin'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const attacker = person('boss@acme.test');
    const r = await refusedUnchanged(await entra.response(attacker), 'link_unverified');
    assert.equal(r.trace.error.domain, 'acme.test');
    assert.match(r.trace.error.fix, /Verify acme\.test under Single sign-on › Domains/);
    // The same for every connection of the tenant.
    await refusedUnchanged(await okta.response(person('boss@acme.test')), 'link_unverified');

    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'acme.test', 'x', now())`, [tt.tenant.id]);
    const linked = await entra.signIn(attacker);
    assert.equal(linked.session.user.id, made.body.id);
    const step = linked.trace.steps.find((s: any) => s.check === 'Account');
    assert.match(step.detail, /existing account linked: boss@acme.test \(the address’s domain is verified for this tenant\)/);
    const audit = (await admin.get('/api/v1/audit?action=user.identity_linked')).body.items.find((e: any) => e.targetId === made.body.id);
    assert.equal(audit.details.basis, 'verified_domain');
  });

  test('an account SCIM provisioned is linked without a verified domain', async () => {
    const created = await scim.call('POST', 'Users', newUser('pat@unverified.test'));
    const r = await entra.signIn(person('pat@unverified.test'));
    assert.equal(r.session.user.id, created.body.id);
    const audit = (await admin.get('/api/v1/audit?action=user.identity_linked')).body.items.find((e: any) => e.targetId === created.body.id);
    assert.equal(audit.details.basis, 'scim');
  });

  test('an account bound on another connection is not linked, even on a verified domain, until that connection is disabled', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'elsewhere.test', 'x', now())`, [tt.tenant.id]);
    const jo = await entra.signIn(person('jo@elsewhere.test'));
    const r = await refusedUnchanged(await okta.response(person('jo@elsewhere.test')), 'bound_elsewhere');
    assert.equal(r.trace.error.boundTo, 'Entra');
    assert.match(r.trace.error.fix, /remove their Entra identity under Users/);
    // Moving everyone from one identity provider to another: the old connection is disabled.
    assert.equal((await admin.patch('/api/v1/sso/connections/entra', { enabled: false })).status, 200);
    try {
      const viaOkta = await okta.signIn(person('jo@elsewhere.test'));
      assert.equal(viaOkta.session.user.id, jo.session.user.id);
    } finally {
      assert.equal((await admin.patch('/api/v1/sso/connections/entra', { enabled: true })).status, 200);
    }
  });

  test('another connection cannot claim an address first and have the real person linked into its account later', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'claimed.test', 'x', now())`, [tt.tenant.id]);
    // Okta JIT-creates newhire@ before the real newhire signs in through Entra.
    await okta.signIn(person('newhire@claimed.test'));
    await refusedUnchanged(await entra.response(person('newhire@claimed.test')), 'bound_elsewhere');
    // A known Okta subject renames itself to the CFO's free address: the CFO is not let into it either.
    const mole = person('mole@claimed.test');
    await okta.signIn(mole);
    assert.equal((await okta.signIn({ ...mole, email: 'cfo@claimed.test' })).session.user.email, 'cfo@claimed.test');
    await refusedUnchanged(await entra.response(person('cfo@claimed.test')), 'bound_elsewhere');
  });

  test('a break-glass account is never linked, even on a verified domain; making an account break-glass unbinds it', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'glass.test', 'x', now())`, [tt.tenant.id]);
    const made = await admin.post('/api/v1/users', { email: 'keeper@glass.test', displayName: 'Keeper', roles: ['requester', 'admin'] });
    assert.equal((await admin.patch(`/api/v1/users/${made.body.id}`, { breakGlass: true })).status, 200);
    await refusedUnchanged(await entra.response(person('keeper@glass.test')), 'break_glass');

    const ed = person('ed@glass.test');
    const edId = (await entra.signIn(ed)).session.user.id;
    assert.equal((await admin.put(`/api/v1/users/${edId}/roles`, { roles: ['requester', 'admin'] })).status, 200);
    assert.equal((await admin.patch(`/api/v1/users/${edId}`, { breakGlass: true })).status, 200);
    const left = await t.db.query('SELECT 1 FROM external_identities WHERE tenant_id = $1 AND user_id = $2', [tt.tenant.id, edId]);
    assert.equal(left.length, 0);
    await refusedUnchanged(await entra.response(ed), 'break_glass');
  });

  test('a disabled account is not entered', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'off.test', 'x', now())`, [tt.tenant.id]);
    const made = await admin.post('/api/v1/users', { email: 'gone@off.test', displayName: 'Gone', roles: ['requester'] });
    assert.equal((await admin.patch(`/api/v1/users/${made.body.id}`, { status: 'disabled' })).status, 200);
    await refusedUnchanged(await entra.response(person('gone@off.test')), 'user_disabled');
  });
});

describe('what the subject is', () => {
  test('a NameID equal to another person’s object id does not enter their account', async () => {
    const victim = person('victim@example.test');
    await entra.signIn(victim);
    const xml = await entra.response({ oid: null, email: 'intruder@example.test' }, { nameId: victim.oid, nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' });
    const r = await refusedUnchanged(xml, 'subject_conflict');
    assert.equal(r.trace.error.boundAs, 'objectidentifier');
  });

  test('a transient NameID (new at each sign-in) is no subject: refused with the fix, before any account is made', async () => {
    const xml = await entra.response({ oid: null, email: 'shib@example.test' }, { nameId: `_${randomUUID()}`, nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' });
    const before = await snapshot();
    const r = await entra.post(xml);
    assert.equal(r.status, 400);
    assert.equal(r.code, 'no_subject');
    assert.match(r.trace.error.fix, /persistent NameID/);
    assert.deepEqual(await snapshot(), before);
  });

  test('a subject longer than Keydesk keeps is refused with a trace, not a 500', async () => {
    const r = await entra.post(await entra.response({ oid: 'x'.repeat(600), email: 'long@example.test' }));
    assert.equal(r.status, 400);
    assert.equal(r.code, 'bad_subject');
  });

  test('a NameID-only identity provider: the persistent NameID is the subject', async () => {
    const nameId = `persistent-${randomUUID()}`;
    const xml = () => entra.response({ oid: null, email: 'pn@example.test' }, { nameId, nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' });
    const first = await entra.post(await xml());
    assert.equal(first.status, 303);
    const again = await entra.post(await xml());
    assert.equal(again.status, 303);
    const rows = await t.db.query<{ subject: string; subject_source: string }>('SELECT subject, subject_source FROM external_identities WHERE tenant_id = $1 AND subject = $2', [tt.tenant.id, nameId]);
    assert.deepEqual(rows, [{ subject: nameId, subject_source: 'NameID' }]);
  });
});

describe('look-alike addresses', () => {
  test('an email claim with a zero-width space or a trailing dot is no email: the sign-in is refused, no look-alike account is made', async () => {
    for (const email of ['kim@example.test\u200b', 'kim@example.test.']) {
      const before = await snapshot();
      const r = await entra.post(await entra.response({ oid: randomUUID(), email }, { nameId: `n-${randomUUID()}` }));
      assert.equal(r.code, 'no_email', email);
      assert.deepEqual(await snapshot(), before);
    }
  });
});

describe('access ends with the binding', () => {
  test('removing an identity, or making the account break-glass, ends the sessions it opened', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'ends.test', 'x', now()) ON CONFLICT DO NOTHING`, [tt.tenant.id]);
    const s = await entra.signIn(person('removed@ends.test'));
    assert.equal((await admin.delete(`/api/v1/users/${s.session.user.id}/identities/entra`)).status, 204);
    assert.equal((await s.client.get('/api/v1/session')).status, 401);

    const g = await entra.signIn(person('toglass@ends.test'));
    assert.equal((await admin.patch(`/api/v1/users/${g.session.user.id}`, { breakGlass: true })).status, 200);
    assert.equal((await g.client.get('/api/v1/session')).status, 401);
  });
});

describe('an address held by a tombstone and, as a SCIM userName, by a live account', () => {
  test('the live account is the holder; the sign-in links to it', async () => {
    const old = await scim.call('POST', 'Users', newUser('tom@unverified.test'));
    assert.equal((await scim.call('DELETE', `Users/${old.body.id}`)).status, 204);
    const now = await scim.call('POST', 'Users', newUser('tom@unverified.test', { emails: [{ value: 'thomas@unverified.test', type: 'work', primary: true }] }));
    assert.equal(now.status, 201);
    const r = await entra.signIn(person('tom@unverified.test'));
    assert.equal(r.session.user.id, now.body.id);
  });
});

describe('accounts SCIM deleted (tombstones), as SCIM’s recycled-address rule has it', () => {
  test('the deleted subject is refused; a new subject with the address gets a new account and the tombstone lets go', async () => {
    const created = await scim.call('POST', 'Users', newUser('rae@unverified.test'));
    const rae = person('rae@unverified.test');
    assert.equal((await entra.signIn(rae)).session.user.id, created.body.id);
    assert.equal((await scim.call('DELETE', `Users/${created.body.id}`)).status, 204);

    await refusedUnchanged(await entra.response(rae), 'user_deleted');
    const newcomer = await entra.signIn(person('rae@unverified.test'));
    assert.notEqual(newcomer.session.user.id, created.body.id);
    const tomb = (await t.db.query<{ email: string }>('SELECT email FROM users WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, created.body.id]))[0]!;
    assert.match(tomb.email, /^deleted-.*@invalid$/);
  });
});

describe('two first sign-ins of one person at once (two tabs)', () => {
  test('both sign in, to one account', async () => {
    const twin = person('twin@example.test');
    const [a, b] = await Promise.all([entra.response(twin), entra.response(twin)]);
    const [ra, rb] = await Promise.all([entra.post(a), entra.post(b)]);
    assert.deepEqual([ra.status, rb.status], [303, 303]);
    const ids = await Promise.all([ra, rb].map(async (r) => (await r.client.get('/api/v1/session')).body.user.id));
    assert.equal(ids[0], ids[1]);
    const n = await t.db.query(`SELECT 1 FROM users WHERE tenant_id = $1 AND lower(email) = 'twin@example.test'`, [tt.tenant.id]);
    assert.equal(n.length, 1);
  });
});

describe('the ACS never answers an error after committing', () => {
  test('a NUL in the unsigned Response ID (as a character reference) is refused and nothing is kept but the failure', async () => {
    const xml = (await entra.response(person('nul@example.test'))).replace(/(<samlp:Response [^>]*ID=")_/, '$1_&#0;');
    const r = await refusedUnchangedMalformed(xml);
    assert.match(r.trace.error.message, /&#0;/);
  });

  test('a NUL in the unverified InResponseTo is refused as malformed, not a 500', async () => {
    const xml = (await entra.response(person('irt@example.test'))).replace(/(<samlp:Response [^>]*InResponseTo=")_/, '$1_\u0000');
    await refusedUnchangedMalformed(xml);
  });

  test('a raw control character in the XML is refused as malformed', async () => {
    const xml = (await entra.response(person('ctl@example.test'))).replace(/(<samlp:Response [^>]*ID=")_/, '$1_\u0001');
    await refusedUnchangedMalformed(xml);
  });

  async function refusedUnchangedMalformed(xml: string) {
    const before = await snapshot();
    const replay = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM saml_replay_cache WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    const r = await entra.post(xml);
    assert.equal(r.status, 400);
    assert.equal(r.code, 'malformed');
    assert.equal(r.res.headers.get('set-cookie'), null);
    assert.deepEqual(await snapshot(), before);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM saml_replay_cache WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n, replay);
    return r;
  }
});

describe('migration 006: accounts holding several subjects of one connection', () => {
  test('the first subject keeps the account; later ones and break-glass bindings are unbound and audited', async () => {
    // An unmigrated copy of the schema up to 005, with the state the old email linking left behind.
    const db = await openPglite();
    try {
      await migrate(db, { through: 5 });
      const [tenant] = await db.query<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ('old', 'Old') RETURNING id`);
      const tid = tenant!.id;
      const [conn] = await db.query<{ id: string }>(`INSERT INTO sso_connections (tenant_id, slug, protocol, display_name, config) VALUES ($1, 'entra', 'saml', 'Entra', '{}') RETURNING id`, [tid]);
      const user = async (email: string, breakGlass = false) =>
        (await db.query<{ id: string }>(`INSERT INTO users (tenant_id, email, display_name, status, source, break_glass) VALUES ($1, $2, 'X', 'active', 'jit', $3) RETURNING id`, [tid, email, breakGlass]))[0]!.id;
      const lee = await user('lee@example.test');
      const glass = await user('glass@example.test', true);
      const bindAt = (subject: string, userId: string, at: string) =>
        db.query(`INSERT INTO external_identities (tenant_id, connection_id, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)`, [tid, conn!.id, subject, userId, at]);
      await bindAt('oid-0a', lee, '2026-01-01T00:00:00Z');
      await bindAt('oid-0b', lee, '2026-06-01T00:00:00Z');
      await bindAt('oid-g', glass, '2026-01-01T00:00:00Z');

      assert.deepEqual(await migrate(db), listMigrations().filter((m) => m.version > 5).map((m) => m.version));
      const left = await db.query<{ subject: string }>('SELECT subject FROM external_identities WHERE tenant_id = $1 ORDER BY subject', [tid]);
      assert.deepEqual(left.map((r) => r.subject), ['oid-0a']);
      const audited = await db.query<{ reason: string; target_id: string; details: any }>(`SELECT reason, target_id, details FROM audit_events WHERE tenant_id = $1 AND action = 'user.identity_unlinked' ORDER BY reason`, [tid]);
      assert.deepEqual(audited.map((a) => [a.reason, a.target_id, a.details.subject]), [['break_glass', glass, 'oid-g'], ['second_subject', lee, 'oid-0b']]);
      await assert.rejects(bindAt('oid-0c', lee, '2026-07-01T00:00:00Z'), /external_identities_one_per_connection/);
    } finally {
      await db.close();
    }
  });
});
