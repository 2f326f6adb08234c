/**
 * OpenID Connect in a real browser (Debian Chromium) against a real provider (oidc-provider), shaped
 * like Entra ID and like Okta:
 * - Entra: the admin adds the connection on the Single sign-on page, tests it, gives a group a role
 *   from the trace; a new person signs in with the button and signs out at the provider too
 *   (RP-initiated logout). A group rule and an app-role rule give roles, and take them away when the
 *   directory does; a sign-out at the provider ends the Keydesk session over the back channel.
 * - Okta (second workspace): enforcement waits for a passed test; the test's trace shows groups by
 *   name; enforced SSO ends password sessions and refuses passwords, the button still works; home
 *   realm discovery sends a work email straight to the Okta connection; a new person waits in the
 *   waiting room until the directory puts them in a mapped group.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, passwordSignIn, repoRoot } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import { startOidcProvider, type RunningOidcProvider } from '../idp/oidc-provider.js';
import { createOidcConnection } from '../../src/identity/oidc/connection.js';
import { SecretBox } from '../../src/identity/secrets.js';
import { createUser } from '../../src/identity/users.js';

const shots = path.join(repoRoot, 'test-results');
const HELPDESK = randomUUID();
/** An Entra group (by object id) and an app role value, for the rules test. */
const FACILITIES = randomUUID();
const CHANGE_ROLE = 'Keydesk.ChangeManager';
const SECRET = 'browser-test-client-secret';
const ROLES_SECRET = 'browser-test-roles-secret';
const OKTA_SECRET = 'browser-test-okta-secret';
const OKTA_DOMAIN = 'okta-corp.test';
const PAT_PASSWORD = `pat-${randomUUID()}`;

let t: TestApp;
let tt: TestTenant;
/** The second workspace, signing in with the Okta-shaped provider. */
let tb: TestTenant;
let op: RunningOidcProvider;
let okta: RunningOidcProvider;
let patId: string;
let browser: Browser;
/** What the providers said when a back-channel logout call to Keydesk failed. */
const backchannelErrors: string[] = [];


/** oidc-provider's development login form: any password is accepted for a known login. */
async function providerLogin(page: Page, login: string) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
}

/** Signs out at the provider itself (its own sign-out page, as from another app), confirming its question. */
async function signOutAtProvider(page: Page, provider: RunningOidcProvider) {
  await page.goto(`${provider.issuer}/session/end`);
  await page.locator('button[name="logout"][value="yes"]').click();
  await page.waitForURL(`${provider.issuer}/session/end/success**`);
}

