/**
 * The admin's Provisioning page in a real browser (Debian Chromium), with the SCIM calls made from
 * Node as Entra's provisioning service makes them: the Tenant URL to paste, a secret token shown
 * once and then used, the activity log of what the calls did, setting a token inactive, the limit of
 * two, renewing and removing, an OAuth client through the token endpoint, and the page at 390 px.
 * Screenshots go to test-results/.
 *
 * Needs the built web app (`npm run build:web`) and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 * Run: KEYDESK_TEST_DB=pglite node --import tsx --test test/browser/provisioning.test.ts
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import { newUser, scimClientWith } from '../helpers/scim.js';
import { createUser } from '../../src/identity/users.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'test-results');
const AGENT_PASSWORD = 'browser-test-password-42';

let t: TestApp;
let tt: TestTenant;
let slug: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** The admin's page, shared by the tests below in order (node:test runs them one after another). */
let admin: Page;
/** The first token's secret as the admin copied it, and its name. */
let firstSecret = '';
const FIRST = 'Entra production';
const SECOND = 'Entra rotation';

async function newPage(width = 1280, height = 900): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, permissions: ['clipboard-read', 'clipboard-write'] });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${t.url}/t/${slug}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  // Signed in: the user menu is there (folded away behind the menu button on a phone).
  await page.getByTestId('user-name').waitFor({ state: 'attached' });
}

async function shot(page: Page, name: string) {
  // The top bar is sticky: scroll up so that it sits at the top of a full-page picture.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function tokenRow(page: Page, name: string): Locator {
  return page.locator(`[data-testid="token-section"] [data-testid="credential-row"][data-name="${name}"]`);
}

function activityRows(page: Page): Locator {
  return page.locator('[data-testid="activity-row"]');
}

/** A GET of the user list with this bearer token: 200 when the token works, 401 when it does not. */
async function scimStatus(token: string): Promise<number> {
  return (await scimClientWith(t, tt.tenant, token).call('GET', 'Users?count=1')).status;
}

/** Presses Refresh under Activity and waits until the list has been fetched again. */
async function refreshActivity(page: Page) {
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/provisioning/activity') && r.request().method() === 'GET');
  await page.getByTestId('activity-refresh').click();
  assert.equal((await answered).status(), 200);
  await page.locator('[data-testid="activity-refresh"]:not([disabled])').waitFor();
}

/** Generates a token from the page and returns the secret it shows once. */
async function generateToken(page: Page, name: string): Promise<string> {
  await page.getByTestId('token-name').fill(name);
  await page.getByTestId('token-create').click();
  const reveal = page.getByTestId('token-reveal');
  await reveal.waitFor();
  assert.match(await reveal.innerText(), new RegExp(`“${name}” is ready`));
  assert.match(await reveal.innerText(), /will not be shown again/);
  return (await reveal.getByTestId('revealed-secret').innerText()).trim();
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  slug = tt.tenant.slug;
  browser = await launchChromium();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await t?.close();
});

test('the admin opens Provisioning from the admin tabs and finds the Tenant URL to paste into Entra', { timeout: 90_000 }, async () => {
  admin = await newPage();
  await signIn(admin, tt.adminEmail, tt.adminPassword);
  await admin.goto(`${t.url}/t/${slug}/admin/sso`);
  const tab = admin.getByTestId('admin-tab-provisioning');
  assert.equal((await tab.innerText()).trim(), 'Provisioning');
  await tab.click();
  await admin.waitForURL(`${t.url}/t/${slug}/admin/provisioning`);
  await admin.getByRole('heading', { name: 'Provisioning', level: 2, exact: true }).waitFor();
  assert.equal(await tab.getAttribute('aria-current'), 'page', 'the Provisioning tab is the current one');

  const tenantUrl = (await admin.getByTestId('tenant-url').innerText()).trim();
  assert.ok(tenantUrl.endsWith(`/t/${slug}/scim/v2`), tenantUrl);
  assert.equal(tenantUrl, `${t.url}/t/${slug}/scim/v2`);
  assert.equal((await admin.getByTestId('token-endpoint').innerText()).trim(), `${t.url}/t/${slug}/oauth/token`);
  await admin.getByTestId('copy-tenant-url').click();
  await admin.locator('[data-testid="copy-tenant-url"][data-copied]').waitFor();
  assert.equal(await admin.evaluate('navigator.clipboard.readText()'), tenantUrl, 'the copy button copies the Tenant URL');

  // Nothing yet: both kinds of credential and the activity log say so (each list loads on its own).
  for (const [section, text] of [['token-section', 'No secret tokens yet'], ['client-section', 'No OAuth clients'], ['activity-section', 'No provisioning requests yet']] as const) {
    await admin.getByTestId(section).getByText(text).first().waitFor();
  }
  assert.match(await admin.getByTestId('token-section').innerText(), /No secret tokens yet/);
  assert.match(await admin.getByTestId('client-section').innerText(), /No OAuth clients/);
  assert.match(await admin.getByTestId('activity-section').innerText(), /No provisioning requests yet[\s\S]*once Entra or Okta starts provisioning/);
  assert.equal(await admin.getByTestId('token-create').isEnabled(), true);
  await shot(admin, 'provisioning-empty');
});

