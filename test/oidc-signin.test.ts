/**
 * OpenID Connect sign-in against a real provider (oidc-provider shaped like Entra ID and like
 * Okta), over HTTP: the authorization code flow with PKCE from Keydesk's login URL to a session,
 * on the same account and rule engine as SAML.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { cliDatabase, keydesk } from './helpers/cli.js';
import { loginAtProvider, ProviderBrowser, startOidcProvider, type RunningOidcProvider } from './idp/oidc-provider.js';
import { createOidcConnection } from '../src/identity/oidc/connection.js';
import { SecretBox } from '../src/identity/secrets.js';
import { noticeExpiringSecrets } from '../src/identity/oidc/upkeep.js';

let t: TestApp;
let tt: TestTenant;
let entra: RunningOidcProvider;
let okta: RunningOidcProvider;
/** Where the provider reads the keys of the private_key_jwt client (what an admin uploads there). */
let clientJwks: { keys: unknown[] } = { keys: [] };
let jwksServer: Server;
const AGENTS = randomUUID();
const SECRET = 'entra-client-secret-value';

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  const callback = (conn: string) => `${t.url}/t/${tt.tenant.slug}/oidc/${conn}/callback`;
  jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(clientJwks)));
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  entra = await startOidcProvider({
    shape: 'entra',
    clients: [
      {
        clientId: 'keydesk-app',
        clientSecret: SECRET,
        redirectUris: [callback('entra'), callback('entra-api'), callback('entra-multi')],
        postLogoutRedirectUris: [`${t.url}/t/${tt.tenant.slug}/login?signedOut=1`],
        backchannelLogoutUri: `${t.url}/t/${tt.tenant.slug}/oidc/entra/backchannel-logout`,
      },
      { clientId: 'keydesk-key', jwksUri: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`, redirectUris: [callback('entra-key')] },
    ],
    users: [
      { login: 'tess', claims: { oid: randomUUID(), email: 'tess@oidc-api.test', name: 'Tess Admin', groups: [AGENTS] } },
      { login: 'kira', claims: { oid: randomUUID(), email: 'kira@oidc-key.test', name: 'Kira Key' } },
      { login: 'mona', claims: { oid: randomUUID(), email: 'mona@multi.test', name: 'Mona Multi', groups: [AGENTS] } },
      { login: 'ada', claims: { oid: randomUUID(), email: 'ada@corp.test', name: 'Ada Lovelace', groups: [AGENTS] } },
      { login: 'bob', claims: { oid: randomUUID(), email: 'bob@corp.test', name: 'Bob', groups: [], roles: ['Keydesk.ChangeManager'] } },
    ],
  });
  for (const u of entra.users.values()) u.claims.tid = entra.tenantId;
  okta = await startOidcProvider({
    shape: 'okta',
    clients: [{ clientId: 'okta-app', clientSecret: 'okta-secret', redirectUris: [callback('okta')] }],
    users: [{ login: 'olga', claims: { email: 'olga@merged.test', email_verified: true, name: 'Olga', groups: ['Service Desk'] } }],
  });
  const box = new SecretBox(t.config.secret, 'oidc');
  const ctx = { db: t.db, tenant: tt.tenant, actor: null };
  await createOidcConnection(ctx, box, { slug: 'entra', issuer: entra.issuer, clientId: 'keydesk-app', clientSecret: SECRET, publish: true });
  await createOidcConnection(ctx, box, { slug: 'okta', issuer: okta.issuer, clientId: 'okta-app', clientSecret: 'okta-secret', publish: true });
  await createOidcConnection(ctx, box, { slug: 'entra-multi', issuer: entra.organizationsIssuer, clientId: 'keydesk-app', clientSecret: SECRET, allowedTenants: [entra.tenantId], publish: true });
  await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'agent'), ($1, 'Keydesk.ChangeManager', 'change_manager'), ($1, 'Service Desk', 'agent')`, [
    tt.tenant.id,
    AGENTS,
  ]);
});
after(async () => {
  jwksServer?.close();
  await entra?.stop();
  await okta?.stop();
  await t?.close();
});

/** Keydesk's login URL → the provider's login form → Keydesk's callback, in one browser (cookie jar). */
async function signIn(conn: string, login: string, relayState?: string) {
  const browser = new Client(t.url);
  const start = await browser.get(`/t/${tt.tenant.slug}/oidc/${conn}/login${relayState ? `?RelayState=${encodeURIComponent(relayState)}` : ''}`);
  assert.equal(start.status, 303, String(start.body).slice(0, 300));
  const callback = await loginAtProvider(start.headers.get('location')!, login);
  const done = await browser.get(callback.slice(t.url.length));
  return { browser, start, callback, done };
}

describe('OpenID Connect sign-in', () => {
  test('Entra-shaped: code flow with PKCE and a nonce, a just-in-time account keyed by issuer and oid, a role from a group', async () => {
    const authorize = new URL((await new Client(t.url).get(`/t/${tt.tenant.slug}/oidc/entra/login`)).headers.get('location')!);
    assert.equal(authorize.searchParams.get('response_type'), 'code');
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state') && authorize.searchParams.get('nonce'));
    assert.equal(authorize.searchParams.get('redirect_uri'), `${t.url}/t/${tt.tenant.slug}/oidc/entra/callback`);

    const { browser, done } = await signIn('entra', 'ada', `/t/${tt.tenant.slug}/agent`);
    assert.equal(done.status, 303, String(done.body).slice(0, 500));
    assert.equal(done.headers.get('location'), `/t/${tt.tenant.slug}/agent`);
    const session = (await browser.get('/api/v1/session')).body;
    assert.equal(session.user.email, 'ada@corp.test');
    assert.ok(session.roles.includes('agent'), JSON.stringify(session.roles));
    const [identity] = await t.db.query<{ subject: string; subject_source: string }>(
      `SELECT e.subject, e.subject_source FROM external_identities e JOIN users u ON u.tenant_id = e.tenant_id AND u.id = e.user_id WHERE u.tenant_id = $1 AND u.email = 'ada@corp.test'`,
      [tt.tenant.id],
    );
    assert.equal(identity!.subject, `${entra.issuer}#${entra.users.get('ada')!.claims.oid}`);
    assert.equal(identity!.subject_source, 'oid');
    const [event] = await t.db.query<{ outcome: string }>(`SELECT outcome FROM audit_events WHERE tenant_id = $1 AND action = 'signin.oidc' ORDER BY occurred_at DESC LIMIT 1`, [tt.tenant.id]);
    assert.equal(event!.outcome, 'success');
  });

  test('an app role value is matched by a rule as a group is', async () => {
    const { browser, done } = await signIn('entra', 'bob');
    assert.equal(done.status, 303);
    assert.ok((await browser.get('/api/v1/session')).body.roles.includes('change_manager'));
  });

  test('Okta-shaped: groups by name', async () => {
    const { browser, done } = await signIn('okta', 'olga');
    assert.equal(done.status, 303, String(done.body).slice(0, 500));
    const session = (await browser.get('/api/v1/session')).body;
    assert.equal(session.user.email, 'olga@merged.test');
    assert.ok(session.roles.includes('agent'));
  });

  test('Entra’s multi-tenant issuer: the tenant comes from tid (and the callback’s iss), and must be allowed', async () => {
    const { browser, done } = await signIn('entra-multi', 'mona');
    assert.equal(done.status, 303, String(done.body).slice(0, 500));
    assert.equal((await browser.get('/api/v1/session')).body.user.email, 'mona@multi.test');
    await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowedTenants}', '["00000000-0000-0000-0000-000000000001"]') WHERE tenant_id = $1 AND slug = 'entra-multi'`, [tt.tenant.id]);
    try {
      const refused = await signIn('entra-multi', 'mona');
      assert.equal(refused.done.status, 400);
      const ref = /KD-[0-9A-F]{10}/.exec(String(refused.done.body))![0];
      assert.equal((await t.db.query<{ error_code: string }>('SELECT error_code FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]))[0]!.error_code, 'tenant_not_allowed');
    } finally {
      await t.db.query(`UPDATE sso_connections SET config = jsonb_set(config, '{allowedTenants}', to_jsonb(ARRAY[$2::text])) WHERE tenant_id = $1 AND slug = 'entra-multi'`, [tt.tenant.id, entra.tenantId]);
    }
  });

  test('the callback opened in another browser signs no one in (login CSRF), and a code is used once', async () => {
    const starter = new Client(t.url);
    const start = await starter.get(`/t/${tt.tenant.slug}/oidc/entra/login`);
    const callback = await loginAtProvider(start.headers.get('location')!, 'ada');
    const stranger = await new Client(t.url).get(callback.slice(t.url.length));
    assert.equal(stranger.status, 400);
    assert.match(String(stranger.body), /KD-[0-9A-F]{10}/);
    assert.equal(stranger.headers.getSetCookie().some((c) => c.startsWith('keydesk_session=')), false);
    // The request was not used up by the stranger: the browser that started it still signs in, once.
    const own = await starter.get(callback.slice(t.url.length));
    assert.equal(own.status, 303);
    const again = await starter.get(callback.slice(t.url.length));
    assert.equal(again.status, 400, 'the state is used once');
  });
});

describe('a test that never came back', () => {
  test('is shown on the connection until a test answers', async () => {
    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const started = await admin.post('/api/v1/sso/connections/okta/test', {});
    assert.equal(started.status, 200);
    assert.equal((await admin.get('/api/v1/sso/connections/okta')).body.unansweredTestAt, null, 'not within the first minute');
    await t.db.query(`UPDATE oidc_requests SET created_at = now() - interval '2 minutes' WHERE tenant_id = $1 AND test AND consumed_at IS NULL`, [tt.tenant.id]);
    const stuck = (await admin.get('/api/v1/sso/connections/okta')).body;
    assert.ok(stuck.unansweredTestAt, 'the admin is told the provider never sent the browser back');
    assert.ok((await admin.get('/api/v1/sso/connections')).body.items.find((c: any) => c.slug === 'okta').unansweredTestAt);
    const again = await admin.post('/api/v1/sso/connections/okta/test', {});
    await admin.get((await loginAtProvider(again.body.url, 'olga')).slice(t.url.length));
    assert.equal((await admin.get('/api/v1/sso/connections/okta')).body.unansweredTestAt, null, 'a test that answered clears it');
  });
});

describe('sign-out', () => {
  test('RP-initiated logout sends the browser to the provider with id_token_hint; the provider’s back-channel logout ends the other Keydesk session of that provider session', async () => {
    const provider = new ProviderBrowser();
    const first = new Client(t.url);
    const start = await first.get(`/t/${tt.tenant.slug}/oidc/entra/login`);
    assert.equal((await first.get((await provider.login(start.headers.get('location')!, 'ada')).slice(t.url.length))).status, 303);
    // A second Keydesk tab signs in through the same provider session (single sign-on: no form).
    const second = new Client(t.url);
    const start2 = await second.get(`/t/${tt.tenant.slug}/oidc/entra/login`);
    assert.equal((await second.get((await provider.login(start2.headers.get('location')!, 'ada')).slice(t.url.length))).status, 303);
    assert.equal((await second.get('/api/v1/session')).status, 200);

    first.csrf = (await first.get('/api/v1/session')).body.csrfToken;
    const out = await first.request('DELETE', '/api/v1/session');
    assert.ok(out.body.logoutUrl, JSON.stringify(out.body));
    const logoutUrl = new URL(out.body.logoutUrl);
    assert.equal(`${logoutUrl.origin}${logoutUrl.pathname}`, `${entra.issuer}/session/end`);
    assert.ok(logoutUrl.searchParams.get('id_token_hint'));
    assert.equal(logoutUrl.searchParams.get('post_logout_redirect_uri'), `${t.url}/t/${tt.tenant.slug}/login?signedOut=1`);
    assert.equal((await first.get('/api/v1/session')).status, 401);
    const landed = await provider.logout(out.body.logoutUrl);
    assert.equal(landed, `${t.url}/t/${tt.tenant.slug}/login?signedOut=1`);
    // The provider told Keydesk over the back channel: the second tab's session is over too.
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (await second.get('/api/v1/session')).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    const [event] = await t.db.query<{ details: { sessionsEnded: number } }>(
      `SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'signout.oidc_backchannel' AND outcome = 'success' ORDER BY occurred_at DESC LIMIT 1`,
      [tt.tenant.id],
    );
    assert.ok(event!.details.sessionsEnded >= 1);
  });
});

describe('the admin API', () => {
  test('connects an OIDC provider (the secret never shown again), tests it (a passed test publishes it), rotates the secret; discovery and enforcement use it', async () => {
    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const samlField = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'x', issuer: entra.issuer, clientId: 'keydesk-app', clientSecret: SECRET, metadataUrl: 'https://x' });
    assert.equal(samlField.status, 422);
    assert.equal(samlField.body.errors[0].field, 'metadataUrl');
    const missing = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'x', issuer: entra.issuer, clientId: 'keydesk-app' });
    assert.equal(missing.body.errors[0].field, 'clientSecret');
    // A mistyped secret is caught at once: the provider is asked before anything is stored.
    const typo = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'entra-api', issuer: entra.issuer, clientId: 'keydesk-app', clientSecret: 'typo' });
    assert.equal(typo.status, 422);
    assert.equal(typo.body.errors[0].field, 'clientSecret');
    assert.match(typo.body.detail, /refused this client ID and secret/);
    const created = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'entra-api', issuer: entra.issuer, clientId: 'keydesk-app', clientSecret: SECRET });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.live, false, 'in testing until a test passes');
    assert.equal(created.body.oidc.redirectUri, `${t.url}/t/${tt.tenant.slug}/oidc/entra-api/callback`);
    assert.equal(created.body.oidc.hasClientSecret, true);
    assert.equal(JSON.stringify(created.body).includes(SECRET), false);
    const stored = await t.db.query(`SELECT 1 FROM sso_connections WHERE config::text LIKE '%' || $1 || '%'`, [SECRET]);
    assert.equal(stored.length, 0, 'the secret is stored sealed');

    // A real sign-in is refused while it is being tested; the admin's test passes and publishes it.
    const early = new Client(t.url);
    assert.equal((await early.get(`/t/${tt.tenant.slug}/oidc/entra-api/login`)).status, 400);
    const started = await admin.post('/api/v1/sso/connections/entra-api/test', {});
    assert.equal(started.status, 200);
    const callback = await loginAtProvider(started.body.url, 'tess');
    const landed = await admin.get(callback.slice(t.url.length));
    assert.equal(landed.status, 303);
    const ref = /KD-[0-9A-F]{10}$/.exec(landed.headers.get('location') ?? '')?.[0];
    assert.ok(ref, landed.headers.get('location') ?? '');
    const trace = (await admin.get(`/api/v1/sso/traces/${ref}`)).body;
    assert.equal(trace.outcome, 'success');
    assert.equal(trace.test, true);
    assert.ok(trace.trace.steps.some((st: any) => st.check === 'Signature verifies with a key the provider publishes' && st.ok));
    assert.match(trace.trace.idToken, /\.…signature elided…$/);
    assert.equal((await t.db.query(`SELECT 1 FROM users WHERE tenant_id = $1 AND email = 'tess@oidc-api.test'`, [tt.tenant.id])).length, 0, 'a test changes nothing');
    assert.equal((await admin.get('/api/v1/sso/connections/entra-api')).body.live, true);

    // A wrong new secret is refused at once (tried at the provider), the connection keeps its own; the right one is taken.
    const wrong = await admin.patch('/api/v1/sso/connections/entra-api', { clientSecret: 'not-the-secret' });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.errors[0].field, 'clientSecret');
    assert.equal((await signIn('entra-api', 'tess')).done.status, 303, 'the stored secret still works');
    const rotated = await admin.patch('/api/v1/sso/connections/entra-api', { clientSecret: SECRET, secretExpiresAt: '2027-06-30T00:00:00Z' });
    assert.equal(rotated.body.oidc.secretExpiresAt, '2027-06-30T00:00:00.000Z');
    assert.equal((await admin.patch('/api/v1/sso/connections/entra-api', { allowSha1: true })).status, 422, 'a SAML setting on an OIDC connection');

    // Home realm discovery routes a verified domain to it; enforcement accepts it as the tested way in.
    await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'oidc-api.test', 'x', now())`, [tt.tenant.id]);
    const found = await new Client(t.url).post('/api/v1/login/discover', { email: 'someone@oidc-api.test' });
    assert.ok(found.body.connections.some((c: any) => c.loginUrl === `/t/${tt.tenant.slug}/oidc/entra-api/login`), JSON.stringify(found.body));
    const on = await admin.put('/api/v1/sso/enforcement', { enforced: true });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    await admin.put('/api/v1/sso/enforcement', { enforced: false });
    // Another client ID (or issuer) is another party at the provider: back to testing until a test passes.
    const moved = await admin.patch('/api/v1/sso/connections/entra-api', { clientId: 'another-app' });
    assert.deepEqual([moved.status, moved.body.oidc.clientId, moved.body.live, moved.body.testPassedAt], [200, 'another-app', false, null]);
    // Another issuer never gets the stored secret: it is asked for with the issuer.
    const noSecret = await admin.patch('/api/v1/sso/connections/entra-api', { issuer: okta.issuer });
    assert.equal(noSecret.status, 422);
    assert.equal(noSecret.body.errors[0].field, 'clientSecret');
    const back = await admin.patch('/api/v1/sso/connections/entra-api', { clientId: 'keydesk-app', clientSecret: SECRET, issuer: `${entra.issuer}/.well-known/openid-configuration`, published: true });
    assert.deepEqual([back.status, back.body.oidc.issuer, back.body.live], [200, entra.issuer, true]);
  });
});

describe('private_key_jwt', () => {
  test('Keydesk generates the key and offers its certificate and public JWK (never the key); the code exchange signs an assertion with it', async () => {
    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const created = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'entra-key', issuer: entra.issuer, clientId: 'keydesk-key', clientAuth: 'private_key_jwt' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const cert = created.body.oidc.clientCertificate;
    assert.equal(created.body.oidc.clientAuth, 'private_key_jwt');
    assert.equal(created.body.oidc.hasClientSecret, false);
    assert.doesNotMatch(JSON.stringify(created.body), /PRIVATE KEY|"d":/, 'public material only');
    const x = new X509Certificate(cert.pem);
    assert.equal(x.fingerprint.replace(/:/g, ''), cert.thumbprintSha1);
    assert.equal((x.publicKey.export({ format: 'jwk' }) as { n: string }).n, cert.publicJwk.n);
    assert.ok(Date.parse(created.body.oidc.secretExpiresAt) > Date.now() + 700 * 86_400_000, 'the certificate’s end is the credential’s expiry');
    // The admin uploads the public key at the provider; the test sign-in exchanges the code with an assertion.
    clientJwks = { keys: [cert.publicJwk] };
    const started = await admin.post('/api/v1/sso/connections/entra-key/test', {});
    const callbackUrl = await loginAtProvider(started.body.url, 'kira');
    const landed = await admin.get(callbackUrl.slice(t.url.length));
    const ref = /KD-[0-9A-F]{10}$/.exec(landed.headers.get('location') ?? '')![0];
    const trace = (await admin.get(`/api/v1/sso/traces/${ref}`)).body;
    assert.equal(trace.outcome, 'success', JSON.stringify(trace.trace.error));
    assert.equal((await admin.patch('/api/v1/sso/connections/entra-key', { clientSecret: 'x' })).status, 422, 'a key connection takes no secret');
  });
});

describe('client secret expiry', () => {
  test('a recorded expiry gives the 30/14/7-day notices once each, then the expired one; a rotated secret starts afresh', async () => {
    const admin = (await t.user(tt.tenant, ['requester', 'admin'])).client;
    const inTenDays = new Date(Date.now() + 10 * 86_400_000 + 3_600_000).toISOString();
    const c = await admin.post('/api/v1/sso/connections', { protocol: 'oidc', slug: 'expiring', issuer: okta.issuer, clientId: 'okta-app', clientSecret: 'okta-secret', secretExpiresAt: inTenDays });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const events = async () =>
      (await t.db.query<{ action: string; threshold: number }>(
        `SELECT action, (details->>'threshold')::int AS threshold FROM audit_events WHERE tenant_id = $1 AND target_id = $2 AND action LIKE 'sso.secret_%' ORDER BY occurred_at, id`,
        [tt.tenant.id, c.body.id],
      )).map((e) => [e.action, e.threshold]);
    await noticeExpiringSecrets(t.db);
    await noticeExpiringSecrets(t.db);
    assert.deepEqual(await events(), [['sso.secret_expiring', 14]], 'one notice for the thresholds crossed, once');
    await noticeExpiringSecrets(t.db, Date.now() + 4 * 86_400_000);
    await noticeExpiringSecrets(t.db, Date.now() + 11 * 86_400_000);
    assert.deepEqual(await events(), [['sso.secret_expiring', 14], ['sso.secret_expiring', 7], ['sso.secret_expired', 0]]);
    await admin.patch('/api/v1/sso/connections/expiring', { clientSecret: 'okta-secret', secretExpiresAt: inTenDays.replace(/^\d{4}/, (y) => String(Number(y) + 1)) });
    await noticeExpiringSecrets(t.db);
    assert.equal((await events()).length, 3, 'a new secret a year away gives no notice yet');
    const card = (await admin.get('/api/v1/sso/connections/expiring')).body;
    assert.match(card.oidc.secretExpiresAt, /^\d{4}-/);
  });
});

describe('keydesk oidc connect and role-rule, before serve (on the embedded database in the PGlite run)', () => {
  test('connect reads discovery and prints the URIs to register; rules are added (for a connection) and listed', async (tc) => {
    const cdb = await cliDatabase();
    tc.after(cdb.drop);
    const run = (args: string[]) => keydesk(args, { ...cdb.env, PUBLIC_URL: 'http://localhost:3999' });
    await run(['tenant', 'create', 'acme', '--name', 'Acme', '--admin-email', 'it@acme.test']);
    const out = JSON.parse(
      (await run(['oidc', 'connect', 'acme', 'entra', '--issuer', entra.issuer, '--client-id', 'keydesk-app', '--client-secret', SECRET, '--publish', '--json'])).stdout,
    );
    assert.equal(out.protocol, 'oidc');
    assert.equal(out.live, true);
    assert.equal(out.oidc.redirectUri, 'http://localhost:3999/t/acme/oidc/entra/callback');
    assert.equal(out.oidc.backchannelLogoutUri, 'http://localhost:3999/t/acme/oidc/entra/backchannel-logout');
    assert.deepEqual(out.oidc.allowedTenants, [entra.tenantId], 'a single-tenant issuer allows its own tenant');
    assert.equal(JSON.stringify(out).includes(SECRET), false, 'the secret is never shown again');
    const text = (await run(['oidc', 'connect', 'acme', 'okta', '--issuer', okta.issuer, '--client-id', 'okta-app', '--client-secret', 'okta-secret'])).stdout;
    assert.match(text, /Redirect URI\s+http:\/\/localhost:3999\/t\/acme\/oidc\/okta\/callback/);
    const bad = await run(['oidc', 'connect', 'acme', 'x', '--issuer', 'http://example.com/', '--client-id', 'a', '--client-secret', 'b']).catch((e) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /must be an https URL/);

    const keyFile = `/tmp/keydesk-oidc-cli-${process.pid}-${Date.now()}-client.key`;
    writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const keyed = JSON.parse((await run(['oidc', 'connect', 'acme', 'keyed', '--issuer', entra.issuer, '--client-id', 'keydesk-key', '--private-key-file', keyFile, '--json'])).stdout);
    assert.equal(keyed.oidc.clientAuth, 'private_key_jwt');
    assert.match(keyed.oidc.clientCertificate.pem, /BEGIN CERTIFICATE/);
    assert.doesNotMatch(JSON.stringify(keyed), /PRIVATE KEY/);
    const both = await run(['oidc', 'connect', 'acme', 'y', '--issuer', entra.issuer, '--client-id', 'a', '--client-secret', 'b', '--private-key-file', keyFile]).catch((e) => e);
    assert.equal(both.code, 2);

    const rule = JSON.parse((await run(['role-rule', 'add', 'acme', '--group', 'Keydesk.Agents', '--role', 'agent', '--connection', 'entra', '--json'])).stdout);
    assert.deepEqual([rule.groupRef, rule.role, rule.connection], ['Keydesk.Agents', 'agent', 'entra']);
    await run(['role-rule', 'add', 'acme', '--group', 'IT Admins', '--role', 'admin']);
    const list = JSON.parse((await run(['role-rule', 'list', 'acme', '--json'])).stdout);
    assert.deepEqual(list.items.map((r: any) => [r.groupRef, r.role, r.connection]).sort(), [['IT Admins', 'admin', null], ['Keydesk.Agents', 'agent', 'entra']]);
    const wrongRole = await run(['role-rule', 'add', 'acme', '--group', 'g', '--role', 'owner']).catch((e) => e);
    assert.equal(wrongRole.code, 2);
  });
});
