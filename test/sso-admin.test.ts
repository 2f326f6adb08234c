import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { startTxtServer } from './helpers/dns.js';
import { b64, buildAssertion, makeKeyPair, sign, wrapInResponse, type KeyPair } from './helpers/saml-forge.js';
import { ensureSimpleSamlPhp, startSimpleSamlIdp, type RunningIdp } from './idp/simplesamlphp.js';
import { browse, CookieJar, type SamlPostForm } from './idp/browserless-login.js';

const GROUPS = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const IDP = `https://sts.windows.net/${randomUUID()}/`;
let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let keys: KeyPair;
let dns: Awaited<ReturnType<typeof startTxtServer>>;
const txt = new Map<string, string[]>();
let idp: RunningIdp;

before(async () => {
  ensureSimpleSamlPhp();
  dns = await startTxtServer(txt);
  t = await startApp({ KEYDESK_DNS_SERVERS: dns.address });
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
  keys = makeKeyPair('Rules IdP');
  const res = await admin.client.post('/api/v1/sso/connections', { slug: 'entra', publish: true, entityId: IDP, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert] });
  assert.equal(res.status, 201);
  const base = `${t.url}/t/${tt.tenant.slug}/saml/okta`;
  idp = await startSimpleSamlIdp({
    shape: 'okta',
    sp: { entityId: `${base}/metadata`, acsUrl: `${base}/acs` },
    users: [{ username: 'tess', password: 'tess-pw', attributes: { email: ['tess@okta-corp.test'], firstName: ['Tess'], lastName: ['Ter'], groups: ['Service Desk'] } }],
  });
  assert.equal((await admin.client.post('/api/v1/sso/connections', { slug: 'okta', metadataUrl: idp.metadataUrl })).status, 201);
});
after(async () => {
  await idp?.stop();
  await dns?.stop();
  await t?.close();
});

/** IdP-initiated forged sign-in for `entra` with the given groups (or an overage link). */
async function signInWith(oid: string, email: string, attrs: Record<string, string[]>) {
  const base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
  const p = { issuer: IDP, destination: `${base}/acs`, audience: `${base}/metadata`, recipient: `${base}/acs`, inResponseTo: null, nameId: email, attributes: { [OID]: [oid], [EMAIL]: [email], ...attrs } };
  const client = new Client(t.url);
  const res = await client.request('POST', `/t/${tt.tenant.slug}/saml/entra/acs`, new URLSearchParams({ SAMLResponse: b64(wrapInResponse(p, sign(buildAssertion(p), 'Assertion', keys))) }).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
  });
  return { res, client };
}