test('a token is shown once; SCIM calls made with it appear under Activity, newest first, with the failure and its reason', { timeout: 90_000 }, async () => {
  firstSecret = await generateToken(admin, FIRST);
  assert.match(firstSecret, /^kdscim_[A-Za-z0-9_-]{20,}$/);
  const row = tokenRow(admin, FIRST);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'active');
  assert.equal((await row.getByTestId('credential-hint').innerText()).replace('Secret ending in', '').trim(), `…${firstSecret.slice(-4)}`);
  assert.match(await row.getByTestId('credential-expiry').innerText(), /\d{4}/, 'a date a year ahead, not a warning');
  assert.equal(await row.getByTestId('credential-expiry').getAttribute('data-urgency'), null);
  await admin.getByTestId('copy-secret').click();
  await admin.locator('[data-testid="copy-secret"][data-copied]').waitFor();
  assert.equal(await admin.evaluate('navigator.clipboard.readText()'), firstSecret);
  await shot(admin, 'provisioning-token-generated');

  // Dismissed, the secret is gone from the page, and a reload does not bring it back.
  await admin.getByTestId('token-reveal-dismiss').click();
  await admin.getByTestId('token-reveal').waitFor({ state: 'detached' });
  assert.equal((await admin.content()).includes(firstSecret), false);
  await admin.reload();
  await tokenRow(admin, FIRST).waitFor();
  assert.equal((await admin.content()).includes(firstSecret), false, 'the secret is never shown again');

  // Entra's provisioning service, with the secret pasted in: one user created, one bad filter.
  const scim = scimClientWith(t, tt.tenant, firstSecret);
  const created = await scim.call('POST', 'Users', newUser(`grace.hopper@${slug}.test`));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const bad = await scim.call('GET', 'Users?filter=userName%20zz%20%22x%22');
  assert.equal(bad.status, 400);
  const detail = bad.body.detail as string;
  assert.ok(typeof detail === 'string' && detail.length > 0, JSON.stringify(bad.body));

  assert.equal((await tokenRow(admin, FIRST).getByTestId('credential-last-used').innerText()).trim(), 'Never');
  await refreshActivity(admin);
  const rows = activityRows(admin);
  assert.equal(await rows.count(), 2);
  // Refresh also brought the token's "Last used" up to date.
  await tokenRow(admin, FIRST).locator('[data-testid="credential-last-used"] time').waitFor();
  // Newest first: the failed list, then the created user.
  const [failed, create] = [rows.nth(0), rows.nth(1)];
  assert.equal(await failed.getAttribute('data-status'), '400');
  assert.equal((await failed.getByTestId('activity-operation').innerText()).trim(), 'List Users');
  assert.match(await failed.getByTestId('activity-status').innerText(), /^400\b/);
  assert.equal((await failed.getByTestId('activity-error-text').innerText()).trim(), detail);
  assert.equal(await failed.getByTestId('activity-status').evaluate((el) => el.className), 'badge tone-red');
  assert.match(await failed.innerText(), /userName zz "x"/, 'the path is shown decoded, as the filter was written');

  assert.equal(await create.getAttribute('data-status'), '201');
  assert.equal((await create.getByTestId('activity-operation').innerText()).trim(), 'Create User');
  assert.match(await create.getByTestId('activity-status').innerText(), /^201\b/);
  assert.equal(await create.getByTestId('activity-status').evaluate((el) => el.className), 'badge tone-green');
  assert.match(await create.innerText(), new RegExp(`User\\s+${String(created.body.id).slice(0, 8)}`));
  assert.match(await create.innerText(), new RegExp(`with ${FIRST}`));
  assert.equal(await create.getByTestId('activity-error-text').count(), 0);
  await shot(admin, 'provisioning-activity');

  // Failures only: the created user drops out of the list, and comes back.
  await admin.getByTestId('activity-failures').check();
  await admin.locator('[data-testid="activity-row"][data-status="201"]').waitFor({ state: 'detached' });
  assert.equal(await rows.count(), 1);
  assert.equal(await rows.first().getAttribute('data-status'), '400');
  await admin.getByTestId('activity-failures').uncheck();
  await admin.locator('[data-testid="activity-row"][data-status="201"]').waitFor();
  assert.equal(await rows.count(), 2);
});

