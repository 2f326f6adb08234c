/**
 * OpenID Connect from the attacker's side: each forged, altered or misdirected answer is refused
 * with its reason in the trace, no session is opened and no account is made or changed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { startForger, unsignedJwt, type AuthorizeSeen, type Forger, type TokenAnswer } from './helpers/oidc-forge.js';
import { createOidcConnection } from '../src/identity/oidc/connection.js';
import { issuerOwnsDomain } from '../src/identity/oidc/claims.js';
import { GROUP_SCHEMA, newUser, patch, scimClient } from './helpers/scim.js';
import { readFileSync } from 'node:fs';
import { redactQuery } from '../src/app.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretBox } from '../src/identity/secrets.js';

let t: TestApp;
let tt: TestTenant;
let forger: Forger;
/** A guest directory on the multi-tenant connection's allow-list (a partner company). */
const PARTNER = randomUUID();

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  forger = await startForger();
  const box = new SecretBox(t.config.secret, 'oidc');
  const ctx = { db: t.db, tenant: tt.tenant, actor: null };
  await createOidcConnection(ctx, box, { slug: 'entra', issuer: forger.issuer, clientId: 'kd-client', clientSecret: 's3cret', publish: true });
  await createOidcConnection(ctx, box, { slug: 'multi', issuer: forger.organizationsIssuer, clientId: 'kd-client', clientSecret: 's3cret', allowedTenants: [forger.tenantId, PARTNER], publish: true });
});
after(async () => {
  await forger?.stop();
  await t?.close();
});

/** Sessions, accounts, role grants and account bindings of the tenant: what a refused sign-in must leave as it was. */
const counts = async () =>
  (await t.db.query<{ s: number; u: number; g: number; b: number }>(
    `SELECT (SELECT count(*)::int FROM sessions WHERE tenant_id = $1) AS s, (SELECT count(*)::int FROM users WHERE tenant_id = $1) AS u,
            (SELECT count(*)::int FROM role_grants WHERE tenant_id = $1) AS g, (SELECT count(*)::int FROM external_identities WHERE tenant_id = $1) AS b`,
    [tt.tenant.id],
  ))[0]!;

/** The provider's answer (its redirect to the callback) sent back as `form_post` does: a POST of the parameters as a form, from the provider's page. */
const postCallback = (browser: Client, callback: string) => {
  const url = new URL(callback);
  return browser.request('POST', url.pathname, url.searchParams.toString(), { 'content-type': 'application/x-www-form-urlencoded', origin: forger.origin });
};

/** A sign-in started in `browser` and answered at once by the provider: the callback URL it redirects to (not yet followed). */
async function startSignin(browser: Client, opts: { conn?: string; relayState?: string } = {}) {
  const login = await browser.get(`/t/${tt.tenant.slug}/oidc/${opts.conn ?? 'entra'}/login${opts.relayState !== undefined ? `?RelayState=${encodeURIComponent(opts.relayState)}` : ''}`);
  assert.equal(login.status, 303);
  const authorize = await fetch(login.headers.get('location')!, { redirect: 'manual' });
  return authorize.headers.get('location')!;
}

type Mode = 'query' | 'form_post';

/** One sign-in in one browser, the token endpoint answering as `answer` says; the callback by redirect (query) or as a posted form. */
async function attempt(answer: (seen: AuthorizeSeen) => Promise<TokenAnswer> | TokenAnswer, opts: { conn?: string; relayState?: string; mode?: Mode } = {}) {
  forger.answer = answer;
  const browser = new Client(t.url);
  const callback = await startSignin(browser, opts);
  const res = opts.mode === 'form_post' ? await postCallback(browser, callback) : await browser.get(callback.slice(t.url.length));
  return { browser, res, callback };
}

