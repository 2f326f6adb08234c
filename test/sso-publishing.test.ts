import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { ENTRA } from './helpers/saml-acs.js';
import { b64, buildAssertion, makeKeyPair, sign, wrapInResponse, type KeyPair } from './helpers/saml-forge.js';

/**
 * A connection starts in testing: only the admin's test sign-in uses it. It goes live when a test
 * passes, or when the admin publishes it anyway (audited). Never a broken button for everyone.
 */
let t: TestApp;
let tt: TestTenant;
let admin: Client;
let keys: KeyPair;
const IDP = `https://sts.windows.net/${randomUUID()}/`;

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
  keys = makeKeyPair();
});
after(() => t.close());

const create = (slug: string, extra: object = {}) =>
  admin.post('/api/v1/sso/connections', { slug, entityId: IDP, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert], ...extra });
const buttons = async () => (await new Client(t.url).get(`/api/v1/tenants/${tt.tenant.slug}/sign-in-options`)).body.connections.map((c: any) => c.slug);
const base = (slug: string) => `${t.url}/t/${tt.tenant.slug}/saml/${slug}`;

/** A signed response from the test's IdP to the connection, answering `inResponseTo` (or none: IdP-initiated). */
function response(slug: string, email: string, inResponseTo: string | null) {
  const p = { issuer: IDP, destination: `${base(slug)}/acs`, audience: `${base(slug)}/metadata`, recipient: `${base(slug)}/acs`, nameId: email, inResponseTo, attributes: { [ENTRA.objectidentifier]: [randomUUID()], [ENTRA.emailaddress]: [email] } };
  return wrapInResponse(p, sign(buildAssertion(p), 'Assertion', keys));
}
const postAcs = (slug: string, xml: string) =>
  new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/${slug}/acs`, new URLSearchParams({ SAMLResponse: b64(xml) }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
const requestIdOf = (url: string) => /ID="([^"]+)"/.exec(inflateRawSync(Buffer.from(new URL(url).searchParams.get('SAMLRequest')!, 'base64')).toString())![1]!;

describe('a new connection is being tested', () => {
  test('no button on the sign-in page; Keydesk’s sign-on URL and the IdP’s own posts are refused with a trace; nothing is created', async () => {
    const created = await create('entra');
    assert.equal(created.status, 201);
    assert.equal(created.body.live, false);
    assert.equal(created.body.publishedAt, null);
    assert.deepEqual(await buttons(), []);

    const login = await fetch(`${base('entra')}/login`, { redirect: 'manual' });
    assert.equal(login.status, 400);
    assert.match(await login.text(), /not live yet/);

    const users = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n;
    const res = await postAcs('entra', response('entra', 'early@example.test', null));
    assert.equal(res.status, 400);
    const ref = /KD-[0-9A-F]{10}/.exec(res.body)![0];
    const trace = (await admin.get(`/api/v1/sso/traces/${ref}`)).body;
    assert.equal(trace.errorCode, 'connection_unpublished');
    assert.match(trace.trace.error.fix, /Run Test sign-in/);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [tt.tenant.id]))[0]!.n, users);
  });

  test('a passed test sign-in publishes it: the button appears and the publication is audited as tested', async () => {
    const { url } = (await admin.post('/api/v1/sso/connections/entra/test', {})).body;
    const res = await postAcs('entra', response('entra', 'tester@example.test', requestIdOf(url)));
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location')!, /\/admin\/sso\/traces\/KD-/);
    const c = (await admin.get('/api/v1/sso/connections/entra')).body;
    assert.equal(c.live, true);
    assert.deepEqual(await buttons(), ['entra']);
    const audit = (await admin.get('/api/v1/audit?action=sso.connection_published')).body.items;
    assert.deepEqual(audit.map((e: any) => e.details), [{ slug: 'entra', tested: true, via: 'test' }]);
    // And now it signs people in.
    assert.equal((await postAcs('entra', response('entra', 'now@example.test', null))).status, 303);
  });
});

describe('publishing by hand, and a second connection to the same identity provider', () => {
  test('a second connection with the same IdP entity ID is accepted with a warning naming the first, on both', async () => {
    const second = await create('entra-new', { displayName: 'Microsoft (new)' });
    assert.equal(second.status, 201);
    assert.match(second.body.warnings[0], /Connection "entra" trusts the same identity provider/);
    const first = (await admin.get('/api/v1/sso/connections/entra')).body;
    assert.match(first.warnings[0], /Connection "entra-new" trusts the same identity provider/);
    assert.deepEqual(await buttons(), ['entra'], 'the untested one has no button');
  });

  test('an admin may publish untested (audited as such) and take it back to testing', async () => {
    const pub = await admin.patch('/api/v1/sso/connections/entra-new', { published: true });
    assert.equal(pub.status, 200);
    assert.equal(pub.body.live, true);
    assert.deepEqual((await buttons()).sort(), ['entra', 'entra-new']);
    const audit = (await admin.get('/api/v1/audit?action=sso.connection_published')).body.items[0];
    assert.deepEqual(audit.details, { slug: 'entra-new', tested: false });

    const back = await admin.patch('/api/v1/sso/connections/entra-new', { published: false });
    assert.equal(back.body.live, false);
    assert.deepEqual(await buttons(), ['entra']);
    assert.equal((await admin.get('/api/v1/audit?action=sso.connection_unpublished')).body.items[0].details.slug, 'entra-new');
    // The agent is not allowed to.
    const agent = await t.user(tt.tenant, ['agent']);
    assert.equal((await agent.client.patch('/api/v1/sso/connections/entra-new', { published: true })).status, 403);
  });

  test('enforcement needs a live, tested connection: one taken back to testing does not count', async () => {
    await t.db.query('UPDATE sso_connections SET test_passed_at = now() WHERE tenant_id = $1 AND slug = $2', [tt.tenant.id, 'entra-new']);
    assert.equal((await admin.patch('/api/v1/sso/connections/entra', { published: false })).status, 200);
    const state = (await admin.get('/api/v1/sso/enforcement')).body;
    assert.equal(state.canEnforce, false);
    assert.match(state.reason, /No live connection has passed a test sign-in/);
    assert.equal((await admin.patch('/api/v1/sso/connections/entra', { published: true })).status, 200);
    assert.equal((await admin.get('/api/v1/sso/enforcement')).body.canEnforce, true);
  });
});