/** The roles of the session this browser holds (sorted), or null when it is signed out. */
async function sessionRoles(page: Page): Promise<string[] | null> {
  const res = await page.request.get(`${t.url}/api/v1/session`);
  if (res.status() === 401) return null;
  assert.equal(res.status(), 200, await res.text());
  return ((await res.json()) as { roles: string[] }).roles.slice().sort();
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  tb = await t.tenant();
  const base = `${t.url}/t/${tt.tenant.slug}`;
  op = await startOidcProvider({
    shape: 'entra',
    clients: [
      {
        clientId: 'keydesk-web',
        clientSecret: SECRET,
        redirectUris: [`${base}/oidc/entra/callback`],
        postLogoutRedirectUris: [`${base}/login?signedOut=1`],
        backchannelLogoutUri: `${base}/oidc/entra/backchannel-logout`,
      },
      {
        clientId: 'keydesk-roles',
        clientSecret: ROLES_SECRET,
        redirectUris: [`${base}/oidc/contoso/callback`],
        postLogoutRedirectUris: [`${base}/login?signedOut=1`],
        backchannelLogoutUri: `${base}/oidc/contoso/backchannel-logout`,
      },
    ],
    users: [
      { login: 'tess', claims: { oid: randomUUID(), email: 'tess@corp.test', name: 'Tess Admin', groups: [HELPDESK] } },
      { login: 'noor', claims: { oid: randomUUID(), email: 'noor@corp.test', name: 'Noor Agent', groups: [HELPDESK] } },
      { login: 'ravi', claims: { oid: randomUUID(), email: 'ravi@corp.test', name: 'Ravi Roles', groups: [FACILITIES], roles: [CHANGE_ROLE] } },
    ],
  });
  for (const u of op.users.values()) u.claims.tid = op.tenantId;

  // The Okta-shaped provider: issuer /oauth2/default, groups by name, no oid or tid; people sign in with their address.
  const baseB = `${t.url}/t/${tb.tenant.slug}`;
  okta = await startOidcProvider({
    shape: 'okta',
    clients: [{ clientId: 'okta-keydesk', clientSecret: OKTA_SECRET, redirectUris: [`${baseB}/oidc/okta/callback`], postLogoutRedirectUris: [`${baseB}/login?signedOut=1`] }],
    users: [
      { login: `sam@${OKTA_DOMAIN}`, claims: { email: `sam@${OKTA_DOMAIN}`, email_verified: true, name: 'Sam Servicedesk', groups: ['Everyone', 'Service Desk'] } },
      { login: `pat@${OKTA_DOMAIN}`, claims: { email: `pat@${OKTA_DOMAIN}`, email_verified: true, name: 'Pat Password', groups: ['Everyone'] } },
      { login: `wanda@${OKTA_DOMAIN}`, claims: { email: `wanda@${OKTA_DOMAIN}`, email_verified: true, name: 'Wanda Waiting', groups: ['Everyone'] } },
    ],
  });
  for (const p of [op, okta]) p.provider.on('backchannel.error', (_ctx: unknown, err: Error) => backchannelErrors.push(`${p.shape}: ${err.message}`));

  const box = new SecretBox(t.config.secret, 'oidc');
  // Workspace A: a second Entra connection, live, for the rules and back-channel test.
  await createOidcConnection({ db: t.db, tenant: tt.tenant, actor: null }, box, { slug: 'contoso', displayName: 'Contoso', issuer: op.issuer, clientId: 'keydesk-roles', clientSecret: ROLES_SECRET, publish: true });
  await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'agent'), ($1, $3, 'change_manager')`, [tt.tenant.id, FACILITIES, CHANGE_ROLE]);
  // Workspace B: Okta, in testing, with the waiting room; its email domain verified; someone who still has a password.
  const ctxB = { db: t.db, tenant: tb.tenant, actor: null };
  await createOidcConnection(ctxB, box, { slug: 'okta', displayName: 'Okta', issuer: okta.issuer, clientId: 'okta-keydesk', clientSecret: OKTA_SECRET, waitingRoom: true });
  await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, $2, 'x', now())`, [tb.tenant.id, OKTA_DOMAIN]);
  patId = (
    await t.db.transaction((tx) =>
      createUser(ctxB, tx, { email: `pat@${OKTA_DOMAIN}`, displayName: 'Pat Password', password: PAT_PASSWORD, roles: ['requester'], passwordChangeRequired: false }),
    )
  ).id;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await op?.stop();
  await okta?.stop();
  await t?.close();
});