/** A refusal: a plain page with a reference (no session cookie), the trace says `code`, nothing changed since `before`. */
async function assertRefused(res: Awaited<ReturnType<Client['get']>>, code: string, before: Awaited<ReturnType<typeof counts>>, status = 400) {
  assert.equal(res.status, status, `${code}: ${String(res.body).slice(0, 300)}`);
  assert.equal(res.headers.getSetCookie().some((c) => c.startsWith('keydesk_session=')), false);
  const ref = /KD-[0-9A-F]{10}/.exec(String(res.body))?.[0];
  assert.ok(ref, 'the person gets a reference');
  const [trace] = await t.db.query<{ error_code: string; trace: { error: { fix: string; message: string } } }>('SELECT error_code, trace FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
  assert.equal(trace!.error_code, code, trace!.trace.error.message);
  assert.deepEqual(await counts(), before, 'no session, no account, no role, no binding');
  return trace!.trace.error;
}

/** Refused: as assertRefused, for one sign-in whose token endpoint answers as `answer` says. */
async function refused(code: string, answer: (seen: AuthorizeSeen) => Promise<TokenAnswer> | TokenAnswer, opts: { conn?: string; status?: number; mode?: Mode } = {}) {
  const before = await counts();
  const { res } = await attempt(answer, opts);
  return assertRefused(res, code, before, opts.status);
}

const token = (over: Record<string, unknown>, opts?: Parameters<Forger['idToken']>[2]) => async (seen: AuthorizeSeen): Promise<TokenAnswer> => ({
  json: { access_token: 'at', token_type: 'Bearer', id_token: await forger.idToken(seen, over, opts) },
});
const raw = (make: (seen: AuthorizeSeen) => string | Promise<string>) => async (seen: AuthorizeSeen): Promise<TokenAnswer> => ({
  json: { access_token: 'at', token_type: 'Bearer', id_token: await make(seen) },
});
const now = () => Math.floor(Date.now() / 1000);

describe('a forged or altered ID token is refused', () => {
  test('the genuine answer signs in (the baseline every attack below departs from)', async () => {
    const { res, browser } = await attempt(token({ email: 'baseline@corp.test', oid: randomUUID() }));
    assert.equal(res.status, 303, String(res.body).slice(0, 300));
    assert.equal((await browser.get('/api/v1/session')).body.user.email, 'baseline@corp.test');
  });

  test('wrong issuer, another Entra tenant, wrong audience, an extra audience without azp, another azp', async () => {
    await refused('issuer_mismatch', token({ iss: 'https://login.microsoftonline.com/evil/v2.0' }));
    const other = randomUUID();
    await refused('issuer_mismatch', token({ iss: `${forger.origin}/${other}/v2.0`, tid: other }));
    await refused('audience_mismatch', token({ aud: 'someone-elses-app' }));
    await refused('audience_mismatch', token({ aud: ['kd-client', 'someone-elses-app'] }));
    await refused('azp_mismatch', token({ azp: 'someone-elses-app' }));
  });

  test('expired, not yet valid, and the nonce of another sign-in or none', async () => {
    await refused('expired', token({ iat: now() - 7200, exp: now() - 3600 }));
    await refused('not_yet_valid', token({ nbf: now() + 3600 }));
    await refused('nonce_mismatch', token({ nonce: 'nonce-of-another-sign-in' }));
    await refused('nonce_mismatch', token({ nonce: undefined }));
  });

  test('alg none, HS256 keyed with the provider’s public key, another key under the provider’s kid, a key in the header', async () => {
    const payload = (seen: AuthorizeSeen) => ({ iss: forger.issuer, aud: seen.clientId, sub: 'x', nonce: seen.nonce, iat: now(), exp: now() + 600, email: 'mallory@corp.test' });
    await refused('bad_algorithm', raw((seen) => unsignedJwt({ alg: 'none', typ: 'JWT' }, payload(seen))));
    const publicPem = createPublicKey(forger.key).export({ type: 'spki', format: 'pem' }).toString();
    await refused(
      'bad_algorithm',
      raw((seen) => {
        const unsigned = unsignedJwt({ alg: 'HS256', kid: forger.kid }, payload(seen)).slice(0, -1);
        return `${unsigned}.${createHmac('sha256', publicPem).update(unsigned).digest('base64url')}`;
      }),
    );
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await refused('untrusted_key', token({}, { key: attacker }));
    const attackerJwk = await exportJWK(createPublicKey(attacker));
    await refused('embedded_key', raw((seen) => new SignJWT(payload(seen)).setProtectedHeader({ alg: 'RS256', jwk: attackerJwk }).sign(attacker)));
  });

  test('a stripped signature, and a genuine token with its claims changed', async () => {
    await refused('untrusted_key', raw(async (seen) => (await forger.idToken(seen)).replace(/\.[^.]+$/, '.')));
    await refused(
      'untrusted_key',
      raw(async (seen) => {
        const [h, , s] = (await forger.idToken(seen)).split('.');
        const altered = unsignedJwt({}, { iss: forger.issuer, aud: seen.clientId, sub: 'x', nonce: seen.nonce, iat: now(), exp: now() + 600, email: 'admin@corp.test' }).split('.')[1];
        return `${h}.${altered}.${s}`;
      }),
    );
  });

  test('multi-tenant issuer: a tenant not on the allow-list, and a tid that does not give the iss', async () => {
    const outsider = randomUUID();
    await refused('tenant_not_allowed', token({ iss: `${forger.origin}/${outsider}/v2.0`, tid: outsider }), { conn: 'multi' });
    await refused('issuer_mismatch', token({ iss: `${forger.origin}/${randomUUID()}/v2.0`, tid: forger.tenantId }), { conn: 'multi' });
    const ok = await attempt(token({ iss: forger.issuer, tid: forger.tenantId, email: 'member@corp.test', oid: randomUUID() }), { conn: 'multi' });
    assert.equal(ok.res.status, 303, String(ok.res.body).slice(0, 300));
  });
});

describe('the account engine through OIDC', () => {
  test('with the waiting room on, a new person waits; leaving the group takes the rule-given role away at the next sign-in', async () => {
    await t.db.query(`UPDATE sso_connections SET waiting_room = true WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    try {
      const waiting = await attempt(token({ email: `waits-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID() }));
      assert.equal(waiting.res.status, 303);
      assert.equal(waiting.res.headers.get('location'), `/t/${tt.tenant.slug}/waiting`);
      assert.equal((await waiting.browser.get('/api/v1/session')).status, 401);
    } finally {
      await t.db.query(`UPDATE sso_connections SET waiting_room = false WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    }
    const group = randomUUID();
    await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'change_manager')`, [tt.tenant.id, group]);
    const oid = randomUUID();
    const member = await attempt(token({ email: 'mover@corp.test', oid, groups: [group] }));
    assert.ok((await member.browser.get('/api/v1/session')).body.roles.includes('change_manager'));
    const left = await attempt(token({ email: 'mover@corp.test', oid, groups: [] }));
    assert.equal(left.res.status, 303);
    assert.equal((await left.browser.get('/api/v1/session')).body.roles.includes('change_manager'), false);
  });
});