describe('group → role rules on every sign-in', () => {
  test('a rule adds its role; leaving the group removes it; a person\'s grant stays; removing the rule removes its grants', async () => {
    const agents = randomUUID();
    const cab = randomUUID();
    const rule = (await admin.client.post('/api/v1/sso/role-rules', { groupRef: agents, role: 'agent' })).body;
    assert.equal((await admin.client.post('/api/v1/sso/role-rules', { groupRef: agents.toUpperCase(), role: 'agent' })).status, 409);
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: cab, role: 'change_manager', precedence: 10 });
    const oid = randomUUID();
    let s = await signInWith(oid, 'rita@corp.test', { [GROUPS]: [agents, cab] });
    assert.equal(s.res.status, 303);
    let me = (await s.client.get('/api/v1/session')).body;
    assert.deepEqual(me.roles.sort(), ['agent', 'change_manager', 'requester']);
    // A person also grants agent by hand.
    await admin.client.put(`/api/v1/users/${me.user.id}/roles`, { roles: ['requester', 'agent'] });
    s = await signInWith(oid, 'rita@corp.test', { [GROUPS]: [] });
    me = (await s.client.get('/api/v1/session')).body;
    assert.deepEqual(me.roles.sort(), ['agent', 'requester'], 'change_manager (rule) gone, agent (person) kept');
    s = await signInWith(oid, 'rita@corp.test', { [GROUPS]: [agents] });
    const grants = (await admin.client.get(`/api/v1/users/${me.user.id}`)).body.grants;
    assert.deepEqual(grants.filter((g: any) => g.role === 'agent').map((g: any) => g.origin).sort(), ['person', 'rule']);
    assert.equal((await admin.client.delete(`/api/v1/sso/role-rules/${rule.id}`)).status, 204);
    const after = (await admin.client.get(`/api/v1/users/${me.user.id}`)).body.grants;
    assert.ok(!after.some((g: any) => g.origin === 'rule'));
    const audit = (await admin.client.get('/api/v1/audit?action=user.roles_changed')).body.items;
    assert.ok(audit.some((e: any) => e.details.by === 'group_rules' && e.details.removed.includes('change_manager')));
  });

  test('an app role value in the role claim is matched by a rule as a group is', async () => {
    const role = `Keydesk.ChangeManager.${randomUUID().slice(0, 6)}`;
    assert.equal((await admin.client.post('/api/v1/sso/role-rules', { groupRef: role, role: 'change_manager' })).status, 201);
    const s = await signInWith(randomUUID(), 'rhea@corp.test', { [GROUPS]: [], 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role': [role] });
    assert.equal(s.res.status, 303);
    assert.ok((await s.client.get('/api/v1/session')).body.roles.includes('change_manager'));
  });

  test('a groups overage link leaves rule roles as they were and says so in the trace', async () => {
    const g = randomUUID();
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: g, role: 'agent' });
    const oid = randomUUID();
    await signInWith(oid, 'omar@corp.test', { [GROUPS]: [g] });
    const s = await signInWith(oid, 'omar@corp.test', { 'http://schemas.microsoft.com/claims/groups.link': ['https://graph.windows.net/x/users/y/getMemberObjects'] });
    assert.equal(s.res.status, 303);
    assert.ok((await s.client.get('/api/v1/session')).body.roles.includes('agent'), 'overage is "unknown", never "no groups"');
    const traces = (await admin.client.get('/api/v1/sso/traces?outcome=success&limit=1')).body.items;
    const detail = (await admin.client.get(`/api/v1/sso/traces/${traces[0].id}`)).body;
    assert.equal(detail.trace.mapped.groupsOverage, true);
    assert.ok(detail.trace.steps.some((st: any) => !st.ok && /overage/.test(st.detail)));
  });
});

describe('waiting room', () => {
  test('new JIT users wait until a rule or an admin grants a role', async () => {
    await admin.client.patch('/api/v1/sso/connections/entra', { waitingRoom: true });
    try {
      const oid = randomUUID();
      const first = await signInWith(oid, 'wendy@corp.test', { [GROUPS]: [] });
      assert.equal(first.res.status, 303);
      assert.equal(first.res.headers.get('location'), `/t/${tt.tenant.slug}/waiting`);
      assert.equal(first.res.headers.get('set-cookie'), null);
      const users = (await admin.client.get('/api/v1/users?status=waiting')).body.items;
      const wendy = users.find((u: any) => u.email === 'wendy@corp.test');
      assert.equal(wendy.source, 'jit');
      await admin.client.put(`/api/v1/users/${wendy.id}/roles`, { roles: ['requester'] });
      const second = await signInWith(oid, 'wendy@corp.test', { [GROUPS]: [] });
      assert.equal(second.res.headers.get('location'), `/t/${tt.tenant.slug}/`);
      assert.equal((await second.client.get('/api/v1/session')).status, 200);
      // A rule lets the next newcomer straight in.
      const g = randomUUID();
      await admin.client.post('/api/v1/sso/role-rules', { groupRef: g, role: 'agent' });
      const ruled = await signInWith(randomUUID(), 'rui@corp.test', { [GROUPS]: [g] });
      assert.equal((await ruled.client.get('/api/v1/session')).body.user.status, 'active');
    } finally {
      await admin.client.patch('/api/v1/sso/connections/entra', { waitingRoom: false });
    }
  });

  test('with JIT off, unknown people are refused and told nothing more than a reference', async () => {
    await admin.client.patch('/api/v1/sso/connections/entra', { jit: false });
    try {
      const r = await signInWith(randomUUID(), 'stranger@corp.test', {});
      assert.equal(r.res.status, 403);
      assert.match(r.res.body, /KD-[0-9A-F]{10}/);
    } finally {
      await admin.client.patch('/api/v1/sso/connections/entra', { jit: true });
    }
  });
});