test('the admin adds an OpenID Connect connection, tests it and maps a group; a new person signs in with the button and signs out at the provider too', async () => {
  const slug = tt.tenant.slug;
  const page = await openPage(browser, { height: 1400 });
  await passwordSignIn(page, t.url, slug, tt.adminEmail, tt.adminPassword);
  await page.goto(`${t.url}/t/${slug}/admin/sso`);
  await page.getByTestId('add-connection').first().click();
  await page.getByTestId('protocol-oidc').click();
  const form = page.getByTestId('new-oidc-form');
  await form.waitFor();
  // The redirect URI to register shows first, for the short name the provider gave.
  assert.equal(await form.getByTestId('rp-redirect-uri').innerText(), `${t.url}/t/${slug}/oidc/entra/callback`);
  await form.getByTestId('oidc-issuer-input').fill(op.issuer);
  await form.getByTestId('oidc-client-id-input').fill('keydesk-web');
  await form.getByTestId('oidc-client-secret-input').fill(SECRET);
  await page.screenshot({ path: path.join(shots, 'oidc-1-add.png') });
  await form.getByTestId('oidc-connection-submit').click();
  const card = page.locator('[data-testid="sso-connection"][data-slug="entra"]');
  await card.waitFor();
  assert.equal(await card.getByTestId('oidc-issuer').innerText(), op.issuer);
  assert.equal(await card.getByTestId('connection-testing').count(), 1);

  await card.getByTestId('test-signin').click();
  await providerLogin(page, 'tess');
  await page.waitForURL(`${t.url}/t/${slug}/admin/sso/traces/KD-**`);
  assert.equal(await page.getByTestId('trace-outcome').getAttribute('data-outcome'), 'success');
  await page.getByTestId('trace-id-token-claims').waitFor();
  const steps = page.getByTestId('next-steps');
  await steps.getByTestId('next-live').waitFor();
  const group = steps.locator(`[data-testid="next-group"][data-group="${HELPDESK}"]`);
  await group.getByTestId('next-group-role').selectOption('agent');
  await group.getByTestId('next-group-add').click();
  await group.getByText('Agent').waitFor();
  await page.screenshot({ path: path.join(shots, 'oidc-2-trace.png'), fullPage: true });

  const person = await openPage(browser);
  await person.goto(`${t.url}/t/${slug}/login`);
  await person.locator('[data-testid="sso-button"][data-slug="entra"]').click();
  await providerLogin(person, 'noor');
  await person.getByTestId('user-name').waitFor();
  assert.equal(await person.getByTestId('user-name').innerText(), 'Noor Agent');
  assert.equal(await person.getByTestId('nav-workspace').count(), 1, 'the group rule made Noor an agent');

  // Sign out: Keydesk's session ends, then the provider asks and ends its own, and sends the browser back.
  await person.getByTestId('sign-out').click();
  await person.locator('button[name="logout"][value="yes"]').click();
  await person.waitForURL(`${t.url}/t/${slug}/login?signedOut=1`);
  await person.locator('[data-testid="sso-button"][data-slug="entra"]').click();
  await person.locator('input[name="login"]').waitFor(); // the provider's session is gone: it asks again
});