describe('keys and groups', () => {
  test('a flood of made-up key ids makes Keydesk fetch the provider’s keys at most once a minute', async () => {
    const before = forger.jwksRequests;
    for (let i = 0; i < 8; i++) {
      await refused('untrusted_key', raw((seen) => new SignJWT({ iss: forger.issuer, aud: seen.clientId, sub: 'x', nonce: seen.nonce, iat: now(), exp: now() + 600 }).setProtectedHeader({ alg: 'RS256', kid: `made-up-${i}` }).sign(forger.key)));
    }
    assert.ok(forger.jwksRequests - before <= 1, `JWKS fetched ${forger.jwksRequests - before} times for 8 unknown key ids`);
  });

  test('a groups overage leaves the rule-given role as it was, and the trace says so', async () => {
    const group = randomUUID();
    await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'agent')`, [tt.tenant.id, group]);
    const oid = randomUUID();
    const first = await attempt(token({ email: 'overage@corp.test', oid, groups: [group] }));
    assert.ok((await first.browser.get('/api/v1/session')).body.roles.includes('agent'));
    const second = await attempt(token({ email: 'overage@corp.test', oid, groups: undefined, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } }));
    assert.equal(second.res.status, 303);
    assert.ok((await second.browser.get('/api/v1/session')).body.roles.includes('agent'), 'overage means unknown, not none');
    const [trace] = await t.db.query<{ trace: { steps: { check: string; ok: boolean; detail?: string }[] } }>(
      `SELECT trace FROM signin_traces WHERE tenant_id = $1 AND outcome = 'success' ORDER BY created_at DESC LIMIT 1`,
      [tt.tenant.id],
    );
    assert.ok(trace!.trace.steps.some((st) => !st.ok && /overage/.test(st.detail ?? '')));
  });
});

describe('a guest directory of a multi-tenant connection', () => {
  const asPartner = (over: Record<string, unknown>) => token({ iss: `${forger.origin}/${PARTNER}/v2.0`, tid: PARTNER, oid: randomUUID(), ...over });

  test('cannot sign in to an account of a verified domain by asserting its address (nOAuth), nor take a new address there', async () => {
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'home-corp.test', 'x', now())`, [tt.tenant.id]);
    await t.user(tt.tenant, ['requester', 'admin'], 'chief@home-corp.test');
    await refused('link_unverified', asPartner({ email: 'chief@home-corp.test', email_verified: true }), { conn: 'multi', status: 403 });
    await refused('link_unverified', asPartner({ email: 'newhire@home-corp.test' }), { conn: 'multi', status: 403 });
    // The home directory speaks for its verified domain, as a single-tenant connection does.
    const home = await attempt(token({ iss: forger.issuer, tid: forger.tenantId, oid: randomUUID(), email: 'colleague@home-corp.test' }), { conn: 'multi' });
    assert.equal(home.res.status, 303, String(home.res.body).slice(0, 300));
  });

  test('cannot be linked into a SCIM-provisioned account by its address, nor move a known identity onto a verified-domain address', async () => {
    const scim = await scimClient(t, tt.tenant);
    const victim = `cfo-${randomUUID().slice(0, 6)}@home-corp.test`;
    assert.equal((await scim.call('POST', 'Users', newUser(victim, { externalId: randomUUID() }))).status, 201);
    await refused('link_unverified', asPartner({ email: victim }), { conn: 'multi', status: 403 });
    // A guest first comes with its own address (allowed), then claims one of the verified domain: kept as it was.
    const oid = randomUUID();
    const first = await attempt(asPartner({ oid, email: `mallory-${oid.slice(0, 6)}@partner.test` }), { conn: 'multi' });
    assert.equal(first.res.status, 303);
    const second = await attempt(asPartner({ oid, email: `cfo-to-be-${oid.slice(0, 6)}@home-corp.test` }), { conn: 'multi' });
    assert.equal(second.res.status, 303);
    assert.equal((await second.browser.get('/api/v1/session')).body.user.email, `mallory-${oid.slice(0, 6)}@partner.test`);
  });

  test('its groups and app roles do not match the home directory’s rules; they are told apart by tenant', async () => {
    await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, 'Keydesk.Admins', 'admin')`, [tt.tenant.id]);
    const guest = await attempt(asPartner({ email: `contractor-${randomUUID().slice(0, 6)}@partner.test`, roles: ['Keydesk.Admins'], groups: ['Keydesk.Admins'] }), { conn: 'multi' });
    assert.equal(guest.res.status, 303);
    const session = (await guest.browser.get('/api/v1/session')).body;
    assert.deepEqual(session.roles, ['requester'], 'a partner’s own assignment grants nothing here');
    const [row] = await t.db.query<{ signin_groups: string[] }>('SELECT signin_groups FROM users WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, session.user.id]);
    assert.deepEqual(row!.signin_groups, [`${PARTNER}:Keydesk.Admins`]);
    const member = await attempt(token({ iss: forger.issuer, tid: forger.tenantId, oid: randomUUID(), email: `it-${randomUUID().slice(0, 6)}@home-corp.test`, roles: ['Keydesk.Admins'] }), { conn: 'multi' });
    assert.ok((await member.browser.get('/api/v1/session')).body.roles.includes('admin'), 'the home directory’s app role does');
  });
});

describe('the callback and the provider', () => {
  test('a state never issued, and a callback replayed after it signed in, sign no one in', async () => {
    const before = await counts();
    const made = await new Client(t.url).get(`/t/${tt.tenant.slug}/oidc/entra/callback?code=abc&state=never-issued`);
    await assertRefused(made, 'unknown_state', before);
    const { res, callback, browser } = await attempt(token({ email: 'once@corp.test', oid: randomUUID() }));
    assert.equal(res.status, 303);
    const replay = await browser.get(callback.slice(t.url.length));
    assert.equal(replay.status, 400);
    assert.equal((await counts()).u, before.u + 1, 'one account, from the one sign-in');
  });

  test('a token endpoint answering with something that is not JSON, or without an ID token, is a failure, no 5xx', async () => {
    await refused('token_endpoint', () => ({ status: 502, raw: '<html>Bad gateway</html>' }));
    await refused('token_endpoint', () => ({ status: 200, json: { access_token: 'at', token_type: 'Bearer' } }));
  });

  test('an unverified email equal to an existing admin’s never signs in as that admin (nOAuth)', async () => {
    const boss = await t.user(tt.tenant, ['requester', 'admin'], 'boss@corp.test');
    const sessions = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2', [tt.tenant.id, boss.id]))[0]!.n;
    await refused('link_unverified', token({ email: 'boss@corp.test', email_verified: true, oid: randomUUID() }), { status: 403 });
    const after = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2', [tt.tenant.id, boss.id]))[0]!.n;
    assert.equal(after, sessions);
  });

  test('another provider’s email_verified links no account at a domain it does not own (an Okta admin can mark any address verified)', async () => {
    const lead = await t.user(tt.tenant, ['requester', 'admin'], 'lead@partner-mail.test');
    const sessions = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2', [tt.tenant.id, lead.id]))[0]!.n;
    const bindings = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM external_identities WHERE user_id = $1', [lead.id]))[0]!.n;
    const [s0, b0] = [await sessions(), await bindings()];
    // Not Entra-shaped (no tid, no oid): the provider's own email_verified is all it offers.
    const fix = await refused('link_unverified', token({ email: 'lead@partner-mail.test', email_verified: true, tid: undefined, oid: undefined, sub: randomUUID() }), { status: 403 });
    assert.match(fix.fix, /partner-mail\.test/, 'the fix names the domain to verify');
    assert.equal(await sessions(), s0);
    assert.equal(await bindings(), b0, 'the account stays unbound');
  });

  test('Entra’s xms_edov (the domain owner verified the address) links the existing account', async () => {
    const person = await t.user(tt.tenant, ['requester'], `edov-${randomUUID().slice(0, 6)}@corp.test`);
    const { res, browser } = await attempt(token({ email: person.email, xms_edov: true, oid: randomUUID() }));
    assert.equal(res.status, 303, String(res.body).slice(0, 300));
    assert.equal((await browser.get('/api/v1/session')).body.user.id, person.id);
  });

  test('a provider owns an address’s domain only when its issuer’s host is that domain, or it is the mail provider', () => {
    assert.equal(issuerOwnsDomain('https://acme.example/oauth2', 'ann@acme.example'), true);
    assert.equal(issuerOwnsDomain('https://ACME.example', 'ann@Acme.Example'), true);
    assert.equal(issuerOwnsDomain('https://accounts.google.com', 'ann@gmail.com'), true);
    assert.equal(issuerOwnsDomain('https://acme.okta.com/oauth2/default', 'ann@acme.com'), false);
    assert.equal(issuerOwnsDomain('https://acme.okta.com', 'ann@okta.com'), false, 'a customer’s name under a platform speaks not for the platform');
    assert.equal(issuerOwnsDomain('https://login.acme.example', 'ann@acme.example'), false);
    assert.equal(issuerOwnsDomain('https://acme.example.evil.test', 'ann@acme.example'), false);
    assert.equal(issuerOwnsDomain('https://accounts.google.com', 'ann@acme.example'), false);
    assert.equal(issuerOwnsDomain('not a url', 'ann@acme.example'), false);
  });

  test('RelayState leads only to a page of this tenant: no open redirect', async () => {
    for (const relayState of ['https://evil.example/phish', '//evil.example/x', '/t/other-tenant/agent', 'javascript:alert(1)']) {
      const { res } = await attempt(token({ email: `relay-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID() }), { relayState });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location') ?? '', new RegExp(`^/t/${tt.tenant.slug}/`), relayState);
    }
  });
});