describe('test sign-in, enforcement and break-glass', () => {
  test('enforcement needs a tested connection; the test changes nothing; then passwords stop except break-glass', async () => {
    const before = await admin.client.get('/api/v1/sso/enforcement');
    assert.equal(before.body.canEnforce, false);
    assert.match(before.body.reason, /test sign-in/);
    assert.equal((await admin.client.put('/api/v1/sso/enforcement', { enforced: true })).status, 409);

    const usersBefore = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    // What a real first sign-in would record about the person, which the test rolls back.
    const personEvents = async () =>
      (
        await t.db.query<{ audit: number; identity: number }>(
          `SELECT (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1 AND (action IN ('user.created', 'signin.saml') OR actor_label = 'tess@okta-corp.test')) AS audit,
                  (SELECT count(*)::int FROM identity_events WHERE tenant_id = $1) AS identity`,
          [tt.tenant.id],
        )
      )[0]!;
    const eventsBefore = await personEvents();
    const start = await admin.client.post('/api/v1/sso/connections/okta/test');
    assert.equal(start.status, 200);
    const out = await browse(start.body.url, { username: 'tess', password: 'tess-pw', jar: new CookieJar() });
    const form = (out as { form: SamlPostForm }).form;
    const acs = await new Client(t.url).request('POST', new URL(form.action).pathname, new URLSearchParams(form.fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(acs.status, 303);
    const ref = /KD-[0-9A-F]{10}$/.exec(acs.headers.get('location')!)![0];
    assert.equal(acs.headers.get('location'), `/t/${tt.tenant.slug}/admin/sso/traces/${ref}`);
    assert.equal(acs.headers.get('set-cookie'), null, 'a test opens no session');
    const trace = (await admin.client.get(`/api/v1/sso/traces/${ref}`)).body;
    assert.equal(trace.test, true);
    assert.equal(trace.outcome, 'success');
    assert.equal(trace.trace.wouldCreate, true);
    assert.equal(trace.trace.mapped.email, 'tess@okta-corp.test');
    assert.deepEqual(trace.trace.mapped.groups, ['Service Desk']);
    const usersAfter = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    assert.equal(usersAfter, usersBefore, 'the test created no account');
    assert.deepEqual(await personEvents(), eventsBefore, 'nor any audit or identity event about the person');
    const okta = (await admin.client.get('/api/v1/sso/connections/okta')).body;
    assert.ok(okta.testPassedAt);
    // The passed test is what published the connection.
    assert.equal(okta.live, true);
    assert.equal(trace.trace.published, true);
    const published = (await admin.client.get('/api/v1/audit?action=sso.connection_published')).body.items.find((e: any) => e.targetId === okta.id);
    assert.deepEqual(published.details, { slug: 'okta', tested: true, via: 'test' });

    // The tenant's first admin is break-glass; a plain local admin is not.
    const plain = await admin.client.post('/api/v1/users', { email: 'plain@x.test', displayName: 'Plain', password: 'plain-password-1', roles: ['requester'] });
    assert.equal(plain.status, 201);
    await t.db.query('UPDATE users SET password_change_required = false WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, plain.body.id]);
    const state = (await admin.client.put('/api/v1/sso/enforcement', { enforced: true })).body;
    assert.equal(state.enforced, true);
    assert.ok(state.breakGlass.some((b: any) => b.email === tt.adminEmail));
    const options = (await t.client().get(`/api/v1/tenants/${tt.tenant.slug}/sign-in-options`)).body;
    assert.equal(options.passwordAllowed, false);
    assert.deepEqual(options.connections.map((c: any) => c.slug).sort(), ['entra', 'okta']);

    const refused = await t.client().signIn(tt.tenant.slug, 'plain@x.test', 'plain-password-1');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'sso_enforced');
    const glass = await t.client().signIn(tt.tenant.slug, tt.adminEmail, tt.adminPassword);
    assert.equal(glass.status, 200);
    const used = (await admin.client.get('/api/v1/audit?action=signin.break_glass')).body.items;
    assert.equal(used.length, 1);
    assert.equal(used[0].actorLabel, tt.adminEmail);
    assert.equal((await admin.client.put('/api/v1/sso/enforcement', { enforced: false })).body.enforced, false);
  });
});

describe('domains and sign-in by email', () => {
  test('a domain routes only once its DNS TXT record proves control; then /login/discover finds the workspace', async () => {
    const c = t.client();
    assert.equal((await c.post('/api/v1/login/discover', { email: 'anyone@contoso.test' })).status, 404);
    const added = (await admin.client.post('/api/v1/sso/domains', { domain: 'Contoso.TEST' })).body;
    assert.equal(added.domain, 'contoso.test');
    assert.equal(added.txtRecordName, '_keydesk-verification.contoso.test');
    assert.equal((await c.post('/api/v1/login/discover', { email: 'anyone@contoso.test' })).status, 404, 'unverified domains route nobody');
    const early = await admin.client.post('/api/v1/sso/domains/contoso.test/verify');
    assert.equal(early.status, 422);
    assert.match(early.body.detail, /No TXT record/);
    txt.set('_keydesk-verification.contoso.test', ['v=spf1 -all', 'keydesk-verification=wrong']);
    assert.match((await admin.client.post('/api/v1/sso/domains/contoso.test/verify')).body.detail, /not "keydesk-verification=/);
    txt.set('_keydesk-verification.contoso.test', [added.txtRecordValue]);
    const ok = await admin.client.post('/api/v1/sso/domains/contoso.test/verify');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.verified, true);
    const found = await c.post('/api/v1/login/discover', { email: 'Someone@CONTOSO.test' });
    assert.equal(found.status, 200);
    assert.equal(found.body.tenant.slug, tt.tenant.slug);
    assert.ok(found.body.connections.some((x: any) => x.loginUrl === `/t/${tt.tenant.slug}/saml/entra/login`));

    // Another workspace cannot take a domain that is verified here, even with its own TXT record.
    const other = await t.tenant();
    const otherAdmin = await t.user(other.tenant, ['admin']);
    const claim = (await otherAdmin.client.post('/api/v1/sso/domains', { domain: 'contoso.test' })).body;
    txt.set('_keydesk-verification.contoso.test', [added.txtRecordValue, claim.txtRecordValue]);
    const stolen = await otherAdmin.client.post('/api/v1/sso/domains/contoso.test/verify');
    assert.equal(stolen.status, 409);
    assert.equal((await c.post('/api/v1/login/discover', { email: 'x@contoso.test' })).body.tenant.slug, tt.tenant.slug);
  });

  test('the SP-initiated login forwards the email as login_hint', async () => {
    const res = await fetch(`${t.url}/t/${tt.tenant.slug}/saml/entra/login?login_hint=ann%40contoso.test`, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('login_hint'), 'ann@contoso.test');
    const xml = inflateRawSync(Buffer.from(loc.searchParams.get('SAMLRequest')!, 'base64')).toString();
    assert.ok(!xml.includes('Subject'), 'Entra wants login_hint, not a Subject');
  });
});

test('only admins reach the SSO admin API', async () => {
  const agent = await t.user(tt.tenant, ['agent']);
  for (const [m, p] of [['GET', '/api/v1/sso/traces'], ['GET', '/api/v1/sso/role-rules'], ['GET', '/api/v1/sso/domains'], ['GET', '/api/v1/sso/enforcement'], ['PUT', '/api/v1/sso/enforcement'], ['POST', '/api/v1/sso/connections/entra/test']] as const) {
    const res = await agent.client.request(m, p, m === 'PUT' ? { enforced: false } : m === 'POST' ? {} : undefined);
    assert.equal(res.status, 403, `${m} ${p}`);
  }
});

// After the test-sign-in test, which needs Tess not to exist yet.
describe('a second identity provider shaped like Okta on the same tenant', () => {
  test('response-signed, groups by name: a rule on the group name grants the role', async () => {
    await admin.client.post('/api/v1/sso/role-rules', { groupRef: 'service desk', role: 'agent' });
    const start = await fetch(`${t.url}/t/${tt.tenant.slug}/saml/okta/login?RelayState=${encodeURIComponent(`/t/${tt.tenant.slug}/agent`)}`, { redirect: 'manual' });
    const out = await browse(start.headers.get('location')!, { username: 'tess', password: 'tess-pw', jar: new CookieJar() });
    const form = (out as { form: SamlPostForm }).form;
    assert.ok(/<samlp:Response[^>]*>[\s\S]*?<ds:Signature/.test(form.xml.split('<saml:Assertion')[0]!), 'the Response itself is signed');
    const client = new Client(t.url);
    const res = await client.request('POST', new URL(form.action).pathname, new URLSearchParams(form.fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 303, res.body);
    assert.equal(res.headers.get('location'), `/t/${tt.tenant.slug}/agent`);
    const me = (await client.get('/api/v1/session')).body;
    assert.equal(me.user.email, 'tess@okta-corp.test');
    assert.equal(me.user.displayName, 'Tess Ter');
    assert.ok(me.roles.includes('agent'));
  });
});

describe('test sign-in failures and retesting', () => {
  test('a failed test sign-in lands on the admin\'s trace page; another identity provider needs a new test, a new certificate does not', async () => {
    const start = await admin.client.post('/api/v1/sso/connections/entra/test');
    const request = inflateRawSync(Buffer.from(new URL(start.body.url).searchParams.get('SAMLRequest')!, 'base64')).toString();
    const id = /ID="([^"]+)"/.exec(request)![1]!;
    const base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
    const p = { issuer: IDP, destination: `${base}/acs`, audience: `${base}/metadata`, recipient: `${base}/acs`, inResponseTo: id, nameId: 'x@corp.test', attributes: {} };
    const wrongKey = makeKeyPair('Not the IdP');
    const res = await new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/entra/acs`, new URLSearchParams({ SAMLResponse: b64(wrapInResponse(p, sign(buildAssertion(p), 'Assertion', wrongKey))) }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(res.status, 303);
    const ref = /KD-[0-9A-F]{10}$/.exec(res.headers.get('location')!)![0];
    const trace = (await admin.client.get(`/api/v1/sso/traces/${ref}`)).body;
    assert.equal(trace.test, true);
    assert.equal(trace.errorCode, 'untrusted_certificate');

    await t.db.query(`UPDATE sso_connections SET test_passed_at = now() WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    // A certificate rollover of the same identity provider (as the daily metadata refresh picks up) stays tested and live.
    const rolled = await admin.client.patch('/api/v1/sso/connections/entra', { entityId: IDP, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [wrongKey.cert] });
    assert.equal(rolled.status, 200);
    assert.notEqual(rolled.body.testPassedAt, null);
    assert.equal(rolled.body.live, true);
    // Another identity provider goes back to testing: no button, no sign-ins but the admin's test, until a test passes.
    const moved = await admin.client.patch('/api/v1/sso/connections/entra', { entityId: `${IDP}moved/`, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert] });
    assert.equal(moved.status, 200);
    assert.deepEqual([moved.body.testPassedAt, moved.body.live], [null, false]);
    const unpublished = await t.db.query<{ details: { reason?: string } }>(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'sso.connection_unpublished' ORDER BY occurred_at DESC LIMIT 1`, [tt.tenant.id]);
    assert.match(unpublished[0]!.details.reason ?? '', /identity provider replaced/);
    const back = await admin.client.patch('/api/v1/sso/connections/entra', { entityId: IDP, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert], published: true });
    assert.equal(back.body.live, true);
  });

  test('a disabled connection cannot be tested, and its attribute map is shown', async () => {
    const edited = await admin.client.patch('/api/v1/sso/connections/entra', { enabled: false, attributeMap: { email: 'mail', bogus: 'x' } });
    assert.equal(edited.status, 400, 'unknown attribute-map keys are refused');
    const ok = await admin.client.patch('/api/v1/sso/connections/entra', { enabled: false, attributeMap: { email: 'mail' } });
    assert.deepEqual(ok.body.attributeMap, { email: 'mail' });
    const res = await admin.client.post('/api/v1/sso/connections/entra/test');
    assert.equal(res.status, 409);
    await admin.client.patch('/api/v1/sso/connections/entra', { enabled: true, attributeMap: {} });
  });
});