test('a token set inactive is refused (401, logged under Activity) until it is set active again', { timeout: 90_000 }, async () => {
  assert.ok(firstSecret, 'the previous test generated a token');
  assert.equal(await scimStatus(firstSecret), 200);
  const row = tokenRow(admin, FIRST);
  await row.getByRole('button', { name: 'Set inactive' }).click();
  await admin.locator(`[data-testid="token-section"] [data-testid="credential-row"][data-name="${FIRST}"][data-state="inactive"]`).waitFor();
  assert.equal((await row.getByTestId('credential-state').innerText()).trim(), 'Inactive');
  assert.equal(await scimStatus(firstSecret), 401);

  await refreshActivity(admin);
  const newest = activityRows(admin).first();
  assert.equal(await newest.getAttribute('data-status'), '401');
  assert.match(await newest.getByTestId('activity-error-text').innerText(), /not valid for this tenant/);

  await row.getByRole('button', { name: 'Set active' }).click();
  await admin.locator(`[data-testid="token-section"] [data-testid="credential-row"][data-name="${FIRST}"][data-state="active"]`).waitFor();
  assert.equal(await scimStatus(firstSecret), 200);
});

test('at most two tokens: Generate is disabled at two; Renew replaces the secret at once; Remove frees the slot', { timeout: 90_000 }, async () => {
  assert.ok(firstSecret, 'the earlier tests generated a token');
  const secondSecret = await generateToken(admin, SECOND);
  assert.notEqual(secondSecret, firstSecret);
  await admin.getByTestId('token-reveal-dismiss').click();
  await tokenRow(admin, SECOND).waitFor();
  assert.equal(await admin.locator('[data-testid="token-section"] [data-testid="credential-row"]').count(), 2);
  assert.equal(await admin.getByTestId('token-create').isDisabled(), true, 'no third token');
  assert.equal(await admin.getByTestId('token-name').isDisabled(), true);
  assert.match(await admin.getByTestId('token-limit').innerText(), /already two secret tokens/);
  assert.equal(await admin.getByTestId('token-create').getAttribute('aria-describedby'), await admin.getByTestId('token-limit').getAttribute('id'));
  assert.equal(await scimStatus(secondSecret), 200);

  // Renew the first: a confirmation, then a new secret shown once; the old one stops working now.
  await tokenRow(admin, FIRST).getByRole('button', { name: 'Renew' }).click();
  const dialog = admin.getByTestId('token-renew-dialog');
  await dialog.getByTestId('confirm-renew').waitFor();
  assert.match(await dialog.innerText(), /stops working at once/);
  await dialog.getByTestId('confirm-renew').click();
  await dialog.getByTestId('confirm-renew').waitFor({ state: 'detached' });
  const reveal = admin.getByTestId('token-reveal');
  await reveal.waitFor();
  assert.match(await reveal.innerText(), new RegExp(`New secret token for “${FIRST}”[\\s\\S]*old one has stopped working`));
  const renewed = (await reveal.getByTestId('revealed-secret').innerText()).trim();
  assert.match(renewed, /^kdscim_/);
  assert.notEqual(renewed, firstSecret);
  await admin.locator(`[data-testid="token-section"] [data-testid="credential-row"][data-name="${FIRST}"] [data-testid="credential-hint"]:has-text("…${renewed.slice(-4)}")`).waitFor();
  await shot(admin, 'provisioning-renewed');
  assert.equal(await scimStatus(firstSecret), 401, 'the old secret is refused');
  assert.equal(await scimStatus(renewed), 200, 'the new secret works');
  assert.equal(await scimStatus(secondSecret), 200, 'the other token is untouched');
  await admin.getByTestId('token-reveal-dismiss').click();

  // Remove the second: a confirmation; then it is refused and a slot is free again.
  await tokenRow(admin, SECOND).getByRole('button', { name: 'Remove' }).click();
  const remove = admin.getByTestId('token-remove-dialog');
  await remove.getByTestId('confirm-remove').waitFor();
  assert.match(await remove.innerText(), new RegExp(`${SECOND}[\\s\\S]*can no longer provision`));
  await remove.getByTestId('confirm-remove').click();
  await tokenRow(admin, SECOND).waitFor({ state: 'detached' });
  assert.match(await admin.getByTestId('token-flash').innerText(), new RegExp(`“${SECOND}” \\(…${secondSecret.slice(-4)}\\) has been removed`));
  assert.equal(await admin.locator('[data-testid="token-section"] [data-testid="credential-row"]').count(), 1);
  assert.equal(await admin.getByTestId('token-create').isEnabled(), true);
  assert.equal(await admin.getByTestId('token-limit').count(), 0);
  assert.equal(await scimStatus(secondSecret), 401);
  assert.equal(await scimStatus(renewed), 200);
  firstSecret = renewed;

  // What the server holds agrees with the page.
  const held = await t.db.query<{ name: string }>('SELECT name FROM scim_credentials WHERE tenant_id = $1 AND kind = $2', [tt.tenant.id, 'token']);
  assert.deepEqual(held.map((r) => r.name), [FIRST]);
});

