/**
 * End to end in a real browser: a requester raises an incident in the portal, an agent works it
 * in the workspace (assign, work note, In progress, Resolved), and the requester sees it resolved
 * without ever seeing the work note. Also screenshots the admin pages.
 *
 * Needs the built web app (`npm run build:web`) and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 * Run: node --import tsx --test test/browser/portal-agent.test.ts
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import { createUser } from '../../src/identity/users.js';
import type { Role } from '../../src/identity/roles.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'test-results');
const PASSWORD = 'browser-test-password-42';
const NOTE = `Internal: rebooted the core switch, ticket ${Date.now().toString(36)}`;
const TITLE = 'Laptop cannot reach the VPN';
const RESOLUTION = 'Renewed the VPN certificate on the laptop; connected fine afterwards.';

let t: TestApp;
let tt: TestTenant;
let slug: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
let requester: { id: string; email: string };
let agent: { id: string; email: string };
let ref = '';
let requesterPage: Page;

async function person(email: string, displayName: string, roles: Role[]) {
  const u = await t.db.transaction((tx) =>
    createUser({ db: t.db, tenant: tt.tenant, actor: null }, tx, { email, displayName, password: PASSWORD, roles, passwordChangeRequired: false }),
  );
  return { id: u.id, email: u.email };
}

async function newPage(width = 1280, height = 860): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

async function shot(page: Page, name: string, fullPage = true) {
  // The top bar is sticky: scroll up so that it sits at the top of a full-page picture.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  slug = tt.tenant.slug;
  requester = await person(`rita@${slug}.test`, 'Rita Requester', ['requester']);
  agent = await person(`alex@${slug}.test`, 'Alex Agent', ['requester', 'agent']);
  browser = await launchChromium();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await t?.close();
});

test('a requester finds the workspace, signs in and raises an incident', { timeout: 90_000 }, async () => {
  const page = await newPage();
  requesterPage = page;
  await page.goto(`${t.url}/login`);
  await page.getByTestId('workspace-input').fill(slug);
  await page.getByTestId('workspace-submit').click();
  await page.waitForURL(`${t.url}/t/${slug}/login`);
  await signIn(page, requester.email);

  // Requesters land in the portal, with an empty state before their first ticket.
  await page.waitForURL(`${t.url}/t/${slug}/portal`);
  await page.getByTestId('empty-state').waitFor();
  assert.equal(await page.getByTestId('user-name').innerText(), 'Rita Requester');
  assert.equal(await page.getByTestId('nav-workspace').count(), 0, 'requesters have no workspace link');

  await page.getByTestId('portal-new-ticket').click();
  await page.waitForURL(`${t.url}/t/${slug}/portal/new`);
  await page.getByTestId('kind-incident').click();
  await page.getByTestId('ticket-title').fill(TITLE);
  await page.getByTestId('ticket-description').fill('Since this morning the VPN client says "authentication timed out". Wi-Fi works fine.');
  await page.getByTestId('ticket-urgency').selectOption('2');
  await shot(page, 'portal-new-ticket');
  await page.getByTestId('ticket-submit').click();

  await page.waitForURL(new RegExp(`/t/${slug}/portal/tickets/INC\\d+$`));
  ref = (await page.getByTestId('ticket-ref').innerText()).trim();
  assert.match(ref, /^INC\d{6}$/);
  await page.getByTestId('created-notice').waitFor();
  assert.equal(await page.getByTestId('ticket-status').getAttribute('data-status'), 'new');

  await page.goto(`${t.url}/t/${slug}/portal`);
  await page.locator(`[data-testid="ticket-row"][data-ref="${ref}"]`).waitFor();
  assert.match(await page.getByTestId('ticket-list').innerText(), /Laptop cannot reach the VPN/);
  await shot(page, 'portal-list');
});

test('an agent signs in, takes the ticket from Unassigned, adds a work note and resolves it', { timeout: 90_000 }, async () => {
  assert.ok(ref, 'the requester step raised a ticket');
  const page = await newPage(1366, 900);
  // A deep link while signed out goes through sign-in and comes back.
  await page.goto(`${t.url}/t/${slug}/agent?queue=open`);
  await page.waitForURL((u) => u.pathname === `/t/${slug}/login` && u.searchParams.get('next') === `/t/${slug}/agent?queue=open`);
  await signIn(page, agent.email);
  await page.waitForURL((u) => u.pathname === `/t/${slug}/agent`);

  // The queues show how many tickets wait in each: the requester's one is unassigned.
  await page.getByTestId('queue-count-unassigned').waitFor();
  assert.equal((await page.getByTestId('queue-count-unassigned').innerText()).trim(), '1');
  assert.equal((await page.getByTestId('queue-count-mine').innerText()).trim(), '0');
  await page.getByTestId('queue-unassigned').click();
  await page.waitForURL((u) => u.searchParams.get('queue') === 'unassigned');
  const row = page.locator(`[data-testid="ticket-row"][data-ref="${ref}"]`);
  await row.waitFor();
  await shot(page, 'agent-queue');

  await row.getByTestId('ticket-link').click();
  await page.waitForURL(`${t.url}/t/${slug}/agent/tickets/${ref}`);
  await page.getByTestId('ticket-ref').waitFor();
  assert.equal((await page.getByTestId('ticket-ref').innerText()).trim(), ref);

  await page.getByTestId('assign-to-me').click();
  // The button goes once the ticket is ours; the assignee select then names us.
  await page.getByTestId('assign-to-me').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('assignee-select').inputValue(), agent.id);

  await page.getByTestId('composer-mode-internal').click();
  assert.equal(await page.getByTestId('composer').getAttribute('data-mode'), 'internal');
  await page.getByTestId('composer-body').fill(NOTE);
  await page.getByTestId('composer-submit').click();
  await page.locator('[data-testid="comment"][data-visibility="internal"]', { hasText: NOTE }).waitFor();

  await page.getByTestId('transition-in_progress').click();
  await page.locator('[data-testid="ticket-status"][data-status="in_progress"]').waitFor();
  assert.equal((await page.getByTestId('ticket-status').innerText()).trim(), 'In progress');

  // Resolving asks how: an empty note is not accepted, the note is kept and sent to the requester.
  await page.getByTestId('transition-resolved').click();
  const dialog = page.getByTestId('resolve-dialog');
  await dialog.getByTestId('resolve-submit').click();
  await dialog.getByTestId('resolve-error').waitFor();
  await dialog.getByTestId('resolution-note').fill(RESOLUTION);
  await dialog.getByTestId('resolve-submit').click();
  await page.locator('[data-testid="ticket-status"][data-status="resolved"]').waitFor();
  assert.match(await page.getByTestId('ticket-resolution').innerText(), new RegExp(RESOLUTION));
  await page.locator('[data-testid="event"][data-kind="status_changed"]').nth(1).waitFor();
  await shot(page, 'agent-ticket');
});

test('the requester sees Resolved and never the work note', { timeout: 60_000 }, async () => {
  const page = requesterPage;
  await page.goto(`${t.url}/t/${slug}/portal/tickets/${ref}`);
  await page.locator('[data-testid="ticket-status"][data-status="resolved"]').waitFor();
  assert.equal((await page.getByTestId('ticket-status').innerText()).trim(), 'Resolved');
  // Wait until the conversation has loaded (both status changes are listed) before looking for the note.
  await page.locator('[data-testid="event"][data-kind="status_changed"]').nth(1).waitFor();
  await page.getByTestId('reopen-button').waitFor();

  await page.locator('[data-testid="comment"][data-visibility="public"]', { hasText: RESOLUTION }).waitFor();
  const html = await page.content();
  const text = await page.locator('body').innerText();
  assert.ok(!html.includes(NOTE), 'the work note is not in the page');
  assert.ok(!text.includes(NOTE), 'the work note is not shown');
  assert.equal(await page.locator('[data-testid="comment"][data-visibility="internal"]').count(), 0);
  await shot(page, 'requester-resolved');

  // The same page on a phone.
  const phone = await newPage(390, 844);
  await phone.goto(`${t.url}/t/${slug}/login`);
  await signIn(phone, requester.email);
  await phone.waitForURL(`${t.url}/t/${slug}/portal`);
  await phone.getByRole('tab', { name: 'All tickets' }).click();
  await phone.locator(`[data-testid="ticket-row"][data-ref="${ref}"]`).waitFor();
  await shot(phone, 'portal-list-mobile');
});

test('the tenant admin sees people and the audit log', { timeout: 60_000 }, async () => {
  const page = await newPage(1366, 900);
  await page.goto(`${t.url}/t/${slug}/admin/users`);
  await page.waitForURL((u) => u.pathname === `/t/${slug}/login`);
  await signIn(page, tt.adminEmail, tt.adminPassword);
  await page.waitForURL(`${t.url}/t/${slug}/admin/users`);
  await page.getByTestId('users-table').waitFor();
  await page.locator(`[data-testid="user-row"][data-email="${agent.email}"]`).waitFor();
  assert.equal(await page.getByTestId('user-row').count(), 3);
  await shot(page, 'admin-users');

  // The only administrator cannot drop their own admin role: the refusal stands next to the roles,
  // says the way out, and the checkbox shows what is really stored (still an administrator).
  await page.locator(`[data-testid="user-row"][data-email="${tt.adminEmail}"]`).getByTestId('edit-user').click();
  const editor = page.getByTestId('user-editor');
  const adminBox = editor.getByTestId('role-admin').locator('input[type="checkbox"]');
  await adminBox.uncheck();
  await editor.getByTestId('save-roles').click();
  await editor.getByTestId('roles-error').waitFor();
  assert.match(await editor.getByTestId('roles-error').innerText(), /last active administrator.*Make another person an administrator first/s);
  assert.equal(await adminBox.isChecked(), true);
  await shot(page, 'admin-users-refusal', false);
  await page.keyboard.press('Escape');

  await page.getByTestId('nav-admin').waitFor();
  await page.goto(`${t.url}/t/${slug}/admin/audit`);
  await page.getByTestId('audit-table').waitFor();
  await page.locator('[data-testid="audit-row"]', { hasText: 'signin.password' }).first().waitFor();
  await shot(page, 'admin-audit');
  // Tamper evidence: Verify re-computes the chain and says how many events it checked.
  await page.getByTestId('audit-chain-verify').click();
  await page.getByTestId('audit-chain-ok').waitFor();
  assert.match((await page.getByTestId('audit-chain-ok').innerText()).trim(), /^Chain verified: \d+ events, last checkpoint at position \d+/);
});
