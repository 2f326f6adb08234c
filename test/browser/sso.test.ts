/**
 * Single sign-on in a real browser (Debian Chromium) against a real SAML identity provider
 * (SimpleSAMLphp shaped like Entra): SP-initiated and IdP-initiated sign-in with JIT accounts and a
 * group rule, and single logout from Keydesk's Sign out button. Screenshots go to test-results/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage, passwordSignIn } from '../helpers/browser.js';
import type { TestApp, TestTenant } from '../helpers/app.js';
import { idpLogin, shots, startSsoApp } from '../helpers/browser-sso.js';
import { entraUser, startSimpleSamlIdp, type RunningIdp } from '../idp/simplesamlphp.js';

const AGENTS = randomUUID();
const FACILITIES = randomUUID();

let t: TestApp;
let tt: TestTenant;
let slug: string;
let idp: RunningIdp;
let okta: RunningIdp;
let browser: Browser;

before(async () => {
  ({ t, tt } = await startSsoApp());
  slug = tt.tenant.slug;
  const base = `${t.url}/t/${slug}/saml/entra`;
  idp = await startSimpleSamlIdp({
    shape: 'entra',
    sp: { entityId: `${base}/metadata`, acsUrl: `${base}/acs`, sloUrl: `${base}/slo` },
    users: [entraUser('ada', 'Ada', [AGENTS, FACILITIES]), entraUser('ivan', 'Ivan', []), entraUser('wes', 'Wes', [])],
  });
  const { createSamlConnection } = await import('../../src/identity/connections.js');
  await createSamlConnection({ db: t.db, tenant: tt.tenant, actor: null }, { slug: 'entra', publish: true, source: { metadataXml: idp.metadataXml } });
  await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, $2, 'agent')`, [tt.tenant.id, AGENTS]);
  // A second identity provider on the same tenant, shaped like Okta: response signed, groups by name.
  const oktaBase = `${t.url}/t/${slug}/saml/okta`;
  okta = await startSimpleSamlIdp({
    shape: 'okta',
    sp: { entityId: `${oktaBase}/metadata`, acsUrl: `${oktaBase}/acs`, sloUrl: `${oktaBase}/slo` },
    users: [{ username: 'olga', password: 'olga-pw', attributes: { email: ['olga@merged-co.test'], firstName: ['Olga'], lastName: ['Okta'], groups: ['Change Advisory Board'] } }],
  });
  await createSamlConnection({ db: t.db, tenant: tt.tenant, actor: null }, { slug: 'okta', publish: true, source: { metadataXml: okta.metadataXml } });
  await t.db.query(`INSERT INTO role_rules (tenant_id, group_ref, role) VALUES ($1, 'Change Advisory Board', 'change_manager')`, [tt.tenant.id]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await idp?.stop();
  await okta?.stop();
  await t?.close();
});

test('SP-initiated: Keydesk → SimpleSAMLphp login → back to the page asked for, as a JIT agent (group rule); Sign out ends the IdP session too', async () => {
  const page = await openPage(browser);
  await page.goto(`${t.url}/t/${slug}/saml/entra/login?RelayState=${encodeURIComponent(`/t/${slug}/agent`)}`);
  await page.locator('input[name="username"]').waitFor();
  await page.screenshot({ path: path.join(shots, 'sso-idp-login.png') });
  await idpLogin(page, 'ada');
  await page.waitForURL(`${t.url}/t/${slug}/agent**`);
  await page.getByTestId('user-name').waitFor();
  assert.equal(await page.getByTestId('user-name').innerText(), 'Ada Example');
  assert.equal(await page.getByTestId('nav-workspace').count(), 1, 'the group rule made Ada an agent');
  await page.screenshot({ path: path.join(shots, 'sso-landed-agent.png') });

  await page.getByTestId('sign-out').click();
  await page.waitForURL(`${t.url}/t/${slug}/login**`);
  // The IdP session ended as well: going through SSO again asks for the password.
  await page.goto(`${t.url}/t/${slug}/saml/entra/login`);
  await page.locator('input[name="username"]').waitFor();
});

test('IdP-initiated (a My Apps tile): the IdP posts to Keydesk and the RelayState picks the landing page', async () => {
  const page = await openPage(browser);
  await page.goto(idp.idpInitiatedUrl(`/t/${slug}/portal`));
  await idpLogin(page, 'ivan');
  await page.waitForURL(`${t.url}/t/${slug}/portal**`);
  await page.getByTestId('user-name').waitFor();
  assert.equal(await page.getByTestId('user-name').innerText(), 'Ivan Example');
  assert.equal(await page.getByTestId('nav-workspace').count(), 0, 'no group rule: a requester');
  await page.screenshot({ path: path.join(shots, 'sso-idp-initiated-portal.png') });
});

test('a failed sign-in shows the person a plain page with a reference the admin can look up', async () => {
  const page = await openPage(browser);
  await page.goto(idp.idpInitiatedUrl(`/t/${slug}/portal`));
  await idpLogin(page, 'ivan');
  await page.waitForURL(`${t.url}/t/${slug}/portal**`);
  // A broken response from the identity provider: what the person sees, and what the admin finds.
  const res = await page.request.post(`${t.url}/t/${slug}/saml/entra/acs`, { form: { SAMLResponse: 'bm90IHhtbA==' } });
  assert.equal(res.status(), 400);
  const body = await res.text();
  assert.match(body, /We could not sign you in/);
  const ref = /KD-[0-9A-F]{10}/.exec(body)![0];
  await page.setContent(body);
  await page.screenshot({ path: path.join(shots, 'sso-failed.png') });
  const trace = await t.db.query<{ error_code: string }>('SELECT error_code FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, ref]);
  assert.equal(trace[0]!.error_code, 'malformed');
});

test('the admin tests the connection from the Single sign-on page, then enforces SSO: the sign-in page offers SSO and a break-glass link', async () => {
  const page = await openPage(browser);
  await passwordSignIn(page, t.url, slug, tt.adminEmail, tt.adminPassword);
  await page.goto(`${t.url}/t/${slug}/admin/sso`);
  const card = page.locator('[data-testid="sso-connection"][data-slug="entra"]');
  await card.waitFor();
  await page.screenshot({ path: path.join(shots, 'sso-admin.png'), fullPage: true });
  // At 1440 px: the add-connection dialog does not scroll sideways, and the admin tabs show no scroll widget.
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.getByTestId('add-connection').click();
  await page.getByTestId('connection-slug').fill('probe');
  const overflow = await page.evaluate(() => {
    const d = document.querySelector('dialog[open]') as HTMLElement;
    const tabs = document.querySelector('nav.tabs') as HTMLElement;
    // The active tab's underline overlaps the border by a pixel: the tabs must not scroll for it.
    const tabsScroll = tabs.scrollHeight > tabs.clientHeight && getComputedStyle(tabs).overflowY !== 'hidden';
    return { dialog: d.scrollWidth - d.clientWidth, tabsScroll };
  });
  assert.deepEqual(overflow, { dialog: 0, tabsScroll: false });
  // A fault is said once, where it is: a short name that is taken, under the short name, and no banner.
  await page.getByTestId('connection-slug').fill('entra');
  await page.getByTestId('source-metadata-url').fill(idp.metadataUrl);
  await page.getByTestId('connection-submit').click();
  const slugField = page.locator('.field.has-error', { has: page.getByTestId('connection-slug') });
  await slugField.getByText(/already exists/).waitFor();
  assert.equal(await page.getByTestId('connection-error').count(), 0, 'no second copy in a banner');
  assert.equal(await page.getByText(/already exists/).count(), 1);
  await page.keyboard.press('Escape');
  await card.getByTestId('test-signin').click();
  await idpLogin(page, 'ada');
  await page.waitForURL(`${t.url}/t/${slug}/admin/sso/traces/KD-**`);
  assert.equal(await page.getByTestId('trace-outcome').getAttribute('data-outcome'), 'success');
  // Next steps in place: the groups this test carried, one already mapped, one to map from the list.
  const steps = page.getByTestId('next-steps');
  await steps.getByTestId('next-live').waitFor();
  const mapped = steps.locator(`[data-testid="next-group"][data-group="${AGENTS}"]`);
  assert.match(await mapped.innerText(), /Agent/);
  const open = steps.locator(`[data-testid="next-group"][data-group="${FACILITIES}"]`);
  await open.getByTestId('next-group-role').selectOption('change_manager');
  await open.getByTestId('next-group-add').click();
  await open.getByText('Change manager').waitFor();
  const added = await t.db.query<{ role: string }>('SELECT role FROM role_rules WHERE tenant_id = $1 AND group_ref = $2', [tt.tenant.id, FACILITIES]);
  assert.deepEqual(added.map((r) => r.role), ['change_manager']);
  await page.screenshot({ path: path.join(shots, 'sso-test-trace.png'), fullPage: true });
  await t.db.query('DELETE FROM role_rules WHERE tenant_id = $1 AND group_ref = $2', [tt.tenant.id, FACILITIES]);

  await page.goto(`${t.url}/t/${slug}/admin/sso`);
  await page.getByTestId('enforce-toggle').click();
  // Confirmed first, naming who keeps a password.
  const confirm = page.getByTestId('enforce-confirm-dialog');
  await confirm.getByTestId('enforce-confirm-accounts').waitFor();
  assert.match(await confirm.getByTestId('enforce-confirm-accounts').innerText(), new RegExp(tt.adminEmail.replace(/\./g, '\\.')));
  await confirm.getByTestId('enforce-confirm').click();
  await expectEnforced(true);

  const visitor = await openPage(browser);
  await visitor.goto(`${t.url}/t/${slug}/login`);
  await visitor.locator('[data-testid="sso-button"][data-slug="entra"]').waitFor();
  assert.equal(await visitor.getByTestId('login-password').count(), 0, 'no password form until break-glass is chosen');
  await visitor.getByTestId('break-glass-link').click();
  await visitor.getByTestId('login-email').fill(tt.adminEmail);
  await visitor.getByTestId('login-password').fill(tt.adminPassword);
  await visitor.screenshot({ path: path.join(shots, 'sso-login-enforced.png') });
  await visitor.getByTestId('login-submit').click();
  await visitor.getByTestId('user-name').waitFor();
  const used = await t.db.query(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'signin.break_glass'`, [tt.tenant.id]);
  assert.equal(used.length, 1);
  await t.db.query('UPDATE tenants SET enforce_sso = false WHERE id = $1', [tt.tenant.id]);
});

async function expectEnforced(value: boolean) {
  for (let i = 0; i < 50; i++) {
    const rows = await t.db.query<{ enforce_sso: boolean }>('SELECT enforce_sso FROM tenants WHERE id = $1', [tt.tenant.id]);
    if (rows[0]!.enforce_sso === value) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`enforce_sso never became ${value}`);
}

test('sign-in by work email finds the workspace by its verified domain; with two identity providers the person picks one', async () => {
  await t.db.query(`INSERT INTO tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES ($1, 'corp.test', 'x', now())`, [tt.tenant.id]);
  const page = await openPage(browser);
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`${t.url}/login`);
  await page.getByTestId('discover-email').fill('ivan@corp.test');
  await page.getByTestId('discover-submit').click();
  // This tenant has two connections (entra and okta), so the person chooses.
  await page.getByTestId('sso-chooser').waitFor();
  await page.screenshot({ path: path.join(shots, 'sso-discover-chooser.png') });
  await page.locator('[data-testid="sso-chooser"] [data-testid="sso-button"][data-slug="entra"]').click();
  await page.locator('input[name="username"]').waitFor();
  const toIdp = requested.find((u) => u.startsWith(idp.ssoUrl));
  assert.ok(toIdp, requested.join('\n'));
  assert.equal(new URL(toIdp).searchParams.get('login_hint'), 'ivan@corp.test');
  await idpLogin(page, 'ivan');
  await page.waitForURL(`${t.url}/t/${slug}/**`);
  await page.getByTestId('user-name').waitFor();
});

test('with the waiting room on, a new person lands on the waiting page until someone grants access', async () => {
  await t.db.query(`UPDATE sso_connections SET waiting_room = true WHERE tenant_id = $1 AND slug = 'entra'`, [tt.tenant.id]);
  const page = await openPage(browser);
  await page.goto(`${t.url}/t/${slug}/login`);
  await page.locator('[data-testid="sso-button"][data-slug="entra"]').click();
  await idpLogin(page, 'wes');
  await page.getByTestId('waiting-room').waitFor();
  assert.equal(new URL(page.url()).pathname, `/t/${slug}/waiting`);
  await page.screenshot({ path: path.join(shots, 'sso-waiting-room.png') });
});

test('the Okta-shaped second identity provider on the same tenant: its own button, response-signed, a rule on a group name', async () => {
  await t.db.query(`UPDATE sso_connections SET waiting_room = false WHERE tenant_id = $1`, [tt.tenant.id]);
  const page = await openPage(browser);
  await page.goto(`${t.url}/t/${slug}/login`);
  await page.locator('[data-testid="sso-button"][data-slug="entra"]').waitFor();
  await page.screenshot({ path: path.join(shots, 'sso-login-two-idps.png') });
  await page.locator('[data-testid="sso-button"][data-slug="okta"]').click();
  await idpLogin(page, 'olga');
  await page.getByTestId('user-name').waitFor();
  assert.equal(await page.getByTestId('user-name').innerText(), 'Olga Okta');
  const roles = await t.db.query<{ role: string }>(
    `SELECT g.role FROM role_grants g JOIN users u ON u.tenant_id = g.tenant_id AND u.id = g.user_id WHERE u.tenant_id = $1 AND u.email = 'olga@merged-co.test' ORDER BY g.role`,
    [tt.tenant.id],
  );
  assert.deepEqual(roles.map((r) => r.role), ['change_manager', 'requester']);
});