describe('the form_post response mode', () => {
  test('code and state posted as a form sign in, once, and land where RelayState says', async () => {
    const email = `posted-${randomUUID().slice(0, 6)}@corp.test`;
    const { res, browser, callback } = await attempt(token({ email, oid: randomUUID() }), { mode: 'form_post', relayState: `/t/${tt.tenant.slug}/agent` });
    assert.equal(res.status, 303, String(res.body).slice(0, 300));
    assert.equal(res.headers.get('location'), `/t/${tt.tenant.slug}/agent`);
    assert.equal((await browser.get('/api/v1/session')).body.user.email, email);
    // The same form posted again (the back button, or someone who saw it): its state is used up.
    const before = await counts();
    await assertRefused(await postCallback(browser, callback), 'unknown_state', before);
  });

  test('a form posted in another browser (login CSRF) signs no one in and leaves the sign-in to the browser that started it', async () => {
    forger.answer = token({ email: `csrf-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID() });
    const starter = new Client(t.url);
    const callback = await startSignin(starter);
    const [before, tokenRequests] = [await counts(), forger.tokenRequests];
    // The attacker's page auto-submits the victim's (or its own) code and state to Keydesk from the victim's browser.
    await assertRefused(await postCallback(new Client(t.url), callback), 'other_browser', before);
    assert.equal(forger.tokenRequests, tokenRequests, 'the code was not redeemed');
    const own = await postCallback(starter, callback);
    assert.equal(own.status, 303, String(own.body).slice(0, 300));
    assert.equal((await starter.get('/api/v1/session')).status, 200);
  });

  test('a form with a state never issued, or with none, signs no one in; the code is never redeemed', async () => {
    const before = await counts();
    const tokenRequests = forger.tokenRequests;
    const browser = new Client(t.url);
    await startSignin(browser); // the browser has a sign-in cookie, of another sign-in
    for (const body of [new URLSearchParams({ code: 'stolen-or-made-up', state: 'never-issued' }), new URLSearchParams({ code: 'stolen-or-made-up' })]) {
      const res = await browser.request('POST', `/t/${tt.tenant.slug}/oidc/entra/callback`, body.toString(), { 'content-type': 'application/x-www-form-urlencoded', origin: forger.origin });
      await assertRefused(res, 'unknown_state', before);
    }
    assert.equal(forger.tokenRequests, tokenRequests);
  });

  test('a provider error posted as a form is a failure with the fix', async () => {
    forger.authorizeError = { error: 'access_denied', error_description: 'AADSTS50105: The signed in user is not assigned to a role for the application.' };
    try {
      const e = await refused('provider_error', token({}), { mode: 'form_post' });
      assert.match(e.fix, /not assigned to the application/);
    } finally {
      forger.authorizeError = null;
    }
  });
});

describe('a role rule scoped to a connection', () => {
  test('grants its role only through that connection: the same group name from another connection or from SCIM grants nothing', async () => {
    const group = `Service Desk ${randomUUID().slice(0, 8)}`;
    const ruleGrants = async (userId: string) =>
      (await t.db.query<{ role: string }>(`SELECT role FROM role_grants WHERE tenant_id = $1 AND user_id = $2 AND origin = 'rule' ORDER BY role`, [tt.tenant.id, userId])).map((r) => r.role);
    const sessionOf = async (res: { browser: Client }) => (await res.browser.get('/api/v1/session')).body;
    // Before the rule: a person of the other connection (the multi-tenant one's home directory) in a group of that name,
    const otherOid = randomUUID();
    const viaOther = (over: Record<string, unknown> = {}) => token({ iss: forger.issuer, tid: forger.tenantId, oid: otherOid, email: `other-${otherOid.slice(0, 6)}@corp.test`, groups: [group], ...over });
    const other = await sessionOf(await attempt(viaOther(), { conn: 'multi' }));
    // a SCIM-provisioned person in a SCIM group of that name (by displayName and by externalId),
    const scim = await scimClient(t, tt.tenant);
    const provisioned = (await scim.call('POST', 'Users', newUser(`scim-${randomUUID().slice(0, 6)}@corp.test`))).body.id;
    const scimGroup = await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: group, externalId: group, members: [{ value: provisioned }] });
    assert.equal(scimGroup.status, 201, JSON.stringify(scimGroup.body));
    // and a person of the connection the rule names.
    const ownOid = randomUUID();
    const viaOwn = () => token({ oid: ownOid, email: `own-${ownOid.slice(0, 6)}@corp.test`, groups: [group.toUpperCase()] });
    const own = await sessionOf(await attempt(viaOwn()));

    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const rule = await admin.post('/api/v1/sso/role-rules', { groupRef: group, role: 'change_manager', connection: 'entra' });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    assert.equal(rule.body.connection, 'entra');
    // Applied at once to the one person whose sign-in through that connection carried the group.
    assert.deepEqual(await ruleGrants(own.user.id), ['change_manager']);
    assert.deepEqual(await ruleGrants(other.user.id), []);
    assert.deepEqual(await ruleGrants(provisioned), []);

    // Later sign-ins and SCIM changes are judged the same way.
    const again = await sessionOf(await attempt(viaOther(), { conn: 'multi' }));
    assert.equal(again.user.id, other.user.id);
    assert.deepEqual(again.roles, ['requester'], 'the other connection’s group of the same name grants nothing');
    // A SCIM-provisioned person who signs in through the named connection, without the group in
    // their token, and whom SCIM then puts in its group of that name: the SCIM group counts for nothing.
    const joinerEmail = `scim-${randomUUID().slice(0, 6)}@corp.test`;
    const joiner = (await scim.call('POST', 'Users', newUser(joinerEmail))).body.id;
    const joinerOid = randomUUID();
    assert.equal((await sessionOf(await attempt(token({ oid: joinerOid, email: joinerEmail, groups: [] })))).user.id, joiner, 'linked to the SCIM-provisioned account');
    assert.ok((await scim.call('PATCH', `Groups/${scimGroup.body.id}`, patch({ op: 'add', path: 'members', value: [{ value: joiner }] }))).status < 300);
    assert.deepEqual(await ruleGrants(joiner), [], 'nor does the SCIM group of that name');
    assert.deepEqual((await sessionOf(await attempt(token({ oid: joinerOid, email: joinerEmail, groups: [] })))).roles, ['requester'], 'at the next sign-in either');
    const fresh = await sessionOf(await attempt(token({ oid: randomUUID(), email: `new-${randomUUID().slice(0, 6)}@corp.test`, groups: [group] })));
    assert.ok(fresh.roles.includes('change_manager'), 'a new person of the named connection gets it at sign-in');
    // The named connection's person who then signs in through it without the group loses it.
    const left = await sessionOf(await attempt(token({ oid: ownOid, email: `own-${ownOid.slice(0, 6)}@corp.test`, groups: [] })));
    assert.equal(left.user.id, own.user.id);
    assert.deepEqual(await ruleGrants(own.user.id), []);
  });
});

describe('clock skew', () => {
  const admitted = async (over: Record<string, unknown>, why: string) => {
    const { res, browser } = await attempt(token({ email: `skew-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID(), ...over }));
    assert.equal(res.status, 303, `${why}: ${String(res.body).slice(0, 300)}`);
    assert.equal((await browser.get('/api/v1/session')).status, 200, why);
  };
  const setSkew = async (seconds: number) => {
    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const res = await admin.patch('/api/v1/sso/connections/entra', { clockSkewSeconds: seconds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.live, true, 'the skew is no other party: the connection stays live');
  };

  test('an ID token expired, or not yet valid, by less than the connection’s skew (180 s by default) is accepted; by more, refused', async () => {
    const [connection] = await t.db.query<{ skew: number }>(`SELECT (config->>'clockSkewSeconds')::int AS skew FROM sso_connections WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
    assert.equal(connection!.skew, 180);
    await admitted({ iat: now() - 300, exp: now() - 120 }, 'expired 2 minutes ago');
    await refused('expired', token({ iat: now() - 300, exp: now() - 240 }));
    await admitted({ nbf: now() + 120 }, 'valid in 2 minutes');
    await refused('not_yet_valid', token({ nbf: now() + 240 }));
  });

  test('the skew is the connection’s own setting: widened to 10 minutes, 5 minutes late passes; at 0, a minute late does not', async () => {
    try {
      await setSkew(600);
      await admitted({ iat: now() - 400, exp: now() - 300 }, 'expired 5 minutes ago, skew 10');
      await admitted({ nbf: now() + 300 }, 'valid in 5 minutes, skew 10');
      await refused('expired', token({ iat: now() - 800, exp: now() - 700 }));
      await refused('not_yet_valid', token({ nbf: now() + 700 }));
      await setSkew(0);
      await refused('expired', token({ iat: now() - 120, exp: now() - 60 }));
      await refused('not_yet_valid', token({ nbf: now() + 60 }));
      await admitted({ nbf: now() - 60, exp: now() + 60 }, 'inside its window, skew 0');
    } finally {
      await setSkew(180);
    }
  });

});

/**
 * Every error the provider-error mapping (src/identity/oidc/provider-errors.ts) knows, as Entra and
 * Okta send it, with what the admin must read in the trace. `at`: the authorization redirect
 * (error/error_description on the callback) or the token endpoint's answer.
 */
const PROVIDER_ERRORS: { at: 'callback' | 'token'; error: string; description: string; code: string; fix: RegExp; maps: string }[] = [
  { maps: '50011', at: 'callback', error: 'invalid_request', description: "AADSTS50011: The redirect URI 'https://x/cb' specified in the request does not match the redirect URIs configured for the application.", code: 'provider_error', fix: /Redirect URIs, add exactly http:\/\/127\.0\.0\.1:\d+\/t\/[^/]+\/oidc\/entra\/callback/ },
  { maps: '700016', at: 'callback', error: 'unauthorized_client', description: "AADSTS700016: Application with identifier 'kd-client' was not found in the directory 'Contoso'.", code: 'provider_error', fix: /No application with client ID kd-client exists in the directory/ },
  { maps: '700016', at: 'token', error: 'unauthorized_client', description: "AADSTS700016: Application with identifier 'kd-client' was not found in the directory 'Contoso'.", code: 'invalid_client', fix: /No application with client ID kd-client exists in the directory/ },
  { maps: '50105', at: 'callback', error: 'access_denied', description: "AADSTS50105: Your administrator has configured the application Keydesk to block users unless they are specifically granted ('assigned') access to the application.", code: 'provider_error', fix: /not assigned to the application.*Users and groups/ },
  { maps: '7000215', at: 'token', error: 'invalid_client', description: 'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.', code: 'invalid_client', fix: /client secret is wrong.*Certificates & secrets.*its Value/ },
  { maps: '7000222', at: 'token', error: 'invalid_client', description: "AADSTS7000222: The provided client secret keys for app 'kd-client' are expired.", code: 'invalid_client', fix: /client secret has expired.*record when it expires/ },
  { maps: '65001', at: 'callback', error: 'consent_required', description: "AADSTS65001: The user or administrator has not consented to use the application with ID 'kd-client' named 'Keydesk'.", code: 'provider_error', fix: /Nobody has consented.*Grant admin consent/ },
  { maps: '50020', at: 'callback', error: 'access_denied', description: "AADSTS50020: User account 'x@other.example' from identity provider 'live.com' does not exist in tenant 'Contoso'.", code: 'provider_error', fix: /directory this application does not accept.*allowed tenants/ },
  { maps: 'access_denied', at: 'callback', error: 'access_denied', description: 'User is not assigned to the client application.', code: 'provider_error', fix: /in Okta, the person is usually not assigned to the application/ },
  { maps: 'invalid_client', at: 'callback', error: 'invalid_client', description: 'Invalid value for client_id parameter.', code: 'provider_error', fix: /does not know client ID kd-client/ },
  // At the token endpoint the client ID was taken a step earlier: Okta's invalid_client there is the secret.
  { maps: 'invalid_client', at: 'token', error: 'invalid_client', description: 'Client authentication failed. Either the client or the client credentials are invalid.', code: 'invalid_client', fix: /client secret is wrong or expired.*Okta: General › Client Credentials/ },
  { maps: 'unauthorized_client', at: 'callback', error: 'unauthorized_client', description: 'The client is not authorized to use the provided grant type. Configured grant types: [client_credentials].', code: 'provider_error', fix: /"Authorization Code" grant type/ },
  { maps: 'unauthorized_client', at: 'token', error: 'unauthorized_client', description: 'The client is not authorized to use the provided grant type.', code: 'invalid_client', fix: /"Authorization Code" grant type/ },
  { maps: 'invalid_scope', at: 'callback', error: 'invalid_scope', description: 'One or more scopes are not configured for the authorization server resource.', code: 'provider_error', fix: /refused the scopes openid profile email/ },
  { maps: 'consent_required', at: 'callback', error: 'consent_required', description: 'The client requires consent.', code: 'provider_error', fix: /needs the person \(or an admin\) to act first/ },
  { maps: 'interaction_required', at: 'callback', error: 'interaction_required', description: 'Multi-factor authentication is required.', code: 'provider_error', fix: /needs the person \(or an admin\) to act first/ },
  { maps: 'login_required', at: 'callback', error: 'login_required', description: 'The user is not signed in.', code: 'provider_error', fix: /needs the person \(or an admin\) to act first/ },
  { maps: 'temporarily_unavailable', at: 'callback', error: 'temporarily_unavailable', description: 'The service is overloaded.', code: 'provider_error', fix: /problem of its own/ },
  { maps: 'server_error', at: 'callback', error: 'server_error', description: 'An unexpected internal error occurred.', code: 'provider_error', fix: /problem of its own/ },
  { maps: 'server_error', at: 'token', error: 'server_error', description: 'An unexpected internal error occurred.', code: 'token_endpoint', fix: /problem of its own/ },
  { maps: 'invalid_grant', at: 'token', error: 'invalid_grant', description: 'The authorization code is invalid or has expired.', code: 'invalid_grant', fix: /refused the authorization code.*Redirect URI registered/ },
  { maps: '(anything else)', at: 'callback', error: 'invalid_request', description: 'Something the mapping does not know.', code: 'provider_error', fix: /its message is shown above/ },
];

describe('provider errors become failures with the fix the mapping gives', () => {
  for (const row of PROVIDER_ERRORS) {
    test(`${row.maps}: ${row.error} at the ${row.at === 'callback' ? 'callback' : 'token endpoint'} → ${row.code}`, async () => {
      const tokenRequests = forger.tokenRequests;
      if (row.at === 'callback') forger.authorizeError = { error: row.error, error_description: row.description };
      try {
        const e = await refused(row.code, () => ({ status: row.error === 'server_error' ? 500 : 400, json: { error: row.error, error_description: row.description } }));
        assert.match(e.fix, row.fix);
        assert.ok(e.message.includes(row.description), 'the provider’s own words are shown too');
        assert.equal(forger.tokenRequests, tokenRequests + (row.at === 'token' ? 1 : 0), row.at === 'callback' ? 'no code exchange after an error' : 'one code exchange');
      } finally {
        forger.authorizeError = null;
      }
    });
  }

  test('the table covers every code the mapping knows', () => {
    const source = readFileSync(new URL('../src/identity/oidc/provider-errors.ts', import.meta.url), 'utf8');
    const mapped = [...source.matchAll(/case '([^']+)':/g)].map((m) => m[1]);
    assert.ok(mapped.length >= 15, 'the mapping was read');
    for (const code of mapped) assert.ok(PROVIDER_ERRORS.some((r) => r.maps === code), `no row for ${code}`);
  });
});

describe('robustness', () => {
  test('claims with a NUL or an over-long sub are refused as bad claims, never a 5xx', async () => {
    await refused('bad_claims', token({ name: 'Eve\u0000', oid: randomUUID(), email: 'nul@corp.test' }));
    await refused('bad_claims', token({ groups: ['ok', 'bad\u0000'], oid: randomUUID(), email: 'nul2@corp.test' }));
    await refused('bad_claims', token({ sub: 'x'.repeat(9000), oid: randomUUID(), email: 'long@corp.test' }));
  });

  test('a signed claim nested 20,000 levels deep is refused as bad claims with a trace, never a 5xx', async () => {
    // Signed by hand: JSON.stringify itself cannot write this, but an attacker's signer can.
    const deepToken = raw((seen) => {
      const claims = JSON.stringify({ iss: forger.issuer, aud: seen.clientId, sub: 'deep', oid: randomUUID(), tid: forger.tenantId, nonce: seen.nonce, iat: now(), exp: now() + 600, email: 'deep@corp.test' });
      const payload = `${claims.slice(0, -1)},"extra":${'['.repeat(20_000)}"bottom"${']'.repeat(20_000)}}`;
      const signingInput = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: forger.kid, typ: 'JWT' })).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
      return `${signingInput}.${createSign('RSA-SHA256').update(signingInput).sign(forger.key, 'base64url')}`;
    });
    const error = await refused('bad_claims', deepToken);
    assert.match(error.message, /nested more than 64 levels deep/);
    const [row] = await t.db.query<{ trace: { idTokenClaims: { extra: unknown } } }>(
      "SELECT trace FROM signin_traces WHERE tenant_id = $1 AND error_code = 'bad_claims' ORDER BY created_at DESC LIMIT 1",
      [tt.tenant.id],
    );
    // What the trace keeps of the claim stops at the bound, and says so.
    assert.match(JSON.stringify(row!.trace.idTokenClaims.extra), /nested more than 64 levels deep: not kept/);
  });

  test('a refused answer uses up its request: the same callback cannot be answered again', async () => {
    const { callback, browser } = await attempt(token({ aud: 'someone-elses-app' }));
    forger.answer = token({ email: 'second-try@corp.test', oid: randomUUID() });
    const again = await browser.get(callback.slice(t.url.length));
    assert.equal(again.status, 400);
    const ref = /KD-[0-9A-F]{10}/.exec(String(again.body))![0];
    assert.equal((await t.db.query<{ error_code: string }>('SELECT error_code FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]))[0]!.error_code, 'unknown_state');
  });

  test('no database transaction is held while the provider is slow: the database answers during the code exchange', async () => {
    let release!: () => void;
    let reached!: () => void;
    const atTokenEndpoint = new Promise<void>((r) => (reached = r));
    forger.beforeToken = () => {
      reached();
      return new Promise<void>((r) => (release = r));
    };
    try {
      const pending = attempt(token({ email: `slow-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID() }));
      await atTokenEndpoint;
      // On the embedded database one open transaction would make this wait until the provider answers.
      assert.equal((await t.db.query<{ one: number }>('SELECT 1 AS one'))[0]!.one, 1);
      assert.equal((await new Client(t.url).get(`/api/v1/tenants/${tt.tenant.slug}`)).status, 200);
      release();
      assert.equal((await pending).res.status, 303);
    } finally {
      forger.beforeToken = null;
    }
  });

  test('a discovery document whose lists hold nested arrays or other junk: never a 5xx, and only its strings are kept', async () => {
    const depthCase = { n: 0 };
    const odd = createServer((req, res) => {
      const origin = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
      if (req.url === '/token') return res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
      // Written by hand: 20,000 levels is more than JSON.stringify can write.
      const deep = `${'['.repeat(depthCase.n)}"x"${']'.repeat(depthCase.n)}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        `{"issuer":"${origin}/x","authorization_endpoint":"${origin}/authorize","token_endpoint":"${origin}/token","jwks_uri":"${origin}/keys",` +
          `"response_types_supported":["code",${deep}],"id_token_signing_alg_values_supported":["RS256",${deep},7],` +
          `"token_endpoint_auth_methods_supported":["client_secret_post",${deep},null],"response_modes_supported":["query",${deep},{"a":1}]}`,
      );
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    try {
      const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
      for (const n of [70, 20_000]) {
        depthCase.n = n;
        const slug = `odd-lists-${n}`;
        const res = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug, issuer: `http://127.0.0.1:${(odd.address() as AddressInfo).port}/x`, clientId: 'a', clientSecret: 'b' });
        assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
        const [row] = await t.db.query<{ config: { provider: Record<string, unknown> } }>('SELECT config FROM sso_connections WHERE tenant_id = $1 AND slug = $2', [tt.tenant.id, slug]);
        const p = row!.config.provider;
        assert.deepEqual([p.id_token_signing_alg_values_supported, p.token_endpoint_auth_methods_supported, p.response_modes_supported], [['RS256'], ['client_secret_post'], ['query']]);
      }
    } finally {
      odd.closeAllConnections();
      odd.close();
    }
  });

  test('an endless answer from a provider is cut at 256 KiB, and a code or state never reaches the log', async () => {
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await new Promise<void>((r) => endless.listen(0, '127.0.0.1', r));
    try {
      const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
      const res = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'endless', issuer: `http://127.0.0.1:${(endless.address() as AddressInfo).port}/x`, clientId: 'a', clientSecret: 'b' });
      assert.equal(res.status, 422);
      assert.match(res.body.detail, /larger than 256 KiB/);
    } finally {
      endless.closeAllConnections();
      endless.close();
    }
    assert.equal(redactQuery('/t/x/oidc/e/callback?code=SECRET-CODE&state=S&iss=i'), '/t/x/oidc/e/callback?code=…&state=…&iss=i');
  });
});

