import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { ensureSimpleSamlPhp, startSimpleSamlIdp, ENTRA_CLAIMS, type RunningIdp } from './idp/simplesamlphp.js';
import { browse, CookieJar, type SamlPostForm } from './idp/browserless-login.js';

const AGENTS_GROUP = randomUUID();
const OTHER_GROUP = randomUUID();

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };
let idp: RunningIdp;
let base: string;

function entraUser(username: string, email: string, groups: string[], oid = randomUUID()) {
  return {
    username,
    password: `${username}-pw`,
    attributes: {
      [ENTRA_CLAIMS.emailaddress]: [email],
      [ENTRA_CLAIMS.givenname]: [username[0]!.toUpperCase() + username.slice(1)],
      [ENTRA_CLAIMS.surname]: ['Example'],
      [ENTRA_CLAIMS.name]: [`${username}@corp.onmicrosoft.test`],
      [ENTRA_CLAIMS.objectidentifier]: [oid],
      [ENTRA_CLAIMS.groups]: groups,
    },
  };
}

before(async () => {
  ensureSimpleSamlPhp();
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['requester', 'admin']);
  base = `${t.url}/t/${tt.tenant.slug}/saml/entra`;
  idp = await startSimpleSamlIdp({
    shape: 'entra',
    sp: { entityId: `${base}/metadata`, acsUrl: `${base}/acs`, sloUrl: `${base}/slo` },
    users: [
      entraUser('ada', 'ada@corp.test', [AGENTS_GROUP, OTHER_GROUP]),
      entraUser('bob', 'Bob@Corp.test', [OTHER_GROUP]),
      entraUser('cy', 'cy@corp.test', []),
    ],
  });
  const res = await admin.client.post('/api/v1/sso/connections', { slug: 'entra', metadataXml: idp.metadataXml, publish: true });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'agent')`, [tt.tenant.id, AGENTS_GROUP]);
});
after(async () => {
  await idp?.stop();
  await t?.close();
});

/** SP-initiated: Keydesk's /login → IdP → the form the IdP's page would auto-post to our ACS. */
async function spInitiated(username: string, relay = `/t/${tt.tenant.slug}/portal`): Promise<SamlPostForm> {
  const start = await fetch(`${base}/login?RelayState=${encodeURIComponent(relay)}`, { redirect: 'manual' });
  assert.equal(start.status, 302);
  const location = start.headers.get('location')!;
  assert.ok(location.startsWith(idp.ssoUrl), location);
  const out = await browse(location, { username, password: `${username}-pw`, jar: new CookieJar() });
  assert.equal(out.kind, 'post');
  return (out as { form: SamlPostForm }).form;
}

async function postToAcs(form: SamlPostForm, client = new Client(t.url)) {
  const res = await client.request('POST', new URL(form.action).pathname, new URLSearchParams(form.fields).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
  });
  return { res, client };
}

describe('SAML sign-in with an Entra-shaped SimpleSAMLphp', () => {
  test('SP-initiated: no RequestedAuthnContext; JIT account; lands on the wanted page; session works', async () => {
    const start = await fetch(`${base}/login`, { redirect: 'manual' });
    const request = new URL(start.headers.get('location')!).searchParams.get('SAMLRequest')!;
    const { inflateRawSync } = await import('node:zlib');
    const xml = inflateRawSync(Buffer.from(request, 'base64')).toString();
    assert.ok(!xml.includes('RequestedAuthnContext'));
    assert.ok(xml.includes(`AssertionConsumerServiceURL="${base}/acs"`));

    const form = await spInitiated('cy');
    const { res, client } = await postToAcs(form);
    assert.equal(res.status, 303, res.body);
    assert.equal(res.headers.get('location'), `/t/${tt.tenant.slug}/portal`);
    const session = await client.get('/api/v1/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.user.email, 'cy@corp.test');
    assert.equal(session.body.user.source, 'jit');
    assert.equal(session.body.user.displayName, 'Cy Example');
    assert.deepEqual(session.body.roles, ['requester']);
    const audit = (await admin.client.get('/api/v1/audit?action=signin.saml&outcome=success')).body.items;
    assert.ok(audit.some((e: any) => e.actorLabel === 'cy@corp.test' && e.details.initiatedBy === 'sp'));
  });

  test('the same response posted again is refused as a replay, with a reference the admin can look up', async () => {
    const form = await spInitiated('cy');
    assert.equal((await postToAcs(form)).res.status, 303);
    const again = await postToAcs(form);
    assert.equal(again.res.status, 400);
    const ref = /KD-[0-9A-F]{10}/.exec(again.res.body)?.[0];
    assert.ok(ref, again.res.body);
    const rows = await t.db.query<{ error_code: string }>('SELECT error_code FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
    // The request id was consumed by the first post, so the replay fails there or at the replay cache.
    assert.ok(['unknown_request', 'replayed'].includes(rows[0]!.error_code), rows[0]!.error_code);
  });

  test('a group rule makes an Entra group member an agent on sign-in', async () => {
    const form = await spInitiated('ada');
    const { res, client } = await postToAcs(form);
    assert.equal(res.status, 303);
    const s = (await client.get('/api/v1/session')).body;
    assert.deepEqual(s.roles.sort(), ['agent', 'requester']);
    const detail = (await admin.client.get(`/api/v1/users/${s.user.id}`)).body;
    const grant = detail.grants.find((g: any) => g.role === 'agent');
    assert.equal(grant.origin, 'rule');
    assert.equal(grant.groupRef, AGENTS_GROUP);
  });

  test('an account created beforehand is linked by email (its domain verified), case-insensitively, not duplicated', async () => {
    const pre = await admin.client.post('/api/v1/users', { email: 'bob@corp.test', displayName: 'Bob (pre-created)', roles: ['requester', 'change_manager'] });
    assert.equal(pre.status, 201);
    // Linking by email needs proof the IdP speaks for the domain (account-linking.test.ts has the refusals).
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'corp.test', 'x', now())`, [tt.tenant.id]);
    const { res, client } = await postToAcs(await spInitiated('bob'));
    assert.equal(res.status, 303);
    const s = (await client.get('/api/v1/session')).body;
    assert.equal(s.user.id, pre.body.id);
    assert.ok(s.roles.includes('change_manager'), 'roles a person granted are kept');
    const count = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE tenant_id = $1 AND lower(email) = 'bob@corp.test'`, [tt.tenant.id]);
    assert.equal(count[0]!.n, 1);
  });

  test('IdP-initiated (My Apps tile): accepted with the configured RelayState, refused once the connection disallows it', async () => {
    const landing = `/t/${tt.tenant.slug}/agent`;
    const out = await browse(idp.idpInitiatedUrl(landing), { username: 'ada', password: 'ada-pw', jar: new CookieJar() });
    assert.equal(out.kind, 'post');
    const form = (out as { form: SamlPostForm }).form;
    assert.ok(!/InResponseTo=/.test(form.xml.split('<saml:Assertion')[0]!));
    const { res } = await postToAcs(form);
    assert.equal(res.status, 303, res.body);
    assert.equal(res.headers.get('location'), landing);

    // An absolute RelayState cannot send anyone off-site.
    const evil = await browse(idp.idpInitiatedUrl('https://evil.example/phish'), { username: 'ada', password: 'ada-pw', jar: new CookieJar() });
    const r2 = await postToAcs((evil as { form: SamlPostForm }).form);
    assert.equal(r2.res.headers.get('location'), `/t/${tt.tenant.slug}/`);

    await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowIdpInitiated}', 'false') WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    try {
      const again = await browse(idp.idpInitiatedUrl(landing), { username: 'ada', password: 'ada-pw', jar: new CookieJar() });
      const r3 = await postToAcs((again as { form: SamlPostForm }).form);
      assert.equal(r3.res.status, 400);
      const ref = /KD-[0-9A-F]{10}/.exec(r3.res.body)![0];
      const trace = await t.db.query<{ error_code: string; trace: any }>('SELECT error_code, trace FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
      assert.equal(trace[0]!.error_code, 'idp_initiated_disabled');
      assert.match(trace[0]!.trace.error.fix, /allow IdP-initiated/);
      const kept = String(trace[0]!.trace.responseXml);
      for (const el of ['SignatureValue', 'DigestValue', 'X509Certificate']) {
        assert.match(kept, new RegExp(`<(\\w+:)?${el}>…elided…</`), `${el} is kept, elided`);
        assert.doesNotMatch(kept, new RegExp(`<(\\w+:)?${el}>[A-Za-z0-9+/=\\s]{20}`), `${el}'s value is not kept`);
      }
    } finally {
      await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowIdpInitiated}', 'true') WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    }
  });

  test('a response posted to another connection\'s ACS is refused (audience, recipient, destination)', async () => {
    await admin.client.post('/api/v1/sso/connections', { slug: 'other', metadataXml: idp.metadataXml, publish: true });
    const form = await spInitiated('cy');
    const res = await new Client(t.url).request('POST', `/t/${tt.tenant.slug}/saml/other/acs`, new URLSearchParams(form.fields).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(res.status, 400);
    const ref = /KD-[0-9A-F]{10}/.exec(res.body)![0];
    const trace = await t.db.query<{ error_code: string; trace: any }>('SELECT error_code, trace FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
    assert.equal(trace[0]!.error_code, 'destination_mismatch');
    assert.equal(trace[0]!.trace.error.received, `${base}/acs`);
    assert.equal(trace[0]!.trace.error.expected, `${t.url}/t/${tt.tenant.slug}/saml/other/acs`);
  });
});