test('an OAuth client: client ID and secret shown once; the token endpoint trades them for an access token that opens SCIM', { timeout: 90_000 }, async () => {
  await admin.getByTestId('client-create').click();
  const reveal = admin.getByTestId('client-reveal');
  await reveal.waitFor();
  const clientId = (await reveal.getByTestId('revealed-client-id').innerText()).trim();
  const clientSecret = (await reveal.getByTestId('revealed-secret').innerText()).trim();
  assert.match(clientId, /^kdc_/);
  assert.match(clientSecret, /^kdcs_/);
  const row = admin.locator('[data-testid="client-section"] [data-testid="credential-row"]');
  assert.equal(await row.count(), 1);
  assert.equal((await row.getByTestId('credential-client-id').innerText()).trim(), clientId);
  assert.equal(await row.getAttribute('data-name'), 'OAuth client', 'the default name');
  await shot(admin, 'provisioning-client');

  const res = await fetch(`${t.url}/t/${slug}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
  });
  assert.equal(res.status, 200);
  const { access_token: accessToken } = (await res.json()) as { access_token: string };
  assert.equal(await scimStatus(accessToken), 200);

  await refreshActivity(admin);
  const rows = activityRows(admin);
  assert.equal((await rows.nth(0).getByTestId('activity-operation').innerText()).trim(), 'List Users');
  assert.equal(await rows.nth(0).getAttribute('data-status'), '200');
  assert.equal((await rows.nth(1).getByTestId('activity-operation').innerText()).trim(), 'Issue access token');
  assert.equal(await rows.nth(1).getAttribute('data-status'), '200');
  await admin.getByTestId('client-reveal-dismiss').click();
  await reveal.waitFor({ state: 'detached' });
});

test('at 390 px wide the page fits the screen: tables become cards, nothing scrolls sideways', { timeout: 90_000 }, async () => {
  const phone = await newPage(390, 844);
  await signIn(phone, tt.adminEmail, tt.adminPassword);
  await phone.goto(`${t.url}/t/${slug}/admin/provisioning`);
  await phone.locator('[data-testid="activity-row"]').first().waitFor();
  await tokenRow(phone, FIRST).waitFor();
  const widths = (await phone.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]')) as [number, number];
  assert.ok(widths[0] <= widths[1], `the page is ${widths[0]} px wide in a ${widths[1]} px screen`);
  const renew = tokenRow(phone, FIRST).getByRole('button', { name: 'Renew' });
  const box = await renew.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the Renew button is on screen: ${JSON.stringify(box)}`);
  assert.equal(await phone.locator('.activity-table thead').isVisible(), false, 'the activity table is stacked, without its header row');
  await shot(phone, 'provisioning-mobile');
  // Screen-sized pictures of the two lists, as a person sees them on a phone.
  await phone.getByTestId('token-section').scrollIntoViewIfNeeded();
  await phone.screenshot({ path: path.join(shots, 'provisioning-mobile-tokens.png') });
  await activityRows(phone).first().scrollIntoViewIfNeeded();
  await phone.screenshot({ path: path.join(shots, 'provisioning-mobile-activity.png') });
});

test('people who are not administrators do not get the page', { timeout: 60_000 }, async () => {
  const email = `alex@${slug}.test`;
  await t.db.transaction((tx) =>
    createUser({ db: t.db, tenant: tt.tenant, actor: null }, tx, { email, displayName: 'Alex Agent', password: AGENT_PASSWORD, roles: ['requester', 'agent'], passwordChangeRequired: false }),
  );
  const page = await newPage();
  await signIn(page, email, AGENT_PASSWORD);
  await page.goto(`${t.url}/t/${slug}/admin/provisioning`);
  await page.getByText('Not available to you').waitFor();
  assert.equal(await page.getByTestId('tenant-url').count(), 0);
  assert.equal(await page.getByTestId('admin-tab-provisioning').count(), 0);
});