describe('back-channel logout tokens', () => {
  test('forged, nonce-carrying, event-less, foreign-issuer or -audience, expired or replayed logout tokens end nothing (400, the reason audited); a genuine one ends the session it names', async () => {
    const sid = `sid-${randomUUID()}`;
    const { res, browser } = await attempt(token({ email: `bc-${randomUUID().slice(0, 6)}@corp.test`, oid: randomUUID(), sid }));
    assert.equal(res.status, 303);
    const post = (logoutToken: string) =>
      new Client(t.url).request('POST', `/t/${tt.tenant.slug}/oidc/entra/backchannel-logout`, new URLSearchParams({ logout_token: logoutToken }).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
      });
    const logoutToken = (over: Record<string, unknown> = {}, key = forger.key, header: Record<string, unknown> = {}) => {
      const claims: Record<string, unknown> = { iss: forger.issuer, aud: 'kd-client', iat: now(), exp: now() + 120, jti: randomUUID(), sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, ...over };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: forger.kid, typ: 'logout+jwt', ...header }).sign(key);
    };
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const attackerJwk = await exportJWK(createPublicKey(attacker));
    /** The reason the refusal of the latest logout token was audited with. */
    const lastReason = async () =>
      (await t.db.query<{ reason: string }>(`SELECT reason FROM audit_events WHERE tenant_id = $1 AND action = 'signout.oidc_backchannel' AND outcome = 'failure' ORDER BY id DESC LIMIT 1`, [tt.tenant.id]))[0]
        ?.reason;
    for (const [why, tokenValue, reason] of [
      ['another key under the provider’s kid', await logoutToken({}, attacker), 'untrusted_key'],
      ['another key under a kid of its own', await logoutToken({}, attacker, { kid: 'attacker-key' }), 'untrusted_key'],
      ['a key in the header', await logoutToken({}, attacker, { jwk: attackerJwk }), 'embedded_key'],
      ['a nonce (an ID token passed off as a logout token)', await logoutToken({ nonce: 'n' }), 'bad_claims'],
      ['no logout event', await logoutToken({ events: undefined }), 'bad_claims'],
      ['another audience', await logoutToken({ aud: 'other-client' }), 'audience_mismatch'],
      ['another issuer', await logoutToken({ iss: 'https://login.microsoftonline.com/evil/v2.0' }), 'issuer_mismatch'],
      ['expired beyond the connection’s skew (180 s)', await logoutToken({ iat: now() - 300, exp: now() - 240 }), 'expired'],
      ['issued more than 10 minutes ago', await logoutToken({ iat: now() - 1200, exp: now() + 120 }), 'expired'],
      ['neither sid nor sub', await logoutToken({ sid: undefined }), 'bad_claims'],
      ['alg none', unsignedJwt({ alg: 'none' }, { iss: forger.issuer, aud: 'kd-client', iat: now(), exp: now() + 60, jti: randomUUID(), sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }), 'bad_algorithm'],
    ] as const) {
      const r = await post(tokenValue);
      assert.equal(r.status, 400, why);
      assert.equal(r.body.error, 'invalid_request', why);
      assert.equal(r.body.error_description, 'The logout token was refused.', `${why}: nothing about the connection is told to an anonymous caller`);
      assert.equal(await lastReason(), reason, `${why}: the audited reason`);
      assert.equal((await browser.get('/api/v1/session')).status, 200, `${why}: the session is still open`);
    }
    // Expired by less than the skew: accepted (for another session, so this one stays open).
    assert.equal((await post(await logoutToken({ iat: now() - 300, exp: now() - 120, sid: 'another-session-0' }))).status, 200, 'expired 2 minutes ago, skew 3');
    // Genuinely signed but odd: an expiry far in the future, a NUL in the jti: refused, never a 5xx.
    assert.equal((await post(await logoutToken({ exp: 1e13, sid: 'another-session' }))).status, 200, 'a far expiry is kept no longer than a day');
    assert.equal((await post(await logoutToken({ jti: 'a\u0000b' }))).status, 400);
    assert.equal((await browser.get('/api/v1/session')).status, 200, 'neither ended this session');
    const genuine = await logoutToken();
    assert.equal((await post(genuine)).status, 200);
    assert.equal((await browser.get('/api/v1/session')).status, 401);
    assert.equal((await post(genuine)).status, 400, 'a logout token is used once');
  });
});