test('Entra: a group rule and an app-role rule give roles and take them away when the directory does; signing out at the provider ends the Keydesk session (back-channel logout)', async () => {
  const slug = tt.tenant.slug;
  const ravi = op.users.get('ravi')!;
  const person = await openPage(browser);
  await person.goto(`${t.url}/t/${slug}/login`);
  await person.locator('[data-testid="sso-button"][data-slug="contoso"]').click();
  await providerLogin(person, 'ravi');
  await person.getByTestId('user-name').waitFor();
  assert.equal(await person.getByTestId('user-name').innerText(), 'Ravi Roles');
  await person.getByTestId('nav-approvals').waitFor(); // a change manager, by the app role
  assert.equal(await person.getByTestId('nav-workspace').count(), 1);
  assert.deepEqual(await sessionRoles(person), ['agent', 'change_manager', 'requester'], 'the group gave agent, the app role change manager');

  // The directory takes Ravi out of the group: the next sign-in (through the provider's session, no form) removes agent only.
  ravi.claims.groups = [];
  await person.goto(`${t.url}/t/${slug}/oidc/contoso/login?RelayState=${encodeURIComponent(`/t/${slug}/portal`)}`);
  await person.waitForURL(`${t.url}/t/${slug}/portal`);
  await person.getByTestId('user-name').waitFor();
  assert.deepEqual(await sessionRoles(person), ['change_manager', 'requester'], 'agent went with the group; the app role still gives change manager');

  // Ravi signs out at the provider (not in Keydesk): the provider posts a logout token to Keydesk.
  const errorsBefore = backchannelErrors.length;
  await signOutAtProvider(person, op);
  assert.deepEqual(backchannelErrors.slice(errorsBefore), [], 'the provider’s back-channel call was accepted');
  await person.goto(`${t.url}/t/${slug}/portal`);
  await person.waitForURL(`${t.url}/t/${slug}/login**`);
  await person.locator('[data-testid="sso-button"][data-slug="contoso"]').waitFor();
  assert.equal(await person.getByTestId('user-name').count(), 0, 'the next page load is signed out');
  assert.equal(await sessionRoles(person), null);
  const [logout] = await t.db.query<{ details: { sessionsEnded: number } }>(
    `SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'signout.oidc_backchannel' AND outcome = 'success' AND details->>'connection' = 'contoso'`,
    [tt.tenant.id],
  );
  assert.ok(logout && logout.details.sessionsEnded >= 1, JSON.stringify(logout));

  // The app role is unassigned too: signing in again (the provider asks again: its session is over) leaves a requester.
  ravi.claims.roles = [];
  await person.locator('[data-testid="sso-button"][data-slug="contoso"]').click();
  await providerLogin(person, 'ravi');
  await person.waitForURL(`${t.url}/t/${slug}/portal`);
  await person.getByTestId('user-name').waitFor();
  assert.equal(await person.getByTestId('nav-workspace').count(), 0, 'no longer staff');
  assert.deepEqual(await sessionRoles(person), ['requester']);
});