describe('single logout', () => {
  test('signing out of Keydesk signs out at the IdP (HTTP-Redirect), which sends the person back', async () => {
    const jar = new CookieJar();
    const start = await fetch(`${base}/login`, { redirect: 'manual' });
    const out = await browse(start.headers.get('location')!, { username: 'cy', password: 'cy-pw', jar });
    const { res, client } = await postToAcs((out as { form: SamlPostForm }).form);
    assert.equal(res.status, 303);
    client.csrf = (await client.get('/api/v1/session')).body.csrfToken;
    const signout = await client.delete('/api/v1/session');
    assert.equal(signout.status, 200);
    const logoutUrl = new URL(signout.body.logoutUrl);
    assert.equal(logoutUrl.origin + logoutUrl.pathname, idp.sloUrl);
    assert.equal((await client.get('/api/v1/session')).status, 401, 'the Keydesk session ended first');
    const atIdp = await browse(logoutUrl.toString(), { jar });
    assert.equal(atIdp.kind, 'redirect');
    const back = (atIdp as { location: string }).location;
    assert.ok(back.startsWith(`${base}/slo?SAMLResponse=`), back);
    const landing = await fetch(back, { redirect: 'manual' });
    assert.equal(landing.headers.get('location'), `/t/${tt.tenant.slug}/login?signedOut=1`);
    // The IdP session is gone too: signing in again asks for the password.
    const restart = (await fetch(`${base}/login`, { redirect: 'manual' })).headers.get('location')!;
    await assert.rejects(browse(restart, { jar }), /asks for a login/);
  });

  test('a signed LogoutRequest from the IdP ends the Keydesk session; a tampered or unsigned one ends nothing', async () => {
    const jar = new CookieJar();
    const start = await fetch(`${base}/login`, { redirect: 'manual' });
    const out = await browse(start.headers.get('location')!, { username: 'bob', password: 'bob-pw', jar });
    const { client } = await postToAcs((out as { form: SamlPostForm }).form);
    assert.equal((await client.get('/api/v1/session')).status, 200);

    const atIdp = await browse(idp.idpInitiatedLogoutUrl(`${t.url}/t/${tt.tenant.slug}/login`), { jar });
    assert.equal(atIdp.kind, 'redirect');
    const toUs = new URL((atIdp as { location: string }).location);
    assert.equal(toUs.pathname, `/t/${tt.tenant.slug}/saml/entra/slo`);
    assert.ok(toUs.searchParams.get('Signature'));

    const tampered = new URL(toUs);
    tampered.searchParams.set('RelayState', 'https://evil.example/');
    assert.equal((await fetch(tampered, { redirect: 'manual' })).status, 400);
    const unsigned = new URL(toUs);
    unsigned.searchParams.delete('Signature');
    unsigned.searchParams.delete('SigAlg');
    assert.equal((await fetch(unsigned, { redirect: 'manual' })).status, 400);
    assert.equal((await client.get('/api/v1/session')).status, 200, 'refused requests end nothing');

    const ok = await fetch(toUs, { redirect: 'manual' });
    assert.equal(ok.status, 303);
    const reply = new URL(ok.headers.get('location')!);
    assert.equal(reply.origin + reply.pathname, idp.sloUrl);
    assert.ok(reply.searchParams.get('SAMLResponse'));
    assert.equal((await client.get('/api/v1/session')).status, 401, 'the session ended');
    assert.equal((await fetch(toUs, { redirect: 'manual' })).status, 400, 'the same LogoutRequest twice is a replay');
  });
});