test('Okta: enforcement waits for a passed test; enforced SSO ends password sessions and refuses passwords while the button works; a work email finds the Okta connection; a new person waits until the directory puts them in a mapped group', async () => {
  const slug = tb.tenant.slug;
  // Pat still signs in with a password (the connection is being tested: no button yet).
  const pat = await openPage(browser);
  await passwordSignIn(pat, t.url, slug, `pat@${OKTA_DOMAIN}`, PAT_PASSWORD);

  const admin = await openPage(browser, { height: 1400 });
  await passwordSignIn(admin, t.url, slug, tb.adminEmail, tb.adminPassword);
  await admin.goto(`${t.url}/t/${slug}/admin/sso`);
  const card = admin.locator('[data-testid="sso-connection"][data-slug="okta"]');
  await card.waitFor();
  await admin.getByTestId('enforce-reason').waitFor();
  assert.match(await admin.getByTestId('enforce-reason').innerText(), /passed a test sign-in/);
  assert.equal(await admin.getByTestId('enforce-toggle').isDisabled(), true, 'no enforcing before a passed test');

  await card.getByTestId('test-signin').click();
  await providerLogin(admin, `sam@${OKTA_DOMAIN}`);
  await admin.waitForURL(`${t.url}/t/${slug}/admin/sso/traces/KD-**`);
  assert.equal(await admin.getByTestId('trace-outcome').getAttribute('data-outcome'), 'success');
  // Okta: no oid, so the subject is the issuer and sub; groups arrive by name.
  const mapped = await admin.getByTestId('trace-mapped').innerText();
  assert.ok(mapped.includes(`${okta.issuer}#sam@${OKTA_DOMAIN}`), mapped);
  assert.match(mapped, /from sub/);
  const steps = admin.getByTestId('next-steps');
  await steps.getByTestId('next-live').waitFor();
  assert.equal(await steps.locator('[data-testid="next-group"][data-group="Everyone"]').count(), 1);
  const desk = steps.locator('[data-testid="next-group"][data-group="Service Desk"]');
  await desk.getByTestId('next-group-role').selectOption('agent');
  await desk.getByTestId('next-group-add').click();
  await desk.getByText('Agent').waitFor();

  // Now enforcement can be switched on; it ends Pat's password session.
  await steps.getByTestId('next-enforce').click();
  await admin.waitForURL(`${t.url}/t/${slug}/admin/sso**`);
  await admin.locator('[data-testid="enforce-toggle"]:not([disabled])').click();
  const confirm = admin.getByTestId('enforce-confirm-dialog');
  await confirm.getByTestId('enforce-confirm-sessions').waitFor();
  assert.match(await confirm.getByTestId('enforce-confirm-sessions').innerText(), /^One session/);
  await confirm.getByTestId('enforce-confirm').click();
  await admin.locator('[data-testid="enforce-toggle"]:checked:not([disabled])').waitFor();
  assert.match(await admin.getByTestId('enforce-state').innerText(), /^On/);

  await pat.goto(`${t.url}/t/${slug}/portal`);
  await pat.waitForURL(`${t.url}/t/${slug}/login**`);
  await pat.getByTestId('sso-enforced-note').waitFor();
  assert.equal(await pat.getByTestId('login-password').count(), 0, 'the password form is folded away');
  assert.equal(await sessionRoles(pat), null, 'enforcing ended the password session');
  // Pat tries the password anyway (behind the break-glass link): refused, with the way in named.
  await pat.getByTestId('break-glass-link').click();
  await pat.getByTestId('login-email').fill(`pat@${OKTA_DOMAIN}`);
  await pat.getByTestId('login-password').fill(PAT_PASSWORD);
  await pat.getByTestId('login-submit').click();
  await pat.getByTestId('login-error').waitFor();
  assert.match(await pat.getByTestId('login-error').innerText(), /single sign-on only/);
  assert.equal(await sessionRoles(pat), null);
  // The button works, into Pat's own account (linked by the verified domain).
  await pat.locator('[data-testid="sso-button"][data-slug="okta"]').click();
  await providerLogin(pat, `pat@${OKTA_DOMAIN}`);
  await pat.waitForURL(`${t.url}/t/${slug}/portal`);
  await pat.getByTestId('user-name').waitFor();
  const patSession = await pat.request.get(`${t.url}/api/v1/session`);
  assert.equal(((await patSession.json()) as { user: { id: string } }).user.id, patId);

  // Wanda is new: her work email finds the workspace and goes straight to its one connection, Okta, with her address.
  const wanda = await openPage(browser);
  await wanda.goto(`${t.url}/login`);
  await wanda.getByTestId('discover-email').fill(`wanda@${OKTA_DOMAIN}`);
  await wanda.getByTestId('discover-submit').click();
  await wanda.waitForURL(`${okta.origin}/**`);
  assert.equal(await wanda.locator('input[name="login"]').inputValue(), `wanda@${OKTA_DOMAIN}`, 'the provider got the address as login_hint');
  await providerLogin(wanda, `wanda@${OKTA_DOMAIN}`);
  // Her group has no rule: she waits.
  await wanda.getByTestId('waiting-room').waitFor();
  assert.equal(new URL(wanda.url()).pathname, `/t/${slug}/waiting`);
  assert.equal(await sessionRoles(wanda), null);
  await wanda.screenshot({ path: path.join(shots, 'oidc-okta-waiting.png') });

  // The Okta admin puts her in Service Desk; "Try again" signs her in through the provider's session, as an agent.
  okta.users.get(`wanda@${OKTA_DOMAIN}`)!.claims.groups = ['Everyone', 'Service Desk'];
  await wanda.getByTestId('waiting-retry').click();
  await wanda.locator('[data-testid="sso-button"][data-slug="okta"]').click();
  await wanda.getByTestId('user-name').waitFor();
  assert.equal(await wanda.getByTestId('user-name').innerText(), 'Wanda Waiting');
  assert.equal(await wanda.getByTestId('nav-workspace').count(), 1, 'the Service Desk rule made Wanda an agent');
  assert.deepEqual(await sessionRoles(wanda), ['agent']);
});
